// tests/integration/cluster_ownership.cpp — what a cluster user expects next (issue #15), on the live TLS cluster:
// clusters sharing one tls_context, a movable basic_cluster, refresh_interval, blocking commands with a per-call
// reply_timeout, and the on_connect hook.
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"
#include "node_control.hpp"
#include "reshard_support.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using ms = std::chrono::milliseconds;
using addrmap::error;
using addrmap::error_kind;
using addrmap::ip_to_hostname;
using addrmap::ip_to_hostname_cluster;
using addrmap::reply_ptr;

using live::time_of;

using live::text_of;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Dials each node as reported and verifies the name `name`; counts its map() calls. The name is a member, so a
/// mapper left pointing at a moved-from or destroyed policy would map to an empty name (or trip ASan).
struct counting_policy {
    std::string name = "localhost";
    std::shared_ptr<int> calls = std::make_shared<int>(0);
    addrmap::endpoint map(const addrmap::node_address& address) const {
        ++*calls;
        return addrmap::endpoint::owning(address.host, address.port, name);
    }
};

/// Moves `slot` (holding no keys) from one master to another behind the clients' backs, and back however the test
/// ends, the way redis-cli does (IMPORTING/MIGRATING, then SETSLOT NODE), waiting after each move until every node
/// agrees on the map. Without the wait the move back raced the forward move's gossip: the new owner takes a greater
/// config epoch only over the epochs it has heard of, and a late claim of the other master then won the slot back on
/// some nodes. The map never agreed again (slot 5561, in a sanitizer run in ctest's cost order; it was SETSLOT NODE
/// after a CLUSTER BUMPEPOCH then, which has the same blind spot).
class moved_slot_guard {
public:
    moved_slot_guard(int slot, std::uint16_t from_port, std::uint16_t to_port, std::vector<std::uint16_t> master_ports)
        : slot_(static_cast<std::uint16_t>(slot)), from_port_(from_port), to_port_(to_port),
          ports_(std::move(master_ports)) {
        live::move_slot(slot_, from_port_, to_port_, ports_, true);
        const std::string why = live::wait_until_slots_agree();  // an error, not a throw: the slot must come back
        if (!why.empty()) BOOST_ERROR("after moving slot " << slot_ << ": " << why);
    }
    ~moved_slot_guard() {
        try {
            live::move_slot(slot_, to_port_, from_port_, ports_, true);
            const std::string why = live::wait_until_slots_agree();
            if (!why.empty()) BOOST_ERROR("after moving slot " << slot_ << " back: " << why);
        } catch (const std::exception& e) {
            BOOST_ERROR(std::string("could not move the slot back: ") + e.what());
        }
    }
    moved_slot_guard(const moved_slot_guard&) = delete;
    moved_slot_guard& operator=(const moved_slot_guard&) = delete;

private:
    std::uint16_t slot_, from_port_, to_port_;
    std::vector<std::uint16_t> ports_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_ownership)

// ---- shared TLS ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(two_clusters_share_one_tls_context_and_its_session_cache) {
    const addrmap::cluster_options options = live::cluster_options({live::seed_by_name()});
    addrmap::tls_context shared(options.tls);
    ip_to_hostname_cluster first(options, shared, ip_to_hostname("localhost"));
    first.connect();
    const std::size_t cached = shared.cached_sessions();
    BOOST_TEST(cached >= 3u);  // one per (TLS name, host:port): the three masters

    ip_to_hostname_cluster second(options, shared, ip_to_hostname("localhost"));
    second.connect();
    int resumed = 0;
    for (const auto& node : live::masters(second)) {
        BOOST_TEST_REQUIRE(node.handshake.has_value());
        BOOST_TEST(node.handshake->session_reused, to_string(node.reported) << " did not resume a session");
        resumed += node.handshake->session_reused ? 1 : 0;
    }
    BOOST_TEST(resumed == 3);
    BOOST_TEST(first.tls().native_handle() == second.tls().native_handle());  // one SSL_CTX

    // Both work, each on its own connections.
    reply_ptr set = first.command("own:shared", "SET own:shared %s", "from-first");
    BOOST_TEST(text_of(set) == "OK");
    BOOST_TEST(text_of(second.command("own:shared", "GET own:shared")) == "from-first");

    // The control: a cluster with its own context has an empty cache, so nothing resumes.
    // (Only the master on the seed's own endpoint resumes, from the seed's connection just before.)
    ip_to_hostname_cluster alone(options, ip_to_hostname("localhost"));
    alone.connect();
    int alone_resumed = 0;
    for (const auto& node : live::masters(alone)) {
        alone_resumed += node.handshake->session_reused ? 1 : 0;
        if (node.port != live::cluster_port()) BOOST_TEST(!node.handshake->session_reused, to_string(node.reported));
    }
    std::cout << "shared tls_context: " << cached << " cached sessions after the first cluster; the second resumed "
              << resumed << " of 3 master handshakes (a cluster with its own context: " << alone_resumed
              << ", the master on its seed's endpoint)\n";
}

