// tests/integration/cluster_replicas.cpp — cluster_options::read_from on the live cluster: where reads and writes
// land (counted by each node's INFO commandstats), and what happens when a replica stops answering.
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"
#include "node_control.hpp"
#include "stopped_node.hpp"

#include <boost/test/unit_test.hpp>

#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace addrmap;

using live::calls_on;

/// The live cluster's layout, read by the test itself: master port -> replica ports.
std::map<std::uint16_t, std::vector<std::uint16_t>> replicas_by_master() {
    live::admin_connection admin(live::cluster_port());
    auto reply = admin.ok("CLUSTER SHARDS");
    std::map<std::uint16_t, std::vector<std::uint16_t>> out;
    for (const shard& s : parse_cluster_shards(reply.get()).shards)
        for (const node_address& r : s.replicas) out[s.master.port].push_back(r.port);
    return out;
}

std::uint16_t master_of_slot(std::uint16_t slot) {
    live::admin_connection admin(live::cluster_port());
    auto reply = admin.ok("CLUSTER SHARDS");
    const topology topo = parse_cluster_shards(reply.get());
    return topo.owner_of(slot)->master.port;
}

std::map<std::uint16_t, std::uint64_t> get_calls(const std::vector<std::uint16_t>& ports) {
    std::map<std::uint16_t, std::uint64_t> out;
    for (std::uint16_t port : ports) out[port] = calls_on(port, "get");
    return out;
}

cluster_options reading_from(read_preference preference) {
    cluster_options options = live::cluster_options({live::seed_by_name()});
    options.read_from = preference;
    return options;
}

/// Waits until every master's replicas acknowledged this client's writes (WAIT on the connection that wrote).
template <class Cluster>
void wait_for_replication(Cluster& cluster) {
    for (const auto& master : live::masters(cluster)) {
        reply_ptr acked = cluster.command_on(master.reported, {"WAIT", "1", "5000"});
        BOOST_TEST_REQUIRE(acked->type == REDIS_REPLY_INTEGER);
        BOOST_TEST_REQUIRE(acked->integer >= 1);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_replicas)

BOOST_AUTO_TEST_CASE(reads_land_on_replicas_and_writes_on_masters) {
    ip_to_hostname_cluster cluster(reading_from(read_preference::replica), ip_to_hostname("localhost"));
    cluster.connect();
    const auto layout = replicas_by_master();
    BOOST_TEST_REQUIRE(layout.size() == 3u);
    std::vector<std::uint16_t> master_ports, replica_ports;
    for (const auto& [master, replicas] : layout) {
        master_ports.push_back(master);
        replica_ports.insert(replica_ports.end(), replicas.begin(), replicas.end());
    }
    BOOST_TEST_REQUIRE(replica_ports.size() == 3u);

    const int keys = 300;
    std::map<std::uint16_t, std::uint64_t> sets_before;
    for (std::uint16_t port : master_ports) sets_before[port] = calls_on(port, "set");
    for (int i = 0; i < keys; ++i) {
        const std::string key = "replica-read:" + std::to_string(i);
        reply_ptr ok = cluster.command(key, "SET %s v%d", key.c_str(), i);
        BOOST_TEST_REQUIRE(ok->type == REDIS_REPLY_STATUS);
    }
    std::uint64_t sets_on_masters = 0;
    for (std::uint16_t port : master_ports) sets_on_masters += calls_on(port, "set") - sets_before[port];
    BOOST_TEST(sets_on_masters == static_cast<std::uint64_t>(keys));  // writes never go to replicas
    wait_for_replication(cluster);

    auto before = get_calls(master_ports), replicas_before = get_calls(replica_ports);
    for (int i = 0; i < keys; ++i) {
        const std::string key = "replica-read:" + std::to_string(i);
        reply_ptr value = cluster.command(key, "GET %s", key.c_str());
        BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING);
        BOOST_TEST_REQUIRE(std::string(value->str, value->len) == "v" + std::to_string(i));
    }
    // A pipeline's reads are routed by the same core: one more GET per key.
    pipeline batch;
    for (int i = 0; i < keys; ++i) batch.add("replica-read:" + std::to_string(i), "GET replica-read:%d", i);
    for (const outcome& o : cluster.execute(batch)) BOOST_TEST_REQUIRE((o.ok() && o->type == REDIS_REPLY_STRING));

    std::uint64_t on_masters = 0, on_replicas = 0;
    for (const auto& [port, count] : get_calls(master_ports)) on_masters += count - before[port];
    for (const auto& [port, count] : get_calls(replica_ports)) {
        BOOST_TEST(count - replicas_before[port] > 0u, "replica " << port << " served no read");
        on_replicas += count - replicas_before[port];
    }
    std::cout << "replica reads: " << on_replicas << " GETs on replicas, " << on_masters << " on masters, "
              << sets_on_masters << " SETs on masters; replica_sends " << cluster.stats().replica_sends << "\n";
    BOOST_TEST(on_masters == 0u);
    BOOST_TEST(on_replicas == static_cast<std::uint64_t>(2 * keys));
    BOOST_TEST(cluster.stats().replica_sends == static_cast<std::uint64_t>(2 * keys));
    BOOST_TEST(cluster.stats().moved == 0u);  // READONLY was sent: no replica answered MOVED
    for (const node_info& node : cluster.nodes())
        if (node.role == node_role::replica) BOOST_TEST(node.connected, to_string(node.reported));
}

