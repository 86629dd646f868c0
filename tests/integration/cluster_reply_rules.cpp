// tests/integration/cluster_reply_rules.cpp — the reply classifier and the shared-connection guard on the live TLS
// cluster: a script's own "TRYAGAIN"/"MOVED" text is its reply (it ran once), SUBSCRIBE and kin are refused.
#include "cluster_test_support.hpp"
#include "node_control.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace addrmap;

using live::text_of;

ip_to_hostname_cluster connected_cluster() {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    return cluster;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_reply_rules)

// What was seen: an EVAL that incremented a counter, then returned error_reply('TRYAGAIN ...'), ran 8 times within
// its 500 ms deadline and was reported "it did not run". The text is the script's: it is the reply, and it ran once.
BOOST_AUTO_TEST_CASE(a_script_s_refusal_shaped_error_is_its_reply_and_it_runs_once) {
    auto cluster = connected_cluster();
    const std::string counter = "{script-refusal}counter";
    const auto slot_owner = [&](int slot) {
        for (const node_info& n : cluster.nodes())
            for (const slot_range& r : n.slots)
                if (r.first <= slot && slot <= r.last) return to_string(n.reported);
        return std::string("none");
    };
    const std::string owner_of_slot_1 = slot_owner(1);
    struct scripted {
        const char* error_text;
        const char* expected_prefix;
    };
    for (const scripted& s : {scripted{"TRYAGAIN the script wants a retry", "TRYAGAIN"},
                              scripted{"CLUSTERDOWN from the script", "CLUSTERDOWN"},
                              scripted{"LOADING from the script", "LOADING"},
                              scripted{"MOVED 1 127.0.0.1:1", "MOVED"},
                              scripted{"ASK 1 127.0.0.1:1", "ASK"}}) {
        BOOST_TEST_CONTEXT(s.error_text) {
            cluster.command_argv(counter, {"DEL", counter});
            const cluster_stats before = cluster.stats();
            call_options o;
            o.deadline = std::chrono::milliseconds(500);
            const std::string script = "redis.call('INCR', KEYS[1]) return redis.error_reply('" + std::string(s.error_text) + "')";
            reply_ptr r = cluster.call_argv({"EVAL", script, "1", counter}, o);
            BOOST_TEST_REQUIRE(r->type == REDIS_REPLY_ERROR);
            BOOST_TEST(text_of(*r).rfind(s.expected_prefix, 0) == 0u, text_of(*r));
            reply_ptr value = cluster.command_argv(counter, {"GET", counter});
            BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING);
            BOOST_TEST(text_of(*value) == "1");  // ran exactly once
            const cluster_stats after = cluster.stats();
            BOOST_TEST(after.retries == before.retries);
            BOOST_TEST(after.moved == before.moved);
            BOOST_TEST(after.ask == before.ask);
            BOOST_TEST(slot_owner(1) == owner_of_slot_1);  // the forged MOVED did not rewrite the slot map
        }
    }
}

// A script that writes a MOVED (or ASK) for its OWN slot after it ran: the redirect is followed once, to the target,
// which does not own the slot and answers with the server's redirect; that second redirect ends the call
// unknown_outcome. The script ran once, and the slot map is as it was.
BOOST_AUTO_TEST_CASE(a_script_s_forged_redirect_for_its_own_slot_runs_it_once_and_ends_unknown_outcome) {
    auto cluster = connected_cluster();
    const std::string counter = "{script-forged}counter";
    const std::uint16_t slot = key_slot(counter);
    std::string owner, other;
    for (const node_info& m : live::masters(cluster)) {
        bool owns = false;
        for (const slot_range& r : m.slots) owns = owns || (r.first <= slot && slot <= r.last);
        (owns ? owner : other) = to_string(m.reported);
    }
    BOOST_TEST_REQUIRE(!owner.empty());
    BOOST_TEST_REQUIRE(!other.empty());
    for (const char* word : {"MOVED", "ASK"}) {
        BOOST_TEST_CONTEXT(word) {
            cluster.command_argv(counter, {"DEL", counter});
            const cluster_stats before = cluster.stats();
            const std::string forged = std::string(word) + " " + std::to_string(slot) + " " + other;
            const std::string script = "redis.call('INCR', KEYS[1]) return redis.error_reply('" + forged + "')";
            try {
                cluster.call_argv({"EVAL", script, "1", counter});
                BOOST_FAIL("a forged redirect must not end as a reply or a success");
            } catch (const error& e) {
                BOOST_TEST((e.kind() == error_kind::unknown_outcome), e.what());
                BOOST_TEST(std::string(e.what()).find("may or may not have run") != std::string::npos, e.what());
            }
            reply_ptr value = cluster.command_argv(counter, {"GET", counter});
            BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING);
            BOOST_TEST(text_of(*value) == "1");  // ran once
            BOOST_TEST(cluster.stats().unknown_outcomes == before.unknown_outcomes + 1);
            BOOST_TEST(live::owner_port(cluster, slot) == parse_address(owner, "owner").port);  // the map is as it was
        }
    }
}

// What was seen: SUBSCRIBE on a shared connection made an unrelated GET receive a pub/sub message. Every command that
// changes the connection's state is refused before sending, alone, in a pipeline and in a transaction, and the next
// caller's replies are intact.
BOOST_AUTO_TEST_CASE(subscribe_monitor_hello_are_refused_and_the_next_reply_is_intact) {
    auto cluster = connected_cluster();
    const std::string key = "{news}k";
    cluster.command_argv(key, {"SET", key, "steady"});
    const std::vector<std::vector<std::string_view>> refused = {
        {"SUBSCRIBE", "news"}, {"PSUBSCRIBE", "n*"}, {"SSUBSCRIBE", "{news}"}, {"MONITOR"}, {"HELLO", "3"},
        {"RESET"}, {"CLIENT", "REPLY", "OFF"}, {"SELECT", "0"}, {"QUIT"}, {"MULTI"},
    };
    for (const auto& argv : refused) {
        BOOST_TEST_CONTEXT(argv[0]) {
            try {
                cluster.command_argv(key, argv);
                BOOST_FAIL("not refused");
            } catch (const error& e) {
                BOOST_TEST((e.kind() == error_kind::config));
                BOOST_TEST(std::string(e.what()).find("nothing was sent") != std::string::npos, e.what());
            }
            BOOST_CHECK_THROW(cluster.command_on(live::masters(cluster).front().reported, argv), error);
            pipeline batch;
            batch.add_argv(key, {"GET", key});
            BOOST_CHECK_THROW(batch.add_argv(key, argv), error);
            batch.add_argv(key, {"GET", key});
            for (const outcome& o : cluster.execute(batch)) {
                BOOST_TEST_REQUIRE(o.ok());
                BOOST_TEST(text_of(*o.reply()) == "steady");
            }
            transaction tx = cluster.begin_transaction(key);
            BOOST_CHECK_THROW(tx.queue_argv(argv), error);
            tx.discard();
            reply_ptr get = cluster.command_argv(key, {"GET", key});
            BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
            BOOST_TEST(text_of(*get) == "steady");
        }
    }
    // PUBLISH stays allowed (it changes nothing on the connection), and the replies after it are intact.
    reply_ptr published = cluster.command_argv(key, {"PUBLISH", "news", "m1"});
    BOOST_TEST(published->type == REDIS_REPLY_INTEGER);
    reply_ptr get = cluster.command_argv(key, {"GET", key});
    BOOST_TEST(text_of(*get) == "steady");
}

BOOST_AUTO_TEST_SUITE_END()
