// tests/async/async_basic.cpp — the async cluster on libevent, libuv and libev against the live TLS cluster:
// SET/GET on every master through the policies, identity's tls_name error in the callback, futures from another
// thread, disconnect() and destruction with commands pending (every callback exactly once, none after).
#include "admin_connection.hpp"
#include "async_support.hpp"
#include "node_control.hpp"

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace addrmap;
using loops = boost::mpl::list<live::libevent_fixture, live::libuv_fixture, live::libev_fixture, live::asio_fixture>;

namespace {

/// Keys spread over every slot range (and so every master).
std::vector<std::string> spread_keys(int count, const std::string& prefix) {
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) keys.push_back(prefix + ":" + std::to_string(i * 7919));
    return keys;
}

/// Writes then reads back `keys` with everything in flight at once; true when every value came back.
template <class Fixture, class Cluster>
bool write_and_read_back(Fixture& loop, Cluster& cluster, const std::vector<std::string>& keys, std::string& why) {
    int answered = 0, read = 0, wrong = 0;
    for (const std::string& key : keys)
        cluster.command(key, [&, key](outcome o) {
            ++answered;
            if ((!o || o->type != REDIS_REPLY_STATUS) && why.empty())
                why = "SET " + key + ": " + (o ? std::string(o->str, o->len) : o.failure()->message());
        }, "SET %s v-%s", key.c_str(), key.c_str());
    // Every callback refers to this frame: wait for all of them, whatever they say.
    if (!loop.run_until([&] { return answered == static_cast<int>(keys.size()); })) return false;
    if (!why.empty()) return false;
    for (const std::string& key : keys)
        cluster.command(key, [&, key](outcome o) {
            ++read;
            if (!o || o->type != REDIS_REPLY_STRING || std::string(o->str, o->len) != "v-" + key) ++wrong;
        }, "GET %s", key.c_str());
    return loop.run_until([&] { return read == static_cast<int>(keys.size()); }) && wrong == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(async_basic)

BOOST_AUTO_TEST_CASE_TEMPLATE(set_get_on_every_master_with_ip_to_hostname, Fixture, loops) {
    Fixture loop;
    ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                         ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& m : masters) {
        BOOST_TEST(m.connected);
        BOOST_TEST(m.tls_name == "localhost");
        BOOST_TEST_REQUIRE(m.handshake.has_value());
        BOOST_TEST((std::find(m.handshake->certificate_names.begin(), m.handshake->certificate_names.end(),
                              "DNS:localhost") != m.handshake->certificate_names.end()));
        // Measured from the loop's events: a handshake takes some time, and (loopback, a verified chain) well below 5 s.
        BOOST_TEST(m.handshake->handshake_time.count() > 0);
        BOOST_TEST(m.handshake->handshake_time.count() < 5000000);
    }
    std::cout << Fixture::name << ": handshake_time of the first master " << masters.front().handshake->handshake_time.count()
              << " us\n";
    std::string why;
    BOOST_TEST(write_and_read_back(loop, cluster, spread_keys(3000, std::string("basic-") + Fixture::name), why), why);
    BOOST_TEST(cluster.pending() == 0u);
    std::cout << Fixture::name << ": max loop gap during 6000 commands " << loop.ticks.max_gap.count() << " us\n";
}

