// tests/integration/cluster_failover.cpp — a master is killed by PID; the adapter must recover once its
// replica is promoted, with writes succeeding again. Prints the measured recovery time.
#include "cluster_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/types.h>
#include <thread>

namespace {

/// The PID scripts/cluster recorded for the node on `port` (the fixture started it).
pid_t node_pid(std::uint16_t port) {
    std::ifstream in(live::cluster_dir() + "/node-" + std::to_string(port) + "/redis.pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
}

int run(const std::string& command) { return std::system(command.c_str()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_failover)

BOOST_AUTO_TEST_CASE(adapter_recovers_after_a_master_is_killed) {
    using namespace addrmap;
    auto options = live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    reply_ptr before = cluster.command("failover-key", "SET failover-key before");
    BOOST_TEST_REQUIRE(before->type == REDIS_REPLY_STATUS);

    // The master that owns the key's slot, and its PID from the fixture's PID file.
    const std::uint16_t slot = key_slot("failover-key");
    std::uint16_t victim_port = 0;
    for (const auto& master : live::masters(cluster))
        for (const auto& range : master.slots)
            if (range.first <= slot && slot <= range.last) victim_port = master.reported.port;
    BOOST_TEST_REQUIRE(victim_port != 0);
    const pid_t victim = node_pid(victim_port);
    BOOST_TEST_REQUIRE(victim > 0);
    BOOST_TEST_REQUIRE(::kill(victim, 0) == 0);

    BOOST_TEST_REQUIRE(::kill(victim, SIGKILL) == 0);
    const auto killed_at = std::chrono::steady_clock::now();

    // One command: the adapter's own retries (backoff, refresh from live nodes) must carry it through.
    std::string last_error;
    bool recovered = false;
    for (int attempt = 0; attempt < 3 && !recovered; ++attempt) {
        try {
            reply_ptr after = cluster.command("failover-key", "SET failover-key after");
            recovered = after->type == REDIS_REPLY_STATUS;
            if (!recovered) last_error = after->str;
        } catch (const error& e) {
            last_error = e.what();  // a retry budget (64 × ≤200 ms) may end before the election does
        }
    }
    const auto recovery = std::chrono::steady_clock::now() - killed_at;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(recovery).count();
    std::cout << "failover: master on port " << victim_port << " killed; writes succeed again after " << ms
              << " ms (cluster-node-timeout " << (std::getenv("LOCAL_CLUSTER_NODE_TIMEOUT") ? std::getenv("LOCAL_CLUSTER_NODE_TIMEOUT") : "1500")
              << " ms); connection losses " << cluster.stats().connection_losses << ", refreshes "
              << cluster.stats().refreshes << "\n";
    BOOST_TEST_REQUIRE(recovered, "writes did not recover: " << last_error);

    reply_ptr get = cluster.command("failover-key", "GET failover-key");
    BOOST_TEST(std::string(get->str, get->len) == "after");
    // The slot is now served by the promoted replica, not the dead node.
    bool served_by_other = false;
    for (const auto& master : live::masters(cluster))
        for (const auto& range : master.slots)
            if (range.first <= slot && slot <= range.last) served_by_other = master.reported.port != victim_port;
    BOOST_TEST(served_by_other);

    // Bring the killed node back (it rejoins as a replica) so later tests see six nodes again.
    const std::string env = "LOCAL_CLUSTER_PORT=" + std::to_string(live::cluster_port()) +
                            " LOCAL_CLUSTER_DIR='" + live::cluster_dir() + "' ";
    BOOST_TEST(run(env + "'" + live::source_dir() + "/scripts/cluster' start-node " + std::to_string(victim_port)) == 0);
    bool healthy = false;
    for (int i = 0; i < 100 && !healthy; ++i) {
        healthy = run(env + "'" + live::source_dir() + "/scripts/cluster' status >/dev/null 2>&1") == 0;
        if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    BOOST_TEST(healthy);
}

BOOST_AUTO_TEST_SUITE_END()
