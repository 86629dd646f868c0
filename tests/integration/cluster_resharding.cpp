// tests/integration/cluster_resharding.cpp — slots move between masters (SETSLOT MIGRATING/IMPORTING +
// MIGRATE) while the adapter writes to them: every acknowledged write must be readable afterwards.
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"
#include "reshard_support.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace addrmap;
using live::master_ref;
using live::migrate_slots;

BOOST_AUTO_TEST_SUITE(cluster_resharding)

BOOST_AUTO_TEST_CASE(writes_during_resharding_are_all_read_back) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);

    // Move 40 slots from the owner of slot 0's neighbourhood to another master.
    const node_info& from_info = masters[0];
    const node_info& to_info = masters[1];
    std::vector<std::uint16_t> moving;
    for (std::uint32_t slot = from_info.slots.front().first; moving.size() < 40; ++slot)
        moving.push_back(static_cast<std::uint16_t>(slot));
    std::vector<std::string> tags;
    for (std::uint16_t slot : moving) tags.push_back(live::tag_for_slot(slot));

    auto id_of = [&](const node_info& node) {
        reply_ptr id = cluster.command_on(node.reported, {"CLUSTER", "MYID"});
        return std::string(id->str, id->len);
    };
    const master_ref from{from_info.reported.port, id_of(from_info)};
    const master_ref to{to_info.reported.port, id_of(to_info)};
    std::vector<std::uint16_t> master_ports;
    for (const auto& m : masters) master_ports.push_back(m.reported.port);

    std::atomic<bool> failed{false};
    std::atomic<bool> moved_all{false};
    std::string why;
    std::thread mover([&] {
        migrate_slots(moving, from, to, master_ports, failed, why);
        moved_all = true;
    });
    // Keep writing until at least 10 000 writes are acknowledged and the move is over.
    std::map<std::string, std::string> acknowledged;
    int written = 0;
    while (written < 10000 || !moved_all.load()) {
        const std::string key = "{" + tags[static_cast<std::size_t>(written) % tags.size()] + "}:" + std::to_string(written);
        const std::string value = "value-" + std::to_string(written);
        reply_ptr reply;
        try {
            reply = cluster.command(key, "SET %s %s", key.c_str(), value.c_str());
        } catch (const error& e) {
            mover.join();
            BOOST_FAIL("SET " << key << " threw after " << written << " writes: " << e.what());
        }
        if (reply->type != REDIS_REPLY_STATUS) {  // no error may reach the caller
            mover.join();
            BOOST_TEST_REQUIRE(reply->type == REDIS_REPLY_STATUS, "SET " << key << ": " << reply->str);
        }
        acknowledged[key] = value;
        ++written;
    }
    mover.join();
    BOOST_TEST_REQUIRE(!failed.load(), "the test's own migration failed: " << why);

    for (const auto& [key, value] : acknowledged) {
        reply_ptr get = cluster.command(key, "GET %s", key.c_str());
        BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING, "key " << key);
        BOOST_TEST_REQUIRE(std::string(get->str, get->len) == value);
    }
    const auto& stats = cluster.stats();
    std::cout << "resharding: " << written << " writes, " << moving.size() << " slots moved, MOVED seen " << stats.moved
              << ", ASK seen " << stats.ask << ", TRYAGAIN " << stats.tryagain << ", refreshes " << stats.refreshes
              << "\n";
    BOOST_TEST(written >= 10000);
    BOOST_TEST(stats.moved > 0u);
    BOOST_TEST(stats.ask > 0u);

    // The moved slots are now served by the target, as the node table says after a refresh.
    cluster.refresh();
    for (const auto& node : cluster.nodes()) {
        if (node.reported.port != to.port || node.role != node_role::master) continue;
        bool owns_first = false;
        for (const auto& range : node.slots) owns_first = owns_first || (range.first <= moving[0] && moving[0] <= range.last);
        BOOST_TEST(owns_first);
    }
}

BOOST_AUTO_TEST_SUITE_END()
