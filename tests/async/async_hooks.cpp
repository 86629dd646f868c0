// tests/async/async_hooks.cpp — plain hiredis async code on the async cluster's connections (libevent): on_async_connect
// runs on every connection before any call, and context_for_key leases a verified connection of your own.
#include "async_support.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/async.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace addrmap;

namespace {

/// What a redisAsyncCommand callback of the test saw: each reply as text (its type for non-strings), "null" for a
/// lost one. hiredis frees the replies after the callback (the test never does: a double free would show under ASan).
struct seen_replies {
    std::vector<std::string> replies;
    static void record(redisAsyncContext*, void* raw, void* privdata) {
        auto* self = static_cast<seen_replies*>(privdata);
        const auto* r = static_cast<const redisReply*>(raw);
        if (r == nullptr) return self->replies.push_back("null");
        if (r->type == REDIS_REPLY_INTEGER) return self->replies.push_back(std::to_string(r->integer));
        if (r->str != nullptr) return self->replies.push_back(std::string(r->str, r->len));
        self->replies.push_back("type " + std::to_string(r->type));
    }
};

/// The reply of one cluster call (routed by `key`), waited for on the fixture's loop.
std::string cluster_reply(live::connected_libevent_cluster& c, const std::string& key, const std::vector<std::string_view>& args,
                          const call_options& call = {}) {
    std::optional<outcome> got;
    c.cluster.command_argv(key, args, [&](outcome o) { got = std::move(o); }, call);
    if (!c.loop.run_until([&] { return got.has_value(); })) return "(no reply within the test's limit)";
    if (!got->ok()) return std::string("(error) ") + got->failure()->what();
    const redisReply& r = *got->reply();
    if (r.type == REDIS_REPLY_INTEGER) return std::to_string(r.integer);
    return r.str != nullptr ? std::string(r.str, r.len) : "(type " + std::to_string(r.type) + ")";
}

/// A key on each master, by its reported port.
std::map<std::uint16_t, std::string> key_per_master(live::connected_libevent_cluster& c, const std::string& suffix) {
    std::map<std::uint16_t, std::string> keys;
    for (const node_info& master : live::masters(c.cluster))
        keys[master.reported.port] = "{" + live::tag_for_slot(master.slots.front().first) + "}" + suffix;
    return keys;
}

/// context_for_key(key), waited for: the lease, or the error's text.
leased_context lease_for(live::connected_libevent_cluster& c, const std::string& key, std::optional<std::string>& failure) {
    leased_context leased;
    bool called = false;
    c.cluster.context_for_key(key, [&](const error* e, leased_context got) {
        called = true;
        if (e != nullptr) failure = e->what();
        leased = std::move(got);
    });
    if (!c.loop.run_until([&] { return called; })) failure = "context_for_key did not call back within the test's limit";
    return leased;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(async_hooks)

BOOST_AUTO_TEST_CASE(on_async_connect_runs_on_every_connection_before_any_call) {
    seen_replies setname;
    int runs = 0, with_handshake = 0;
    std::set<std::uint16_t> ports;
    cluster_options options = live::async_options({live::seed_by_name()});
    options.on_async_connect = [&](redisAsyncContext* context, const node_info& node) {
        ++runs;
        if (node.handshake && !node.handshake->protocol.empty()) ++with_handshake;
        ports.insert(node.reported.port);
        const std::string name = "hooked-" + std::to_string(node.reported.port);
        if (redisAsyncCommand(context, &seen_replies::record, &setname, "CLIENT SETNAME %s", name.c_str()) != REDIS_OK)
            setname.replies.push_back("not sent");
    };
    live::connected_libevent_cluster c(options);
    // The first call on each master's connection already sees the name: the hook's command went ahead of it.
    const auto keys = key_per_master(c, ":hook");
    BOOST_TEST_REQUIRE(keys.size() == 3u);
    for (const auto& [port, key] : keys) BOOST_TEST(cluster_reply(c, key, {"CLIENT", "GETNAME"}) == "hooked-" + std::to_string(port));
    BOOST_TEST(runs >= 3);  // the seed's, then each master's (the seed is a master: its connection may be the same)
    BOOST_TEST(with_handshake == runs);
    for (const auto& [port, key] : keys) BOOST_TEST(ports.count(port) == 1u, port);
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return setname.replies.size() == static_cast<std::size_t>(runs); }));
    for (const std::string& r : setname.replies) BOOST_TEST(r == "OK");
    // The connection closed by the server (CLIENT KILL of itself): its replacement runs the hook again, and the name is
    // set there before the first call on it.
    const auto& [port, key] = *keys.begin();
    const std::string id = cluster_reply(c, key, {"CLIENT", "ID"});
    BOOST_TEST_REQUIRE(std::atoll(id.c_str()) > 0, id);
    const int runs_before = runs;
    BOOST_TEST(cluster_reply(c, key, {"CLIENT", "KILL", "ID", id, "SKIPME", "no"}) == "1");  // its own connection
    // The GETNAME may be handed to the dying connection before its close is read, and end unknown_outcome: this test
    // is about the hook, not delivery, so it may be sent again.
    call_options may_repeat;
    may_repeat.repeat_policy = repeat::allowed;
    BOOST_TEST(cluster_reply(c, key, {"CLIENT", "GETNAME"}, may_repeat) == "hooked-" + std::to_string(port));
    BOOST_TEST(runs == runs_before + 1);
    BOOST_TEST(cluster_reply(c, key, {"CLIENT", "ID"}) != id);
}