// Writes larger than one TLS record, many in flight: each write event sends part of the output. A binding that hands
// hiredis a stale readiness (Asio's, sampled before a handler drained the socket) left hiredis-SSL waiting for a read
// that never came, until command_timeout cut the connection (474 of 500 such SETs failed before the fix).
// What it proves is that every byte arrives without a lost connection, not how fast: under ASan on a busy 2-core
// machine 19 MB of SETs took over 15 s (the default test deadline), so the calls get two minutes here.
BOOST_AUTO_TEST_CASE_TEMPLATE(large_values_pipelined_over_tls_all_arrive, Fixture, loops) {
    Fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    options.deadline = std::chrono::milliseconds(120000);
    options.tls.command_timeout = std::chrono::milliseconds(60000);
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string value(64 * 1024, 'v');
    const auto keys = spread_keys(300, std::string("large-") + Fixture::name);
    int ok = 0, failed = 0;
    std::string failure;
    for (const auto& key : keys)
        cluster.command_argv(key, {"SET", key, value}, [&](outcome o) {
            if (o && o->type == REDIS_REPLY_STATUS) {
                ++ok;
            } else {
                ++failed;
                if (failure.empty()) failure = o ? std::string("an error reply") : std::string(o.failure()->message());
            }
        });
    const auto started = live::steady::now();
    BOOST_TEST_REQUIRE(loop.run_until([&] { return ok + failed == 300; }, std::chrono::milliseconds(150000)));
    std::cout << Fixture::name << ": 300 SETs of 64 KB in flight: " << ok << " OK in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(live::steady::now() - started).count() << " ms\n";
    BOOST_TEST(failed == 0, failure);
    BOOST_TEST(cluster.stats().connection_losses == 0u);
}

// Each binding's adapter keeps hiredis's own timeout working (the cluster never sets one; a leased connection's user may):
// a BLPOP of 30 s on a leased connection with redisAsyncSetTimeout(300 ms) ends with hiredis's timeout.
BOOST_AUTO_TEST_CASE_TEMPLATE(hiredis_s_own_timeout_works_on_a_leased_connection, Fixture, loops) {
    // Everything a callback writes outlives the cluster: if the test stops early, destruction still runs them.
    struct seen {
        bool called = false, null_reply = false;
        int err = 0;
    };
    struct state {
        bool leased_called = false;
        std::string failure;
        seen blpop;
        std::optional<outcome> cleared, pushed, deleted;
    } st;
    Fixture loop;
    ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                         ip_to_hostname("localhost"));
    leased_context leased;  // before the cluster's destruction: released first
    const std::string key = std::string("{lease-timeout}:") + Fixture::name;
    cluster.context_for_key(key, [&st, &leased](const error* e, leased_context got) {
        st.leased_called = true;
        if (e != nullptr) st.failure = e->what();
        leased = std::move(got);
    });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return st.leased_called; }));
    BOOST_TEST_REQUIRE(st.failure.empty(), st.failure);
    // A list left by an interrupted run would answer the BLPOP at once.
    cluster.command_argv(key, {"DEL", key}, [&st](outcome o) { st.cleared.emplace(std::move(o)); });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return st.cleared.has_value(); }));
    BOOST_TEST_REQUIRE(st.cleared->ok(), (st.cleared->ok() ? "" : st.cleared->failure()->what()));
    BOOST_TEST_REQUIRE(redisAsyncSetTimeout(leased.get(), timeval{0, 300000}) == REDIS_OK);
    const auto record = [](redisAsyncContext* ac, void* reply, void* privdata) {
        auto* s = static_cast<seen*>(privdata);
        s->called = true;
        s->null_reply = reply == nullptr;
        s->err = ac->err;
    };
    const auto sent = live::steady::now();
    BOOST_TEST_REQUIRE(redisAsyncCommand(leased.get(), record, &st.blpop, "BLPOP %s 30", key.c_str()) == REDIS_OK);
    BOOST_TEST_REQUIRE(loop.run_until([&] { return st.blpop.called; }));  // 30 s would be past the loop's limit
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(live::steady::now() - sent);
    // Not at once: loops arm timers from their cached clock (libev's ev_now is as old as the loop's last turn), so a
    // timeout may fire early by that much; 100 ms of the 300 leaves room for a slow turn.
    BOOST_TEST(waited.count() >= 100, waited.count() << " ms: the 300 ms timeout fired at once");
    BOOST_TEST(st.blpop.null_reply);
    BOOST_TEST(st.blpop.err == REDIS_ERR_TIMEOUT);
    BOOST_TEST(loop.run_until([&] { return leased.get() == nullptr; }));  // hiredis closed it
    cluster.command_argv(key, {"LPUSH", key, "x"}, [&st](outcome o) { st.pushed.emplace(std::move(o)); });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return st.pushed.has_value(); }));
    BOOST_TEST((st.pushed->ok() && (*st.pushed)->type == REDIS_REPLY_INTEGER),
               (st.pushed->ok() ? "a reply" : st.pushed->failure()->what()));
    cluster.command_argv(key, {"DEL", key}, [&st](outcome o) { st.deleted.emplace(std::move(o)); });
    BOOST_TEST(loop.run_until([&] { return st.deleted.has_value(); }));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(identity_fails_with_the_tls_name_message_in_the_callback, Fixture, loops) {
    Fixture loop;
    identity_async_cluster cluster(live::async_options({live::seed_by_ip()}), loop.binding());
    std::optional<outcome> result;
    std::vector<std::string> handler_saw;
    cluster.on_error([&](const error& e) { handler_saw.push_back(e.message()); });
    const auto started = live::steady::now();
    cluster.command("k", [&](outcome o) { result.emplace(std::move(o)); }, "GET k");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return result.has_value(); }));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(live::steady::now() - started);
    BOOST_TEST_REQUIRE(!result->ok());
    const error& e = *result->failure();
    BOOST_TEST(e.kind() == error_kind::tls_name, e.message());
    // The same message the blocking path gives: the node, its mapping, the certificate's names, the fix.
    BOOST_TEST(std::string(e.message()).find("127.0.0.1:" + std::to_string(live::cluster_port())) != std::string::npos, e.message());
    // The seed is the user's address, not one the cluster reported (no topology was read).
    BOOST_TEST(std::string(e.message()).find("node " + live::seed_by_ip() + " (seed #1 as configured)") != std::string::npos,
               e.message());
    BOOST_TEST(std::string(e.message()).find("DNS:localhost") != std::string::npos, e.message());
    BOOST_TEST(std::string(e.message()).find("ip_to_hostname") != std::string::npos, e.message());
    BOOST_TEST(took.count() < 5000, "the error came after " << took.count() << " ms, not at once");
    BOOST_TEST(!handler_saw.empty(), "callback said: " << e.message());
    std::optional<std::string> connect_error;
    cluster.connect([&](const error* ce) { connect_error = ce != nullptr ? ce->message() : std::string("no error"); });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return connect_error.has_value(); }));
    BOOST_TEST(connect_error->find("DNS:localhost") != std::string::npos, *connect_error);
}

