// tests/scenarios/fan_out.cpp — fan-out on the live cluster, for both drivers: SCRIPT LOAD everywhere then EVALSHA by
// key, DBSIZE summed over the masters, FLUSHALL, CONFIG GET on every node, and one frozen node among answering ones.
#include "scenario_drivers.hpp"
#include "stopped_node.hpp"

#include <boost/test/unit_test.hpp>

#include <iostream>
#include <set>
#include <string>

using namespace addrmap;

BOOST_AUTO_TEST_SUITE(fan_out)

BOOST_AUTO_TEST_CASE_TEMPLATE(script_load_on_every_master_then_evalsha_on_keys_of_every_master, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    // No connect(): the fan-out reads the topology itself.
    const char* script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])";
    const auto loaded = driver.fan_out({"SCRIPT", "LOAD", script});
    BOOST_TEST_REQUIRE(loaded.size() == 3u);
    std::set<std::string> shas;
    std::set<std::uint16_t> ports;
    for (const node_outcome& o : loaded) {
        BOOST_TEST_REQUIRE(o.result.ok(), to_string(o.node));
        BOOST_TEST_REQUIRE(o.result->type == REDIS_REPLY_STRING);
        BOOST_TEST((o.role == node_role::master));
        shas.insert(std::string(o.result->str, o.result->len));
        ports.insert(o.node.port);
    }
    BOOST_TEST_REQUIRE(shas.size() == 1u);  // the same script everywhere
    BOOST_TEST(ports.size() == 3u);
    const std::string sha = *shas.begin();

    // A key on each master: EVALSHA through the keyed API finds the script wherever the key lives.
    std::set<std::uint16_t> reached;
    for (const node_info& master : live::masters(driver)) {
        const std::string key = "{" + live::tag_for_slot(master.slots.front().first) + "}:evalsha";
        const outcome r = driver.command(key, {"EVALSHA", sha, "1", key, "from-script"});
        BOOST_TEST_REQUIRE(r.ok(), scenario::why(r));
        BOOST_TEST_REQUIRE(r->type == REDIS_REPLY_STRING, (r->type == REDIS_REPLY_ERROR ? r->str : "not a string"));
        BOOST_TEST(std::string(r->str, r->len) == "from-script");
        reached.insert(master.reported.port);
    }
    BOOST_TEST(reached.size() == 3u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(flushall_then_dbsize_sums_to_the_keys_written, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    for (const node_outcome& o : driver.fan_out({"FLUSHALL"})) {
        BOOST_TEST_REQUIRE(o.result.ok(), to_string(o.node));
        BOOST_TEST_REQUIRE(o.result->type == REDIS_REPLY_STATUS);
    }
    const int keys = 500;
    for (int i = 0; i < keys; ++i) {
        const std::string key = "dbsize:" + std::to_string(i);
        BOOST_TEST_REQUIRE(driver.call({"SET", key, std::to_string(i)}).ok());
    }

    long long total = 0;
    int nonzero = 0;
    const auto sizes = driver.fan_out({"DBSIZE"});
    BOOST_TEST_REQUIRE(sizes.size() == 3u);
    for (const node_outcome& o : sizes) {
        BOOST_TEST_REQUIRE(o.result.ok());
        BOOST_TEST_REQUIRE(o.result->type == REDIS_REPLY_INTEGER);
        total += o.result->integer;
        nonzero += o.result->integer > 0 ? 1 : 0;
    }
    std::cout << Driver::name << " fan_out DBSIZE: " << total << " keys over " << sizes.size() << " masters\n";
    BOOST_TEST(total == keys);
    BOOST_TEST(nonzero == 3);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_node_answers_config_get_and_a_frozen_one_costs_only_its_own_outcome, Driver,
                              scenario::drivers) {
    cluster_options options = scenario::options();
    options.tls.connect_timeout = std::chrono::milliseconds(500);
    std::uint16_t frozen = 0;
    {
        Driver driver(options);
        driver.connect();
        const auto all = driver.fan_out({"CONFIG", "GET", "cluster-node-timeout"}, fan_out_to::all_nodes);
        BOOST_TEST_REQUIRE(all.size() == 6u);
        int replicas = 0;
        for (const node_outcome& o : all) {
            BOOST_TEST_REQUIRE(o.result.ok(), to_string(o.node));
            BOOST_TEST_REQUIRE(o.result->type == REDIS_REPLY_ARRAY);
            BOOST_TEST_REQUIRE(o.result->elements == 2u);
            replicas += o.role == node_role::replica ? 1 : 0;
            if (o.role == node_role::replica) frozen = o.node.port;
        }
        BOOST_TEST(replicas == 3);
    }

    // Freeze one replica: a new client's call to it runs into the per-node deadline (its dial hangs); the five
    // others still answer.
    Driver driver(options);
    driver.connect();  // the masters only: the frozen replica is dialed by the fan-out
    call_options per_node;
    per_node.deadline = std::chrono::milliseconds(1000);
    std::vector<node_outcome> outcomes;
    {
        live::stopped_node stopped(frozen);
        outcomes = driver.fan_out({"CONFIG", "GET", "cluster-node-timeout"}, fan_out_to::all_nodes, per_node);
        BOOST_TEST_REQUIRE(stopped.resume());
    }
    BOOST_TEST_REQUIRE(outcomes.size() == 6u);
    int answered = 0;
    for (const node_outcome& o : outcomes) {
        if (o.node.port == frozen) {
            BOOST_TEST_REQUIRE(!o.result.ok());
            std::cout << Driver::name << " fan_out, frozen " << to_string(o.node) << ": " << o.result.failure()->what() << "\n";
            BOOST_TEST((o.result.failure()->kind() == error_kind::timeout));
            continue;
        }
        BOOST_TEST(o.result.ok(), to_string(o.node));
        answered += o.result.ok() ? 1 : 0;
    }
    BOOST_TEST(answered == 5);
}

BOOST_AUTO_TEST_SUITE_END()