BOOST_AUTO_TEST_CASE(a_throwing_on_async_connect_refuses_the_connection_naming_the_node) {
    live::libevent_fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    options.on_async_connect = [](redisAsyncContext*, const node_info&) { throw std::runtime_error("not this one"); };
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string failure = live::connect_and_wait(loop, cluster);
    BOOST_TEST(failure.find("cluster_options.on_async_connect on node") != std::string::npos, failure);
    BOOST_TEST(failure.find("not this one") != std::string::npos, failure);
}

BOOST_AUTO_TEST_CASE(the_blocking_cluster_refuses_on_async_connect_at_construction) {
    cluster_options options = live::async_options({live::seed_by_name()});
    options.on_async_connect = [](redisAsyncContext*, const node_info&) {};
    try {
        ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
        BOOST_FAIL("constructed");
    } catch (const error& e) {
        BOOST_TEST((e.kind() == error_kind::config));
        BOOST_TEST(std::string(e.what()).find("on_async_connect") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(context_for_key_leases_a_verified_connection_of_your_own_for_hiredis_async_code) {
    live::connected_libevent_cluster c;
    const auto keys = key_per_master(c, ":lease");
    const auto& [owner_port, key] = *keys.begin();
    const std::string& foreign = keys.rbegin()->second;
    const std::uint64_t dialed_before = c.cluster.stats().blocking_connections_made;

    std::optional<std::string> failure;
    leased_context leased = lease_for(c, key, failure);
    BOOST_TEST_REQUIRE(!failure.has_value(), failure.value_or(""));
    BOOST_TEST_REQUIRE(leased.get() != nullptr);
    BOOST_TEST(leased.node().port == owner_port);
    BOOST_TEST(c.cluster.stats().blocking_connections_made == dialed_before + 1);

    // Plain hiredis async code on it: SET, GET, a foreign key's MOVED as it is (nothing redirected), its CLIENT ID.
    seen_replies mine;
    redisAsyncContext* ac = leased.get();
    BOOST_TEST_REQUIRE(redisAsyncCommand(ac, &seen_replies::record, &mine, "SET %s %s", key.c_str(), "leased") == REDIS_OK);
    BOOST_TEST_REQUIRE(redisAsyncCommand(ac, &seen_replies::record, &mine, "GET %s", key.c_str()) == REDIS_OK);
    BOOST_TEST_REQUIRE(redisAsyncCommand(ac, &seen_replies::record, &mine, "GET %s", foreign.c_str()) == REDIS_OK);
    BOOST_TEST_REQUIRE(redisAsyncCommand(ac, &seen_replies::record, &mine, "CLIENT ID") == REDIS_OK);
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return mine.replies.size() == 4u; }));
    BOOST_TEST(mine.replies[0] == "OK");
    BOOST_TEST(mine.replies[1] == "leased");
    BOOST_TEST(mine.replies[2].rfind("MOVED ", 0) == 0u, mine.replies[2]);
    const std::string leased_id = mine.replies[3];
    // Its own connection: not the one the cluster's calls to that node use.
    const std::string shared_id = cluster_reply(c, key, {"CLIENT", "ID"});
    BOOST_TEST(std::atoll(leased_id.c_str()) > 0);
    BOOST_TEST(leased_id != shared_id);
    BOOST_TEST(cluster_reply(c, key, {"GET", key}) == "leased");

    // Released: gone from the server (the cluster's call asks it), and get() says so.
    leased.release();
    BOOST_TEST(leased.get() == nullptr);
    bool gone = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);  // bounded by time, not by tries
    while (!gone && std::chrono::steady_clock::now() < give_up)
        gone = cluster_reply(c, key, {"CLIENT", "LIST", "ID", leased_id}).empty();
    BOOST_TEST(gone);
}

