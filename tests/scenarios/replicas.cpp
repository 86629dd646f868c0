// tests/scenarios/replicas.cpp — cluster_options::read_from on the live cluster, both drivers: where reads and writes
// land (each node's INFO commandstats, stats().replica_sends), and replica-only reads while the replica is frozen.
#include "admin_connection.hpp"
#include "scenario_drivers.hpp"
#include "stopped_node.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <vector>

using namespace addrmap;

namespace {

using live::calls_on;

using scenario::has;

using live::replicas_by_master;

std::map<std::uint16_t, std::uint64_t> get_calls(const std::vector<std::uint16_t>& ports) {
    std::map<std::uint16_t, std::uint64_t> out;
    for (std::uint16_t port : ports) out[port] = calls_on(port, "get");
    return out;
}

cluster_options reading_from(read_preference preference) {
    cluster_options options = scenario::options();
    options.read_from = preference;
    return options;
}

/// Waits until every master's replicas acknowledged the driver's writes (WAIT on each master's connection).
template <class Driver>
void wait_for_replication(Driver& driver) {
    for (const node_outcome& o : driver.fan_out({"WAIT", "1", "5000"})) {
        BOOST_TEST_REQUIRE(o.result.ok(), scenario::why(o.result));
        BOOST_TEST_REQUIRE(o.result->type == REDIS_REPLY_INTEGER);
        BOOST_TEST_REQUIRE(o.result->integer >= 1, "no replica of " << to_string(o.node) << " acknowledged");
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replicas)

// read_from = replica: writes go to masters only; reads, one at a time and many together (the blocking driver's
// pipeline, the async driver's calls at once), go to replicas only — every replica serves some — with READONLY sent
// (no replica answers MOVED); stats().replica_sends counts each read sent there.
BOOST_AUTO_TEST_CASE_TEMPLATE(reads_land_on_replicas_and_writes_on_masters, Driver, scenario::drivers) {
    Driver driver(reading_from(read_preference::replica));
    driver.connect();
    const cluster_stats at_start = driver.stats();
    const auto layout = replicas_by_master();
    BOOST_TEST_REQUIRE(layout.size() == 3u);
    std::vector<std::uint16_t> master_ports, replica_ports;
    for (const auto& [master, replicas] : layout) {
        master_ports.push_back(master);
        replica_ports.insert(replica_ports.end(), replicas.begin(), replicas.end());
    }
    BOOST_TEST_REQUIRE(replica_ports.size() == 3u);

    const int keys = 300;
    const auto key_of = [](int i) { return "replica-read:" + std::to_string(i); };
    std::map<std::uint16_t, std::uint64_t> sets_before;
    for (std::uint16_t port : master_ports) sets_before[port] = calls_on(port, "set");
    for (int i = 0; i < keys; ++i) {
        const outcome ok = driver.command(key_of(i), {"SET", key_of(i), "v" + std::to_string(i)});
        BOOST_TEST_REQUIRE(ok.ok(), scenario::why(ok));
        BOOST_TEST_REQUIRE(ok->type == REDIS_REPLY_STATUS);
    }
    std::uint64_t sets_on_masters = 0;
    for (std::uint16_t port : master_ports) sets_on_masters += calls_on(port, "set") - sets_before[port];
    BOOST_TEST(sets_on_masters == static_cast<std::uint64_t>(keys));  // writes never go to replicas
    wait_for_replication(driver);

    const cluster_stats before = driver.stats();
    auto masters_before = get_calls(master_ports), replicas_before = get_calls(replica_ports);
    for (int i = 0; i < keys; ++i) {
        const outcome value = driver.command(key_of(i), {"GET", key_of(i)});
        BOOST_TEST_REQUIRE(value.ok(), scenario::why(value));
        BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING);
        BOOST_TEST_REQUIRE(std::string(value->str, value->len) == "v" + std::to_string(i));
    }
    std::vector<std::vector<std::string>> reads;
    for (int i = 0; i < keys; ++i) reads.push_back({"GET", key_of(i)});
    const std::vector<outcome> values = driver.all(reads);
    for (int i = 0; i < keys; ++i) {
        const outcome& o = values[static_cast<std::size_t>(i)];
        BOOST_TEST_REQUIRE(o.ok(), scenario::why(o));
        BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_STRING);
        BOOST_TEST_REQUIRE(std::string(o->str, o->len) == "v" + std::to_string(i));
    }

