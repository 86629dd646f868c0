// tests/scenarios/observability.cpp — what the observer hears on the live cluster, both drivers: a slot resharded away
// and back, CLIENT KILL, a master SIGKILLed; each checked against what the test did, in order (events.hpp).
#include "admin_connection.hpp"
#include "node_control.hpp"
#include "reshard_support.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

using namespace addrmap;

namespace observability_scenario {

/// Every event, as a line of text, kept where every copy of the observer writes.
struct event_log {
    std::vector<std::string> lines;
    std::size_t calls = 0;
    std::vector<std::string> opened_protocols;
    std::vector<std::string> opened_names;
    std::vector<std::chrono::system_clock::time_point> not_after;
    std::vector<std::string> causes;  ///< each connection_lost_event's cause, in order
};

struct recording_observer {
    std::shared_ptr<event_log> log = std::make_shared<event_log>();

    static std::string port_of(const node_address& a) { return std::to_string(a.port); }
    void operator()(const topology_changed_event& e) {
        for (const slot_move& m : e.moves)
            log->lines.push_back("move " + std::to_string(m.slots.first) + "-" + std::to_string(m.slots.last) + " " +
                                 (m.from != nullptr ? port_of(*m.from) : "none") + ">" + port_of(*m.to) + " " +
                                 to_string(e.trigger));
    }
    void operator()(const failover_event& e) {
        log->lines.push_back("failover " + port_of(e.old_master) + ">" + port_of(e.new_master));
    }
    void operator()(const connection_opened_event& e) {
        log->lines.push_back("opened " + port_of(e.node.reported));
        log->opened_protocols.push_back(e.handshake.protocol);
        for (const std::string& n : e.handshake.certificate_names) log->opened_names.push_back(n);
        for (const certificate_validity& c : e.handshake.chain) log->not_after.push_back(c.not_after);
    }
    void operator()(const connection_lost_event& e) {
        log->lines.push_back("lost " + port_of(e.node.reported));
        log->causes.emplace_back(e.cause);
    }
    void operator()(const node_down_event& e) { log->lines.push_back("down " + port_of(e.node.reported)); }
    void operator()(const redirect_event& e) {
        log->lines.push_back(std::string(e.ask ? "ask " : "moved ") + std::to_string(e.slot) + " " + port_of(e.to));
    }
    void operator()(const call_ended_event&) { ++log->calls; }
};

template <class Driver>
struct observed;
template <>
struct observed<scenario::blocking> {
    using type = scenario::blocking_with<recording_observer>;
};
template <>
struct observed<scenario::async_libevent> {
    using type = scenario::async_libevent_with<recording_observer>;
};

/// The index of the first line at or after `from` that starts with `prefix` (lines.size() if none).
std::size_t find_from(const std::vector<std::string>& lines, std::size_t from, const std::string& prefix) {
    for (std::size_t i = from; i < lines.size(); ++i)
        if (lines[i].compare(0, prefix.size(), prefix) == 0) return i;
    return lines.size();
}
/// How many lines tell a move that covers `slot` to `to_port`.
int moves_of(const std::vector<std::string>& lines, std::uint16_t slot, std::uint16_t to_port) {
    int count = 0;
    for (const std::string& l : lines) {
        unsigned first = 0, last = 0;
        char from[16] = {}, to[16] = {};
        if (std::sscanf(l.c_str(), "move %u-%u %15[^>]>%15s", &first, &last, from, to) == 4 && first <= slot &&
            slot <= last && std::to_string(to_port) == to)
            ++count;
    }
    return count;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& l : lines) out += "\n  " + l;
    return out;
}

}  // namespace observability_scenario

BOOST_AUTO_TEST_SUITE(observability)

using observability_scenario::find_from;
using observability_scenario::joined;
using observability_scenario::moves_of;