BOOST_AUTO_TEST_CASE(static_table_and_env_policies_on_libevent) {
    live::libevent_fixture loop;
    std::vector<static_table::entry> entries;
    std::string env_table;
    for (std::uint16_t port : live::cluster_ports()) {
        entries.push_back({"127.0.0.1:" + std::to_string(port), "127.0.0.1:" + std::to_string(port), "node.redis.test"});
        env_table += (env_table.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port) + "=localhost";
    }
    {
        static_table_async_cluster cluster(live::async_options({live::seed_by_ip()}), loop.binding(), static_table(entries));
        std::string why;
        BOOST_TEST(write_and_read_back(loop, cluster, spread_keys(600, "static"), why), why);
        for (const auto& m : live::masters(cluster)) BOOST_TEST(m.tls_name == "node.redis.test");
    }
    ::setenv("ADDRMAP_TABLE", env_table.c_str(), 1);
    {
        env_async_cluster cluster(live::async_options({live::seed_by_ip()}), loop.binding(), env{});
        std::string why;
        BOOST_TEST(write_and_read_back(loop, cluster, spread_keys(600, "env"), why), why);
        for (const auto& m : live::masters(cluster)) BOOST_TEST(m.dial_host == "localhost");
    }
    ::unsetenv("ADDRMAP_TABLE");
    loop.drain();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(futures_from_another_thread_and_never_on_the_loop_thread, Fixture, loops) {
    Fixture loop;
    ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                         ip_to_hostname("localhost"));
    std::atomic<int> ok{0};
    std::atomic<bool> worker_done{false};
    std::string worker_error;
    std::thread worker([&] {
        try {
            std::vector<reply_future> futures;
            for (int i = 0; i < 200; ++i) {
                const std::string key = "future:" + std::to_string(i);
                futures.push_back(cluster.submit(key, "SET %s %d", key.c_str(), i));
            }
            for (auto& f : futures)
                if (f.get()->type == REDIS_REPLY_STATUS) ++ok;
        } catch (const std::exception& e) {
            worker_error = e.what();
        }
        worker_done = true;
    });
    const bool finished = loop.run_until([&] { return worker_done.load(); });
    worker.join();
    BOOST_TEST_REQUIRE(finished);
    BOOST_TEST(worker_error.empty(), worker_error);
    BOOST_TEST(ok.load() == 200);

    // On the loop thread, waiting for a reply that only the loop can deliver is refused, not a deadlock.
    std::optional<std::string> refusal;
    cluster.command("future:0", [&](outcome) {
        reply_future f = cluster.submit("future:1", "GET %s", "future:1");
        try {
            f.get();
            refusal = "";
        } catch (const error& e) {
            refusal = e.message();
        }
    }, "GET %s", "future:0");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return refusal.has_value(); }));
    BOOST_TEST(refusal->find("would wait forever") != std::string::npos, *refusal);
    BOOST_TEST_REQUIRE(loop.run_until([&] { return cluster.pending() == 0u; }));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(disconnect_completes_every_callback_exactly_once, Fixture, loops) {
    Fixture loop;
    ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                         ip_to_hostname("localhost"));
    constexpr int total = 4000;
    std::vector<int> calls(total, 0);
    int replies = 0, closed = 0, other = 0;
    bool disconnected = false;
    for (int i = 0; i < total; ++i) {
        const std::string key = "disc:" + std::to_string(i);
        cluster.command(key, [&, i](outcome o) {
            ++calls[static_cast<std::size_t>(i)];
            if (o) ++replies;
            else if (o.failure()->kind() == error_kind::closed) ++closed;
            else ++other;
            if (replies + closed + other == total / 4 && !disconnected) {
                disconnected = true;
                cluster.disconnect();  // from inside a callback, with the rest in flight or queued
            }
        }, "SET %s x", key.c_str());
    }
    bool all_gone = false;
    BOOST_TEST_REQUIRE(loop.run_until([&] { return replies + closed + other == total; }));
    cluster.disconnect([&] { all_gone = true; });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return all_gone; }));
    for (int i = 0; i < total; ++i) BOOST_TEST_REQUIRE(calls[static_cast<std::size_t>(i)] == 1, "call " << i);
    BOOST_TEST(other == 0);
    BOOST_TEST(replies >= total / 4);
    std::optional<error_kind> late;
    cluster.command("k", [&](outcome o) { late = o ? error_kind::server : o.failure()->kind(); }, "GET k");
    BOOST_TEST((late == error_kind::closed));
    std::cout << Fixture::name << ": disconnect with " << total << " calls: " << replies << " replies, " << closed
              << " closed\n";
}

