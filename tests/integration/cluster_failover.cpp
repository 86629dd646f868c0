// tests/integration/cluster_failover.cpp — a master is killed by PID: one command with the default deadline
// rides out the failover; a call whose deadline is too short fails but leaves the slot map to be refreshed;
// connect() works with a master down. Prints the measured recovery time. Each test brings the node back.
#include "cluster_test_support.hpp"
#include "node_control.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

using namespace addrmap;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

const char* node_timeout() {
    const char* value = std::getenv("LOCAL_CLUSTER_NODE_TIMEOUT");
    return value != nullptr ? value : "1500";
}

ip_to_hostname_cluster make_cluster() {
    return ip_to_hostname_cluster(
        live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)}),
        ip_to_hostname("localhost"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_failover)

// ONE command, default options (deadline 30 s): the core's backoff and refreshes carry it through the
// failover; the caller needs no loop of attempts.
BOOST_AUTO_TEST_CASE(one_command_with_the_default_deadline_rides_out_a_failover) {
    auto cluster = make_cluster();
    cluster.connect();
    reply_ptr before = cluster.command("failover-key", "SET failover-key before");
    BOOST_TEST_REQUIRE(before->type == REDIS_REPLY_STATUS);

    const std::uint16_t slot = key_slot("failover-key");
    const std::uint16_t victim_port = live::owner_port(cluster, slot);
    BOOST_TEST_REQUIRE(victim_port != 0);
    live::revive_on_exit revive(victim_port);
    const cluster_stats stats_before = cluster.stats();
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));
    const auto killed_at = steady::now();

    reply_ptr after;
    BOOST_CHECK_NO_THROW(after = cluster.command("failover-key", "SET failover-key after"));
    const auto ms = std::chrono::duration_cast<milliseconds>(steady::now() - killed_at).count();
    const cluster_stats stats_after = cluster.stats();
    std::cout << "failover: master on port " << victim_port << " killed; one SET with the default deadline succeeded after "
              << ms << " ms (cluster-node-timeout " << node_timeout() << " ms); sends "
              << stats_after.retries - stats_before.retries + 1 << ", refreshes "
              << stats_after.refreshes - stats_before.refreshes << ", CLUSTERDOWN "
              << stats_after.clusterdown - stats_before.clusterdown << "\n";
    BOOST_TEST_REQUIRE(after.get() != nullptr);
    BOOST_TEST_REQUIRE(after->type == REDIS_REPLY_STATUS);
    BOOST_TEST(ms < 30000);

    reply_ptr get = cluster.command("failover-key", "GET failover-key");
    BOOST_TEST(std::string(get->str, get->len) == "after");
    const std::uint16_t new_owner = live::owner_port(cluster, slot);
    BOOST_TEST(new_owner != 0);
    BOOST_TEST(new_owner != victim_port);  // served by the promoted replica, not the dead node
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// A deadline too short for the failover fails with a timeout, but what it learned (the node is lost) is kept:
// once the replica took over, the next short call refreshes the slot map first and succeeds.
BOOST_AUTO_TEST_CASE(a_very_short_deadline_still_leads_to_a_refreshed_slot_map) {
    auto cluster = make_cluster();
    cluster.connect();
    const std::string key = "short-deadline-key";
    reply_ptr set = cluster.command_argv(key, {"SET", key, "before"});
    BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
    const std::uint16_t slot = key_slot(key);
    const std::uint16_t victim_port = live::owner_port(cluster, slot);
    BOOST_TEST_REQUIRE(victim_port != 0);
    live::revive_on_exit revive(victim_port);
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));

    call_options tiny;
    tiny.deadline = milliseconds(50);
    const auto first_start = steady::now();
    try {
        cluster.command_argv(key, {"SET", key, "during"}, tiny);
        BOOST_TEST(false, "a SET to a dead master succeeded within 50 ms");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::timeout, e.what());
        BOOST_TEST(std::string(e.what()).find("at its deadline") != std::string::npos, e.what());
    }
    const auto first_ms = std::chrono::duration_cast<milliseconds>(steady::now() - first_start).count();
    BOOST_TEST(first_ms < 1000);

    const auto waited_from = steady::now();
    BOOST_TEST_REQUIRE(live::wait_until_taken_over(victim_port, slot), "no replica took over slot " << slot);
    const auto takeover_ms = std::chrono::duration_cast<milliseconds>(steady::now() - waited_from).count();

    const std::uint64_t refreshes_before = cluster.stats().refreshes;
    call_options short_call;
    short_call.deadline = milliseconds(500);
    reply_ptr after;
    BOOST_CHECK_NO_THROW(after = cluster.command_argv(key, {"SET", key, "after"}, short_call));
    BOOST_TEST_REQUIRE(after.get() != nullptr);
    BOOST_TEST(after->type == REDIS_REPLY_STATUS);
    BOOST_TEST(cluster.stats().refreshes > refreshes_before);
    BOOST_TEST(live::owner_port(cluster, slot) != victim_port);
    std::cout << "short deadlines: a 50 ms SET failed after " << first_ms << " ms; the replica took over "
              << takeover_ms << " ms later; the next 500 ms SET refreshed ("
              << cluster.stats().refreshes - refreshes_before << " refresh(es)) and succeeded\n";
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// A master is down (killed, its replica not promoted yet): a new client still connects, shows the dead master
// down with why, and serves the other masters' slots.
BOOST_AUTO_TEST_CASE(connect_succeeds_with_a_master_down) {
    std::uint16_t victim_port = 0;
    std::uint16_t victim_slot = 0;
    {
        auto probe = make_cluster();
        probe.connect();
        const auto masters = live::masters(probe);
        BOOST_TEST_REQUIRE(masters.size() == 3u);
        victim_port = masters.back().reported.port;
        victim_slot = static_cast<std::uint16_t>(masters.back().slots.front().first);
    }
    live::revive_on_exit revive(victim_port);
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));

    // All six nodes as seeds: the dead one may be among them.
    std::vector<std::string> seeds;
    for (int i = 0; i < 6; ++i) seeds.push_back(live::seed_by_name(i));
    ip_to_hostname_cluster cluster(live::cluster_options(seeds), ip_to_hostname("localhost"));
    const auto start = steady::now();
    BOOST_CHECK_NO_THROW(cluster.connect());
    const auto connect_ms = std::chrono::duration_cast<milliseconds>(steady::now() - start).count();

    bool shown_down = false;
    for (const auto& node : cluster.nodes()) {
        if (node.reported.port != victim_port || node.role == node_role::seed) continue;  // the topology's row
        BOOST_TEST_CONTEXT("node " << to_string(node.reported)) {
            BOOST_TEST(node.down);
            BOOST_TEST(!node.connected);
            BOOST_TEST(!node.problem.empty());
            std::cout << "connect with a master down (" << connect_ms << " ms): " << to_string(node.reported)
                      << " shown down: " << node.problem << "\n";
            shown_down = node.down && !node.problem.empty();
        }
    }
    BOOST_TEST(shown_down);

    int served = 0;
    for (const auto& master : live::masters(cluster)) {
        if (master.reported.port == victim_port) continue;
        const std::string key = "{" + live::tag_for_slot(master.slots.front().first) + "}while-down";
        BOOST_TEST_CONTEXT("key " << key << " on port " << master.reported.port) {
            reply_ptr set = cluster.command_argv(key, {"SET", key, "up"});
            BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
            reply_ptr get = cluster.command_argv(key, {"GET", key});
            BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
            BOOST_TEST(std::string(get->str, get->len) == "up");
            ++served;
        }
    }
    BOOST_TEST(served == 2);
    BOOST_TEST(live::wait_until_taken_over(victim_port, victim_slot));
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

BOOST_AUTO_TEST_SUITE_END()