// ---- movable ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_connected_cluster_moves_with_its_connections_and_policy) {
    addrmap::cluster_options options = live::cluster_options({live::seed_by_name(0), live::seed_by_name(1)});
    counting_policy policy;
    const std::shared_ptr<int> calls = policy.calls;
    std::optional<addrmap::basic_cluster<counting_policy>> source;
    source.emplace(options, policy);
    source->connect();
    BOOST_TEST(text_of(source->command("own:move", "SET own:move %s", "moved")) == "OK");
    const auto made = source->stats().connections_made;

    addrmap::basic_cluster<counting_policy> moved(std::move(*source));
    source.reset();  // a mapper pointing into the source would now dangle
    BOOST_TEST(text_of(moved.command("own:move", "GET own:move")) == "moved");
    BOOST_TEST(moved.stats().connections_made == made);  // the connections came along
    BOOST_TEST(moved.policy().name == "localhost");

    // The second seed was never mapped: mapping it now calls the policy through the moved core.
    const int before = *calls;
    reply_ptr pong = moved.command_on(addrmap::node_address{"localhost", static_cast<std::uint16_t>(live::cluster_port() + 1), {}},
                                      {"PING"});
    BOOST_TEST(text_of(pong) == "PONG");
    BOOST_TEST(*calls == before + 1);

    // Move-assign over a connected cluster: its own connections close, the moved ones serve.
    std::optional<addrmap::basic_cluster<counting_policy>> target;
    target.emplace(live::cluster_options({live::seed_by_name(2)}), counting_policy{});
    target->connect();
    *target = std::move(moved);
    BOOST_TEST(text_of(target->command("own:move", "GET own:move")) == "moved");
    BOOST_TEST(target->options().seeds.size() == 2u);
    target->refresh();
    BOOST_TEST(text_of(target->command("own:move", "DEL own:move")).empty());  // an integer reply
    BOOST_TEST(target->stats().moved == 0u);
}

