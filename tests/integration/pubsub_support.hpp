// tests/integration/pubsub_support.hpp — what the blocking and async subscriber tests share: shard channels on chosen
// slots and masters, raw pub/sub frames for hostile_node, the numbered publisher's log and the check that every message
// published and not received lies inside a gap.
#pragma once

#include "cluster_test_support.hpp"
#include "hostile_node.hpp"
#include "node_control.hpp"
#include "reshard_support.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace live {

/// A shard channel whose slot is `slot`.
inline std::string channel_on(std::uint16_t slot, const std::string& name) { return name + "{" + tag_for_slot(slot) + "}"; }

/// `n` shard channels served by the master `m`, spread over its slots.
inline std::vector<std::string> channels_of(const addrmap::node_info& m, std::size_t n, const std::string& name) {
    std::vector<std::uint16_t> slots;
    for (const addrmap::slot_range& r : m.slots)
        for (int s = r.first; s <= r.last; ++s) slots.push_back(static_cast<std::uint16_t>(s));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(channel_on(slots[(slots.size() / n) * i + 1], name + std::to_string(i)));
    return out;
}

/// Checks that each of a subscriber's connections (`on`, as connected_nodes() reports them) goes to a replica of the
/// fixture; returns the port of the one replica of the master on `master_port` (0 when it has not exactly one).
inline std::uint16_t check_on_replicas(const std::vector<addrmap::node_address>& on, std::uint16_t master_port) {
    const std::map<std::uint16_t, std::vector<std::uint16_t>> layout = replicas_by_master();
    std::set<std::uint16_t> replicas;
    for (const auto& [master, ports] : layout) replicas.insert(ports.begin(), ports.end());
    for (const addrmap::node_address& n : on) BOOST_TEST(replicas.count(n.port) == 1u, n.port << " is not a replica");
    const auto it = layout.find(master_port);
    return it != layout.end() && it->second.size() == 1u ? it->second.front() : 0;
}

inline std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
/// A RESP2 array of bulk strings, with an integer after them when `count` is given (a confirmation's count).
inline std::string frame(const std::vector<std::string>& parts, const std::string& count = "") {
    std::string out = "*" + std::to_string(parts.size() + (count.empty() ? 0 : 1)) + "\r\n";
    for (const std::string& p : parts) out += bulk(p);
    if (!count.empty()) out += ":" + count + "\r\n";
    return out;
}

/// Hostile answers to SSUBSCRIBE of "news": the confirmation, a good message ("before"), `bad`, then "after" (which
/// must never be delivered: the connection is dropped at `bad`).
struct hostile_frame_case {
    const char* what;
    std::string bad;
    const char* must_mention;
};
inline std::vector<hostile_frame_case> hostile_frame_cases() {
    return {
        {"a message for a channel not subscribed", frame({"smessage", "other", "x"}), "not asked for"},
        {"a frame of the wrong arity", "*2\r\n" + bulk("smessage") + bulk("news"), "elements"},
        {"a frame of unknown kind", frame({"shout", "news", "x"}), "unknown kind"},
        {"a classic message on a shard channel's connection", frame({"message", "news", "x"}), "not asked for"},
        // Refused before hiredis builds them: a nested array, and an array whose elements would each be built (its
        // unread bytes stay few, so no frame-size bound sees it).
        {"a nested array", "*3\r\n" + bulk("smessage") + bulk("news") + "*1\r\n" + bulk("x"), "nested"},
        {"an array of 20 million elements", "*20000000\r\n:1\r\n:1\r\n", "more than 4 elements"},
        // Its bulk string never ends: the reader would keep every byte; past hostile_max_frame_bytes it is dropped.
        {"a message longer than the subscriber takes",
         "*3\r\n" + bulk("smessage") + bulk("news") + "$4000000\r\n" + std::string(1600000, 'x'), "longer than the subscriber takes"},
        // Each element under the bound, the frame over it: hiredis builds each element and moves past it.
        {"a frame whose elements together pass the bound",
         "*4\r\n" + bulk("pmessage") + bulk(std::string(400000, 'a')) + bulk(std::string(400000, 'b')) + "$400000\r\n" +
             std::string(300000, 'c'),
         "longer than the subscriber takes"},
        // A line that never ends: hiredis would look for its end through all of it on every read.
        {"a line without an end", "+" + std::string(300000, 'x'), "a line no reply has"},
        // A bare LF ends no line for hiredis; nor does it end a bulk string's length.
        {"a line ended by a bare LF", "+\n" + std::string(300000, 'x'), "a line no reply has"},
        {"a bulk length ended by a bare LF", "*3\r\n" + bulk("smessage") + bulk("news") + "$5\n" + std::string(300000, 'x'),
         "a line no reply has"},
    };
}
/// A port on 127.0.0.1 that refuses every connection while this lives: bound (no one else takes it), never listening.
struct refusing_port {
    refusing_port() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        BOOST_REQUIRE(fd >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port = ntohs(address.sin_port);
    }
    ~refusing_port() { ::close(fd); }
    refusing_port(const refusing_port&) = delete;
    refusing_port& operator=(const refusing_port&) = delete;
    int fd = -1;
    std::uint16_t port = 0;
};
/// A map of two masters, the first (by which classic subscriptions go first) at `dead`, the second `node` itself.
inline std::string map_with_a_dead_first_master(const hostile_node& node, const refusing_port& dead) {
    return hostile_node::shards_reply({{0, 8191, node.ip(), dead.port}, {8192, 16383, node.ip(), node.port()}});
}

