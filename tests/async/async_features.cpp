// tests/async/async_features.cpp — the async command forms' edges on the live cluster (libevent): a fan-out issued
// while connect()'s first topology read is under way waits for it; destruction runs every fan-out, refresh() and
// connect() callback once; a scan destroyed with a step out is never called back; a second next() is refused.
#include "async_support.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace addrmap;

BOOST_AUTO_TEST_SUITE(async_features)

BOOST_AUTO_TEST_CASE(a_fan_out_during_the_first_topology_read_waits_for_it) {
    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                         ip_to_hostname("localhost"));
    bool connected = false;
    cluster.connect([&](const error*) { connected = true; });
    std::optional<std::size_t> nodes;
    std::optional<std::string> failure;
    cluster.fan_out({"PING"}, [&](const error* e, std::vector<node_outcome> got) {
        if (e != nullptr) failure = e->message();
        nodes = got.size();
    });
    BOOST_TEST(!nodes.has_value());  // not inside fan_out(): the read is under way
    BOOST_TEST_REQUIRE(loop.run_until([&] { return nodes.has_value() && connected; }));
    BOOST_TEST(!failure.has_value(), failure.value_or(""));
    BOOST_TEST(*nodes == 3u);
}

BOOST_AUTO_TEST_CASE(destruction_runs_every_waiting_fan_out_refresh_and_connect_callback_once) {
    live::libevent_fixture loop;
    int fan_outs = 0, refreshes = 0, connects = 0;
    std::vector<std::string> kinds;
    {
        ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                             ip_to_hostname("localhost"));
        cluster.connect([&](const error* e) {
            ++connects;
            kinds.push_back(e != nullptr ? std::string(to_string(e->kind())) : "none");
        });
        cluster.refresh([&](const error* e) {
            ++refreshes;
            kinds.push_back(e != nullptr ? std::string(to_string(e->kind())) : "none");
        });
        cluster.fan_out({"PING"}, [&](const error* e, std::vector<node_outcome>) {
            ++fan_outs;
            kinds.push_back(e != nullptr ? std::string(to_string(e->kind())) : "none");
        });
        // Destroyed before the loop turned: nothing was read yet.
    }
    loop.drain();
    BOOST_TEST(connects == 1);
    BOOST_TEST(refreshes == 1);
    BOOST_TEST(fan_outs == 1);
    for (const std::string& k : kinds) BOOST_TEST(k == "closed");
}

BOOST_AUTO_TEST_CASE(a_scan_destroyed_with_a_step_out_is_never_called_back_and_next_twice_is_refused) {
    live::connected_libevent_cluster c;
    int called = 0;
    {
        async_cluster_scan<ip_to_hostname_async_cluster> scan(c.cluster);
        scan.next([&](const error*, std::vector<std::string>, bool) { ++called; });
        std::optional<std::string> busy;
        scan.next([&](const error* e, std::vector<std::string>, bool) { busy = e != nullptr ? e->message() : "none"; });
        BOOST_TEST_REQUIRE(busy.has_value());
        BOOST_TEST(busy->find("still running") != std::string::npos, *busy);
    }  // destroyed with its first request out
    // The request's answer comes and is dropped; the cluster goes on serving.
    std::optional<outcome> ping;
    c.cluster.command_any([&](outcome o) { ping = std::move(o); }, "PING");
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return ping.has_value() && c.cluster.pending() == 0u; }));
    BOOST_TEST(ping->ok());
    BOOST_TEST(called == 0);
}

BOOST_AUTO_TEST_SUITE_END()
