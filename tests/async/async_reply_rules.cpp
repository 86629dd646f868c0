// tests/async/async_reply_rules.cpp — the async cluster on the live TLS cluster: a script's own "TRYAGAIN" text is its
// reply (it ran once), and SUBSCRIBE and kin are refused in the callback with the next caller's reply intact.
#include "async_support.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace addrmap;

BOOST_AUTO_TEST_SUITE(async_reply_rules)

BOOST_FIXTURE_TEST_CASE(a_script_s_refusal_shaped_error_is_its_reply_and_it_runs_once,
                        live::connected_libevent_cluster) {
    const std::string counter = "{async-script-refusal}counter";
    for (const char* text : {"TRYAGAIN the script wants a retry", "CLUSTERDOWN from the script", "MOVED 1 127.0.0.1:1"}) {
        BOOST_TEST_CONTEXT(text) {
            bool deleted = false;
            cluster.command_argv(counter, {"DEL", counter}, [&](outcome) { deleted = true; });
            BOOST_TEST_REQUIRE(loop.run_until([&] { return deleted; }));
            const cluster_stats before = cluster.stats();
            call_options o;
            o.deadline = std::chrono::milliseconds(500);
            const std::string script = "redis.call('INCR', KEYS[1]) return redis.error_reply('" + std::string(text) + "')";
            std::string reply_text;
            bool answered = false;
            cluster.command_argv(counter, {"EVAL", script, "1", counter}, [&](outcome r) {
                answered = true;
                if (r && r->type == REDIS_REPLY_ERROR) reply_text.assign(r->str, r->len);
                else reply_text = r ? "not an error reply" : r.failure()->what();
            }, o);
            BOOST_TEST_REQUIRE(loop.run_until([&] { return answered; }));
            BOOST_TEST(reply_text == text);
            std::string value;
            cluster.command_argv(counter, {"GET", counter}, [&](outcome r) { value = r && r->str ? std::string(r->str, r->len) : "?"; });
            BOOST_TEST_REQUIRE(loop.run_until([&] { return !value.empty(); }));
            BOOST_TEST(value == "1");  // ran exactly once
            BOOST_TEST(cluster.stats().retries == before.retries);
            BOOST_TEST(cluster.stats().moved == before.moved);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(a_script_s_forged_redirect_for_its_own_slot_runs_it_once_and_ends_unknown_outcome,
                        live::connected_libevent_cluster) {
    const std::string counter = "{async-script-forged}counter";
    const std::uint16_t slot = key_slot(counter);
    std::string other;
    for (const node_info& m : live::masters(cluster)) {
        bool owns = false;
        for (const slot_range& r : m.slots) owns = owns || (r.first <= slot && slot <= r.last);
        if (!owns) other = to_string(m.reported);
    }
    BOOST_TEST_REQUIRE(!other.empty());
    for (const char* word : {"MOVED", "ASK"}) {
        BOOST_TEST_CONTEXT(word) {
            bool deleted = false;
            cluster.command_argv(counter, {"DEL", counter}, [&](outcome) { deleted = true; });
            BOOST_TEST_REQUIRE(loop.run_until([&] { return deleted; }));
            const std::string script = "redis.call('INCR', KEYS[1]) return redis.error_reply('" + std::string(word) + " " +
                                       std::to_string(slot) + " " + other + "')";
            std::string ending;
            cluster.command_argv(counter, {"EVAL", script, "1", counter}, [&](outcome r) {
                ending = r ? "a reply" : std::string(to_string(r.failure()->kind())) + ": " + r.failure()->what();
            });
            BOOST_TEST_REQUIRE(loop.run_until([&] { return !ending.empty(); }));
            BOOST_TEST(ending.rfind("unknown_outcome: ", 0) == 0u, ending);
            std::string value;
            cluster.command_argv(counter, {"GET", counter}, [&](outcome r) { value = r && r->str ? std::string(r->str, r->len) : "?"; });
            BOOST_TEST_REQUIRE(loop.run_until([&] { return !value.empty(); }));
            BOOST_TEST(value == "1");  // ran once
        }
    }
}

BOOST_FIXTURE_TEST_CASE(subscribe_monitor_hello_are_refused_in_the_callback_and_the_next_reply_is_intact,
                        live::connected_libevent_cluster) {
    const std::string key = "{news}async-k";
    bool set = false;
    cluster.command_argv(key, {"SET", key, "steady"}, [&](outcome o) { set = o && o->type == REDIS_REPLY_STATUS; });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return set; }));
    const std::vector<std::vector<std::string_view>> refused = {
        {"SUBSCRIBE", "news"}, {"SSUBSCRIBE", "{news}"}, {"MONITOR"}, {"HELLO", "3"}, {"CLIENT", "REPLY", "OFF"},
        {"RESET"}, {"QUIT"},
    };
    for (const auto& argv : refused) {
        BOOST_TEST_CONTEXT(argv[0]) {
            // The refused command and a GET behind it on the same connection, in one go.
            std::string refusal, got;
            cluster.command_argv(key, argv, [&](outcome o) {
                refusal = o ? "a reply came: it was sent" : std::string(to_string(o.failure()->kind())) + ": " + o.failure()->what();
            });
            cluster.command(key, [&](outcome o) { got = o && o->type == REDIS_REPLY_STRING ? std::string(o->str, o->len) : "?"; },
                            "GET %s", key.c_str());
            BOOST_TEST_REQUIRE(loop.run_until([&] { return !refusal.empty() && !got.empty(); }));
            BOOST_TEST(refusal.rfind("config: ", 0) == 0u, refusal);
            BOOST_TEST(refusal.find("nothing was sent") != std::string::npos, refusal);
            BOOST_TEST(got == "steady");
        }
    }
    BOOST_TEST(cluster.pending() == 0u);
    BOOST_TEST(cluster.stats().connection_losses == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