BOOST_AUTO_TEST_CASE(a_leased_connection_killed_gives_the_pending_callback_a_null_reply_and_the_cluster_serves_on) {
    live::connected_libevent_cluster c;
    const std::string key = "{lease-kill}:list";
    std::optional<std::string> failure;
    leased_context leased = lease_for(c, key, failure);
    BOOST_TEST_REQUIRE(!failure.has_value(), failure.value_or(""));
    seen_replies mine;
    BOOST_TEST_REQUIRE(redisAsyncCommand(leased.get(), &seen_replies::record, &mine, "CLIENT ID") == REDIS_OK);
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return mine.replies.size() == 1u; }));
    const std::string id = mine.replies[0];
    // A BLPOP of ours waits on it; the server kills the connection.
    BOOST_TEST_REQUIRE(redisAsyncCommand(leased.get(), &seen_replies::record, &mine, "BLPOP %s 30", key.c_str()) == REDIS_OK);
    BOOST_TEST_REQUIRE(live::run_until_a_client_is_blocked(c, key));
    BOOST_TEST(cluster_reply(c, key, {"CLIENT", "KILL", "ID", id}) == "1");
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return mine.replies.size() == 2u; }));
    BOOST_TEST(mine.replies[1] == "null");
    BOOST_TEST(c.loop.run_until([&] { return leased.get() == nullptr; }));
    BOOST_TEST(cluster_reply(c, key, {"LPUSH", key, "x"}) == "1");
    BOOST_TEST(cluster_reply(c, key, {"DEL", key}) == "1");
}

BOOST_AUTO_TEST_CASE(disconnect_closes_a_leased_connection_at_once_even_with_a_blpop_0_out) {
    seen_replies mine;  // outlives the cluster: a pending callback may run when it closes
    live::connected_libevent_cluster c;
    const std::string key = "{lease-disconnect}:list";
    std::optional<std::string> failure;
    leased_context leased = lease_for(c, key, failure);
    BOOST_TEST_REQUIRE(!failure.has_value(), failure.value_or(""));
    BOOST_TEST_REQUIRE(leased.get() != nullptr);
    BOOST_TEST_REQUIRE(redisAsyncCommand(leased.get(), &seen_replies::record, &mine, "BLPOP %s 0", key.c_str()) == REDIS_OK);
    BOOST_TEST_REQUIRE(live::run_until_a_client_is_blocked(c, key));
    bool disconnected = false;
    c.cluster.disconnect([&] { disconnected = true; });
    BOOST_TEST(leased.get() == nullptr);
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return disconnected; }));
    BOOST_TEST_REQUIRE(mine.replies.size() == 1u);
    BOOST_TEST(mine.replies[0] == "null");
    // After disconnect() a lease is refused with error{closed}.
    std::optional<error_kind> refused;
    c.cluster.context_for_key(key, [&](const error* e, leased_context got) {
        refused = e != nullptr ? e->kind() : error_kind::config;
        BOOST_TEST(!got);
    });
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return refused.has_value(); }));
    BOOST_TEST((*refused == error_kind::closed));
}

BOOST_AUTO_TEST_CASE(a_hook_that_changes_what_later_replies_mean_refuses_the_connection_before_writing_it) {
    for (const char* command : {"MULTI", "SUBSCRIBE hook-channel", "MONITOR", "CLIENT REPLY OFF", "SELECT 0"}) {
        live::libevent_fixture loop;
        cluster_options options = live::async_options({live::seed_by_name()});
        options.on_async_connect = [command](redisAsyncContext* context, const node_info&) {
            redisAsyncCommand(context, nullptr, nullptr, command);
        };
        ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
        const std::string failure = live::connect_and_wait(loop, cluster);
        BOOST_TEST(failure.find("cluster_options.on_async_connect on node") != std::string::npos, command << ": " << failure);
    }
    // A non-standard exception is named too.
    live::libevent_fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    options.on_async_connect = [](redisAsyncContext*, const node_info&) { throw 42; };
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string failure = live::connect_and_wait(loop, cluster);
    BOOST_TEST(failure.find("on_async_connect on node") != std::string::npos, failure);
    BOOST_TEST(failure.find("non-standard exception") != std::string::npos, failure);
}

BOOST_AUTO_TEST_SUITE_END()