// ---- refresh_interval -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(refresh_interval_learns_a_moved_slot_without_a_moved_and_is_off_by_default) {
    addrmap::cluster_options periodic_options = live::cluster_options({live::seed_by_name()});
    periodic_options.refresh_interval = ms(300);
    ip_to_hostname_cluster periodic(periodic_options, ip_to_hostname("localhost"));
    ip_to_hostname_cluster plain(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    periodic.connect();
    plain.connect();

    // Off by default: idle use over 600 ms refreshes nothing. On: a call after 300 ms refreshes first.
    const auto plain_refreshes = plain.stats().refreshes;
    const auto periodic_refreshes = periodic.stats().refreshes;
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(ms(350));
        BOOST_TEST(text_of(plain.command_any("PING")) == "PONG");
        BOOST_TEST(text_of(periodic.command_any("PING")) == "PONG");
    }
    BOOST_TEST(plain.stats().refreshes == plain_refreshes);
    BOOST_TEST(periodic.stats().refreshes == periodic_refreshes + 3);

    // A slot of master A that holds no keys moves to master B behind both clients' backs.
    const auto masters = live::masters(periodic);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const auto& from = masters[0];
    const auto& to = masters[1];
    std::vector<std::uint16_t> ports;
    for (const auto& m : masters) ports.push_back(m.reported.port);
    int slot = from.slots.front().first + 100;
    live::admin_connection source_admin(from.reported.port);
    while (source_admin.ok("CLUSTER COUNTKEYSINSLOT %d", slot)->integer != 0) ++slot;
    const std::string key = "{" + live::tag_for_slot(static_cast<std::uint16_t>(slot)) + "}own:periodic";
    const auto before = periodic.stats();
    const auto plain_before = plain.stats();
    {
        moved_slot_guard move(slot, from.reported.port, to.reported.port, ports);
        std::this_thread::sleep_for(ms(350));
        BOOST_TEST(text_of(periodic.command(key, "SET %s %s", key.c_str(), "learnt")) == "OK");
        BOOST_TEST(periodic.stats().moved == before.moved);  // routed to B at once: no MOVED
        BOOST_TEST(periodic.stats().refreshes > before.refreshes);
        // It landed on B (asked directly, no redirects followed).
        BOOST_TEST(text_of(periodic.command_on(to.reported, {"GET", key})) == "learnt");
        // The control: without refresh_interval the old map sends it to A, which answers MOVED.
        BOOST_TEST(text_of(plain.command(key, "GET %s", key.c_str())) == "learnt");
        BOOST_TEST(plain.stats().moved == plain_before.moved + 1);
        periodic.command(key, "DEL %s", key.c_str());  // empty again before the slot goes back
    }
    std::cout << "refresh_interval 300 ms: slot " << slot << " moved behind the client's back was learnt with "
              << periodic.stats().refreshes - before.refreshes << " refresh(es) and 0 MOVED; default options: 1 MOVED\n";
}

// ---- blocking commands --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(blpop_waits_past_command_timeout_with_a_reply_timeout) {
    addrmap::cluster_options options = live::cluster_options({live::seed_by_name()});
    options.tls.command_timeout = ms(1000);
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    ip_to_hostname_cluster pusher(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    pusher.connect();
    const std::string key = "own:blpop";
    cluster.command(key, "DEL %s", key.c_str());
    addrmap::call_options blocking;
    blocking.reply_timeout = ms(5000);

    // Nothing pushed: nil after the server's 3 s, not a timeout.
    reply_ptr nil;
    const ms waited = time_of([&] { nil = cluster.command(blocking, key, "BLPOP %s 3", key.c_str()); });
    BOOST_TEST_REQUIRE(nil.get() != nullptr);
    BOOST_TEST(nil->type == REDIS_REPLY_NIL);
    BOOST_TEST(waited.count() >= 2900);
    BOOST_TEST(waited.count() < 4500);

    // An LPUSH from another connection during the wait is returned.
    std::thread push([&] {
        std::this_thread::sleep_for(ms(1500));  // past command_timeout
        pusher.command(key, "LPUSH %s %s", key.c_str(), "pushed");
    });
    reply_ptr got;
    const ms served = time_of([&] { got = cluster.command(blocking, key, "BLPOP %s 3", key.c_str()); });
    push.join();
    BOOST_TEST_REQUIRE(got.get() != nullptr);
    BOOST_TEST_REQUIRE(got->type == REDIS_REPLY_ARRAY);
    BOOST_TEST_REQUIRE(got->elements == 2u);
    BOOST_TEST(std::string(got->element[1]->str, got->element[1]->len) == "pushed");
    BOOST_TEST(served.count() >= 1400);
    BOOST_TEST(served.count() < 2900);

    // Without it, command_timeout (1 s) bounds the wait for the reply: BLPOP was written and is not safe to
    // repeat, so the delivery rules make it unknown_outcome, at about 1 s.
    std::optional<error> failure;
    const ms cut = time_of([&] {
        try {
            cluster.command(key, "BLPOP %s 3", key.c_str());
        } catch (const error& e) {
            failure = e;
        }
    });
    BOOST_TEST_REQUIRE(failure.has_value());
    BOOST_TEST(failure->kind() == error_kind::unknown_outcome, failure->what());
    BOOST_TEST(contains(failure->what(), "reply_timeout"), failure->what());
    BOOST_TEST(cut.count() >= 900);
    BOOST_TEST(cut.count() < 2000);
    BOOST_TEST(cluster.stats().unknown_outcomes == 1u);
    // The connection was dropped; the next call reconnects, under command_timeout again.
    BOOST_TEST(text_of(cluster.command(key, "SET %s %s", key.c_str(), "after")) == "OK");
    cluster.command(key, "DEL %s", key.c_str());
    std::cout << "BLPOP 3 s under command_timeout 1 s: reply_timeout 5 s -> nil after " << waited.count()
              << " ms, pushed value after " << served.count() << " ms; without it -> unknown_outcome after "
              << cut.count() << " ms\n";
}