BOOST_AUTO_TEST_CASE_TEMPLATE(destruction_with_commands_pending_runs_each_callback_once_and_none_after, Fixture, loops) {
    Fixture loop;
    constexpr int total = 5000;
    std::vector<int> calls(total, 0);
    std::map<std::string, int> kinds;
    int answered = 0;  // declared before the cluster: its destructor runs the callbacks that count here
    {
        ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                             ip_to_hostname("localhost"));
        for (int i = 0; i < total; ++i) {
            const std::string key = "destroy:" + std::to_string(i);
            cluster.command(key, [&, i](outcome o) {
                ++calls[static_cast<std::size_t>(i)];
                ++answered;
                ++kinds[o ? "reply" : to_string(o.failure()->kind())];
            }, "INCR %s", key.c_str());
        }
        // Let some go out and come back, then destroy it with the rest queued, written or unanswered.
        BOOST_TEST_REQUIRE(loop.run_until([&] { return answered >= 200; }));
    }
    for (int i = 0; i < total; ++i) BOOST_TEST_REQUIRE(calls[static_cast<std::size_t>(i)] == 1, "call " << i);
    const std::vector<int> before = calls;
    loop.run_until([] { return false; }, std::chrono::milliseconds(200));  // nothing may call back now
    BOOST_TEST((calls == before));
    for (const auto& [kind, n] : kinds) {
        std::cout << Fixture::name << ": destroyed with " << total << " INCRs pending: " << kind << " " << n << "\n";
        BOOST_TEST((kind == "reply" || kind == "closed" || kind == "unknown_outcome"), kind);
    }
    loop.drain();
}

