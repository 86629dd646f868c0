// tests/integration/reshard_support.hpp — moves slots between masters the way redis-cli --cluster reshard does
// (SETSLOT IMPORTING/MIGRATING, MIGRATE per key, SETSLOT NODE everywhere), for tests that write meanwhile.
#pragma once

#include "admin_connection.hpp"
#include "node_control.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace live {

struct master_ref {
    std::uint16_t port;
    std::string id;
};

/// The master listening on `port`, with its cluster ID.
inline master_ref master_at(std::uint16_t port) { return {port, node_id_of(port)}; }

/// The scene of a test's slot move, from live::masters(cluster) of either driver: every master's port, X (the first
/// master, whose first slot moves) and Y (the second, where it goes).
struct move_scene {
    std::vector<std::uint16_t> ports;
    master_ref x, y;
    std::uint16_t slot;
};
template <class Masters>
move_scene move_scene_of(const Masters& masters) {
    move_scene scene;
    for (const auto& m : masters) scene.ports.push_back(m.reported.port);
    scene.x = master_at(masters[0].reported.port);
    scene.y = master_at(masters[1].reported.port);
    scene.slot = static_cast<std::uint16_t>(masters[0].slots.front().first);
    return scene;
}

/// Moves `slots` from `from` to `to` the way redis-cli --cluster reshard does, pausing `ask_window` in the
/// MIGRATING state so that writes of new keys meet ASK, and `settle` after the move so that stale maps meet MOVED.
inline void migrate_slots(const std::vector<std::uint16_t>& slots, const master_ref& from, const master_ref& to,
                   const std::vector<std::uint16_t>& all_master_ports, std::atomic<bool>& failed, std::string& why,
                   std::chrono::milliseconds ask_window = std::chrono::milliseconds(15),
                   std::chrono::milliseconds settle = std::chrono::milliseconds(5)) {
    try {
        admin_connection source(from.port);
        admin_connection target(to.port);
        std::vector<std::unique_ptr<admin_connection>> everyone;
        for (std::uint16_t port : all_master_ports) everyone.push_back(std::make_unique<admin_connection>(port));
        for (std::uint16_t slot : slots) {
            const std::string s = std::to_string(slot);
            target.ok("CLUSTER SETSLOT %s IMPORTING %s", s.c_str(), from.id.c_str());
            source.ok("CLUSTER SETSLOT %s MIGRATING %s", s.c_str(), to.id.c_str());
            std::this_thread::sleep_for(ask_window);  // writers meet ASK here
            // Bounded: a slot that keeps keys (writers adding them as fast as they go) must end the move with an
            // error, not loop for ever. BUSYKEY (the key is on the target already) is an error too: skipping it
            // would leave the key on the source, and the loop would meet it again on every pass.
            constexpr int max_passes = 10000;
            for (int pass = 0;; ++pass) {
                if (pass == max_passes)
                    throw std::runtime_error("slot " + s + " still has keys on port " + std::to_string(from.port) +
                                             " after " + std::to_string(max_passes) + " GETKEYSINSLOT passes");
                auto keys = source.ok("CLUSTER GETKEYSINSLOT %s 100", s.c_str());
                if (keys->elements == 0) break;
                for (std::size_t k = 0; k < keys->elements; ++k) {
                    const std::string key(keys->element[k]->str, keys->element[k]->len);
                    auto moved = source.run("MIGRATE 127.0.0.1 %d %b 0 5000", static_cast<int>(to.port), key.data(),
                                            key.size());
                    if (moved->type == REDIS_REPLY_ERROR)
                        throw std::runtime_error("MIGRATE " + key + " (slot " + s + "): " +
                                                 std::string(moved->str, moved->len));
                }
            }
            // As redis-cli --cluster reshard does: the target first, then the source, then the rest.
            target.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to.id.c_str());
            source.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to.id.c_str());
            for (auto& node : everyone) node->run("CLUSTER SETSLOT %s NODE %s", s.c_str(), to.id.c_str());
            std::this_thread::sleep_for(settle);
        }
    } catch (const std::exception& e) {
        why = e.what();
        failed = true;
    }
}

/// `errorstat_<word>:count=` in the node's INFO errorstats: how many replies it began with that word (0 if none).
inline std::uint64_t errors_sent(admin_connection& admin, const std::string& word) {
    auto info = admin.ok("INFO errorstats");
    const std::string text(info->str, info->len);
    const std::string field = "errorstat_" + word + ":count=";
    const std::size_t at = text.find(field);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + field.size()));
}

/// Finishes moving a slot from `from` to `to` on its own thread (migrate_slots), once the node on `watch_port` has
/// refused `threshold` TRYAGAINs in all — or after 15 s, so that the slot never stays half moved. Joined when
/// destroyed.
class finish_move_after_tryagain {
public:
    finish_move_after_tryagain(std::uint16_t slot, master_ref from, master_ref to, std::vector<std::uint16_t> ports,
                               std::uint16_t watch_port, std::uint64_t threshold)
        : thread_([this, slot, from, to, ports, watch_port, threshold] {
              try {
                  admin_connection watched(watch_port);
                  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
                  while (std::chrono::steady_clock::now() < give_up && !saw_threshold_)
                      if (errors_sent(watched, "TRYAGAIN") >= threshold)
                          saw_threshold_ = true;
                      else
                          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling, not a wait for luck
              } catch (const std::exception& e) {
                  why_ = std::string("watching TRYAGAIN: ") + e.what();
                  failed_ = true;
              }
              migrate_slots({slot}, from, to, ports, failed_, why_);
          }) {}
    finish_move_after_tryagain(const finish_move_after_tryagain&) = delete;
    finish_move_after_tryagain& operator=(const finish_move_after_tryagain&) = delete;
    ~finish_move_after_tryagain() { join(); }