/// cluster_options::subscriber_max_frame_bytes in the hostile-frame tests: the long message above passes it.
inline constexpr std::size_t hostile_max_frame_bytes = std::size_t{1} << 20;
/// What a subscriber reported from a node answering with `c`'s frames (hostile_subscribe_reply): nothing after the bad
/// frame delivered, every gap naming what was wrong, the node and the drop, and the message before it delivered.
inline void check_hostile_frame_log(const std::vector<addrmap::pubsub_event>& log, const hostile_frame_case& c,
                                    const std::string& node_address) {
    std::size_t messages = 0;
    for (const addrmap::pubsub_event& e : log) {
        BOOST_TEST(e.payload != "after", "a message after the refused frame was delivered");
        if (e.what == addrmap::pubsub_event::kind::message) ++messages;
        if (e.what != addrmap::pubsub_event::kind::gap) continue;
        BOOST_TEST(e.cause.find(c.must_mention) != std::string::npos, e.cause);
        BOOST_TEST(e.cause.find(node_address) != std::string::npos, e.cause);
        BOOST_TEST(e.cause.find("dropped") != std::string::npos, e.cause);
    }
    BOOST_TEST(messages >= 1u);  // "before" came while the connection was sound
}
inline std::string hostile_subscribe_reply(const hostile_frame_case& c) {
    return frame({"ssubscribe", "news"}, "1") + frame({"smessage", "news", "before"}) + c.bad + frame({"smessage", "news", "after"});
}

/// One SPUBLISH of a numbered publisher: when it was sent, when its answer came, and what the answer was.
struct published {
    int number;
    std::chrono::steady_clock::time_point sent, answered;
    enum class result { delivered, no_subscriber, failed, unknown } outcome;
};

/// The figures of a ride, and its defects (empty: none).
struct ride_check {
    std::size_t sent = 0, received = 0, missed = 0, gaps = 0;
    std::vector<std::string> defects;
};
/// Checks a channel's received numbers (in order, none twice) and that every message published with an answer and not
/// received was published inside one of `gaps` ([start, end] meets [sent, answered]).
inline void check_channel(const std::string& channel, const std::vector<int>& numbers, const std::vector<published>& sent,
                          const std::vector<std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>>& gaps,
                          ride_check& out) {
    out.gaps += gaps.size();
    out.received += numbers.size();
    if (!std::is_sorted(numbers.begin(), numbers.end())) out.defects.push_back(channel + ": received out of order");
    if (std::adjacent_find(numbers.begin(), numbers.end()) != numbers.end()) out.defects.push_back(channel + ": a message came twice");
    const std::set<int> got(numbers.begin(), numbers.end());
    for (const published& p : sent) {
        ++out.sent;
        if (got.count(p.number) != 0 || p.outcome == published::result::failed || p.outcome == published::result::unknown)
            continue;
        ++out.missed;
        const bool covered = std::any_of(gaps.begin(), gaps.end(), [&](const auto& g) {
            return g.first <= p.answered && g.second >= p.sent;
        });
        if (!covered)
            out.defects.push_back(channel + ": message " + std::to_string(p.number) + " (" +
                                  (p.outcome == published::result::delivered ? "delivered" : "no subscriber") + ") is in no gap");
    }
}

/// Publishes a numbered message on every channel, one round every 20 ms, until `stop` (a blocking cluster of its own,
/// a 1 s deadline per SPUBLISH); each SPUBLISH's log goes to `sent` under `m`. `as_keys`: instead of SPUBLISH, SETs
/// the key `<channel>:<number>` (with a TTL), whose keyspace event carries the number in its channel.
inline void publish_numbered(const std::vector<std::string>& channels, const std::atomic<bool>& stop, std::mutex& m,
                             std::map<std::string, std::vector<published>>& sent, bool as_keys = false) {
    addrmap::ip_to_hostname_cluster publisher(cluster_options({seed_by_name(), seed_by_name(1), seed_by_name(2)}),
                                              addrmap::ip_to_hostname("localhost"));
    addrmap::call_options call;
    call.deadline = std::chrono::milliseconds(1000);
    for (int number = 0; !stop; ++number) {
        const auto round_start = std::chrono::steady_clock::now();
        for (const std::string& c : channels) {
            published p{number, std::chrono::steady_clock::now(), {}, published::result::failed};
            try {
                const addrmap::reply_ptr r = as_keys ? publisher.command(call, c, "SET %s:%d 1 EX 600", c.c_str(), number)
                                                     : publisher.command(call, c, "SPUBLISH %s %d", c.c_str(), number);
                p.outcome = as_keys ? (r->type == REDIS_REPLY_STATUS ? published::result::delivered : published::result::failed)
                            : r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? published::result::delivered
                            : r->type == REDIS_REPLY_INTEGER                 ? published::result::no_subscriber
                                                                             : published::result::failed;
            } catch (const addrmap::error& e) {
                p.outcome = e.kind() == addrmap::error_kind::unknown_outcome || e.kind() == addrmap::error_kind::timeout
                                ? published::result::unknown
                                : published::result::failed;
            }
            p.answered = std::chrono::steady_clock::now();
            const std::lock_guard<std::mutex> lock(m);
            sent[c].push_back(p);
        }
        std::this_thread::sleep_until(round_start + std::chrono::milliseconds(20));
    }
}

