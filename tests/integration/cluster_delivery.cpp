// tests/integration/cluster_delivery.cpp — the blocking cluster's own delivery rules on the wire: context_for_key
// never hands out a connection the server closed; a pipeline's safe entries are retried and re-batched in few waves
// through a failover. Prints the measured figures. (CLIENT KILL and deadlines on both drivers: tests/scenarios.)
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"
#include "node_control.hpp"
#include "own_sockets.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace addrmap;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

using live::ms_since;

using live::text_of;

/// One key per master, each on the first slot the master serves: "{tag}suffix".
template <class Cluster>
std::vector<std::pair<std::uint16_t, std::string>> key_per_master(const Cluster& cluster, const std::string& suffix) {
    std::vector<std::pair<std::uint16_t, std::string>> out;
    for (const auto& master : live::masters(cluster))
        out.emplace_back(master.reported.port, "{" + live::tag_for_slot(master.slots.front().first) + "}" + suffix);
    return out;
}

/// CLIENT KILL TYPE normal SKIPME yes on the node: every client connection but the admin's own.
long long kill_clients(live::admin_connection& admin) {
    auto reply = admin.ok("CLIENT KILL TYPE normal SKIPME yes");
    return reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

ip_to_hostname_cluster make_cluster(cluster_options options = live::cluster_options({live::seed_by_name()})) {
    return ip_to_hostname_cluster(std::move(options), ip_to_hostname("localhost"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_delivery)

// Connections the servers closed while idle (CLIENT KILL here; an idle `timeout` or a failover alike) are found
// closed before context_for_key hands one out: plain hiredis code gets a fresh, working context, never the closed one.
// (Commands on such connections, on both drivers: scenario.client_kill.)
BOOST_AUTO_TEST_CASE(context_for_key_after_client_kill_hands_out_a_fresh_working_context) {
    auto cluster = make_cluster();
    cluster.connect();
    const auto keys = key_per_master(cluster, "stale-context");
    BOOST_TEST_REQUIRE(keys.size() == 3u);
    std::vector<std::uint16_t> ports;
    for (const auto& [port, key] : keys) {
        reply_ptr set = cluster.command_argv(key, {"SET", key, "1"});  // touches every master
        BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
        ports.push_back(port);
    }
    std::vector<std::unique_ptr<live::admin_connection>> admins;
    for (std::uint16_t port : ports) admins.push_back(std::make_unique<live::admin_connection>(port));
    for (auto& admin : admins) BOOST_TEST_REQUIRE(kill_clients(*admin) >= 1);  // our connection was there
    BOOST_TEST_REQUIRE(live::wait_until_closed_by_servers(ports, 1), "the servers' close did not reach the client");
    const std::uint64_t stale_before = cluster.stats().stale_reconnects;
    for (const auto& [port, key] : keys) {
        BOOST_TEST_CONTEXT("context_for_key(" << key << ") on port " << port) {
            redisContext* ctx = cluster.context_for_key(key);
            BOOST_TEST_REQUIRE(ctx != nullptr);
            BOOST_TEST_REQUIRE(ctx->err == 0);
            reply_ptr get(static_cast<redisReply*>(redisCommand(ctx, "GET %b", key.data(), key.size())));
            BOOST_TEST_REQUIRE(get.get() != nullptr, "plain redisCommand failed: " << ctx->errstr);
            BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
            BOOST_TEST(text_of(get.get()) == "1");
        }
    }
    BOOST_TEST(cluster.stats().stale_reconnects - stale_before >= 3u);
}

// A master is SIGKILLed while a 10,000-entry pipeline of SETs (safe to repeat) waits for its replies: with the
// default deadline every entry ends OK once its replica took over; the victim's entries went again in a handful
// of waves (one round trip per node each), not one by one.
BOOST_AUTO_TEST_CASE(master_killed_during_a_10k_pipeline_every_set_ends_ok_in_few_waves) {
    auto options = live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
    auto cluster = make_cluster(options);
    cluster.connect();
    constexpr int n = 10000;
    const std::string prefix = "delivery:pipe:";
    const std::uint16_t victim_port = live::owner_port(cluster, key_slot(prefix + "0"));
    BOOST_TEST_REQUIRE(victim_port != 0);
    BOOST_TEST_REQUIRE(live::node_pid(victim_port) > 0);

    pipeline batch;
    for (int i = 0; i < n; ++i) {
        const std::string key = prefix + std::to_string(i);
        batch.add(key, "SET %s v%d", key.c_str(), i);
    }
    const cluster_stats before = cluster.stats();
    live::revive_on_exit revive(victim_port);
    // The victim is put to sleep first, so its share of the pipeline is surely written and unanswered when
    // it is killed: every one of those entries is lost after the write (and, being a SET, re-sent).
    std::thread sleeper([&] {
        try {
            live::admin_connection admin(victim_port);
            admin.run("DEBUG SLEEP 1");
        } catch (const std::exception&) {
            // killed while asleep: expected
        }
    });
    std::this_thread::sleep_for(milliseconds(100));
    std::atomic<bool> killed{false};
    std::thread killer([&] {
        std::this_thread::sleep_for(milliseconds(200));
        killed = live::kill_node(victim_port);
    });
    const auto started = steady::now();
    std::vector<outcome> results = cluster.execute(batch);
    const auto took = ms_since(started);
    killer.join();
    sleeper.join();
    BOOST_TEST_REQUIRE(killed.load());
    const cluster_stats after = cluster.stats();

    BOOST_TEST_REQUIRE(results.size() == static_cast<std::size_t>(n));
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        const outcome& o = results[static_cast<std::size_t>(i)];
        if (o.ok() && o->type == REDIS_REPLY_STATUS && text_of(o.reply()) == "OK") {
            ++ok;
        } else if (ok + 5 > i) {  // report the first few failures only
            BOOST_TEST(false, "entry " << i << ": " << (o.failure() ? o.failure()->what() : "not OK"));
        }
    }
    BOOST_TEST(ok == n);
    const std::uint64_t retries = after.retries - before.retries;
    const std::uint64_t round_trips = after.round_trips - before.round_trips;
    std::cout << "master on port " << victim_port << " killed during a " << n << "-entry pipeline: all " << ok
              << " OK after " << took << " ms; " << retries << " entry re-sends in " << round_trips
              << " node round trips; refreshes " << after.refreshes - before.refreshes << ", CLUSTERDOWN "
              << after.clusterdown - before.clusterdown << ", connection losses "
              << after.connection_losses - before.connection_losses << "\n";
    // About a third of the entries were the victim's: re-sent in waves, each one round trip per node.
    BOOST_TEST(retries >= 2000u);
    BOOST_TEST(round_trips * 20 < retries, round_trips << " round trips for " << retries << " re-sends");

    pipeline reads;
    for (int i = 0; i < n; ++i) {
        const std::string key = prefix + std::to_string(i);
        reads.add(key, "GET %s", key.c_str());
    }
    std::vector<outcome> values = cluster.execute(reads);
    int matching = 0;
    for (int i = 0; i < n; ++i) {
        const outcome& o = values[static_cast<std::size_t>(i)];
        if (o.ok() && o->type == REDIS_REPLY_STRING && text_of(o.reply()) == "v" + std::to_string(i)) ++matching;
    }
    BOOST_TEST(matching == n);
    BOOST_TEST(live::owner_port(cluster, key_slot(prefix + "0")) != victim_port);
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

BOOST_AUTO_TEST_SUITE_END()
