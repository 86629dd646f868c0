// tests/integration/cluster_transactions.cpp — MULTI/EXEC/WATCH on one slot (transaction.hpp) on the live TLS cluster:
// commits, a WATCH fired by another connection, cross-slot keys refused before sending, redirects (ASK at a queued
// command, MOVED at WATCH) ending the transaction without being followed, and a lost EXEC reported unknown_outcome.
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace addrmap;

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::string text_of(const reply_ptr& r) { return r && r->str ? std::string(r->str, r->len) : std::string(); }

/// Moves `slot` (and its keys) from one master to another as redis-cli does; `finish` false stops in the
/// MIGRATING/IMPORTING state with the keys already on the target (so the source answers ASK for them).
void move_slot(std::uint16_t slot, std::uint16_t from, std::uint16_t to, const std::vector<std::uint16_t>& masters,
               bool finish) {
    const std::string s = std::to_string(slot), from_id = live::node_id_of(from), to_id = live::node_id_of(to);
    live::admin_connection source(from), target(to);
    target.ok("CLUSTER SETSLOT %s IMPORTING %s", s.c_str(), from_id.c_str());
    source.ok("CLUSTER SETSLOT %s MIGRATING %s", s.c_str(), to_id.c_str());
    while (true) {
        auto keys = source.ok("CLUSTER GETKEYSINSLOT %s 100", s.c_str());
        if (keys->elements == 0) break;
        for (std::size_t k = 0; k < keys->elements; ++k)
            source.ok("MIGRATE 127.0.0.1 %d %b 0 5000", static_cast<int>(to), keys->element[k]->str, keys->element[k]->len);
    }
    if (!finish) return;
    target.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
    source.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
    for (std::uint16_t port : masters) live::admin_connection(port).run("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
}

struct at_exit {
    std::function<void()> run;
    ~at_exit() {
        try {
            run();
        } catch (const std::exception& e) {
            std::cerr << "cluster_transactions: restoring the slot failed: " << e.what() << '\n';
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_transactions)

BOOST_AUTO_TEST_CASE(a_transaction_on_one_slot_commits) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    cluster.call("DEL %s", "{acct1}.balance");
    transaction tx = cluster.begin_transaction("{acct1}");
    BOOST_TEST(tx.slot() == key_slot("acct1"));
    tx.queue("SET %s %s", "{acct1}.balance", "10");
    tx.queue("INCRBY %s %s", "{acct1}.balance", "5");
    tx.queue_argv({"GET", "{acct1}.balance"});
    BOOST_TEST(tx.queued() == 3u);
    reply_ptr result = tx.exec();
    BOOST_TEST(!tx.active());
    BOOST_TEST_REQUIRE(result->type == REDIS_REPLY_ARRAY);
    BOOST_TEST_REQUIRE(result->elements == 3u);
    BOOST_TEST(std::string(result->element[0]->str) == "OK");
    BOOST_TEST(result->element[1]->integer == 15);
    BOOST_TEST(std::string(result->element[2]->str) == "15");
    BOOST_TEST(text_of(cluster.call("GET %s", "{acct1}.balance")) == "15");
    // The connection came back clean: the next transaction on that node reuses it (no new handshake).
    const auto made = cluster.stats().connections_made;
    transaction again = cluster.begin_transaction("{acct1}.balance");
    again.queue("INCR %s", "{acct1}.balance");
    reply_ptr second = again.exec();
    BOOST_TEST_REQUIRE(second->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(second->element[0]->integer == 16);
    BOOST_TEST(cluster.stats().connections_made == made);
    BOOST_CHECK_THROW(again.exec(), error);  // ended
}

BOOST_AUTO_TEST_CASE(watch_fires_on_a_write_from_another_connection) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    for (bool interfere : {false, true}) {
        BOOST_TEST_CONTEXT("another write between WATCH and EXEC: " << interfere) {
            cluster.call("SET %s %s", "{w}.x", "start");
            transaction tx = cluster.begin_transaction("{w}");
            tx.watch({"{w}.x"});
            BOOST_TEST(text_of(tx.command("GET %s", "{w}.x")) == "start");
            // The cluster's own calls meanwhile use another connection: the transaction holds its own.
            if (interfere) cluster.call("SET %s %s", "{w}.x", "other");
            tx.queue("SET %s %s", "{w}.x", "mine");
            reply_ptr result = tx.exec();
            if (interfere) {
                BOOST_TEST(result->type == REDIS_REPLY_NIL);
                BOOST_TEST(text_of(cluster.call("GET %s", "{w}.x")) == "other");
            } else {
                BOOST_TEST(result->type == REDIS_REPLY_ARRAY);
                BOOST_TEST(text_of(cluster.call("GET %s", "{w}.x")) == "mine");
            }
        }
    }
    // discard() after WATCH: nothing queued is sent, and the connection is clean for the cluster again.
    transaction tx = cluster.begin_transaction("{w}");
    tx.watch({"{w}.x"});
    tx.queue("SET %s %s", "{w}.x", "never");
    tx.discard();
    BOOST_TEST(text_of(cluster.call("GET %s", "{w}.x")) == "other");
}

BOOST_AUTO_TEST_CASE(keys_outside_the_slot_are_refused_before_sending) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    cluster.call_argv({"DEL", "{a}.1"});
    cluster.call_argv({"DEL", "b"});
    transaction tx = cluster.begin_transaction("{a}");
    tx.queue("SET %s %s", "{a}.1", "yes");
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
    refused([&] { tx.queue("SET %s %s", "b", "no"); },
            "'SET' has keys outside the transaction's slot " + slot + ": 'b' (slot 3300)");
    refused([&] { tx.queue_argv({"MGET", "{a}.1", "b"}); }, "'MGET' has keys in 2 slots");
    refused([&] { tx.watch({"b"}); }, "'WATCH' has keys outside");
    refused([&] { tx.queue("MULTI"); }, "MULTI is sent by the transaction itself");
    refused([&] { tx.queue("PING"); }, "pass the routing key yourself");
    BOOST_TEST(tx.active());
    reply_ptr result = tx.exec();
    BOOST_TEST_REQUIRE(result->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(result->elements == 1u);  // only the command that was accepted
    BOOST_TEST(cluster.call("GET %s", "b")->type == REDIS_REPLY_NIL);
    BOOST_TEST(text_of(cluster.call("GET %s", "{a}.1")) == "yes");
}

BOOST_AUTO_TEST_CASE(a_redirect_inside_a_transaction_ends_it_and_is_not_followed) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    ip_to_hostname_cluster stale(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    stale.connect();  // its slot map is read now, before the slot moves
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    std::vector<std::uint16_t> ports;
    for (const auto& m : masters) ports.push_back(m.reported.port);
    const std::uint16_t from = ports[0], to = ports[1];
    const auto slot = static_cast<std::uint16_t>(masters[0].slots.front().first + 7);
    const std::string tag = "{" + live::tag_for_slot(slot) + "}";
    const std::string key = tag + ".tx";
    cluster.call("SET %s %s", key.c_str(), "before");

    // 1. ASK at a queued command: the key left for the importing node while the transaction was open.
    transaction tx = cluster.begin_transaction(tag);
    tx.watch({key});
    bool moved_back = false;
    at_exit restore{[&] {
        if (!moved_back) move_slot(slot, to, from, ports, true);
    }};
    move_slot(slot, from, to, ports, false);
    tx.queue("SET %s %s", key.c_str(), "after");
    try {
        tx.exec();
        BOOST_ERROR("a transaction followed ASK");
    } catch (const error& e) {
        const std::string m = e.what();
        BOOST_TEST(e.kind() == error_kind::topology);
        BOOST_TEST(has(m, "slot " + std::to_string(slot) + " is moving"), m);
        BOOST_TEST(has(m, "queued command #1 'SET' got 'ASK " + std::to_string(slot)), m);
        BOOST_TEST(has(m, "Nothing was committed (the server refused EXEC)"), m);
        BOOST_TEST(has(m, "retry the whole transaction"), m);
    }
    BOOST_TEST(!tx.active());
    {
        live::admin_connection target(to);  // the key moved, and the SET did not follow it
        target.ok("ASKING");
        BOOST_TEST(text_of(target.ok("GET %s", key.c_str())) == "before");
    }

    // 2. MOVED at WATCH: the slot's move is finished, and a client with the old map begins a transaction.
    {
        live::admin_connection target(to), source(from);
        const std::string s = std::to_string(slot), to_id = live::node_id_of(to);
        target.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
        source.ok("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
        for (std::uint16_t port : ports) live::admin_connection(port).run("CLUSTER SETSLOT %s NODE %s", s.c_str(), to_id.c_str());
    }
    transaction old_map = stale.begin_transaction(tag);
    BOOST_TEST(old_map.node() == "127.0.0.1:" + std::to_string(from));
    try {
        old_map.watch({key});
        BOOST_ERROR("a transaction followed MOVED");
    } catch (const error& e) {
        const std::string m = e.what();
        BOOST_TEST(e.kind() == error_kind::topology);
        BOOST_TEST(has(m, "'WATCH' got 'MOVED " + std::to_string(slot)), m);
        BOOST_TEST(has(m, "Nothing was committed (EXEC was not sent)"), m);
    }
    BOOST_TEST(!old_map.active());
    // Retried whole, the transaction goes to the new owner (the redirect asked for a refresh) and commits.
    transaction retried = stale.begin_transaction(tag);
    BOOST_TEST(retried.node() == "127.0.0.1:" + std::to_string(to));
    retried.watch({key});
    retried.queue("SET %s %s", key.c_str(), "after");
    reply_ptr result = retried.exec();
    BOOST_TEST(result->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(text_of(stale.call("GET %s", key.c_str())) == "after");

    move_slot(slot, to, from, ports, true);
    moved_back = true;
    BOOST_TEST(text_of(cluster.call("GET %s", key.c_str())) == "after");
}

BOOST_AUTO_TEST_CASE(a_lost_exec_reply_is_unknown_outcome_and_not_resent) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    cluster.call("DEL %s", "{slow}.runs");
    // A script that counts its runs, then keeps the node busy for 600 ms: past the 200 ms step deadline, the reply
    // to EXEC never comes in time. The transaction may have committed, so it is reported, not sent again.
    call_options quick;
    quick.deadline = std::chrono::milliseconds(200);
    transaction tx = cluster.begin_transaction("{slow}", quick);
    tx.queue("EVAL %s 1 %s",
             "redis.call('INCR', KEYS[1]) local t0 = redis.call('TIME') repeat local t = redis.call('TIME') until "
             "(t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 600000 return 1",
             "{slow}.runs");
    try {
        tx.exec();
        BOOST_ERROR("EXEC's lost reply was not reported");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::unknown_outcome);
        BOOST_TEST(has(e.what(), "may or may not have committed"), e.what());
    }
    BOOST_TEST(!tx.active());
    BOOST_TEST(text_of(cluster.call("GET %s", "{slow}.runs")) == "1");  // ran once: never re-sent
}

BOOST_AUTO_TEST_CASE(a_refused_multi_is_reported_with_what_ran) {
    // An ACL user that may SET but not MULTI: the queued SET travels with MULTI and runs on its own. The caller must
    // learn that it ran, outside a transaction, rather than see only EXEC's "EXEC without MULTI".
    const std::vector<std::uint16_t> ports = live::cluster_ports();
    for (std::uint16_t port : ports)
        live::admin_connection(port).ok("ACL SETUSER txnomulti on >txpass ~* &* +@all -multi");
    at_exit cleanup{[&] {
        for (std::uint16_t port : ports) live::admin_connection(port).run("ACL DELUSER txnomulti");
    }};
    auto options = live::cluster_options({live::seed_by_name()});
    options.user = "txnomulti";
    options.password = "txpass";
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    cluster.call("DEL %s", "{acl}.x");
    transaction tx = cluster.begin_transaction("{acl}");
    tx.queue("SET %s %s", "{acl}.x", "ran-alone");
    try {
        tx.exec();
        BOOST_ERROR("a refused MULTI was not reported");
    } catch (const error& e) {
        const std::string m = e.what();
        BOOST_TEST(e.kind() == error_kind::server);
        BOOST_TEST(has(m, "refused MULTI: 'NOPERM"), m);
        BOOST_TEST(has(m, "ran one by one, NOT as a transaction"), m);
        BOOST_TEST(has(m, "#1 'SET': 'OK'"), m);
    }
    BOOST_TEST(text_of(cluster.call("GET %s", "{acl}.x")) == "ran-alone");
}

BOOST_AUTO_TEST_SUITE_END()
