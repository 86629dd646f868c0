// tests/scenarios/transactions.cpp — MULTI/EXEC/WATCH on one slot, for both drivers (transaction.hpp and
// async_transaction.hpp): commits on a connection reused afterwards, a WATCH fired by another connection, keys outside
// the slot refused before sending, redirects (ASK at a queued command, MOVED at WATCH) ending the transaction without
// being followed, a lost EXEC reported unknown_outcome and not sent again, and a refused MULTI reported with what ran.
#include "admin_connection.hpp"
#include "reshard_support.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

using namespace addrmap;

namespace {

using scenario::has;

using scenario::text_of;

struct at_exit {
    std::function<void()> run;
    ~at_exit() {
        try {
            run();
        } catch (const std::exception& e) {
            std::cerr << "scenario.transactions: restoring failed: " << e.what() << '\n';
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(transactions)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_transaction_on_one_slot_commits_and_its_connection_serves_again, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    driver.call({"DEL", "{acct1}.balance"});
    {
        typename Driver::transaction tx(driver, "{acct1}");
        tx.queue({"SET", "{acct1}.balance", "10"});
        tx.queue({"INCRBY", "{acct1}.balance", "5"});
        tx.queue({"GET", "{acct1}.balance"});
        const outcome result = tx.exec();
        BOOST_TEST(!tx.active());
        BOOST_TEST_REQUIRE(result.ok(), scenario::why(result));
        BOOST_TEST_REQUIRE(result->type == REDIS_REPLY_ARRAY);
        BOOST_TEST_REQUIRE(result->elements == 3u);
        BOOST_TEST(std::string(result->element[0]->str) == "OK");
        BOOST_TEST(result->element[1]->integer == 15);
        BOOST_TEST(std::string(result->element[2]->str) == "15");
    }
    BOOST_TEST(text_of(driver.call({"GET", "{acct1}.balance"})) == "15");
    // The connection came back clean: the next transaction on that node reuses it (no new handshake).
    const auto made = driver.transaction_connections_made();
    typename Driver::transaction again(driver, "{acct1}.balance");
    again.queue({"INCR", "{acct1}.balance"});
    const outcome second = again.exec();
    BOOST_TEST_REQUIRE(second.ok(), scenario::why(second));
    BOOST_TEST_REQUIRE(second->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(second->element[0]->integer == 16);
    BOOST_TEST(driver.transaction_connections_made() == made);
    const outcome ended = again.exec();
    BOOST_TEST_REQUIRE(!ended.ok());
    BOOST_TEST(ended.failure()->kind() == error_kind::config);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(watch_fires_on_a_write_from_another_connection, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    for (bool interfere : {false, true}) {
        BOOST_TEST_CONTEXT("another write between WATCH and EXEC: " << interfere) {
            driver.call({"SET", "{w}.x", "start"});
            typename Driver::transaction tx(driver, "{w}");
            BOOST_TEST_REQUIRE(!tx.watch({"{w}.x"}).has_value());
            BOOST_TEST(text_of(tx.command({"GET", "{w}.x"})) == "start");
            // The cluster's own calls meanwhile use another connection: the transaction holds its own.
            if (interfere) driver.call({"SET", "{w}.x", "other"});
            tx.queue({"SET", "{w}.x", "mine"});
            const outcome result = tx.exec();
            BOOST_TEST_REQUIRE(result.ok(), scenario::why(result));
            if (interfere) {
                BOOST_TEST(result->type == REDIS_REPLY_NIL);
                BOOST_TEST(text_of(driver.call({"GET", "{w}.x"})) == "other");
            } else {
                BOOST_TEST(result->type == REDIS_REPLY_ARRAY);
                BOOST_TEST(text_of(driver.call({"GET", "{w}.x"})) == "mine");
            }
        }
    }
    // discard() after WATCH: nothing queued is sent, and the connection is clean for the cluster again.
    const auto made = driver.transaction_connections_made();
    {
        typename Driver::transaction tx(driver, "{w}");
        BOOST_TEST_REQUIRE(!tx.watch({"{w}.x"}).has_value());
        tx.queue({"SET", "{w}.x", "never"});
        tx.discard();
        BOOST_TEST(!tx.active());
    }
    BOOST_TEST(text_of(driver.call({"GET", "{w}.x"})) == "other");
    // Had the discarded WATCH stayed on the connection the next transaction gets, this write would fire it.
    driver.call({"SET", "{w}.x", "changed-after-discard"});
    typename Driver::transaction after(driver, "{w}");
    after.queue({"SET", "{w}.x", "after-discard"});
    const outcome result = after.exec();
    BOOST_TEST_REQUIRE(result.ok(), scenario::why(result));
    BOOST_TEST(result->type == REDIS_REPLY_ARRAY);  // no WATCH left over from the discarded one
    BOOST_TEST(driver.transaction_connections_made() == made);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(keys_outside_the_slot_are_refused_before_sending, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    driver.call({"DEL", "{a}.1"});
    driver.command("b", {"DEL", "b"});
    typename Driver::transaction tx(driver, "{a}");
    tx.queue({"SET", "{a}.1", "yes"});
    const auto refused = [&](const std::function<void()>& step, std::string_view expected) {
        try {
            step();
            BOOST_ERROR("a key outside the transaction's slot was accepted");
        } catch (const error& e) {
            BOOST_TEST(e.kind() == error_kind::config);
            BOOST_TEST(has(e.what(), expected), e.what());
        }
    };
    const std::string slot = std::to_string(key_slot("a"));
    refused([&] { tx.queue({"SET", "b", "no"}); }, "'SET' has keys outside the transaction's slot " + slot + ": 'b' (slot 3300)");
    refused([&] { tx.queue({"MGET", "{a}.1", "b"}); }, "'MGET' has keys in 2 slots");
    refused([&] { tx.queue({"MULTI"}); }, "MULTI is sent by the transaction itself");
    refused([&] { tx.queue({"PING"}); }, "pass the routing key yourself");
    const auto watched = tx.watch({"b"});
    BOOST_TEST_REQUIRE(watched.has_value());
    BOOST_TEST(watched->kind() == error_kind::config);
    BOOST_TEST(has(watched->what(), "'WATCH' has keys outside"), watched->what());
    BOOST_TEST(tx.active());
    const outcome result = tx.exec();
    BOOST_TEST_REQUIRE(result.ok(), scenario::why(result));
    BOOST_TEST_REQUIRE(result->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(result->elements == 1u);  // only the command that was accepted
    BOOST_TEST(driver.command("b", {"GET", "b"})->type == REDIS_REPLY_NIL);
    BOOST_TEST(text_of(driver.call({"GET", "{a}.1"})) == "yes");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_redirect_inside_a_transaction_ends_it_and_is_not_followed, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    Driver stale(scenario::options());
    stale.connect();  // its slot map is read now, before the slot moves
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    std::vector<std::uint16_t> ports;
    for (const auto& m : masters) ports.push_back(m.reported.port);
    const std::uint16_t from = ports[0], to = ports[1];
    const auto slot = static_cast<std::uint16_t>(masters[0].slots.front().first + 7);
    const std::string tag = "{" + live::tag_for_slot(slot) + "}";
    const std::string key = tag + ".tx";
    driver.call({"SET", key, "before"});

    // 1. ASK at a queued command: the key left for the importing node while the transaction was open.
    bool moved_back = false;
    at_exit restore{[&] {
        if (!moved_back) live::move_slot(slot, to, from, ports, true);
    }};
    {
        typename Driver::transaction tx(driver, tag);
        BOOST_TEST_REQUIRE(!tx.watch({key}).has_value());
        live::move_slot(slot, from, to, ports, false);
        tx.queue({"SET", key, "after"});
        const outcome result = tx.exec();
        BOOST_TEST_REQUIRE(!result.ok(), "a transaction followed ASK");
        const std::string m = result.failure()->what();
        BOOST_TEST(result.failure()->kind() == error_kind::topology);
        BOOST_TEST(has(m, "slot " + std::to_string(slot) + " is moving"), m);
        BOOST_TEST(has(m, "queued command #1 'SET' got 'ASK " + std::to_string(slot)), m);
        BOOST_TEST(has(m, "Nothing was committed (the server refused EXEC)"), m);
        BOOST_TEST(has(m, "retry the whole transaction"), m);
        BOOST_TEST(!tx.active());
    }
    {
        live::admin_connection target(to);  // the key moved, and the SET did not follow it
        target.ok("ASKING");
        BOOST_TEST(std::string(target.ok("GET %s", key.c_str())->str) == "before");
    }

    // 2. MOVED at WATCH: the slot's move is finished, and a client with the old map begins a transaction.
    {
        live::admin_connection target(to), source(from);
        const std::string s = std::to_string(slot), to_id = live::node_id_of(to);
        target.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
        source.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
        for (std::uint16_t port : ports) live::admin_connection(port).run("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
    }
    {
        typename Driver::transaction old_map(stale, tag);
        const auto watched = old_map.watch({key});
        BOOST_TEST_REQUIRE(watched.has_value(), "a transaction followed MOVED");
        const std::string m = watched->what();
        BOOST_TEST(watched->kind() == error_kind::topology);
        BOOST_TEST(has(m, "'WATCH' got 'MOVED " + std::to_string(slot)), m);
        BOOST_TEST(has(m, "127.0.0.1:" + std::to_string(from)), m);
        BOOST_TEST(has(m, "Nothing was committed (EXEC was not sent)"), m);
        BOOST_TEST(!old_map.active());
    }
    // Retried whole, the transaction goes to the new owner (the cluster learned from the MOVED) and commits there.
    const auto moved_before = stale.stats().moved;
    {
        typename Driver::transaction retried(stale, tag);
        BOOST_TEST_REQUIRE(!retried.watch({key}).has_value());
        retried.queue({"SET", key, "after"});
        const outcome result = retried.exec();
        BOOST_TEST_REQUIRE(result.ok(), scenario::why(result));
        BOOST_TEST(result->type == REDIS_REPLY_ARRAY);
    }
    BOOST_TEST(stale.stats().moved == moved_before);  // no MOVED met on the retry
    {
        live::admin_connection target(to);
        BOOST_TEST(std::string(target.ok("GET %s", key.c_str())->str) == "after");  // committed on the new owner
    }

    live::move_slot(slot, to, from, ports, true);
    moved_back = true;
    BOOST_TEST(text_of(driver.call({"GET", key})) == "after");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_lost_exec_reply_is_unknown_outcome_and_not_resent, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    driver.call({"DEL", "{slow}.runs"});
    // A script that counts its runs, then keeps the node busy for 600 ms: past the 200 ms step deadline, the reply
    // to EXEC never comes in time. The transaction may have committed, so it is reported, not sent again.
    call_options quick;
    quick.deadline = std::chrono::milliseconds(200);
    {
        // A first transaction on the node warms the connection the next one takes (the async cluster dials one of
        // its own), so the 200 ms below bound EXEC's reply only, not a TLS handshake on a loaded machine.
        typename Driver::transaction warm(driver, "{slow}");
        warm.queue({"GET", "{slow}.runs"});
        const outcome warmed = warm.exec();
        BOOST_TEST_REQUIRE(warmed.ok(), scenario::why(warmed));
    }
    {
        typename Driver::transaction tx(driver, "{slow}", quick);
        tx.queue({"EVAL",
                  "redis.call('INCR', KEYS[1]) local t0 = redis.call('TIME') repeat local t = redis.call('TIME') until "
                  "(t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 600000 return 1",
                  "1", "{slow}.runs"});
        const outcome result = tx.exec();
        BOOST_TEST_REQUIRE(!result.ok(), "EXEC's lost reply was not reported");
        BOOST_TEST(result.failure()->kind() == error_kind::unknown_outcome);
        BOOST_TEST(has(result.failure()->what(), "may or may not have committed"), result.failure()->what());
        BOOST_TEST(!tx.active());
    }
    BOOST_TEST(text_of(driver.call({"GET", "{slow}.runs"})) == "1");  // ran once: never re-sent
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_refused_multi_is_reported_with_what_ran, Driver, scenario::drivers) {
    // An ACL user that may SET but not MULTI: the queued SET travels with MULTI and runs on its own. The caller must
    // learn that it ran, outside a transaction, rather than see only EXEC's "EXEC without MULTI".
    const std::vector<std::uint16_t> ports = live::cluster_ports();
    for (std::uint16_t port : ports) live::admin_connection(port).ok("ACL SETUSER txnomulti on >txpass ~* &* +@all -multi");
    at_exit cleanup{[&] {
        for (std::uint16_t port : ports) live::admin_connection(port).run("ACL DELUSER txnomulti");
    }};
    cluster_options options = scenario::options();
    options.user = "txnomulti";
    options.password = "txpass";
    Driver driver(options);
    driver.connect();
    driver.call({"DEL", "{acl}.x"});
    typename Driver::transaction tx(driver, "{acl}");
    tx.queue({"SET", "{acl}.x", "ran-alone"});
    const outcome result = tx.exec();
    BOOST_TEST_REQUIRE(!result.ok(), "a refused MULTI was not reported");
    const std::string m = result.failure()->what();
    BOOST_TEST(result.failure()->kind() == error_kind::server);
    BOOST_TEST(has(m, "refused MULTI: 'NOPERM"), m);
    BOOST_TEST(has(m, "ran one by one, NOT as a transaction"), m);
    BOOST_TEST(has(m, "#1 'SET': 'OK'"), m);
    BOOST_TEST(text_of(driver.call({"GET", "{acl}.x"})) == "ran-alone");
}

BOOST_AUTO_TEST_SUITE_END()