BOOST_AUTO_TEST_CASE(a_deadline_still_bounds_a_call_with_a_reply_timeout) {
    addrmap::cluster_options options = live::cluster_options({live::seed_by_name()});
    options.tls.command_timeout = ms(1000);
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    addrmap::call_options call;
    call.reply_timeout = ms(10000);
    call.deadline = ms(1500);
    std::optional<error> failure;
    const ms took = time_of([&] {
        try {
            cluster.command(call, "own:blpop2", "BLPOP own:blpop2 5");
        } catch (const error& e) {
            failure = e;
        }
    });
    BOOST_TEST_REQUIRE(failure.has_value());
    BOOST_TEST(failure->kind() == error_kind::unknown_outcome, failure->what());
    BOOST_TEST(took.count() >= 1400);
    BOOST_TEST(took.count() < 2500);
}

// ---- on_connect ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(on_connect_names_every_connection) {
    addrmap::cluster_options options = live::cluster_options({live::seed_by_name()});
    std::vector<std::string> hooked;
    options.on_connect = [&hooked](redisContext* c, const addrmap::node_info& node) {
        hooked.push_back(to_string(node.reported));
        reply_ptr r(static_cast<redisReply*>(redisCommand(c, "CLIENT SETNAME %s", "addrmap-own-hook")));
        if (!r || r->type == REDIS_REPLY_ERROR) throw std::runtime_error("CLIENT SETNAME was refused");
    };
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    BOOST_TEST(text_of(cluster.command_any("PING")) == "PONG");
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& m : masters) {
        BOOST_TEST(std::count(hooked.begin(), hooked.end(), to_string(m.reported)) == 1);
        // The server's view: the adapter's connection to it carries the name.
        const std::string list = text_of(live::admin_connection(m.reported.port).ok("CLIENT LIST"));
        BOOST_TEST(contains(list, "name=addrmap-own-hook"), to_string(m.reported) << ":\n" << list);
        BOOST_TEST(text_of(cluster.command_on(m.reported, {"CLIENT", "GETNAME"})) == "addrmap-own-hook");
    }
    // A reconnect runs it again.
    const std::size_t before = hooked.size();
    cluster.disconnect();
    BOOST_TEST(text_of(cluster.command_on(masters[0].reported, {"CLIENT", "GETNAME"})) == "addrmap-own-hook");
    BOOST_TEST(hooked.size() == before + 1);
}

