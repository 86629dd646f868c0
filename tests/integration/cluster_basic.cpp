// tests/integration/cluster_basic.cpp — the cluster adapter on the live TLS cluster: every policy,
// routing across all masters, seeds, pipelines and plain-hiredis interop, with verification on.
#include "cluster_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace addrmap;

/// Writes 300 keys through the cluster, reads them back, and checks every master holds some.
template <class Cluster>
void round_trip_across_all_masters(Cluster& cluster, const std::string& prefix) {
    for (int i = 0; i < 300; ++i) {
        const std::string key = prefix + std::to_string(i);
        const std::string value = "v" + std::to_string(i * 7);
        reply_ptr set = cluster.command(key, "SET %s %s", key.c_str(), value.c_str());
        BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
        BOOST_TEST(std::string(set->str) == "OK");
    }
    for (int i = 0; i < 300; ++i) {
        const std::string key = prefix + std::to_string(i);
        reply_ptr get = cluster.command_argv(key, {"GET", key});
        BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
        BOOST_TEST(std::string(get->str, get->len) == "v" + std::to_string(i * 7));
    }
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& master : masters) {
        BOOST_TEST_CONTEXT("master " << to_string(master.reported)) {
            reply_ptr size = cluster.command_on(master.reported, {"DBSIZE"});
            BOOST_TEST_REQUIRE(size->type == REDIS_REPLY_INTEGER);
            BOOST_TEST(size->integer > 0);
            BOOST_TEST(master.connected);
            BOOST_TEST_REQUIRE(master.handshake.has_value());
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_basic)

BOOST_AUTO_TEST_CASE(ip_to_hostname_dial_hostname_reaches_all_masters) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    for (const auto& node : cluster.nodes()) {
        BOOST_TEST_CONTEXT("node " << to_string(node.reported)) {
            BOOST_TEST(node.tls_name == "localhost");
            BOOST_TEST(node.dial_host == "localhost");
        }
    }
    round_trip_across_all_masters(cluster, "dial-hostname:");
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_dial_ip_verify_wildcard_name) {
    // No DNS at all: dial the reported IPs, verify node.redis.test against *.redis.test.
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_ip()}),
                                   ip_to_hostname("node.redis.test", ip_to_hostname::mode::dial_ip_verify_hostname));
    cluster.connect();
    for (const auto& node : cluster.nodes()) {
        BOOST_TEST_CONTEXT("node " << to_string(node.reported)) {
            BOOST_TEST(node.tls_name == "node.redis.test");
            BOOST_TEST(node.dial_host == "127.0.0.1");
        }
    }
    round_trip_across_all_masters(cluster, "keep-ip:");
}

BOOST_AUTO_TEST_CASE(static_table_maps_every_node) {
    // One entry per node, plus one for an address the cluster never reports: only it stays unmatched
    // (besides nodes the cluster does not list right now, e.g. a replica still loading).
    std::string table = "10.9.9.9:7000=nowhere.redis.test;";
    for (std::uint16_t port : live::cluster_ports())
        table += "127.0.0.1:" + std::to_string(port) + "=localhost:" + std::to_string(port) + ";";
    static_table_cluster cluster(live::cluster_options({live::seed_by_ip()}), static_table::parse(table));
    cluster.connect();
    round_trip_across_all_masters(cluster, "table:");
    const auto unmatched = cluster.policy().unmatched_entries();
    std::set<std::string> expected{"10.9.9.9:7000=nowhere.redis.test"};
    std::set<std::uint16_t> listed;
    for (const auto& node : cluster.nodes()) listed.insert(node.reported.port);
    for (std::uint16_t port : live::cluster_ports())
        if (!listed.count(port))
            expected.insert("127.0.0.1:" + std::to_string(port) + "=localhost:" + std::to_string(port));
    BOOST_TEST(std::set<std::string>(unmatched.begin(), unmatched.end()) == expected, boost::test_tools::per_element());
    for (const auto& node : cluster.nodes()) BOOST_TEST(node.tls_name == "localhost");
}

BOOST_AUTO_TEST_CASE(env_policy_from_explicit_environment) {
    env_cluster cluster(live::cluster_options({live::seed_by_ip()}),
                        env(std::map<std::string, std::string>{{"ADDRMAP_HOSTNAME", "localhost"}}));
    cluster.connect();
    round_trip_across_all_masters(cluster, "env:");
}