BOOST_AUTO_TEST_CASE(replica_preferred_reads_from_the_master_while_the_replica_is_stopped) {
    cluster_options options = reading_from(read_preference::replica_preferred);
    options.tls.command_timeout = std::chrono::milliseconds(500);
    options.tls.connect_timeout = std::chrono::milliseconds(500);
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    const std::string tag = live::tag_for_slot(100);
    const std::uint16_t master = master_of_slot(100);
    const auto layout = replicas_by_master();
    BOOST_TEST_REQUIRE(layout.at(master).size() == 1u);
    const std::uint16_t replica = layout.at(master).front();

    const int keys = 50;
    for (int i = 0; i < keys; ++i) {
        const std::string key = "{" + tag + "}:" + std::to_string(i);
        BOOST_TEST_REQUIRE(cluster.command(key, "SET %s v%d", key.c_str(), i)->type == REDIS_REPLY_STATUS);
    }
    wait_for_replication(cluster);
    const std::string first = "{" + tag + "}:0";
    BOOST_TEST_REQUIRE(cluster.command(first, "GET %s", first.c_str())->type == REDIS_REPLY_STRING);
    BOOST_TEST_REQUIRE(cluster.stats().replica_sends == 1u);  // a live connection to the replica now

    const std::uint64_t master_gets = calls_on(master, "get");
    {
        live::stopped_node stopped(replica);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < keys; ++i) {
            const std::string key = "{" + tag + "}:" + std::to_string(i);
            reply_ptr value = cluster.command(key, "GET %s", key.c_str());
            BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING, key);
            BOOST_TEST_REQUIRE(std::string(value->str, value->len) == "v" + std::to_string(i));
        }
        const auto spent =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        std::cout << "replica stopped: " << keys << " reads in " << spent << " ms, replica_fallbacks "
                  << cluster.stats().replica_fallbacks << ", retries " << cluster.stats().retries << "\n";
        BOOST_TEST(cluster.stats().replica_fallbacks >= 1u);
        BOOST_TEST(cluster.stats().retries >= 1u);  // the read lost on the stopped replica went again, to the master
        bool shown_down = false;
        // The replica's row as the cluster reported it; when earlier tests' failovers left the seed's own port to
        // a replica, nodes() also lists the seed as configured ("localhost:port", role seed): not that row.
        for (const node_info& node : cluster.nodes())
            if (node.reported.port == replica && node.role == node_role::replica)
                shown_down = node.down && !node.problem.empty();
        BOOST_TEST(shown_down);
        BOOST_TEST_REQUIRE(stopped.resume());
    }
    BOOST_TEST(calls_on(master, "get") - master_gets >= static_cast<std::uint64_t>(keys));

    // Back: once replica_retry_interval has passed, reads go to the replica again.
    std::this_thread::sleep_for(cluster_core::replica_retry_interval + std::chrono::milliseconds(100));
    const std::uint64_t replica_gets = calls_on(replica, "get");
    for (int i = 0; i < 10; ++i) {
        const std::string key = "{" + tag + "}:" + std::to_string(i);
        BOOST_TEST_REQUIRE(cluster.command(key, "GET %s", key.c_str())->type == REDIS_REPLY_STRING);
    }
    BOOST_TEST(calls_on(replica, "get") - replica_gets == 10u);
}

BOOST_AUTO_TEST_CASE(replica_mode_never_reads_from_the_master_and_fails_at_the_deadline) {
    cluster_options options = reading_from(read_preference::replica);
    options.tls.command_timeout = std::chrono::milliseconds(300);
    options.tls.connect_timeout = std::chrono::milliseconds(300);
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    const std::string key = "{" + live::tag_for_slot(100) + "}:only-replica";
    BOOST_TEST_REQUIRE(cluster.command(key, "SET %s 1", key.c_str())->type == REDIS_REPLY_STATUS);
    const std::uint16_t master = master_of_slot(100);
    const std::uint16_t replica = replicas_by_master().at(master).front();
    const std::uint64_t master_gets = calls_on(master, "get");
    {
        live::stopped_node stopped(replica);
        call_options call;
        call.deadline = std::chrono::milliseconds(800);
        try {
            cluster.command(call, key, "GET %s", key.c_str());
            BOOST_FAIL("a read with read_from = replica succeeded while the only replica was stopped");
        } catch (const error& e) {
            const std::string what = e.what();
            std::cout << "replica mode, replica stopped: " << what << "\n";
            BOOST_TEST((e.kind() == error_kind::timeout));
            BOOST_TEST(what.find("no usable replica of master") != std::string::npos, what);
            BOOST_TEST(what.find("did not run") != std::string::npos, what);
        }
        // Writes are not reads: they still go to the master while the replica is stopped.
        BOOST_TEST(cluster.command(key, "SET %s 2", key.c_str())->type == REDIS_REPLY_STATUS);
        BOOST_TEST_REQUIRE(stopped.resume());
    }
    BOOST_TEST(calls_on(master, "get") == master_gets);
}

BOOST_AUTO_TEST_SUITE_END()
