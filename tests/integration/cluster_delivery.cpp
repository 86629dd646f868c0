// tests/integration/cluster_delivery.cpp — the delivery rules on the wire: idle connections the server closed
// are replaced before anything is written; a command that may have run is never sent again unless it may
// repeat (no duplicate INCR under CLIENT KILL); safe entries are retried and re-batched through a failover.
// Prints the measured figures. (A deadline against a node that stops answering, both drivers: scenario.deadlines.)
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"
#include "node_control.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace addrmap;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

long long ms_since(steady::time_point start) {
    return std::chrono::duration_cast<milliseconds>(steady::now() - start).count();
}

std::string text_of(const redisReply* r) { return std::string(r->str, r->len); }

/// One key per master, each on the first slot the master serves: "{tag}suffix".
template <class Cluster>
std::vector<std::pair<std::uint16_t, std::string>> key_per_master(const Cluster& cluster, const std::string& suffix) {
    std::vector<std::pair<std::uint16_t, std::string>> out;
    for (const auto& master : live::masters(cluster))
        out.emplace_back(master.reported.port, "{" + live::tag_for_slot(master.slots.front().first) + "}" + suffix);
    return out;
}

/// CLIENT KILL TYPE normal SKIPME yes on the node: every client connection but the admin's own.
long long kill_clients(live::admin_connection& admin) {
    auto reply = admin.ok("CLIENT KILL TYPE normal SKIPME yes");
    return reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

ip_to_hostname_cluster make_cluster(cluster_options options = live::cluster_options({live::seed_by_name()})) {
    return ip_to_hostname_cluster(std::move(options), ip_to_hostname("localhost"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_delivery)

// Connections the servers closed while idle (CLIENT KILL here; an idle `timeout` or a failover alike) are
// found closed before the next command is written, and replaced: the command runs exactly once, with no
// error, and no unknown_outcome. context_for_key hands out a working context too.
BOOST_AUTO_TEST_CASE(idle_connections_killed_by_the_server_are_replaced_before_writing) {
    auto cluster = make_cluster();
    cluster.connect();
    const auto keys = key_per_master(cluster, "stale-counter");
    BOOST_TEST_REQUIRE(keys.size() == 3u);
    for (const auto& [port, key] : keys) {
        reply_ptr del = cluster.command_argv(key, {"DEL", key});  // touches every master
        BOOST_TEST_REQUIRE(del->type == REDIS_REPLY_INTEGER);
    }
    std::vector<std::unique_ptr<live::admin_connection>> admins;
    for (const auto& entry : keys) admins.push_back(std::make_unique<live::admin_connection>(entry.first));
    for (auto& admin : admins) BOOST_TEST_REQUIRE(kill_clients(*admin) >= 1);  // our connection was there
    std::this_thread::sleep_for(milliseconds(20));  // the FIN (or close_notify) is on its way over loopback

    const cluster_stats before = cluster.stats();
    for (const auto& [port, key] : keys) {
        BOOST_TEST_CONTEXT("INCR " << key << " on port " << port) {
            reply_ptr incr;
            BOOST_CHECK_NO_THROW(incr = cluster.command_argv(key, {"INCR", key}));
            BOOST_TEST_REQUIRE(incr.get() != nullptr);
            BOOST_TEST_REQUIRE(incr->type == REDIS_REPLY_INTEGER);
            BOOST_TEST(incr->integer == 1);
        }
    }
    const cluster_stats after = cluster.stats();
    std::cout << "stale idle connections: " << after.stale_reconnects - before.stale_reconnects
              << " replaced before writing, unknown outcomes " << after.unknown_outcomes - before.unknown_outcomes
              << ", retries " << after.retries - before.retries << "\n";
    BOOST_TEST(after.stale_reconnects - before.stale_reconnects >= 3u);
    BOOST_TEST(after.unknown_outcomes == before.unknown_outcomes);
    BOOST_TEST(after.retries == before.retries);  // each INCR was written once
    for (const auto& [port, key] : keys) {
        reply_ptr get = cluster.command_argv(key, {"GET", key});
        BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
        BOOST_TEST(text_of(get.get()) == "1", key << " ran " << text_of(get.get()) << " times");
    }

    // context_for_key after CLIENT KILL: a fresh, working context, never the closed one.
    for (auto& admin : admins) BOOST_TEST_REQUIRE(kill_clients(*admin) >= 1);
    std::this_thread::sleep_for(milliseconds(20));
    const std::uint64_t stale_before = cluster.stats().stale_reconnects;
    for (const auto& [port, key] : keys) {
        BOOST_TEST_CONTEXT("context_for_key(" << key << ") on port " << port) {
            redisContext* ctx = cluster.context_for_key(key);
            BOOST_TEST_REQUIRE(ctx != nullptr);
            BOOST_TEST_REQUIRE(ctx->err == 0);
            reply_ptr get(static_cast<redisReply*>(redisCommand(ctx, "GET %b", key.data(), key.size())));
            BOOST_TEST_REQUIRE(get.get() != nullptr, "plain redisCommand failed: " << ctx->errstr);
            BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
            BOOST_TEST(text_of(get.get()) == "1");
        }
    }
    BOOST_TEST(cluster.stats().stale_reconnects - stale_before >= 3u);
}

namespace {

/// Kills every client connection on the given nodes at random short intervals, at most `bursts` times, then
/// stops by itself: an endless loop could cut every wave of a slow machine's pipeline and starve it to its
/// deadline, so the pipeline always gets an undisturbed stretch to finish in, however slow the machine.
class client_killer {
public:
    /// With `armed_by` (a counter key on the first port's node), the bursts start only once the pipeline has begun
    /// to run there (its value is above 0), or after 20 s: on a slow machine, bursts fired at once could all land
    /// before the pipeline's first write and cut nothing that was written.
    client_killer(const std::vector<std::uint16_t>& ports, int bursts, std::string armed_by = {}) {
        for (std::uint16_t port : ports) admins_.push_back(std::make_unique<live::admin_connection>(port));
        port_of_first_ = ports.front();
        thread_ = std::thread([this, bursts, armed_by] {
            if (!armed_by.empty()) {
                live::admin_connection watcher(port_of_first_);
                const auto give_up = steady::now() + std::chrono::seconds(20);
                while (!stop_ && steady::now() < give_up) {
                    auto value = watcher.run("GET %b", armed_by.data(), armed_by.size());
                    if (value && value->type == REDIS_REPLY_STRING && std::string(value->str, value->len) != "0") break;
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a condition, not a race
                }
            }
            std::mt19937 random(12345);
            std::uniform_int_distribution<int> pause_us(1000, 12000);
            for (int burst = 0; burst < bursts && !stop_; ++burst) {
                if (burst > 0 || armed_by.empty())  // once armed, the first burst goes at once: the pipeline runs now
                    std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));
                for (auto& admin : admins_) {
                    const long long n = kill_clients(*admin);
                    if (n > 0) kills_ += n;
                }
            }
        });
    }
    ~client_killer() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    long long kills() const { return kills_; }

private:
    std::vector<std::unique_ptr<live::admin_connection>> admins_;
    std::uint16_t port_of_first_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<long long> kills_{0};
    std::thread thread_;
};

struct counter_tally {
    long long ok = 0, unknown = 0, did_not_run = 0;
    std::vector<long long> values;  // OK replies, in pipeline order
};

}  // namespace

// A big pipeline of INCRs, GETs and INCRs the caller allows to repeat, while another thread kills every client
// connection on the owners in a bounded number of bursts. Each INCR entry ends with its reply or unknown_outcome (or, if a
// wave never got through before the deadline, a timeout that says it did not run); the counters prove no
// INCR ran twice. Every GET and every allowed INCR ends OK: they were re-sent after being lost.
BOOST_AUTO_TEST_CASE(client_kill_mid_pipeline_never_runs_an_incr_twice) {
    auto cluster = make_cluster();
    cluster.connect();
    // Two masters, two plain counters on each, one allowed counter and one GET key per master.
    const auto per_master = key_per_master(cluster, "");
    BOOST_TEST_REQUIRE(per_master.size() == 3u);
    struct slot_keys {
        std::uint16_t port;
        std::string counters[2], allowed, value;
    };
    std::vector<slot_keys> targets;
    for (std::size_t m = 0; m < 2; ++m) {
        const std::string& tag = per_master[m].second;  // "{tag}"
        targets.push_back({per_master[m].first,
                           {tag + "kill-counter-a", tag + "kill-counter-b"},
                           tag + "kill-allowed",
                           tag + "kill-value"});
    }
    constexpr int entries_per_round = 24000;
    constexpr int kill_bursts_per_round = 12;
    long long total_unknown = 0, total_ok = 0, total_kills = 0;
    int rounds = 0;
    for (; rounds < 5 && total_unknown == 0; ++rounds) {
        for (const auto& t : targets) {
            cluster.command_argv(t.value, {"SET", t.value, "steady"});
            for (const std::string& k : {t.counters[0], t.counters[1], t.allowed}) cluster.command_argv(k, {"DEL", k});
        }
        pipeline batch;
        enum class what { counter, allowed, value };
        struct planned {
            what kind;
            std::string key;
        };
        std::vector<planned> plan;
        for (int i = 0; i < entries_per_round; ++i) {
            const slot_keys& t = targets[static_cast<std::size_t>(i) % targets.size()];
            switch ((i / 2) % 4) {
                case 0: plan.push_back({what::counter, t.counters[0]}); break;
                case 1: plan.push_back({what::value, t.value}); break;
                case 2: plan.push_back({what::counter, t.counters[1]}); break;
                default: plan.push_back({what::allowed, t.allowed}); break;
            }
            const planned& p = plan.back();
            if (p.kind == what::value)
                batch.add_argv(p.key, {"GET", p.key});
            else
                batch.add_argv(p.key, {"INCR", p.key}, p.kind == what::allowed ? repeat::allowed : repeat::by_table);
        }
        const cluster_stats before = cluster.stats();
        const auto started = steady::now();
        std::vector<outcome> results;
        {
            client_killer killer({targets[0].port, targets[1].port}, kill_bursts_per_round, targets[0].counters[0]);
            results = cluster.execute(batch);
            killer.stop();
            total_kills += killer.kills();
        }
        const auto took = ms_since(started);
        BOOST_TEST_REQUIRE(results.size() == plan.size());

        std::map<std::string, counter_tally> tally;
        for (std::size_t i = 0; i < plan.size(); ++i) {
            const planned& p = plan[i];
            const outcome& o = results[i];
            BOOST_TEST_CONTEXT("entry " << i << " (" << (p.kind == what::value ? "GET " : "INCR ") << p.key << ")") {
                if (p.kind != what::counter) {
                    // Safe to repeat (by the table, or allowed by the caller): re-sent until it got its reply.
                    BOOST_TEST_REQUIRE(o.ok(), (o.failure() ? o.failure()->what() : ""));
                    if (p.kind == what::value) {
                        BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_STRING);
                        BOOST_TEST(text_of(o.reply()) == "steady");
                    } else {
                        BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_INTEGER);
                    }
                    if (p.kind == what::allowed) ++tally[p.key].ok;
                    continue;
                }
                counter_tally& t = tally[p.key];
                if (o.ok()) {
                    BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_INTEGER);
                    ++t.ok;
                    t.values.push_back(o->integer);
                } else if (o.failure()->kind() == error_kind::unknown_outcome) {
                    ++t.unknown;
                    BOOST_TEST(std::string(o.failure()->what()).find("may or may not have run") != std::string::npos,
                               o.failure()->what());
                } else {
                    // The only other ending: the deadline passed before a wave got it written.
                    BOOST_TEST_REQUIRE(o.failure()->kind() == error_kind::timeout, o.failure()->what());
                    BOOST_TEST(std::string(o.failure()->what()).find("(it did not run)") != std::string::npos,
                               o.failure()->what());
                    ++t.did_not_run;
                }
            }
        }
        const cluster_stats after = cluster.stats();
        long long round_unknown = 0;
        for (const auto& t : targets) {
            for (const std::string& key : {t.counters[0], t.counters[1]}) {
                const counter_tally& c = tally[key];
                reply_ptr get = cluster.command_argv(key, {"GET", key});
                const long long final_value = get->type == REDIS_REPLY_STRING ? std::stoll(text_of(get.get())) : 0;
                BOOST_TEST_CONTEXT("counter " << key << ": final " << final_value << ", " << c.ok << " OK, " << c.unknown
                                              << " unknown_outcome, " << c.did_not_run << " did not run") {
                    // Every OK ran once; each unknown_outcome ran at most once; nothing else ran.
                    BOOST_TEST(final_value >= c.ok);
                    BOOST_TEST(final_value <= c.ok + c.unknown);
                    // OK replies are distinct executions, in pipeline order: strictly increasing.
                    for (std::size_t i = 1; i < c.values.size(); ++i)
                        BOOST_TEST_REQUIRE(c.values[i - 1] < c.values[i], "OK replies out of order at #" << i);
                    if (!c.values.empty()) BOOST_TEST(c.values.back() <= final_value);
                }
                round_unknown += c.unknown;
                total_ok += c.ok;
            }
            reply_ptr allowed = cluster.command_argv(t.allowed, {"GET", t.allowed});
            BOOST_TEST_REQUIRE(allowed->type == REDIS_REPLY_STRING);
            BOOST_TEST(std::stoll(text_of(allowed.get())) >= tally[t.allowed].ok);  // repeats allowed: at least once each
        }
        BOOST_TEST(after.unknown_outcomes - before.unknown_outcomes == static_cast<std::uint64_t>(round_unknown));
        total_unknown += round_unknown;
        std::cout << "client kill mid-pipeline, round " << rounds + 1 << ": " << plan.size() << " entries in " << took
                  << " ms; " << round_unknown << " INCRs unknown_outcome; retries " << after.retries - before.retries
                  << ", round trips " << after.round_trips - before.round_trips << ", connection losses "
                  << after.connection_losses - before.connection_losses << "\n";
    }
    std::cout << "client kill mid-pipeline: " << rounds << " round(s), " << total_kills << " clients killed, "
              << total_ok << " INCRs OK, " << total_unknown << " unknown_outcome\n";
    BOOST_TEST(total_unknown >= 1, "the killer never cut a pipeline after a write: make it larger");
}

