// tests/integration/reshard_support.hpp — moves slots between masters the way redis-cli --cluster reshard does
// (SETSLOT IMPORTING/MIGRATING, MIGRATE per key, SETSLOT NODE everywhere), for tests that write meanwhile.
#pragma once

#include "admin_connection.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace live {

struct master_ref {
    std::uint16_t port;
    std::string id;
};

/// The master listening on `port`, with its cluster ID.
inline master_ref master_at(std::uint16_t port) { return {port, node_id_of(port)}; }

/// Moves `slots` from `from` to `to` the way redis-cli --cluster reshard does, pausing in the
/// MIGRATING state so that writes of new keys meet ASK, and after the move so that stale maps meet MOVED.
inline void migrate_slots(const std::vector<std::uint16_t>& slots, const master_ref& from, const master_ref& to,
                   const std::vector<std::uint16_t>& all_master_ports, std::atomic<bool>& failed, std::string& why) {
    try {
        admin_connection source(from.port);
        admin_connection target(to.port);
        std::vector<std::unique_ptr<admin_connection>> everyone;
        for (std::uint16_t port : all_master_ports) everyone.push_back(std::make_unique<admin_connection>(port));
        for (std::uint16_t slot : slots) {
            const std::string s = std::to_string(slot);
            target.ok("CLUSTER SETSLOT %s IMPORTING %s", s.c_str(), from.id.c_str());
            source.ok("CLUSTER SETSLOT %s MIGRATING %s", s.c_str(), to.id.c_str());
            std::this_thread::sleep_for(std::chrono::milliseconds(15));  // writers meet ASK here
            while (true) {
                auto keys = source.ok("CLUSTER GETKEYSINSLOT %s 100", s.c_str());
                if (keys->elements == 0) break;
                for (std::size_t k = 0; k < keys->elements; ++k) {
                    const std::string key(keys->element[k]->str, keys->element[k]->len);
                    auto moved = source.run("MIGRATE 127.0.0.1 %d %b 0 5000", static_cast<int>(to.port), key.data(),
                                            key.size());
                    if (moved->type == REDIS_REPLY_ERROR && std::string(moved->str).find("BUSYKEY") == std::string::npos)
                        throw std::runtime_error("MIGRATE " + key + ": " + moved->str);
                }
            }
            // As redis-cli --cluster reshard does: the target first, then the source, then the rest.
            target.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to.id.c_str());
            source.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to.id.c_str());
            for (auto& node : everyone) node->run("CLUSTER SETSLOT %s NODE %s", s.c_str(), to.id.c_str());
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    } catch (const std::exception& e) {
        why = e.what();
        failed = true;
    }
}


}  // namespace live
