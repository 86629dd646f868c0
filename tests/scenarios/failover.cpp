// tests/scenarios/failover.cpp — a master killed by PID, for both drivers: one call with a long deadline rides out the
// failover; a too short one fails but leaves the map to be refreshed; connect() works with a master down.
#include "node_control.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

using namespace addrmap;

namespace {

using steady = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

using scenario::has;
using scenario::text_of;
using scenario::ms_since;

/// Three seeds (one may be the victim) and the blocking cluster's default deadline, 30 s: a failover with the
/// fixture's cluster-node-timeout (1.5 s) fits in it many times over.
cluster_options three_seeds() {
    cluster_options options = live::async_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
    options.deadline = ms(30000);
    return options;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(failover)

// ONE call, no call_options: the core's backoff and refreshes carry it through the failover; the caller needs no
// loop of attempts. Afterwards the promoted replica serves the slot.
BOOST_AUTO_TEST_CASE_TEMPLATE(one_call_with_a_long_deadline_rides_out_a_failover, Driver, scenario::drivers) {
    Driver driver(three_seeds());
    driver.connect();
    const std::string key = "failover-key";
    const outcome before = driver.command(key, {"SET", key, "before"});
    BOOST_TEST_REQUIRE(before.ok(), scenario::why(before));
    const std::uint16_t slot = key_slot(key);
    const std::uint16_t victim_port = live::owner_port(driver, slot);
    BOOST_TEST_REQUIRE(victim_port != 0);
    live::revive_on_exit revive(victim_port);
    const cluster_stats stats_before = driver.stats();
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));
    const auto killed_at = steady::now();

    const outcome after = driver.command(key, {"SET", key, "after"});
    const long long took = ms_since(killed_at);
    const cluster_stats& stats_after = driver.stats();
    std::cout << Driver::name << ": master :" << victim_port << " killed; one SET succeeded " << took << " ms later; "
              << "retries " << stats_after.retries - stats_before.retries << ", refreshes "
              << stats_after.refreshes - stats_before.refreshes << ", CLUSTERDOWN "
              << stats_after.clusterdown - stats_before.clusterdown << "\n";
    BOOST_TEST_REQUIRE(after.ok(), scenario::why(after));
    BOOST_TEST(after->type == REDIS_REPLY_STATUS);
    BOOST_TEST(stats_after.refreshes > stats_before.refreshes);  // it learned the new owner, not by luck of a retry

    const outcome get = driver.command(key, {"GET", key});
    BOOST_TEST(text_of(get) == "after", scenario::why(get));
    const std::uint16_t new_owner = live::owner_port(driver, slot);
    BOOST_TEST(new_owner != 0);
    BOOST_TEST(new_owner != victim_port);  // served by the promoted replica, not the dead node
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// A deadline too short for the failover fails with a timeout that says so, but what it learned (the node is lost) is
// kept: once the replica took over, the next short call refreshes the slot map first and succeeds.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_very_short_deadline_still_leads_to_a_refreshed_slot_map, Driver, scenario::drivers) {
    Driver driver(three_seeds());
    driver.connect();
    const std::string key = "short-deadline-key";
    const outcome set = driver.command(key, {"SET", key, "before"});
    BOOST_TEST_REQUIRE(set.ok(), scenario::why(set));
    const std::uint16_t slot = key_slot(key);
    const std::uint16_t victim_port = live::owner_port(driver, slot);
    BOOST_TEST_REQUIRE(victim_port != 0);
    live::revive_on_exit revive(victim_port);
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));

    call_options tiny;
    tiny.deadline = ms(50);
    const auto first_start = steady::now();
    const outcome during = driver.command(key, {"SET", key, "during"}, tiny);
    const long long first_ms = ms_since(first_start);
    BOOST_TEST_REQUIRE(!during.ok(), "a SET to a dead master succeeded within 50 ms");
    BOOST_TEST((during.failure()->kind() == error_kind::timeout), during.failure()->what());
    BOOST_TEST(has(during.failure()->what(), "at its deadline"), during.failure()->what());
    BOOST_TEST(first_ms < 5000);  // a 50 ms call did not hang

    BOOST_TEST_REQUIRE(live::wait_until_taken_over(victim_port, slot), "no replica took over slot " << slot);
    const std::uint64_t refreshes_before = driver.stats().refreshes;
    call_options short_call;
    short_call.deadline = ms(5000);  // what it proves is "refreshed first" (refreshes > before), not speed: room to dial
    const outcome after = driver.command(key, {"SET", key, "after"}, short_call);
    BOOST_TEST_REQUIRE(after.ok(), scenario::why(after));
    BOOST_TEST(after->type == REDIS_REPLY_STATUS);
    BOOST_TEST(driver.stats().refreshes > refreshes_before);
    BOOST_TEST(live::owner_port(driver, slot) != victim_port);
    std::cout << Driver::name << ": a 50 ms SET failed after " << first_ms << " ms; the next SET refreshed ("
              << driver.stats().refreshes - refreshes_before << " refresh(es)) and succeeded\n";
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// A master is down (killed, its replica not promoted yet): a new client still connects, shows the dead master down
// with why, and serves the other masters' slots.
BOOST_AUTO_TEST_CASE_TEMPLATE(connect_succeeds_with_a_master_down, Driver, scenario::drivers) {
    std::uint16_t victim_port = 0;
    std::uint16_t victim_slot = 0;
    {
        Driver probe(three_seeds());
        probe.connect();
        const auto masters = live::masters(probe);
        BOOST_TEST_REQUIRE(masters.size() == 3u);
        victim_port = masters.back().reported.port;
        victim_slot = static_cast<std::uint16_t>(masters.back().slots.front().first);
    }
    live::revive_on_exit revive(victim_port);
    BOOST_TEST_REQUIRE(live::kill_node(victim_port));

    // All six nodes as seeds: the dead one is among them.
    std::vector<std::string> seeds;
    for (int i = 0; i < 6; ++i) seeds.push_back(live::seed_by_name(i));
    Driver driver(live::async_options(seeds));
    const auto start = steady::now();
    BOOST_CHECK_NO_THROW(driver.connect());
    const long long connect_ms = ms_since(start);

    bool shown_down = false;
    for (const node_info& node : driver.nodes()) {
        if (node.reported.port != victim_port || node.role == node_role::seed) continue;  // the topology's row
        BOOST_TEST_CONTEXT("node " << to_string(node.reported)) {
            BOOST_TEST(node.down);
            BOOST_TEST(!node.connected);
            BOOST_TEST(!node.problem.empty());
            std::cout << Driver::name << ": connect with a master down (" << connect_ms << " ms): "
                      << to_string(node.reported) << " shown down: " << node.problem << "\n";
            shown_down = node.down && !node.problem.empty();
        }
    }
    BOOST_TEST(shown_down);

    int served = 0;
    for (const node_info& master : live::masters(driver)) {
        if (master.reported.port == victim_port) continue;
        const std::string key = "{" + live::tag_for_slot(static_cast<std::uint16_t>(master.slots.front().first)) + "}while-down";
        BOOST_TEST_CONTEXT("key " << key << " on port " << master.reported.port) {
            const outcome set = driver.command(key, {"SET", key, "up"});
            BOOST_TEST_REQUIRE(set.ok(), scenario::why(set));
            BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
            const outcome get = driver.command(key, {"GET", key});
            BOOST_TEST(text_of(get) == "up", scenario::why(get));
            ++served;
        }
    }
    BOOST_TEST(served == 2);
    BOOST_TEST(live::wait_until_taken_over(victim_port, victim_slot));
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

BOOST_AUTO_TEST_SUITE_END()
