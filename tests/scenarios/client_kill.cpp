// tests/scenarios/client_kill.cpp — the servers close the client's connections (CLIENT KILL), both drivers: idle ones
// are replaced before a command is lost on them; mid-stream, no INCR runs twice and safe commands are sent again.
#include "admin_connection.hpp"
#include "own_sockets.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace addrmap;

namespace {

using steady = std::chrono::steady_clock;

using scenario::has;
using scenario::text_of;

/// CLIENT KILL TYPE normal SKIPME yes on the node: every client connection but the admin's own; how many.
long long kill_clients(live::admin_connection& admin) {
    auto reply = admin.ok("CLIENT KILL TYPE normal SKIPME yes");
    return reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

/// One key per master, on the first slot it serves: port and "{tag}suffix".
template <class Driver>
std::vector<std::pair<std::uint16_t, std::string>> key_per_master(const Driver& driver, const std::string& suffix) {
    std::vector<std::pair<std::uint16_t, std::string>> out;
    for (const node_info& master : live::masters(driver))
        out.emplace_back(master.reported.port,
                         "{" + live::tag_for_slot(static_cast<std::uint16_t>(master.slots.front().first)) + "}" + suffix);
    return out;
}

/// Kills every client connection on the given nodes at random short intervals, at most `bursts` times, then stops by
/// itself: an endless loop could cut every resend on a slow machine and starve the calls to their deadline. The bursts
/// start once `armed_by` (a counter on the first port's node) is above 0 — the stream has begun to run there — or
/// after 20 s: fired at once on a slow machine, they could all land before anything was written.
class client_killer {
public:
    client_killer(const std::vector<std::uint16_t>& ports, int bursts, std::string armed_by) {
        for (std::uint16_t port : ports) admins_.push_back(std::make_unique<live::admin_connection>(port));
        watcher_ = std::make_unique<live::admin_connection>(ports.front());
        thread_ = std::thread([this, bursts, armed_by] {
            try {
                const auto give_up = steady::now() + std::chrono::seconds(20);
                while (!stop_ && steady::now() < give_up) {
                    auto value = watcher_->run("GET %b", armed_by.data(), armed_by.size());
                    if (value && value->type == REDIS_REPLY_STRING && std::string(value->str, value->len) != "0") break;
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a condition, not a race
                }
                std::mt19937 random(12345);
                std::uniform_int_distribution<int> pause_us(1000, 12000);
                for (int burst = 0; burst < bursts && !stop_; ++burst) {
                    if (burst > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));
                    for (auto& admin : admins_) {
                        const long long n = kill_clients(*admin);
                        if (n > 0) kills_ += n;
                    }
                }
            } catch (const std::exception& e) {
                failure_ = std::string("the killer thread failed: ") + e.what();
            } catch (...) {
                failure_ = "the killer thread failed";
            }
        });
    }
    client_killer(const client_killer&) = delete;
    client_killer& operator=(const client_killer&) = delete;
    ~client_killer() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    long long kills() const { return kills_; }
    /// After stop(): "" or why the thread ended early.
    const std::string& failure() const { return failure_; }

private:
    std::vector<std::unique_ptr<live::admin_connection>> admins_;
    std::unique_ptr<live::admin_connection> watcher_;
    std::atomic<bool> stop_{false};
    std::atomic<long long> kills_{0};
    std::string failure_;  // written by the thread, read after join
    std::thread thread_;  // last: starts once the members it uses exist
};

/// The id of a client the node on `admin`'s port holds (flags contain `b`: CLIENT PAUSE WRITE postpones each write it
/// receives, so its INCR was written but has not run), other than `own_id`; 0 if none is held.
long long held_client(live::admin_connection& admin, long long own_id) {
    auto list = admin.ok("CLIENT LIST TYPE normal");
    const std::string text(list->str, list->len);
    std::size_t line_start = 0;
    while (line_start < text.size()) {
        std::size_t line_end = text.find('\n', line_start);
        if (line_end == std::string::npos) line_end = text.size();
        const std::string line = " " + text.substr(line_start, line_end - line_start);
        line_start = line_end + 1;
        const std::size_t id_at = line.find(" id="), flags_at = line.find(" flags=");
        if (id_at == std::string::npos || flags_at == std::string::npos) continue;
        const long long id = std::stoll(line.substr(id_at + 4));
        const std::size_t flags_end = line.find(' ', flags_at + 7);
        const std::string flags = line.substr(flags_at + 7, flags_end == std::string::npos ? std::string::npos
                                                                                          : flags_end - flags_at - 7);
        if (id != own_id && flags.find('b') != std::string::npos) return id;
    }
    return 0;
}

/// Makes one INCR end unknown_outcome for certain, with no luck needed: CLIENT PAUSE WRITE on the node (sent from the
/// constructor, before the stream starts), so that the first write the driver sends there is held after being
/// written; a thread polls CLIENT LIST (bounded, 10 s) for the held client, kills exactly that one (CLIENT KILL ID),
/// and always unpauses the node, also when something failed (the pause also expires by itself after 10 s). The
/// admin connection sends only CLIENT commands, which a WRITE pause never holds.
class held_write_killer {
public:
    explicit held_write_killer(std::uint16_t port) : admin_(port) {
        const auto id = admin_.ok("CLIENT ID");
        own_id_ = id->integer;
        admin_.ok("CLIENT PAUSE 10000 WRITE");
        try {
            thread_ = std::thread([this] {
                try {
                    const auto give_up = steady::now() + std::chrono::seconds(10);
                    long long held = 0;
                    while (held == 0 && steady::now() < give_up) {
                        held = held_client(admin_, own_id_);
                        if (held == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a condition
                    }
                    if (held == 0) {
                        failure_ = "no client was held by the pause within 10 s";
                    } else {
                        auto killed = admin_.run("CLIENT KILL ID %lld", held);
                        if (killed->type == REDIS_REPLY_INTEGER && killed->integer == 1)
                            landed_ = true;
                        else
                            failure_ = "CLIENT KILL ID " + std::to_string(held) + " did not kill it";
                    }
                } catch (const std::exception& e) {
                    failure_ = std::string("the pause killer failed: ") + e.what();
                } catch (...) {
                    failure_ = "the pause killer failed";
                }
                unpause();
            });
        } catch (...) {
            unpause();
            throw;
        }
    }
    held_write_killer(const held_write_killer&) = delete;
    held_write_killer& operator=(const held_write_killer&) = delete;
    ~held_write_killer() { stop(); }
    void stop() {
        if (thread_.joinable()) thread_.join();
    }
    /// After stop(): the held client was killed.
    bool landed() const { return landed_; }
    /// After stop(): "" or what went wrong.
    const std::string& failure() const { return failure_; }

private:
    void unpause() noexcept {
        try {
            auto reply = admin_.run("CLIENT UNPAUSE");
            if (reply->type == REDIS_REPLY_ERROR && failure_.empty()) failure_ = "CLIENT UNPAUSE: " + std::string(reply->str);
        } catch (const std::exception& e) {
            if (failure_.empty()) failure_ = std::string("CLIENT UNPAUSE failed: ") + e.what();
        } catch (...) {
        }
    }

    live::admin_connection admin_;
    long long own_id_ = 0;
    bool landed_ = false;   // written by the thread, read after join
    std::string failure_;  // written by the thread, read after join
    std::thread thread_;
};

struct counter_tally {
    long long ok = 0, unknown = 0, did_not_run = 0;
    std::vector<long long> values;  // OK replies, in the order the commands were given
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client_kill)

// The servers close the driver's idle connections (CLIENT KILL here; an idle `timeout` or a failover alike), and the
// close has reached the client's sockets: the next command on each runs exactly once, with no error and no
// unknown_outcome. The blocking driver finds each closed by a poll before writing (stale_reconnects); the async one
// reads the close on its loop before the command is written, as a lost idle connection (connection_losses).
BOOST_AUTO_TEST_CASE_TEMPLATE(idle_connections_killed_by_the_server_are_replaced_before_writing, Driver,
                              scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const auto keys = key_per_master(driver, "stale-counter");
    BOOST_TEST_REQUIRE(keys.size() == 3u);
    std::vector<std::uint16_t> ports;
    for (const auto& [port, key] : keys) {
        const outcome del = driver.command(key, {"DEL", key});  // a connection to every master
        BOOST_TEST_REQUIRE(del.ok(), scenario::why(del));
        ports.push_back(port);
    }
    std::vector<std::unique_ptr<live::admin_connection>> admins;
    for (std::uint16_t port : ports) admins.push_back(std::make_unique<live::admin_connection>(port));
    for (auto& admin : admins) BOOST_TEST_REQUIRE(kill_clients(*admin) >= 1);  // the driver's connection was there
    BOOST_TEST_REQUIRE(live::wait_until_closed_by_servers(ports, 1), "the servers' close did not reach the client");

    const cluster_stats before = driver.stats();
    for (const auto& [port, key] : keys) {
        BOOST_TEST_CONTEXT("INCR " << key << " on port " << port) {
            const outcome incr = driver.command(key, {"INCR", key});
            BOOST_TEST_REQUIRE(incr.ok(), scenario::why(incr));
            BOOST_TEST_REQUIRE(incr->type == REDIS_REPLY_INTEGER);
            BOOST_TEST(incr->integer == 1);
        }
    }
    const cluster_stats after = driver.stats();
    std::cout << Driver::name << " stale idle connections: stale reconnects " << after.stale_reconnects - before.stale_reconnects
              << ", connection losses " << after.connection_losses - before.connection_losses << ", unknown outcomes "
              << after.unknown_outcomes - before.unknown_outcomes << ", retries " << after.retries - before.retries << "\n";
    BOOST_TEST(after.unknown_outcomes == before.unknown_outcomes);  // none was lost after being written
    if constexpr (std::is_same_v<Driver, scenario::blocking>) {
        // Each closed connection found by the poll before the INCR was handed to it: each INCR sent once.
        BOOST_TEST(after.stale_reconnects - before.stale_reconnects >= 3u);
        BOOST_TEST(after.retries == before.retries);
    } else {
        // No poll: the loop reads each close as a lost idle connection. The first INCR may be handed to its closed
        // connection before the loop ran; the loop reads that close before writing it, and it is sent again (one
        // retry, never written twice: its counter is 1 below). All three closes were waiting when the loop first ran,
        // so they are all read then: no later INCR meets a closed connection.
        BOOST_TEST(after.connection_losses - before.connection_losses >= 3u);
        BOOST_TEST(after.retries - before.retries <= 1u);
    }
    for (const auto& [port, key] : keys) {
        const outcome get = driver.command(key, {"GET", key});
        BOOST_TEST(text_of(get) == "1", key << " ran " << scenario::why(get) << " times");
    }
}

// A stream of INCRs, GETs and INCRs the caller allows to repeat (the blocking driver's pipeline, the async driver's
// calls all at once), while another thread kills every client connection on two masters in a bounded number of
// bursts. Each INCR ends with its reply, unknown_outcome, or (if never written before the deadline) a timeout saying it
// did not run; the counters prove no INCR ran twice. Every GET and every allowed INCR ends OK: sent again when lost.
BOOST_AUTO_TEST_CASE_TEMPLATE(client_kill_mid_stream_never_runs_an_incr_twice, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const auto per_master = key_per_master(driver, "");
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
    // Round 0 kills, on the first target, the connection a CLIENT PAUSE WRITE holds after its INCR was written: an
    // unknown_outcome for certain. The rounds after it kill every connection on both targets in random bursts.
    constexpr int rounds = 2;
    // The stream's own deadline, well above what it takes on a busy machine (the fixture options' 15 s would not be).
    call_options stream;
    stream.deadline = std::chrono::milliseconds(60000);
    long long total_unknown = 0, total_ok = 0, total_kills = 0;
    for (int round = 0; round < rounds; ++round) {
        for (const auto& t : targets) {
            BOOST_TEST_REQUIRE(driver.command(t.value, {"SET", t.value, "steady"}).ok());
            for (const std::string& k : {t.counters[0], t.counters[1], t.allowed})
                BOOST_TEST_REQUIRE(driver.command(k, {"DEL", k}).ok());
        }
        enum class what { counter, allowed, value };
        std::vector<what> kinds;
        std::vector<std::vector<std::string>> commands;
        std::vector<repeat> repeats;
        for (int i = 0; i < entries_per_round; ++i) {
            const slot_keys& t = targets[static_cast<std::size_t>(i) % targets.size()];
            switch ((i / 2) % 4) {
                case 0: kinds.push_back(what::counter), commands.push_back({"INCR", t.counters[0]}); break;
                case 1: kinds.push_back(what::value), commands.push_back({"GET", t.value}); break;
                case 2: kinds.push_back(what::counter), commands.push_back({"INCR", t.counters[1]}); break;
                default: kinds.push_back(what::allowed), commands.push_back({"INCR", t.allowed}); break;
            }
            repeats.push_back(kinds.back() == what::allowed ? repeat::allowed : repeat::by_table);
        }
        const cluster_stats before = driver.stats();
        std::vector<outcome> results;
        if (round == 0) {
            held_write_killer killer(targets[0].port);
            results = driver.all(commands, stream, repeats);
            killer.stop();
            BOOST_TEST(killer.failure() == "");
            BOOST_TEST_REQUIRE(killer.landed(), "the client held by CLIENT PAUSE WRITE was not killed");
            ++total_kills;
        } else {
            client_killer killer({targets[0].port, targets[1].port}, kill_bursts_per_round, targets[0].counters[0]);
            results = driver.all(commands, stream, repeats);
            killer.stop();
            BOOST_TEST(killer.failure() == "");
            total_kills += killer.kills();
        }
        BOOST_TEST_REQUIRE(results.size() == commands.size());

        std::map<std::string, counter_tally> tally;
        for (std::size_t i = 0; i < commands.size(); ++i) {
            const std::string& key = commands[i][1];
            const outcome& o = results[i];
            BOOST_TEST_CONTEXT("entry " << i << " (" << commands[i][0] << " " << key << ")") {
                if (kinds[i] != what::counter) {
                    // Safe to repeat (by the table, or allowed by the caller): sent again until it got its reply.
                    BOOST_TEST_REQUIRE(o.ok(), scenario::why(o));
                    if (kinds[i] == what::value) {
                        BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_STRING);
                        BOOST_TEST(text_of(o) == "steady");
                    } else {
                        BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_INTEGER);
                        ++tally[key].ok;
                    }
                    continue;
                }
                counter_tally& t = tally[key];
                if (o.ok()) {
                    BOOST_TEST_REQUIRE(o->type == REDIS_REPLY_INTEGER);
                    ++t.ok;
                    t.values.push_back(o->integer);
                } else if (o.failure()->kind() == error_kind::unknown_outcome) {
                    ++t.unknown;
                    BOOST_TEST(has(o.failure()->what(), "may or may not have run"), o.failure()->what());
                } else {
                    // The only other ending: the deadline passed before it was written.
                    BOOST_TEST_REQUIRE((o.failure()->kind() == error_kind::timeout), o.failure()->what());
                    BOOST_TEST(has(o.failure()->what(), "(it did not run)"), o.failure()->what());
                    ++t.did_not_run;
                }
            }
        }
        const cluster_stats after = driver.stats();
        long long round_unknown = 0;
        for (const auto& t : targets) {
            for (const std::string& key : {t.counters[0], t.counters[1]}) {
                const counter_tally& c = tally[key];
                const outcome get = driver.command(key, {"GET", key});
                BOOST_TEST_REQUIRE(get.ok(), scenario::why(get));
                const long long final_value = get->type == REDIS_REPLY_STRING ? std::stoll(text_of(get)) : 0;
                BOOST_TEST_CONTEXT("counter " << key << ": final " << final_value << ", " << c.ok << " OK, " << c.unknown
                                              << " unknown_outcome, " << c.did_not_run << " did not run") {
                    // Every OK ran once; each unknown_outcome ran at most once; nothing else ran.
                    BOOST_TEST(final_value >= c.ok);
                    BOOST_TEST(final_value <= c.ok + c.unknown);
                    // OK replies are distinct executions, in the order given: strictly increasing.
                    for (std::size_t i = 1; i < c.values.size(); ++i)
                        BOOST_TEST_REQUIRE(c.values[i - 1] < c.values[i], "OK replies out of order at #" << i);
                    if (!c.values.empty()) BOOST_TEST(c.values.back() <= final_value);
                }
                round_unknown += c.unknown;
                total_ok += c.ok;
            }
            const outcome allowed = driver.command(t.allowed, {"GET", t.allowed});
            BOOST_TEST_REQUIRE(allowed.ok(), scenario::why(allowed));
            BOOST_TEST_REQUIRE(allowed->type == REDIS_REPLY_STRING);
            BOOST_TEST(std::stoll(text_of(allowed)) >= tally[t.allowed].ok);  // repeats allowed: at least once each
        }
        BOOST_TEST(after.unknown_outcomes - before.unknown_outcomes == static_cast<std::uint64_t>(round_unknown));
        total_unknown += round_unknown;
        if (round == 0)  // the held INCR was written, then its connection killed: nobody can know whether it ran
            BOOST_TEST(round_unknown >= 1, "the INCR held by the pause and killed did not end unknown_outcome");
        std::cout << Driver::name << " client kill mid-stream, round " << round + 1 << ": " << commands.size()
                  << " commands; " << round_unknown << " INCRs unknown_outcome; retries " << after.retries - before.retries
                  << ", connection losses " << after.connection_losses - before.connection_losses << "\n";
    }
    std::cout << Driver::name << " client kill mid-stream: " << rounds << " round(s), " << total_kills << " clients killed, "
              << total_ok << " INCRs OK, " << total_unknown << " unknown_outcome\n";
    BOOST_TEST(total_unknown >= 1, "no INCR ended unknown_outcome, not even the one held by the pause and killed");
}

BOOST_AUTO_TEST_SUITE_END()
