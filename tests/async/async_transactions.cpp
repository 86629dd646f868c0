// tests/async/async_transactions.cpp — what only the async transaction can meet (libevent): steps issued before the
// ones before them answered, a discard() or destruction while a WATCH is still on its way (its connection must not
// come back as a spare with the WATCH on it), disconnect() with steps waiting, and replica reads never taking it to a
// replica.
#include "async_support.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

using namespace addrmap;

namespace {
/// A transaction on `key` that SETs it, run to its end: EXEC's outcome.
outcome set_in_transaction(live::connected_libevent_cluster& c, const std::string& key, const char* value) {
    async_transaction tx = c.cluster.begin_transaction(key);
    tx.queue("SET %s %s", key.c_str(), value);
    std::optional<outcome> result;
    tx.exec([&](outcome o) { result = std::move(o); });
    if (!c.loop.run_until([&] { return result.has_value(); })) return outcome(error(error_kind::timeout, "no EXEC outcome"));
    return std::move(*result);
}
std::string get(live::connected_libevent_cluster& c, const std::string& key) {
    std::optional<outcome> got;
    c.cluster.command(key, [&](outcome o) { got = std::move(o); }, "GET %s", key.c_str());
    if (!c.loop.run_until([&] { return got.has_value(); }) || !got->ok() || (*got)->str == nullptr) return "(none)";
    return std::string((*got)->str, (*got)->len);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(async_transactions)

BOOST_AUTO_TEST_CASE(a_watch_discarded_or_dropped_before_its_reply_never_reaches_the_next_transaction) {
    live::connected_libevent_cluster c;
    const std::string key = "{atx}.watched";
    for (bool destroy : {false, true}) {
        BOOST_TEST_CONTEXT("ended by " << (destroy ? "destruction" : "discard()")) {
            {
                async_transaction tx = c.cluster.begin_transaction(key);
                tx.watch({key}, [](outcome) {});  // not waited for: it is still being routed below
                if (!destroy) tx.discard();
                BOOST_TEST((!tx.active() || destroy));
            }
            BOOST_TEST_REQUIRE(c.loop.run_until([&] { return c.cluster.pending() == 0; }));
            // Another client changes the key. Had the WATCH stayed on a spare, the next transaction's EXEC is nil.
            std::optional<outcome> changed;
            c.cluster.command(key, [&](outcome o) { changed = std::move(o); }, "SET %s changed", key.c_str());
            BOOST_TEST_REQUIRE(c.loop.run_until([&] { return changed.has_value(); }));
            const outcome result = set_in_transaction(c, key, "mine");
            BOOST_TEST_REQUIRE(result.ok(), (result.ok() ? "" : result.failure()->what()));
            BOOST_TEST(result->type == REDIS_REPLY_ARRAY);
            BOOST_TEST(get(c, key) == "mine");
        }
    }
}

BOOST_AUTO_TEST_CASE(steps_issued_at_once_go_in_order_on_one_connection) {
    live::connected_libevent_cluster c;
    const std::string key = "{atx}.ordered";
    async_transaction tx = c.cluster.begin_transaction(key);
    std::optional<outcome> watched, read;
    std::optional<outcome> result;
    tx.watch({key}, [&](outcome o) { watched = std::move(o); });
    tx.command([&](outcome o) { read = std::move(o); }, "GET %s", key.c_str());
    tx.queue("SET %s %s", key.c_str(), "ordered");
    tx.exec([&](outcome o) {
        BOOST_TEST((watched.has_value() && read.has_value()));  // callbacks in the order the steps were issued
        result = std::move(o);
    });
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return result.has_value(); }));
    BOOST_TEST_REQUIRE(watched->ok());
    BOOST_TEST((*watched)->type == REDIS_REPLY_STATUS);
    BOOST_TEST_REQUIRE(result->ok(), (result->ok() ? "" : result->failure()->what()));
    BOOST_TEST((*result)->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(get(c, key) == "ordered");
}

BOOST_AUTO_TEST_CASE(disconnect_ends_the_steps_not_sent_and_runs_every_callback_once) {
    live::connected_libevent_cluster c;
    const std::string key = "{atx}.closing";
    async_transaction tx = c.cluster.begin_transaction(key);
    int watch_calls = 0, read_calls = 0;
    std::optional<outcome> read;
    bool disconnected = false;
    tx.watch({key}, [&](outcome) { ++watch_calls; });
    tx.command([&](outcome o) {
        ++read_calls;
        read = std::move(o);
    }, "GET %s", key.c_str());
    c.cluster.disconnect([&] { disconnected = true; });
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return disconnected && watch_calls > 0 && read_calls > 0; }));
    BOOST_TEST(watch_calls == 1);
    BOOST_TEST(read_calls == 1);
    BOOST_TEST_REQUIRE(!read->ok());  // it waited behind the WATCH: never sent
    BOOST_TEST(read->failure()->kind() == error_kind::closed);
    BOOST_TEST(!tx.active());
    std::optional<outcome> late;
    tx.exec([&](outcome o) { late = std::move(o); });
    BOOST_TEST_REQUIRE(late.has_value());
    BOOST_TEST(late->failure()->kind() == error_kind::closed);
}

BOOST_AUTO_TEST_CASE(disconnect_lets_the_steps_out_get_their_replies) {
    live::connected_libevent_cluster c;
    const std::string key = "{atx}.out", list = "{atx}.empty";
    async_transaction tx = c.cluster.begin_transaction(key);
    std::optional<outcome> popped, result;
    bool disconnected = false;
    // The first step holds the transaction's connection on the server for a second: its steps after it are out too.
    tx.command([&](outcome o) { popped = std::move(o); }, "BLPOP %s 1", list.c_str());
    BOOST_TEST_REQUIRE(live::run_until_a_client_is_blocked(c, key));
    tx.queue("SET %s %s", key.c_str(), "after-disconnect");
    tx.exec([&](outcome o) { result = std::move(o); });
    c.cluster.disconnect([&] { disconnected = true; });
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return disconnected && popped && result; }));
    BOOST_TEST_REQUIRE(popped->ok(), (popped->ok() ? "" : popped->failure()->what()));
    BOOST_TEST((*popped)->type == REDIS_REPLY_NIL);
    BOOST_TEST_REQUIRE(result->ok(), (result->ok() ? "" : result->failure()->what()));  // not cut: it committed
    BOOST_TEST((*result)->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(c.cluster.stats().unknown_outcomes == 0u);
}

BOOST_AUTO_TEST_CASE(with_replica_reads_a_transaction_that_reads_first_still_runs_on_the_master) {
    cluster_options options = live::async_options({live::seed_by_name()});
    options.read_from = read_preference::replica_preferred;
    live::connected_libevent_cluster c(options);
    const std::string key = "{atx}.replicas";
    async_transaction tx = c.cluster.begin_transaction(key);
    std::optional<outcome> read, result;
    tx.command([&](outcome o) { read = std::move(o); }, "GET %s", key.c_str());
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return read.has_value(); }));
    BOOST_TEST_REQUIRE(read->ok(), (read->ok() ? "" : read->failure()->what()));
    tx.queue("SET %s %s", key.c_str(), "on-master");
    tx.exec([&](outcome o) { result = std::move(o); });
    BOOST_TEST_REQUIRE(c.loop.run_until([&] { return result.has_value(); }));
    BOOST_TEST_REQUIRE(result->ok(), (result->ok() ? "" : result->failure()->what()));
    BOOST_TEST((*result)->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(c.cluster.stats().replica_sends == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