/// The ride's scene, run on a thread of its own: `moving` slots from X to Y and back (14 ms per slot: no writer here
/// needs the full ASK window, and the ~20 s the issue asks for fit), then the master on `victim_port` SIGKILLed and
/// its slot of `victims_channel` taken over, then 2 s more. "" or what went wrong.
inline std::string ride_scene(const std::vector<std::uint16_t>& moving, const move_scene& scene, std::uint16_t victim_port,
                              const std::string& victims_channel) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    std::atomic<bool> failed{false};
    std::string why;
    const std::chrono::milliseconds ask_window(10), settle(4);
    migrate_slots(moving, scene.x, scene.y, scene.ports, failed, why, ask_window, settle);
    if (!failed) migrate_slots(moving, scene.y, scene.x, scene.ports, failed, why, ask_window, settle);
    if (failed) return "moving the slots failed: " + why;
    if (!kill_node(victim_port)) return "could not kill the master on :" + std::to_string(victim_port);
    if (!wait_until_taken_over(victim_port, addrmap::key_slot(victims_channel)))
        return "no replica took over from :" + std::to_string(victim_port);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // publishing goes on on the new master
    return "";
}

/// The ride's channels: 10 in the 500 slots that move (from the first master's first slot on), 10 on the second
/// master, 10 on the third (the one killed).
struct ride_plan {
    std::vector<std::uint16_t> moving;
    std::vector<std::string> channels;
    move_scene scene;
    std::uint16_t victim_port = 0;
};
template <class Masters>
ride_plan plan_ride(const Masters& masters) {
    ride_plan plan;
    plan.scene = move_scene_of(masters);
    plan.victim_port = masters[2].reported.port;
    for (int s = masters[0].slots.front().first; plan.moving.size() < 500; ++s) plan.moving.push_back(static_cast<std::uint16_t>(s));
    for (std::size_t i = 0; i < 10; ++i) plan.channels.push_back(channel_on(plan.moving[i * 50 + 7], "ride-moved-" + std::to_string(i)));
    for (const std::string& c : channels_of(masters[1], 10, "ride-target-")) plan.channels.push_back(c);
    for (const std::string& c : channels_of(masters[2], 10, "ride-killed-")) plan.channels.push_back(c);
    return plan;
}

/// The keyspace events of numbered keys (publish_numbered's `as_keys`) on each channel: the numbers in the order
/// received, and every gap of the pattern on every master (a master's gap covers its keys; any covers them all here).
inline ride_check check_keyspace_ride(const std::vector<std::string>& channels, const std::vector<addrmap::pubsub_event>& log,
                                      std::map<std::string, std::vector<published>>& sent) {
    ride_check out;
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>> gaps;
    for (const addrmap::pubsub_event& e : log)
        if (e.family == addrmap::pubsub_family::master_pattern && e.what == addrmap::pubsub_event::kind::gap)
            gaps.emplace_back(e.start, e.end);
    for (const std::string& c : channels) {
        const std::string prefix = "__keyspace@0__:" + c + ":";
        std::vector<int> numbers;
        for (const addrmap::pubsub_event& e : log)
            if (e.what == addrmap::pubsub_event::kind::message && e.family == addrmap::pubsub_family::master_pattern &&
                e.channel.compare(0, prefix.size(), prefix) == 0 && e.channel.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
                numbers.push_back(std::stoi(e.channel.substr(prefix.size())));
        check_channel(c, numbers, sent[c], gaps, out);
    }
    out.gaps = gaps.size();  // counted once, not once per channel
    return out;
}

/// Checks every channel of a ride from the events received (messages other than "last", and gaps).
inline ride_check check_ride(const std::vector<std::string>& channels, const std::vector<addrmap::pubsub_event>& log,
                             std::map<std::string, std::vector<published>>& sent) {
    ride_check out;
    for (const std::string& c : channels) {
        std::vector<int> numbers;
        std::vector<std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>> gaps;
        for (const addrmap::pubsub_event& e : log) {
            if (e.channel != c) continue;
            if (e.what == addrmap::pubsub_event::kind::message && e.payload != "last") numbers.push_back(std::stoi(e.payload));
            if (e.what == addrmap::pubsub_event::kind::gap) gaps.emplace_back(e.start, e.end);
        }
        check_channel(c, numbers, sent[c], gaps, out);
    }
    return out;
}

}  // namespace live
