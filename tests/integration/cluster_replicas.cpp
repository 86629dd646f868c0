// tests/integration/cluster_replicas.cpp — read_from = replica_preferred on the blocking cluster while a replica stops
// answering: reads fall back to the master, and return once it is back. (Where reads land: scenario.replicas.)
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

using live::replicas_by_master;

std::uint16_t master_of_slot(std::uint16_t slot) {
    live::admin_connection admin(live::cluster_port());
    auto reply = admin.ok("CLUSTER SHARDS");
    const topology topo = parse_cluster_shards(reply.get());
    return topo.owner_of(slot)->master.port;
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

BOOST_AUTO_TEST_SUITE_END()