// A master is SIGKILLed while a 10,000-entry pipeline of SETs (safe to repeat) waits for its replies: with the
// default deadline every entry ends OK once its replica took over; the victim's entries went again in a handful
// of waves (one round trip per node each), not one by one.
BOOST_AUTO_TEST_CASE(master_killed_during_a_10k_pipeline_every_set_ends_ok_in_few_waves) {
    auto options = live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
    auto cluster = make_cluster(options);
    cluster.connect();
    constexpr int n = 10000;
    const std::string prefix = "delivery:pipe:";
    const std::uint16_t victim_port = live::owner_port(cluster, key_slot(prefix + "0"));
    BOOST_TEST_REQUIRE(victim_port != 0);
    BOOST_TEST_REQUIRE(live::node_pid(victim_port) > 0);

    pipeline batch;
    for (int i = 0; i < n; ++i) {
        const std::string key = prefix + std::to_string(i);
        batch.add(key, "SET %s v%d", key.c_str(), i);
    }
    const cluster_stats before = cluster.stats();
    live::revive_on_exit revive(victim_port);
    // The victim is put to sleep first, so its share of the pipeline is surely written and unanswered when
    // it is killed: every one of those entries is lost after the write (and, being a SET, re-sent).
    std::thread sleeper([&] {
        try {
            live::admin_connection admin(victim_port);
            admin.run("DEBUG SLEEP 1");
        } catch (const std::exception&) {
            // killed while asleep: expected
        }
    });
    std::this_thread::sleep_for(milliseconds(100));
    std::atomic<bool> killed{false};
    std::thread killer([&] {
        std::this_thread::sleep_for(milliseconds(200));
        killed = live::kill_node(victim_port);
    });
    const auto started = steady::now();
    std::vector<outcome> results = cluster.execute(batch);
    const auto took = ms_since(started);
    killer.join();
    sleeper.join();
    BOOST_TEST_REQUIRE(killed.load());
    const cluster_stats after = cluster.stats();

    BOOST_TEST_REQUIRE(results.size() == static_cast<std::size_t>(n));
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        const outcome& o = results[static_cast<std::size_t>(i)];
        if (o.ok() && o->type == REDIS_REPLY_STATUS && text_of(o.reply()) == "OK") {
            ++ok;
        } else if (ok + 5 > i) {  // report the first few failures only
            BOOST_TEST(false, "entry " << i << ": " << (o.failure() ? o.failure()->what() : "not OK"));
        }
    }
    BOOST_TEST(ok == n);
    const std::uint64_t retries = after.retries - before.retries;
    const std::uint64_t round_trips = after.round_trips - before.round_trips;
    std::cout << "master on port " << victim_port << " killed during a " << n << "-entry pipeline: all " << ok
              << " OK after " << took << " ms; " << retries << " entry re-sends in " << round_trips
              << " node round trips; refreshes " << after.refreshes - before.refreshes << ", CLUSTERDOWN "
              << after.clusterdown - before.clusterdown << ", connection losses "
              << after.connection_losses - before.connection_losses << "\n";
    // About a third of the entries were the victim's: re-sent in waves, each one round trip per node.
    BOOST_TEST(retries >= 2000u);
    BOOST_TEST(round_trips * 20 < retries, round_trips << " round trips for " << retries << " re-sends");

    pipeline reads;
    for (int i = 0; i < n; ++i) {
        const std::string key = prefix + std::to_string(i);
        reads.add(key, "GET %s", key.c_str());
    }
    std::vector<outcome> values = cluster.execute(reads);
    int matching = 0;
    for (int i = 0; i < n; ++i) {
        const outcome& o = values[static_cast<std::size_t>(i)];
        if (o.ok() && o->type == REDIS_REPLY_STRING && text_of(o.reply()) == "v" + std::to_string(i)) ++matching;
    }
    BOOST_TEST(matching == n);
    BOOST_TEST(live::owner_port(cluster, key_slot(prefix + "0")) != victim_port);
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

BOOST_AUTO_TEST_SUITE_END()
