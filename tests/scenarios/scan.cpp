// tests/scenarios/scan.cpp — the cluster scan on the live cluster, for both drivers (cluster_scan, async_cluster_scan):
// every key exactly once, also when the scan meets a slot caught mid-migration (MIGRATING/IMPORTING, half its keys
// moved), a slot that moved behind the client's back (its map still names the old owner), and a master killed and
// replaced by its replica mid-scan. The slots are moved back afterwards.
#include "admin_connection.hpp"
#include "node_control.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace addrmap;

/// Moves slots between masters the way redis-cli --cluster reshard does, step by step.
class slot_mover {
public:
    explicit slot_mover(const std::vector<std::uint16_t>& master_ports) {
        for (std::uint16_t port : master_ports) {
            auto admin = std::make_unique<live::admin_connection>(port);
            auto id = admin->ok("CLUSTER MYID");
            ids_[port] = std::string(id->str, id->len);
            admins_[port] = std::move(admin);
        }
    }
    void begin(std::uint16_t slot, std::uint16_t from, std::uint16_t to) {
        const std::string s = std::to_string(slot);
        admins_.at(to)->ok("CLUSTER SETSLOT %s IMPORTING %s", s.c_str(), ids_.at(from).c_str());
        admins_.at(from)->ok("CLUSTER SETSLOT %s MIGRATING %s", s.c_str(), ids_.at(to).c_str());
    }
    /// MIGRATEs up to `limit` of the slot's keys still on `from`; returns how many.
    std::size_t move_keys(std::uint16_t slot, std::uint16_t from, std::uint16_t to, std::size_t limit) {
        auto keys = admins_.at(from)->ok("CLUSTER GETKEYSINSLOT %d %d", static_cast<int>(slot), static_cast<int>(limit));
        for (std::size_t k = 0; k < keys->elements; ++k) {
            const std::string key(keys->element[k]->str, keys->element[k]->len);
            admins_.at(from)->ok("MIGRATE 127.0.0.1 %d %b 0 5000", static_cast<int>(to), key.data(), key.size());
        }
        return keys->elements;
    }
    void finish(std::uint16_t slot, std::uint16_t from, std::uint16_t to) {
        while (move_keys(slot, from, to, 100) > 0) {
        }
        const std::string s = std::to_string(slot);
        admins_.at(to)->ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), ids_.at(to).c_str());
        admins_.at(from)->ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), ids_.at(to).c_str());
        for (auto& [port, admin] : admins_) admin->run("CLUSTER SETSLOT %s NODE %s", s.c_str(), ids_.at(to).c_str());
    }
    void move(std::uint16_t slot, std::uint16_t from, std::uint16_t to) {
        begin(slot, from, to);
        finish(slot, from, to);
    }

private:
    std::map<std::uint16_t, std::unique_ptr<live::admin_connection>> admins_;
    std::map<std::uint16_t, std::string> ids_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(scan)

BOOST_AUTO_TEST_CASE_TEMPLATE(every_key_exactly_once_while_slots_move, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    for (const node_outcome& o : driver.fan_out({"FLUSHALL"})) BOOST_TEST_REQUIRE(o.result.ok());
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    // A is a master with a range of more than 2000 slots (other suites may have moved slots: any master will do).
    std::size_t index_of_a = masters.size();
    std::uint16_t first_of_a = 0;
    for (std::size_t i = 0; i < masters.size() && index_of_a == masters.size(); ++i)
        for (const auto& range : masters[i].slots)
            if (range.last - range.first > 2000) {
                index_of_a = i;
                first_of_a = range.first;
                break;
            }
    BOOST_TEST_REQUIRE(index_of_a < masters.size(), "no master holds a range of 2001 slots");
    const std::uint16_t a = masters[index_of_a].reported.port;
    const std::uint16_t b = masters[(index_of_a + 1) % 3].reported.port, c = masters[(index_of_a + 2) % 3].reported.port;
    // Two slots of A, in different scan steps: one caught mid-migration, one moved before the scan reaches it.
    const std::uint16_t migrating = static_cast<std::uint16_t>(first_of_a + 1000);
    const std::uint16_t moved = static_cast<std::uint16_t>(first_of_a + 2000);

    std::map<std::string, int> written;
    std::vector<std::vector<std::string>> batch;
    const auto add = [&](const std::string& key) {
        batch.push_back({"SET", key, "x"});
        written[key] = 0;
    };
    for (int i = 0; i < 2000; ++i) add("scan:" + std::to_string(i));
    for (std::uint16_t slot : {migrating, moved}) {
        const std::string tag = live::tag_for_slot(slot);
        for (int i = 0; i < 40; ++i) add("{" + tag + "}:" + std::to_string(i));
    }
    for (const outcome& o : driver.all(batch)) BOOST_TEST_REQUIRE(o.ok());

    slot_mover mover({a, b, c});
    cluster_scan_options options;
    options.slots_per_step = 64;
    typename Driver::scan scan(driver, options);
    std::vector<std::string> keys;
    bool began = false, finished = false, moved_away = false;
    try {
        // Bounded: 256 steps of 64 slots cover the cluster; a scan that needs more never ends.
        for (int step = 0;; ++step) {
            BOOST_TEST_REQUIRE(step <= 256, "the scan did not end after 256 steps");
            const std::uint32_t step_end = scan.cursor() + 64;
            if (!began && migrating < step_end) {
                began = true;  // set first: a failure below still has the migration finished and undone
                mover.begin(migrating, a, b);
                BOOST_TEST_REQUIRE(mover.move_keys(migrating, a, b, 20) == 20u);  // half on each node
            }
            if (!moved_away && moved < step_end) {
                moved_away = true;
                mover.move(moved, a, b);  // the client's map still says A
            }
            if (!scan.next(keys)) break;
            if (began && !finished && scan.cursor() > migrating && scan.cursor() - 64 <= migrating) {
                finished = true;
                mover.finish(migrating, a, b);  // the migration completes after the scan read the slot
            }
        }
    } catch (...) {
        // Leave the cluster as the other tests expect it; the first failure is the one reported.
        const auto attempt = [](auto&& step) {
            try {
                step();
            } catch (...) {
            }
        };
        if (began && !finished) attempt([&] { mover.finish(migrating, a, b); });
        if (began) attempt([&] { mover.move(migrating, b, a); });
        if (moved_away) attempt([&] { mover.move(moved, b, a); });
        throw;
    }
    std::cout << Driver::name << " scan: " << keys.size() << " keys, " << scan.requests() << " requests, "
              << scan.slots_followed() << " slots followed to another node\n";
    mover.move(migrating, b, a);
    mover.move(moved, b, a);

    std::size_t unknown = 0, twice = 0;
    for (const std::string& key : keys) {
        auto it = written.find(key);
        if (it == written.end()) ++unknown;
        else if (++it->second > 1) ++twice;
    }
    std::size_t missing = 0;
    for (const auto& [key, seen] : written) missing += seen == 0 ? 1 : 0;
    BOOST_TEST(unknown == 0u);
    BOOST_TEST(twice == 0u);
    BOOST_TEST(missing == 0u);
    BOOST_TEST(keys.size() == written.size());
    BOOST_TEST(scan.slots_followed() >= 2u);
    BOOST_TEST(scan.cursor() == slot_count);
}

