// tests/async/async_blocking.cpp — blocking commands on the async cluster (libevent) run on connections of their own:
// a 2 s BLPOP delays none of the commands issued behind it on its node, an LPUSH issued after a BLPOP of the same key
// reaches the server and feeds it, a BLPOP or a WAIT longer than command_timeout is not cut, spares are reused and
// capped, and disconnect() does not wait for a BLPOP 0.
#include "async_support.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

using namespace addrmap;

namespace {
/// A key with hash tag `tag` on the first master's first slot, so every key of a test is on one node.
std::string on_first_master(const ip_to_hostname_async_cluster& cluster, const std::string& suffix) {
    const auto masters = live::masters(cluster);
    return "{" + live::tag_for_slot(static_cast<std::uint16_t>(masters.front().slots.front().first)) + "}" + suffix;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(async_blocking)

BOOST_AUTO_TEST_CASE(a_two_second_blpop_delays_no_command_behind_it_on_its_node) {
    live::connected_libevent_cluster c;
    const std::string list = on_first_master(c.cluster, "empty-list");
    const auto started = std::chrono::steady_clock::now();
    std::optional<outcome> popped;
    std::chrono::milliseconds popped_after{0};
    c.cluster.command(list, [&](outcome o) {
        popped = std::move(o);
        popped_after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    }, "BLPOP %s 2", list.c_str());
    int answered = 0, answered_before_pop = 0;
    for (int i = 0; i < 200; ++i) {
        const std::string key = on_first_master(c.cluster, "behind:" + std::to_string(i));  // the same node, same slot
        c.cluster.command(key, [&](outcome o) {
            ++answered;
            if (o.ok() && !popped) ++answered_before_pop;
        }, "SET %s %d", key.c_str(), i);
    }
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return popped.has_value() && answered == 200; }));
    std::cout << "async BLPOP 2 s: " << answered_before_pop << " of 200 SETs on its node answered before it returned "
              << popped_after.count() << " ms later; longest loop gap " << c.loop.ticks.max_gap.count() << " us\n";
    BOOST_TEST_REQUIRE(popped->ok(), (popped->ok() ? "" : popped->failure()->what()));
    BOOST_TEST((*popped)->type == REDIS_REPLY_NIL);  // nothing was pushed: the server waited its 2 s
    BOOST_TEST(answered_before_pop == 200);
    BOOST_TEST(popped_after.count() >= 1900);
}

BOOST_AUTO_TEST_CASE(an_lpush_issued_after_a_blpop_of_the_same_key_feeds_it) {
    live::connected_libevent_cluster c;
    const std::string list = on_first_master(c.cluster, "fed-list");
    c.cluster.command(list, [](outcome) {}, "DEL %s", list.c_str());
    std::optional<outcome> popped, pushed;
    c.cluster.command(list, [&](outcome o) { popped = std::move(o); }, "BLPOP %s 10", list.c_str());
    c.cluster.command(list, [&](outcome o) { pushed = std::move(o); }, "LPUSH %s fed", list.c_str());
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return popped.has_value() && pushed.has_value(); }));
    BOOST_TEST_REQUIRE(popped->ok(), (popped->ok() ? "" : popped->failure()->what()));
    BOOST_TEST_REQUIRE((*popped)->type == REDIS_REPLY_ARRAY);
    BOOST_TEST_REQUIRE((*popped)->elements == 2u);
    BOOST_TEST(std::string((*popped)->element[1]->str, (*popped)->element[1]->len) == "fed");
}

BOOST_AUTO_TEST_CASE(a_blpop_longer_than_command_timeout_is_not_cut) {
    cluster_options options = live::async_options({live::seed_by_name()});
    options.tls.command_timeout = std::chrono::milliseconds(500);
    live::connected_libevent_cluster c(options);
    const std::string list = on_first_master(c.cluster, "slow-list");
    std::optional<outcome> popped, waited;
    c.cluster.command(list, [&](outcome o) { popped = std::move(o); }, "BLPOP %s 1.5", list.c_str());
    // WAIT stays on the shared connection (it waits for that connection's own writes); its wait is allowed there.
    call_options call;
    call.reply_timeout = std::chrono::milliseconds(1500);
    c.cluster.command(call, list, [&](outcome o) { waited = std::move(o); }, "WAIT %d %d", 5, 1000);
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return popped.has_value() && waited.has_value(); }));
    BOOST_TEST_REQUIRE(popped->ok(), (popped->ok() ? "" : popped->failure()->what()));
    BOOST_TEST((*popped)->type == REDIS_REPLY_NIL);
    BOOST_TEST_REQUIRE(waited->ok(), (waited->ok() ? "" : waited->failure()->what()));
    BOOST_TEST((*waited)->type == REDIS_REPLY_INTEGER);  // WAIT 5 1000: fewer replicas than asked after 1 s
}

BOOST_AUTO_TEST_CASE(blocking_calls_one_after_another_reuse_one_spare_connection) {
    live::connected_libevent_cluster c;
    const std::string list = on_first_master(c.cluster, "reused-list");
    for (int i = 0; i < 3; ++i) {
        std::optional<outcome> popped;
        c.cluster.command(list, [&](outcome o) { popped = std::move(o); }, "BLPOP %s 0.05", list.c_str());
        BOOST_TEST_REQUIRE(c.loop.run_until([&] { return popped.has_value(); }));
        BOOST_TEST_REQUIRE(popped->ok(), (popped->ok() ? "" : popped->failure()->what()));
        BOOST_TEST((*popped)->type == REDIS_REPLY_NIL);
    }
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 1u);  // dialed once, then a spare
    // reply_timeout alone does not take a connection of its own: a GET stays on the shared one.
    call_options slow;
    slow.reply_timeout = std::chrono::milliseconds(5000);
    std::optional<outcome> got;
    c.cluster.command(slow, list, [&](outcome o) { got = std::move(o); }, "GET %s", list.c_str());
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return got.has_value(); }));
    BOOST_TEST(got->ok());
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 1u);
}