BOOST_AUTO_TEST_CASE(identity_fails_closed_as_a_name_mismatch_naming_the_fix) {
    identity_cluster cluster(live::cluster_options({live::seed_by_ip()}));
    try {
        cluster.connect();
        BOOST_FAIL("connecting to IPs whose certificate has only DNS names must fail");
    } catch (const error& e) {
        const std::string what = e.what();
        BOOST_TEST_INFO(what);
        BOOST_TEST(e.kind() == error_kind::tls_name);
        BOOST_TEST(what.find(live::seed_by_ip()) != std::string::npos);
        // The seed is the user's address, not one the cluster reported (no topology was read).
        BOOST_TEST(what.find("node " + live::seed_by_ip() + " (seed #1 as configured)") != std::string::npos);
        BOOST_TEST(what.find("as reported by the cluster") == std::string::npos);
        BOOST_TEST(what.find("DNS:localhost") != std::string::npos);
        BOOST_TEST(what.find("ip_to_hostname") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(first_seed_down_second_seed_used) {
    // cluster_port()+18 is inside this build's port block and nothing listens there.
    const std::string dead = "127.0.0.1:" + std::to_string(live::cluster_port() + 18);
    ip_to_hostname_cluster cluster(live::cluster_options({dead, live::seed_by_ip(1)}), ip_to_hostname("localhost"));
    cluster.connect();
    reply_ptr pong = cluster.command_any("PING");
    BOOST_TEST(std::string(pong->str) == "PONG");
}

BOOST_AUTO_TEST_CASE(all_seeds_down_is_a_clear_error_within_the_connect_timeout) {
    const std::string dead1 = "127.0.0.1:" + std::to_string(live::cluster_port() + 18);
    const std::string dead2 = "localhost:" + std::to_string(live::cluster_port() + 19);
    auto options = live::cluster_options({dead1, dead2});
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    const auto start = std::chrono::steady_clock::now();
    try {
        cluster.connect();
        BOOST_FAIL("no seed is up: connect must fail");
    } catch (const error& e) {
        const auto elapsed = std::chrono::steady_clock::now() - start;
        const std::string what = e.what();
        BOOST_TEST_INFO(what);
        BOOST_TEST(e.kind() == error_kind::connect);
        BOOST_TEST(what.find("seed #1 " + dead1) != std::string::npos);
        BOOST_TEST(what.find("seed #2 " + dead2) != std::string::npos);
        BOOST_TEST(what.find("node " + dead1 + " (seed #1 as configured)") != std::string::npos);
        BOOST_TEST(what.find("node " + dead2 + " (seed #2 as configured)") != std::string::npos);
        BOOST_TEST(what.find("TCP connect failed: Connection refused") != std::string::npos);
        // Refused connections fail at once; the bound is the per-seed connect timeout.
        BOOST_TEST((elapsed < 2 * options.tls.connect_timeout));
    }
}

BOOST_AUTO_TEST_CASE(pipeline_of_ten_thousand_commands_returns_replies_in_order) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    pipeline writes;
    for (int i = 0; i < 10000; ++i) {
        const std::string key = "pipe:" + std::to_string(i);
        writes.add(key, "SET %s %d", key.c_str(), i);
    }
    auto set_replies = cluster.execute(writes);
    BOOST_TEST_REQUIRE(set_replies.size() == 10000u);
    std::set<std::uint16_t> slots;
    pipeline reads;
    for (int i = 0; i < 10000; ++i) {
        const std::string key = "pipe:" + std::to_string(i);
        BOOST_TEST_REQUIRE(set_replies[static_cast<std::size_t>(i)]->type == REDIS_REPLY_STATUS);
        reads.add_argv(key, {"GET", key});
        slots.insert(key_slot(key));
    }
    BOOST_TEST(slots.size() > 5000u);  // spread over the whole slot space, hence all masters
    auto get_replies = cluster.execute(reads);
    for (int i = 0; i < 10000; ++i) {
        const auto& reply = get_replies[static_cast<std::size_t>(i)];
        BOOST_TEST_REQUIRE(reply->type == REDIS_REPLY_STRING);
        BOOST_TEST_REQUIRE(std::string(reply->str, reply->len) == std::to_string(i));
    }
    // Healthy connections are never mistaken for stale ones (TLS 1.3 tickets arrive during connect), and a
    // healthy cluster needs one wave: one round trip per master per pipeline.
    BOOST_TEST(cluster.stats().stale_reconnects == 0u);
    BOOST_TEST(cluster.stats().retries == 0u);
    BOOST_TEST(cluster.stats().round_trips == 6u);
}

BOOST_AUTO_TEST_CASE(context_for_key_works_with_plain_redisCommand) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    for (const char* key : {"foo", "{user1000}.following", "bar", "zap"}) {
        BOOST_TEST_CONTEXT("key " << key) {
            redisContext* c = cluster.context_for_key(key);
            BOOST_TEST_REQUIRE(c != nullptr);
            reply_ptr set(static_cast<redisReply*>(redisCommand(c, "SET %s plain-hiredis", key)));
            BOOST_TEST_REQUIRE(static_cast<bool>(set));
            BOOST_TEST(set->type == REDIS_REPLY_STATUS);  // not MOVED: the context owns the slot
            reply_ptr get = cluster.command(key, "GET %s", key);
            BOOST_TEST(std::string(get->str, get->len) == "plain-hiredis");
        }
    }
}

BOOST_AUTO_TEST_CASE(non_owner_answers_moved_and_routed_commands_need_no_redirect) {
    // The node table's slot ranges are the server's: a non-owner answers MOVED, the routed command does not.
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    const auto before = cluster.stats().moved;
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    // Ask a master that does not own "foo" (slot 12182) to run it: the reply must be a MOVED error.
    for (const auto& master : masters) {
        bool owns = false;
        for (const auto& range : master.slots) owns = owns || (range.first <= 12182 && 12182 <= range.last);
        if (owns) continue;
        reply_ptr moved = cluster.command_on(master.reported, {"GET", "foo"});
        BOOST_TEST_REQUIRE(moved->type == REDIS_REPLY_ERROR);
        BOOST_TEST(std::string(moved->str).rfind("MOVED 12182 ", 0) == 0u);
        break;
    }
    reply_ptr ok = cluster.command("foo", "SET foo after-moved");
    BOOST_TEST(std::string(ok->str) == "OK");
    BOOST_TEST(cluster.stats().moved == before);  // the map was right: no redirect for routed commands
}

BOOST_AUTO_TEST_SUITE_END()