// What was seen: a master killed and its replica promoted during a scan, every later next() ended in timeout against
// the dead node (fixed-node reads never refreshed the map). Now a failed read marks the node, and the next next()
// reads the map first: the scan goes on at the promoted replica and returns every key exactly once.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_scan_completes_across_a_failover_each_key_once, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    for (const node_outcome& o : driver.fan_out({"FLUSHALL"})) BOOST_TEST_REQUIRE(o.result.ok());
    std::map<std::string, int> written;
    std::vector<std::vector<std::string>> batch;
    for (int i = 0; i < 2000; ++i) {
        const std::string key = "scan-failover:" + std::to_string(i);
        batch.push_back({"SET", key, "x"});
        written[key] = 0;
    }
    for (const outcome& o : driver.all(batch)) BOOST_TEST_REQUIRE(o.ok());
    // Every write on the replicas before the kill, so the promoted replica holds them all.
    for (const node_outcome& o : driver.fan_out({"WAIT", "1", "5000"})) {
        BOOST_TEST_REQUIRE(o.result.ok());
        BOOST_TEST_REQUIRE(o.result->integer >= 1);
    }
    // The victim: the master whose slots the scan reaches last.
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const node_info* victim = &masters[0];
    for (const node_info& m : masters)
        if (m.slots.front().first > victim->slots.front().first) victim = &m;
    const std::uint16_t victim_port = victim->reported.port;
    const std::uint32_t victim_first_slot = victim->slots.front().first;
    live::revive_on_exit revive(victim_port);

    cluster_scan_options options;
    options.slots_per_step = 256;
    options.call.deadline = std::chrono::milliseconds(1000);  // each failed next() costs at most this
    typename Driver::scan scan(driver, options);
    std::vector<std::string> keys;
    while (scan.cursor() + 256 <= victim_first_slot) BOOST_TEST_REQUIRE(scan.next(keys));
    const std::uint32_t killed_at_slot = scan.cursor();
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));
    const auto killed_at = std::chrono::steady_clock::now();
    int failed_steps = 0;
    std::string last_failure;
    bool more = true;
    // Bounded: the failover takes a few seconds (cluster-node-timeout 1.5 s); 60 failed steps is a minute at most.
    while (more && failed_steps < 60) {
        try {
            more = scan.next(keys);
        } catch (const error& e) {
            ++failed_steps;
            last_failure = e.what();
        }
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
    std::cout << Driver::name << " scan across a failover: master :" << victim_port << " killed at slot " << killed_at_slot
              << "; the scan completed " << took.count() << " ms later after " << failed_steps
              << " failed step(s); " << keys.size() << " keys\n";
    BOOST_TEST_REQUIRE(!more, "the scan never recovered; last failure: " << last_failure);
    BOOST_TEST(scan.cursor() == slot_count);
    std::size_t unknown = 0, twice = 0, missing = 0;
    for (const std::string& key : keys) {
        auto it = written.find(key);
        if (it == written.end()) ++unknown;
        else if (++it->second > 1) ++twice;
    }
    for (const auto& [key, seen] : written) missing += seen == 0 ? 1 : 0;
    BOOST_TEST(unknown == 0u);
    BOOST_TEST(twice == 0u);
    BOOST_TEST(missing == 0u);
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

BOOST_AUTO_TEST_SUITE_END()