    std::uint64_t on_masters = 0, on_replicas = 0;
    for (const auto& [port, count] : get_calls(master_ports)) on_masters += count - masters_before[port];
    for (const auto& [port, count] : get_calls(replica_ports)) {
        BOOST_TEST(count - replicas_before[port] > 0u, "replica " << port << " served no read");
        on_replicas += count - replicas_before[port];
    }
    const cluster_stats& after = driver.stats();
    std::cout << Driver::name << " replica reads: " << on_replicas << " GETs on replicas, " << on_masters << " on masters, "
              << sets_on_masters << " SETs on masters; replica_sends " << after.replica_sends - before.replica_sends
              << ", retries " << after.retries - before.retries << "\n";
    BOOST_TEST(on_masters == 0u);
    BOOST_TEST(on_replicas == static_cast<std::uint64_t>(2 * keys));
    BOOST_TEST(after.retries == before.retries);  // a healthy cluster: each read sent once
    BOOST_TEST(after.replica_sends - before.replica_sends == static_cast<std::uint64_t>(2 * keys));
    BOOST_TEST(after.replica_fallbacks == before.replica_fallbacks);
    BOOST_TEST(after.moved == at_start.moved);  // READONLY was sent: no replica answered MOVED
    for (const node_info& node : driver.nodes())
        if (node.role == node_role::replica) BOOST_TEST(node.connected, to_string(node.reported));
}

// read_from = replica with the slot's only replica frozen: a read never falls back to the master; it ends timeout at
// its deadline saying no replica was usable and that it did not run. Writes still go to the master meanwhile.
BOOST_AUTO_TEST_CASE_TEMPLATE(replica_mode_never_reads_from_the_master_and_fails_at_the_deadline, Driver,
                              scenario::drivers) {
    cluster_options options = reading_from(read_preference::replica);
    options.tls.command_timeout = std::chrono::milliseconds(300);
    options.tls.connect_timeout = std::chrono::milliseconds(300);
    Driver driver(options);
    const std::string key = "{" + live::tag_for_slot(100) + "}:only-replica";
    // The 300 ms timeouts bound connect() and this SET too: tried a bounded number of times on a busy machine.
    scenario::connect_and_set(driver, key, "1");
    std::uint16_t master = 0;
    for (const node_info& m : live::masters(driver))
        for (const slot_range& range : m.slots)
            if (range.first <= 100 && 100 <= range.last) master = m.reported.port;
    BOOST_TEST_REQUIRE(master != 0);
    const auto layout = replicas_by_master();
    BOOST_TEST_REQUIRE(layout.count(master) == 1u);
    BOOST_TEST_REQUIRE(layout.at(master).size() == 1u);
    const std::uint16_t replica = layout.at(master).front();
    const std::uint64_t master_gets = calls_on(master, "get");
    {
        live::stopped_node frozen(replica);
        call_options call;
        call.deadline = std::chrono::milliseconds(800);
        const outcome read = driver.command(key, {"GET", key}, call);
        BOOST_TEST_REQUIRE(!read.ok(), "a read with read_from = replica succeeded while the only replica was frozen");
        const std::string what = read.failure()->what();
        std::cout << Driver::name << " replica mode, replica frozen: " << what << "\n";
        BOOST_TEST((read.failure()->kind() == error_kind::timeout), what);
        BOOST_TEST(has(what, "no usable replica of master"), what);
        BOOST_TEST(has(what, "(it did not run)"), what);
        // Writes are not reads: they still go to the master while the replica is frozen.
        const outcome write = driver.command(key, {"SET", key, "2"});
        BOOST_TEST(write.ok(), scenario::why(write));
        BOOST_TEST_REQUIRE(frozen.resume());
    }
    BOOST_TEST(calls_on(master, "get") == master_gets);
}

BOOST_AUTO_TEST_SUITE_END()