// Connect, a slot moved away and back (MOVED), every client connection of one master killed (CLIENT KILL), then that
// master SIGKILLed: the observer hears each in order, each slot move once, with the failover named.
BOOST_AUTO_TEST_CASE_TEMPLATE(events_follow_a_reshard_a_client_kill_and_a_failover, Driver, scenario::drivers) {
    using D = typename observability_scenario::observed<Driver>::type;
    observability_scenario::recording_observer observer;
    const auto log = observer.log;
    cluster_options options = live::async_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
    options.deadline = std::chrono::milliseconds(30000);
    D driver(options, observer);
    driver.connect();

    // Connected: the first view gave every slot an owner, and each connection opened says what TLS agreed on.
    std::size_t initial_slots = 0;
    for (const std::string& l : log->lines) {
        unsigned first = 0, last = 0;
        if (l.find(" initial") != std::string::npos && std::sscanf(l.c_str(), "move %u-%u", &first, &last) == 2)
            initial_slots += last - first + 1;
    }
    BOOST_TEST(initial_slots == 16384u, joined(log->lines));
    BOOST_TEST_REQUIRE(!log->opened_protocols.empty());
    BOOST_TEST(log->opened_protocols.front().compare(0, 4, "TLSv") == 0);
    const bool names_localhost =
        std::find(log->opened_names.begin(), log->opened_names.end(), "DNS:localhost") != log->opened_names.end();
    BOOST_TEST(names_localhost);
    for (const auto& t : log->not_after) BOOST_TEST((t > std::chrono::system_clock::now()));

    // 1. Reshard: one slot from master X to Y; a stale call meets MOVED; then back.
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::move_scene scene = live::move_scene_of(masters);
    const std::string key = "{" + live::tag_for_slot(scene.slot) + "}observed";
    BOOST_TEST_REQUIRE(driver.command(key, {"SET", key, "1"}).ok());
    const std::size_t before_reshard = log->lines.size();
    {
        live::slot_back_home home(scene.slot, scene.x, scene.y, scene.ports);
        live::move_slot(scene.slot, scene.x.port, scene.y.port, scene.ports, true);
        BOOST_TEST_REQUIRE(live::wait_until_slots_agree().empty());
        const outcome moved_get = driver.command(key, {"GET", key});
        BOOST_TEST(scenario::text_of(moved_get) == "1", scenario::why(moved_get));
        BOOST_TEST(moves_of(log->lines, scene.slot, scene.y.port) == 1, joined(log->lines));
        BOOST_TEST(find_from(log->lines, before_reshard, "moved " + std::to_string(scene.slot)) < log->lines.size(),
                   joined(log->lines));
        BOOST_TEST_REQUIRE(home.restore().empty());
    }
    const outcome home_get = driver.command(key, {"GET", key});
    BOOST_TEST(scenario::text_of(home_get) == "1", scenario::why(home_get));
    BOOST_TEST(moves_of(log->lines, scene.slot, scene.x.port) == 2, joined(log->lines));  // the first view, and back

    // 2. CLIENT KILL on X: the next call there finds its connection lost, then a new one opens.
    const std::size_t before_kill = log->lines.size();
    const std::size_t causes_before_kill = log->causes.size();
    {
        live::admin_connection admin(scene.x.port);
        admin.ok("CLIENT KILL TYPE normal SKIPME yes");
    }
    const outcome after_kill = driver.command(key, {"GET", key});  // GET may go again: the loss is not the caller's
    BOOST_TEST(scenario::text_of(after_kill) == "1", scenario::why(after_kill));
    const std::string x = std::to_string(scene.x.port);
    const std::size_t lost_at = find_from(log->lines, before_kill, "lost " + x);
    BOOST_TEST(lost_at < log->lines.size(), joined(log->lines));
    BOOST_TEST_REQUIRE(log->causes.size() > causes_before_kill);  // each loss says why
    BOOST_TEST(!log->causes[causes_before_kill].empty());
    BOOST_TEST(find_from(log->lines, lost_at, "opened " + x) < log->lines.size(), joined(log->lines));

    // 3. SIGKILL X: one call rides the failover; the observer hears the loss, then the failover and the move of X's
    // slots to its replica, once each.
    const std::size_t before_failover = log->lines.size();
    live::revive_on_exit revive(scene.x.port);
    BOOST_TEST_REQUIRE(live::kill_node(scene.x.port));
    const outcome during = driver.command(key, {"SET", key, "2"});
    BOOST_TEST_REQUIRE(during.ok(), scenario::why(during));
    const std::uint16_t new_owner = live::owner_port(driver, scene.slot);
    BOOST_TEST_REQUIRE(new_owner != scene.x.port);
    const std::vector<std::string> tail(log->lines.begin() + static_cast<std::ptrdiff_t>(before_failover), log->lines.end());
    const std::size_t failover_at = find_from(tail, 0, "failover " + x + ">" + std::to_string(new_owner));
    BOOST_TEST(failover_at < tail.size(), joined(tail));
    BOOST_TEST(find_from(tail, 0, "lost " + x) < failover_at, joined(tail));  // the loss came first
    BOOST_TEST(moves_of(tail, scene.slot, new_owner) == 1, joined(tail));
    BOOST_TEST(log->calls >= 5u);
    std::cout << Driver::name << ": " << log->lines.size() << " events; the failover's:" << joined(tail) << "\n";
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

BOOST_AUTO_TEST_SUITE_END()