BOOST_AUTO_TEST_CASE(a_refused_seed_then_a_good_one_and_no_link_outlives_its_dial) {
    // A dial that fails inside the link's set-up (the port refuses) must leave nothing behind: the next
    // link, often at the same address, must not be taken for the dead one (it was, and was freed).
    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(
        live::async_options({"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", live::seed_by_ip()}), loop.binding(),
        ip_to_hostname("localhost", ip_to_hostname::mode::dial_ip_verify_hostname));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    std::string why;
    BOOST_TEST(write_and_read_back(loop, cluster, spread_keys(300, "refused-first"), why), why);
    loop.run_until([] { return false; }, std::chrono::milliseconds(100));  // the wake-up that deletes dead links
    BOOST_TEST(write_and_read_back(loop, cluster, spread_keys(300, "refused-then"), why), why);
}

BOOST_AUTO_TEST_CASE(replica_reads_through_the_core_land_on_replicas_with_readonly) {
    live::libevent_fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    options.read_from = read_preference::replica;
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    std::vector<std::uint16_t> masters, replicas;
    for (const auto& node : cluster.nodes())
        (node.role == node_role::master && !node.slots.empty() ? masters : replicas).push_back(node.reported.port);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const auto keys = spread_keys(300, "async-replica");
    int written = 0;
    for (const auto& key : keys) cluster.command(key, [&](outcome o) { written += o ? 1 : 0; }, "SET %s x", key.c_str());
    BOOST_TEST_REQUIRE(loop.run_until([&] { return written == 300; }));
    std::map<std::uint16_t, std::uint64_t> before;
    for (const auto& node : cluster.nodes()) before[node.reported.port] = live::calls_on(node.reported.port, "get");
    int answered = 0, moved_or_error = 0;
    for (const auto& key : keys)
        cluster.command(key, [&](outcome o) {
            ++answered;
            if (!o || o->type == REDIS_REPLY_ERROR) ++moved_or_error;
        }, "GET %s", key.c_str());
    BOOST_TEST_REQUIRE(loop.run_until([&] { return answered == 300; }));
    std::uint64_t on_masters = 0, on_replicas = 0;
    for (const auto& [port, calls] : before) {
        const std::uint64_t now = live::calls_on(port, "get") - calls;
        (std::find(masters.begin(), masters.end(), port) != masters.end() ? on_masters : on_replicas) += now;
    }
    std::cout << "async read_from=replica: 300 GETs, " << on_replicas << " on replicas, " << on_masters
              << " on masters, MOVED " << cluster.stats().moved << "\n";
    BOOST_TEST(moved_or_error == 0);
    BOOST_TEST(on_replicas >= 300u);  // READONLY was sent: replicas answered instead of redirecting
    BOOST_TEST(on_masters == 0u);
    BOOST_TEST(cluster.stats().moved == 0u);
    BOOST_TEST(cluster.stats().replica_sends == 300u + cluster.stats().retries);  // sends, not routing passes

    // Reads queued before the cluster is known wait through many routing passes; the counter counts their sends.
    ip_to_hostname_async_cluster fresh(options, loop.binding(), ip_to_hostname("localhost"));
    int fresh_answered = 0, fresh_failed = 0;
    for (const auto& key : keys)
        fresh.command(key, [&](outcome o) {
            ++fresh_answered;
            if (!o || o->type == REDIS_REPLY_ERROR) ++fresh_failed;
        }, "GET %s", key.c_str());
    BOOST_TEST_REQUIRE(loop.run_until([&] { return fresh_answered == 300; }));
    std::cout << "async read_from=replica, 300 GETs before connecting: replica_sends " << fresh.stats().replica_sends
              << ", retries " << fresh.stats().retries << "\n";
    BOOST_TEST(fresh_failed == 0);
    BOOST_TEST(fresh.stats().replica_sends == 300u + fresh.stats().retries);
    BOOST_TEST(fresh.stats().replica_fallbacks == 0u);
}