    void join() {
        if (thread_.joinable()) thread_.join();
    }
    /// After join(): the watched node refused enough times before the move finished (the scenario happened).
    bool saw_threshold() const noexcept { return saw_threshold_; }
    bool failed() const noexcept { return failed_; }
    const std::string& why() const noexcept { return why_; }

private:
    std::atomic<bool> saw_threshold_{false};
    std::atomic<bool> failed_{false};
    std::string why_;
    std::thread thread_;  // last: starts once the members it uses exist
};

/// Moves key `key` of a slot MIGRATING from the node on `from_port` to the node on `to_port` (one MIGRATE, as a
/// reshard does key by key): "" or why it failed.
inline std::string migrate_key(std::uint16_t from_port, std::uint16_t to_port, const std::string& key) {
    admin_connection source(from_port);
    auto moved = source.run("MIGRATE 127.0.0.1 %d %b 0 5000", static_cast<int>(to_port), key.data(), key.size());
    if (moved->type == REDIS_REPLY_ERROR) return "MIGRATE " + key + ": " + std::string(moved->str, moved->len);
    return {};
}

/// Moves `slot` (and its keys) from one master to another as redis-cli does; `finish` false stops in the
/// MIGRATING/IMPORTING state with the keys already on the target (so the source answers ASK for them).
inline void move_slot(std::uint16_t slot, std::uint16_t from, std::uint16_t to, const std::vector<std::uint16_t>& masters,
               bool finish) {
    const std::string s = std::to_string(slot), from_id = node_id_of(from), to_id = node_id_of(to);
    admin_connection source(from), target(to);
    target.ok("CLUSTER SETSLOT %s IMPORTING %s", s.c_str(), from_id.c_str());
    source.ok("CLUSTER SETSLOT %s MIGRATING %s", s.c_str(), to_id.c_str());
    for (int pass = 0;; ++pass) {
        if (pass == 10000)
            throw std::runtime_error("slot " + s + " still has keys on port " + std::to_string(from) +
                                     " after 10000 GETKEYSINSLOT passes");
        auto keys = source.ok("CLUSTER GETKEYSINSLOT %s 100", s.c_str());
        if (keys->elements == 0) break;
        for (std::size_t k = 0; k < keys->elements; ++k)
            source.ok("MIGRATE 127.0.0.1 %d %b 0 5000", static_cast<int>(to), keys->element[k]->str, keys->element[k]->len);
    }
    if (!finish) return;
    target.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
    source.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
    for (std::uint16_t port : masters) admin_connection(port).run("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
}

/// Waits (bounded, 60 s) until every fixture node agrees on the slot map, no slot is left open and all six are online
/// (scripts/cluster ready): "" or why not.
inline std::string wait_until_slots_agree() {
    return cluster_script("ready 60 >/dev/null") == 0 ? std::string()
                                                        : std::string("the nodes did not agree on the slot map within 60 s");
}

/// Puts a slot that a test moves (or half moves) from X to Y back on X when the test ends, however it ends: a move
/// left half done (X MIGRATING, Y IMPORTING, some keys on Y) is first finished to Y, then the slot moves back, as
/// migrate_slots does. restore() does it at the end of a test that got there, to check the result.
class slot_back_home {
public:
    slot_back_home(std::uint16_t slot, master_ref x, master_ref y, std::vector<std::uint16_t> ports)
        : slot_(slot), x_(std::move(x)), y_(std::move(y)), ports_(std::move(ports)) {}
    slot_back_home(const slot_back_home&) = delete;
    slot_back_home& operator=(const slot_back_home&) = delete;
    ~slot_back_home() {
        if (!done_) restore();
    }
    /// "" or why the move back failed, or why the nodes did not all agree on the map afterwards (bounded wait, so that
    /// the next test does not start with a map still settling).
    std::string restore() {
        const std::string why = put_back();
        const std::string settled = wait_until_slots_agree();
        return why.empty() ? settled : why;
    }
    /// The move back alone, without waiting for every node to agree (for callers that put several slots back and
    /// then wait once): "" or why it failed.
    std::string put_back() {
        done_ = true;
        std::atomic<bool> failed{false};
        std::string why;
        // Finish a half-done move first. When Y owns the slot already its first step (SETSLOT IMPORTING on Y) is
        // refused and nothing changes; when X still owns it whole, the slot makes a round trip.
        migrate_slots({slot_}, x_, y_, ports_, failed, why);
        failed = false;
        why.clear();
        migrate_slots({slot_}, y_, x_, ports_, failed, why);
        return failed ? why : std::string();
    }

private:
    std::uint16_t slot_;
    master_ref x_, y_;
    std::vector<std::uint16_t> ports_;
    bool done_ = false;
};

}  // namespace live
