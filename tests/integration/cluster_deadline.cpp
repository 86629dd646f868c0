// tests/integration/cluster_deadline.cpp — a call's deadline bounds everything it waits for on the wire: a slow
// AUTH, a reply dribbled one byte at a time; and it never leaks into the contexts context_for_key hands to plain
// hiredis code. (Found by a hostile review; each failed before its fix.) Frozen masters: scenario.deadlines.
#include "cluster_test_support.hpp"
#include "hostile_node.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <utility>

namespace {

using ms = std::chrono::milliseconds;

long receive_timeout_ms(const redisContext* c) {
    timeval tv{};
    socklen_t len = sizeof tv;
    ::getsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

using live::time_of;

/// A GET of "k" with `deadline`: how long it took, and its error (none if a reply came).
std::pair<ms, std::optional<addrmap::error>> get_within(addrmap::ip_to_hostname_cluster& cluster, ms deadline) {
    addrmap::call_options call;
    call.deadline = deadline;
    std::optional<addrmap::error> failure;
    const ms took = time_of([&] {
        try {
            (void)cluster.command(call, "k", "GET k");
        } catch (const addrmap::error& e) {
            failure = e;
        }
    });
    return {took, failure};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_deadline)

BOOST_AUTO_TEST_CASE(a_dribbled_reply_cannot_hold_a_call_past_its_deadline) {
    live::hostile_node node;
    auto options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.tls.command_timeout = ms(1000);  // each byte comes well within it: only the deadline can stop this
    addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    node.set_get_reply("$24\r\nhello, world, slowly....\r\n");
    node.set_dribble(ms(250));
    const auto [took, failure] = get_within(cluster, ms(1500));
    node.set_dribble(ms(0));
    BOOST_TEST_REQUIRE(failure.has_value(), "the dribbled GET (about 8 s) came back whole");
    BOOST_TEST((failure->kind() == addrmap::error_kind::timeout), failure->what());
    BOOST_TEST(took.count() < 2500, "a 1500 ms call took " << took.count() << " ms");
}

BOOST_AUTO_TEST_CASE(a_slow_auth_cannot_hold_a_call_past_its_deadline) {
    live::hostile_node node;
    auto options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.password = "secret";
    addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    cluster.disconnect();
    node.set_auth_delay(ms(3000));
    const auto [took, failure] = get_within(cluster, ms(500));
    node.set_auth_delay(ms(0));
    BOOST_TEST_REQUIRE(failure.has_value());
    BOOST_TEST((failure->kind() == addrmap::error_kind::timeout), failure->what());
    BOOST_TEST(took.count() < 1500, "a 500 ms call took " << took.count() << " ms (AUTH answers after 3000 ms)");
}

BOOST_AUTO_TEST_CASE(context_for_key_keeps_command_timeout_after_a_short_deadline) {
    addrmap::ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}),
                                            addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    addrmap::call_options call;
    call.deadline = ms(300);
    (void)cluster.command(call, "deadline-key", "GET deadline-key");
    redisContext* c = cluster.context_for_key("deadline-key");
    BOOST_TEST(receive_timeout_ms(c) == 5000);  // live::cluster_options' command_timeout
    // And the call's deadline is not armed on it: a plain hiredis call well after 300 ms still works.
    std::this_thread::sleep_for(ms(400));
    addrmap::reply_ptr pong(static_cast<redisReply*>(redisCommand(c, "PING")));
    BOOST_TEST_REQUIRE(static_cast<bool>(pong), c->errstr);
    BOOST_TEST(std::string(pong->str) == "PONG");
}

BOOST_AUTO_TEST_SUITE_END()