// The seed (given by name; the cluster reports IPs) is no node of the topology: once the view is installed its
// connection closes, so a client holds one connection per master, not one more.
BOOST_AUTO_TEST_CASE(no_idle_extra_connection_to_the_seed) {
    live::libevent_fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    const std::string name = "addrmap-async-count-" + std::to_string(::getpid());
    options.on_connect_commands = [&](const node_info&) {
        return std::vector<std::vector<std::string>>{{"CLIENT", "SETNAME", name}};
    };
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    int seen = -1;
    std::thread counter([&] { seen = live::wait_for_connections_named(name, 3); });
    BOOST_TEST(loop.run_until([&] { return seen >= 0; }));  // the loop turns while the count is polled
    counter.join();
    std::cout << "async: connections after connect(): " << seen << " (3 masters)\n";
    BOOST_TEST(seen == 3);
}

// on_connect_commands run on every async connection after verification and AUTH, before any command; an error reply
// refuses the connection naming node, command and reply; on_connect (blocking calls) is refused at construction.
BOOST_AUTO_TEST_CASE(on_connect_commands_run_on_every_async_connection_before_any_command) {
    live::libevent_fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    std::vector<std::string> asked;
    bool handshake_known = true;
    options.on_connect_commands = [&](const node_info& node) {
        asked.push_back(to_string(node.reported));
        handshake_known = handshake_known && node.handshake.has_value() && node.handshake->handshake_time.count() > 0;
        return std::vector<std::vector<std::string>>{{"CLIENT", "SETNAME", "addrmap-async-" + std::to_string(node.port)}};
    };
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    // Queued before connecting: it must run on a named connection (the commands come first).
    std::optional<outcome> name;
    const std::string key = "async-on-connect";
    cluster.command(key, [&](outcome o) { name.emplace(std::move(o)); }, "CLIENT GETNAME");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return name.has_value(); }));
    BOOST_TEST_REQUIRE(name->ok());
    const std::uint16_t port = live::owner_port(cluster, key_slot(key));
    BOOST_TEST(std::string((*name)->str, (*name)->len) == "addrmap-async-" + std::to_string(port));
    BOOST_TEST(handshake_known);
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    for (const auto& m : live::masters(cluster)) {
        const std::string list = [&] {
            auto r = live::admin_connection(m.reported.port).ok("CLIENT LIST");
            return std::string(r->str, r->len);
        }();
        BOOST_TEST(list.find("name=addrmap-async-" + std::to_string(m.port)) != std::string::npos, list);
        BOOST_TEST(std::count(asked.begin(), asked.end(), to_string(m.reported)) >= 1);
    }

    options.on_connect_commands = [](const node_info&) {
        return std::vector<std::vector<std::string>>{{"CLIENT", "SETNAME", "has space"}};
    };
    ip_to_hostname_async_cluster refused(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string refusal = live::connect_and_wait(loop, refused);
    BOOST_TEST(refusal.find("on_connect_commands on node") != std::string::npos, refusal);
    BOOST_TEST(refusal.find("'CLIENT' answered 'ERR Client names cannot contain spaces") != std::string::npos, refusal);

    cluster_options blocking_hook = live::async_options({live::seed_by_name()});
    blocking_hook.on_connect = [](redisContext*, const node_info&) {};
    try {
        ip_to_hostname_async_cluster never(blocking_hook, loop.binding(), ip_to_hostname("localhost"));
        BOOST_FAIL("an async cluster accepted on_connect, which it cannot run");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::config);
        BOOST_TEST(std::string(e.what()).find("on_connect_commands") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