BOOST_AUTO_TEST_CASE(a_failing_on_connect_gives_an_error_naming_the_node) {
    // On the seed: connect() fails with the seed named.
    addrmap::cluster_options options = live::cluster_options({live::seed_by_name()});
    options.on_connect = [](redisContext*, const addrmap::node_info&) { throw std::runtime_error("no name for you"); };
    ip_to_hostname_cluster refused(options, ip_to_hostname("localhost"));
    BOOST_CHECK_EXCEPTION(refused.connect(), error, [](const error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.kind() == error_kind::server && contains(e.what(), "on_connect on node " + live::seed_by_name()) &&
               contains(e.what(), "no name for you");
    });

    // On one master only (an addrmap::error of the hook's own, e.g. a refused CLIENT SETNAME): its kind is kept.
    // (A master that is not the seed's node; which nodes are masters depends on the failovers run before.)
    ip_to_hostname_cluster probe(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    probe.connect();
    std::string bad_master;
    for (const auto& m : live::masters(probe))
        if (m.reported.port != live::cluster_port()) bad_master = to_string(m.reported);
    BOOST_TEST_REQUIRE(!bad_master.empty());
    options.on_connect = [bad_master](redisContext* c, const addrmap::node_info& node) {
        const char* name = to_string(node.reported) == bad_master ? "has space" : "fine";
        reply_ptr r(static_cast<redisReply*>(redisCommand(c, "CLIENT SETNAME %s", name)));
        if (r && r->type == REDIS_REPLY_ERROR) throw error(error_kind::server, std::string(r->str, r->len));
    };
    ip_to_hostname_cluster one_bad(options, ip_to_hostname("localhost"));
    BOOST_CHECK_EXCEPTION(one_bad.connect(), error, [&](const error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.kind() == error_kind::server && contains(e.what(), "on_connect on node " + bad_master) &&
               contains(e.what(), "ERR Client names cannot contain spaces");
    });
}

// ---- on_connect_commands (both drivers; the async side is in tests/async/async_basic.cpp) ----------------------

BOOST_AUTO_TEST_CASE(on_connect_commands_name_every_connection_and_a_refusal_names_node_command_and_reply) {
    addrmap::cluster_options options = live::cluster_options({live::seed_by_name()});
    std::vector<std::string> asked;
    options.on_connect_commands = [&asked](const addrmap::node_info& node) {
        asked.push_back(to_string(node.reported));
        BOOST_TEST(node.handshake.has_value());  // the connection is verified when the commands are asked for
        return std::vector<std::vector<std::string>>{{"CLIENT", "SETNAME", "addrmap-cmds-" + std::to_string(node.port)},
                                                     {"CLIENT", "NO-EVICT", "on"}};
    };
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& m : masters) {
        BOOST_TEST(std::count(asked.begin(), asked.end(), to_string(m.reported)) == 1);
        const std::string list = text_of(live::admin_connection(m.reported.port).ok("CLIENT LIST"));
        BOOST_TEST(contains(list, "name=addrmap-cmds-" + std::to_string(m.port)), to_string(m.reported) << ":\n" << list);
        BOOST_TEST(text_of(cluster.command_on(m.reported, {"CLIENT", "GETNAME"})) == "addrmap-cmds-" + std::to_string(m.port));
    }

    // One connection per master: the seed's (by name; the cluster reports IPs) closed once the view was installed.
    const bool seed_port_is_a_master = std::any_of(masters.begin(), masters.end(), [](const addrmap::node_info& m) {
        return m.port == live::cluster_port();
    });
    const int on_seed_port = seed_port_is_a_master ? 1 : 0;
    BOOST_TEST(live::wait_for_connections_named("addrmap-cmds-" + std::to_string(live::cluster_port()), on_seed_port) ==
               on_seed_port);
    int named = 0;
    for (const auto& m : masters) named += live::connections_named("addrmap-cmds-" + std::to_string(m.port));
    BOOST_TEST(named == 3);

    // An error reply refuses the connection: error_kind::server naming the node, the command and the reply.
    options.on_connect_commands = [](const addrmap::node_info&) {
        return std::vector<std::vector<std::string>>{{"CLIENT", "SETNAME", "has space"}};
    };
    ip_to_hostname_cluster refused(options, ip_to_hostname("localhost"));
    BOOST_CHECK_EXCEPTION(refused.connect(), error, [](const error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.kind() == error_kind::server &&
               contains(e.what(), "on_connect_commands on node " + live::seed_by_name()) &&
               contains(e.what(), "'CLIENT' answered 'ERR Client names cannot contain spaces");
    });

    // A command that would change what later replies mean is refused before it is sent.
    options.on_connect_commands = [](const addrmap::node_info&) {
        return std::vector<std::vector<std::string>>{{"SUBSCRIBE", "news"}};
    };
    ip_to_hostname_cluster subscriber(options, ip_to_hostname("localhost"));
    BOOST_CHECK_EXCEPTION(subscriber.connect(), error, [](const error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.kind() == error_kind::config && contains(e.what(), "on_connect_commands on node") &&
               contains(e.what(), "command #1") && contains(e.what(), "SUBSCRIBE");
    });
}

BOOST_AUTO_TEST_SUITE_END()