BOOST_AUTO_TEST_CASE(many_blocking_calls_at_once_keep_their_connections_while_in_demand_then_the_extra_ones_close_once_idle) {
    cluster_options options = live::async_options({live::seed_by_name()});
    options.on_connect_commands = [](const node_info&) { return std::vector<std::vector<std::string>>{{"CLIENT", "SETNAME", "spares-test"}}; };
    live::connected_libevent_cluster c(options);
    const std::string list = on_first_master(c.cluster, "wave-list");
    const auto wave = [&] {
        int back = 0, ok = 0;
        for (int i = 0; i < 10; ++i)
            c.cluster.command(list, [&](outcome o) { ++back, ok += o.ok() ? 1 : 0; }, "BLPOP %s 0.2", list.c_str());
        return c.loop.run_until([&] { return back == 10; }) && ok == 10;
    };
    BOOST_TEST_REQUIRE(wave());
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 10u);
    // A second wave at once takes the ten spares: none dialed (with two spares kept, eight would be dialed again).
    BOOST_TEST_REQUIRE(wave());
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 10u);
    // Idle, the spares beyond two close (after spare_idle_time, 10 s). Counted on the server: our connections whose
    // last command was a BLPOP (the shared one's is CLIENT LIST), waited for (bounded).
    const auto spares_on_node = [&] {
        std::optional<outcome> list_reply;
        c.cluster.command(list, [&](outcome o) { list_reply = std::move(o); }, "CLIENT LIST");
        if (!c.loop.run_until([&] { return list_reply.has_value(); }) || !list_reply->ok()) return -1;
        const std::string all((*list_reply)->str, (*list_reply)->len);
        int n = 0;
        for (std::size_t begin = 0; begin < all.size();) {
            const std::size_t end = std::min(all.find('\n', begin), all.size());
            const std::string line = all.substr(begin, end - begin);
            if (line.find("name=spares-test ") != std::string::npos && line.find(" cmd=blpop ") != std::string::npos) ++n;
            begin = end + 1;
        }
        return n;
    };
    BOOST_TEST(spares_on_node() == 10);
    int now = -1;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    while ((now = spares_on_node()) != 2 && std::chrono::steady_clock::now() < give_up)
        c.loop.run_until([] { return false; }, std::chrono::milliseconds(500));
    BOOST_TEST(now == 2);
    BOOST_TEST_REQUIRE(wave());  // two spares taken, eight dialed
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 18u);
}

BOOST_AUTO_TEST_CASE(past_max_blocking_connections_per_node_a_blocking_call_is_refused_at_once) {
    cluster_options options = live::async_options({live::seed_by_name()});
    options.max_blocking_connections_per_node = 2;
    live::connected_libevent_cluster c(options);
    const std::string list = on_first_master(c.cluster, "capped-list");
    std::optional<outcome> first, second, third;
    c.cluster.command(list, [&](outcome o) { first = std::move(o); }, "BLPOP %s 1", list.c_str());
    c.cluster.command(list, [&](outcome o) { second = std::move(o); }, "BLPOP %s 1", list.c_str());
    c.cluster.command(list, [&](outcome o) { third = std::move(o); }, "BLPOP %s 1", list.c_str());
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return first && second && third; }));
    BOOST_TEST_REQUIRE(first->ok(), (first->ok() ? "" : first->failure()->what()));
    BOOST_TEST_REQUIRE(second->ok(), (second->ok() ? "" : second->failure()->what()));
    BOOST_TEST_REQUIRE(!third->ok());
    BOOST_TEST(third->failure()->kind() == error_kind::overloaded);
    const std::string why = third->failure()->what();
    BOOST_TEST(why.find("max_blocking_connections_per_node") != std::string::npos, why);
    BOOST_TEST(why.find("BLPOP did not run") != std::string::npos, why);
    BOOST_TEST(c.cluster.stats().overloaded == 1u);
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 2u);
    // Once one is back, a blocking call gets a spare again.
    std::optional<outcome> fourth;
    c.cluster.command(list, [&](outcome o) { fourth = std::move(o); }, "BLPOP %s 0.05", list.c_str());
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return fourth.has_value(); }));
    BOOST_TEST(fourth->ok());
    BOOST_TEST(c.cluster.stats().blocking_connections_made == 2u);
}

BOOST_AUTO_TEST_CASE(disconnect_ends_a_blpop_0_at_once_as_unknown_outcome) {
    live::connected_libevent_cluster c;
    const std::string list = on_first_master(c.cluster, "forever-list");
    std::optional<outcome> popped;
    bool disconnected = false;
    c.cluster.command(list, [&](outcome o) { popped = std::move(o); }, "BLPOP %s 0", list.c_str());
    // Wait until the server holds it (its connection dialed, the BLPOP written): INFO's blocked_clients on its node.
    BOOST_TEST_REQUIRE(live::run_until_a_client_is_blocked(c, list));
    c.cluster.disconnect([&] { disconnected = true; });
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return popped.has_value() && disconnected; }, std::chrono::milliseconds(5000)));
    BOOST_TEST_REQUIRE(!popped->ok());
    BOOST_TEST(popped->failure()->kind() == error_kind::unknown_outcome);
    const std::string why = popped->failure()->what();
    BOOST_TEST(why.find("disconnect() was called") != std::string::npos, why);
}

BOOST_AUTO_TEST_SUITE_END()
