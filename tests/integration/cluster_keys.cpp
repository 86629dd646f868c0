// tests/integration/cluster_keys.cpp — commands routed by their own keys (command_keys.hpp) on the live TLS cluster:
// the server's COMMAND GETKEYS agrees with the table on every row, SET/GET/MGET go straight to the owner, and
// cross-slot commands are refused before anything is sent.
#include "../command_samples.hpp"
#include "cluster_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace addrmap;

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::vector<std::string_view> views(const std::vector<std::string>& args) { return {args.begin(), args.end()}; }

/// "[k, a, '']": keys as a failure message shows them (an empty key stays visible).
std::string join(const std::vector<std::string_view>& keys) {
    std::string text = "[";
    for (std::string_view key : keys) text += (text.size() > 1 ? ", " : "") + (key.empty() ? "''" : std::string(key));
    return text + "]";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_keys)

BOOST_AUTO_TEST_CASE(command_getkeys_agrees_on_every_table_row) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(!masters.empty());
    std::size_t compared = 0, keyless = 0;
    std::vector<const command_keys_entry*> agreed;  // the rows with a sample the server agreed on
    for (const auto& sample : samples::all()) {
        BOOST_TEST_CONTEXT("command " << sample.argv[0] << " (" << sample.argv.size() << " arguments)") {
            std::vector<std::string_view> ask{"COMMAND", "GETKEYS"};
            for (const auto& a : sample.argv) ask.push_back(a);
            reply_ptr reply = cluster.command_on(masters[0].reported, ask);
            const std::vector<std::string_view> ours = command_keys(views(sample.argv));
            BOOST_TEST_REQUIRE(reply->type == REDIS_REPLY_ARRAY,
                               (reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : std::string()));
            std::vector<std::string> theirs;
            for (std::size_t i = 0; i < reply->elements; ++i)
                theirs.emplace_back(reply->element[i]->str, reply->element[i]->len);
            const bool same = std::vector<std::string>(ours.begin(), ours.end()) == theirs;
            BOOST_TEST(same, "ours: " << join(ours) << "; the server's: " << join(views(theirs)));
            if (same) agreed.push_back(samples::row_of(sample));
            ++compared;
            if (ours.empty()) ++keyless;  // EVAL with numkeys 0: no keys (addrmap sends it to any master)
        }
    }
    std::cout << "cluster_keys: COMMAND GETKEYS agreed on " << compared << " samples (" << keyless
              << " without keys) covering " << std::size(command_key_table) << " table rows\n";
    BOOST_TEST(compared == samples::all().size());
    const std::string unchecked = samples::rows_not_in(agreed);
    BOOST_TEST(unchecked.empty(), "table rows the server did not confirm on a sample: " << unchecked);
}

BOOST_AUTO_TEST_CASE(set_get_mget_route_by_their_own_keys) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    // A key on each master: every command must reach its owner at once (a wrong route would cost a MOVED).
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& master : masters) {
        const std::string tag = "{" + live::tag_for_slot(static_cast<std::uint16_t>(master.slots.front().first)) + "}";
        const std::string a = tag + "keys.a", b = tag + "keys.b";
        reply_ptr set = cluster.call("SET %s %s", a.c_str(), "one");
        BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
        set = cluster.call_argv({"SET", b, "two"});
        BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
        reply_ptr get = cluster.call("GET %s", a.c_str());
        BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
        BOOST_TEST(std::string(get->str, get->len) == "one");
        reply_ptr both = cluster.call("MGET %s %s", a.c_str(), b.c_str());
        BOOST_TEST_REQUIRE(both->type == REDIS_REPLY_ARRAY);
        BOOST_TEST_REQUIRE(both->elements == 2u);
        BOOST_TEST(std::string(both->element[1]->str, both->element[1]->len) == "two");
        // The value is on the master that owns the slot.
        reply_ptr there = cluster.command_on(master.reported, {"GET", a});
        BOOST_TEST_REQUIRE(there->type == REDIS_REPLY_STRING);
        reply_ptr gone = cluster.call_argv({"DEL", a, b});
        BOOST_TEST(gone->integer == 2);
    }
    BOOST_TEST(cluster.stats().moved == 0u);
    // EVAL with numkeys 0 has no key: any master runs it.
    reply_ptr eval = cluster.call("EVAL %s 0", "return 41 + 1");
    BOOST_TEST_REQUIRE(eval->type == REDIS_REPLY_INTEGER);
    BOOST_TEST(eval->integer == 42);
    // EVAL with keys: routed by KEYS[1].
    reply_ptr keyed = cluster.call("EVAL %s 2 %s %s", "return redis.call('SET', KEYS[1], ARGV[1])", "{ev}1", "{ev}2");
    BOOST_TEST_REQUIRE(keyed->type == REDIS_REPLY_ERROR);  // ARGV[1] is missing: the server's own error, it ran there
    BOOST_TEST(!has(std::string(keyed->str, keyed->len), "MOVED"));
}

BOOST_AUTO_TEST_CASE(cross_slot_commands_are_refused_before_sending) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    cluster.call("SET %s %s", "a", "1");
    const auto trips = cluster.stats().round_trips;
    try {
        cluster.call("MGET %s %s", "a", "b");
        BOOST_ERROR("a cross-slot MGET was sent");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::config);
        const std::string m = e.what();
        BOOST_TEST(has(m, "'MGET' has keys in 2 slots: 'a' (slot 15495), 'b' (slot 3300)"), m);
    }
    try {
        cluster.call_argv({"DEL", "k1", "k2", "{k}1"});
        BOOST_ERROR("a cross-slot DEL was sent");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::config);
        BOOST_TEST(has(e.what(), "'DEL' has keys in 3 slots"), e.what());
    }
    try {
        cluster.call("PING");
        BOOST_ERROR("a command without a table row was sent");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::config);
        BOOST_TEST(has(e.what(), "pass the routing key yourself"), e.what());
    }
    try {
        cluster.call("EVAL %s %s", "return 1", "2");
        BOOST_ERROR("a malformed EVAL was sent");
    } catch (const error& e) {
        BOOST_TEST(has(e.what(), "'EVAL', argument 2: the count says 2 key(s) but only 0"), e.what());
    }
    BOOST_TEST(cluster.stats().round_trips == trips);  // nothing was sent
    // The same keys with one hash tag go together.
    reply_ptr ok = cluster.call("MSET %s %s %s %s", "{k}a", "1", "{k}b", "2");
    BOOST_TEST(ok->type == REDIS_REPLY_STATUS);
}

BOOST_AUTO_TEST_SUITE_END()
