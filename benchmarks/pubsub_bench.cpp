// benchmarks/pubsub_bench.cpp — pub/sub delivery rate to ONE subscriber over verified TLS, on one shard channel of a
// live cluster: addrmap's basic_subscriber<Policy> (ssubscribe, a loop on next()) against raw hiredis in the same run on
// the same node (a TLS redisContext from connect_tls over the same tls_context, SSUBSCRIBE, a loop on redisGetReply).
// Both are fed by the same publisher: a thread of its own with its own TLS connection to the channel's owner, pipelining
// SPUBLISH in batches, then one "end" message. The subscriber's clock runs from the first message to "end". Measured,
// not asserted. Prints one JSON line: each side's messages/s (over the run, and round by round), the subscriber
// thread's CPU (and its kernel share) and heap allocations per message, the publisher's own rate (about the subscriber's: the subscriber was
// not the slower side), and the ratio addrmap / raw.
//
// The server can set the pace: Redis 7.0 also sends every SPUBLISH to the shard's replicas over the cluster bus (a
// message of about 2 KB each), and a master whose link to a replica falls behind slows down until that link is
// dropped and made again; rounds then alternate between fast and slow whatever the client. CPU per message is the
// client's own figure.
//
// usage: pubsub_bench --seed HOST:PORT --cacert FILE
//                     [--policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env]
//                     [--hostname NAME] [--node HOST:PORT] [--channel NAME] [--messages N] [--batch B]
//                     [--payload-bytes P] [--rounds R] [--window W]
//   --node       the master (as the cluster reports it) whose shard channel is used; default: the first in slot order
//   --channel    the shard channel (its slot's owner is the node); default: the first "bench:ps:<i>" owned by the node
//   --messages   messages per side (default 200000), spread over --rounds R rounds (default 8; the two sides take
//                turns, alternating who goes first); --batch: SPUBLISH commands per write (default 256);
//                --payload-bytes: each message's size (default 16)
//   --window     the publisher waits while it is more than W messages ahead of the subscriber (default 65536), so the
//                server's output buffer for the subscriber stays far below Redis's pubsub limit (32 MB hard, 8 MB for
//                60 s); "publisher_waits" says how often it waited (the subscriber was the slower side)
//   --side       addrmap or raw: measure that side alone (to profile it); default both
// Exit status: 0 with the results; 1 with {"bench": "pubsub", ..., "error": "..."}; 2 for a usage error.
#include <addrmap/addrmap.hpp>

#include <hiredis/hiredis.h>

#include "bench_common.hpp"
#include "counting_new.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using addrmap_bench::json_line;
using clock_type = std::chrono::steady_clock;

// ---- options ------------------------------------------------------------------------------------------

struct cli_options : addrmap_bench::connection_flags {
    std::string node;     // reported HOST:PORT of the master; empty: the owner of --channel, or the first in slot order
    std::string channel;  // empty: the first "bench:ps:<i>" owned by the node
    std::string side = "both";  // addrmap or raw: that side alone (to profile one side)
    std::size_t messages = 200000;
    std::size_t batch = 256;
    std::size_t payload_bytes = 16;
    std::size_t rounds = 8;
    std::size_t window = 65536;
};

constexpr const char* usage_text =
    "usage: pubsub_bench --seed HOST:PORT --cacert FILE\n"
    "                    [--policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env]\n"
    "                    [--hostname NAME] [--node HOST:PORT] [--channel NAME] [--messages N] [--batch B]\n"
    "                    [--payload-bytes P] [--rounds R] [--window W] [--side both|addrmap|raw]\n"
    "  --messages: per side (default 200000), over R rounds (default 8); --batch: SPUBLISH per write (default 256);\n"
    "  --payload-bytes: default 16; --window: the publisher's lead over the subscriber, at most (default 65536)\n";

/// How often the subscriber tells the publisher how far it got (messages).
constexpr std::size_t progress_every = 256;

cli_options parse_cli(int argc, char** argv) {
    cli_options o;
    addrmap_bench::parse_flags(argc, argv, o, {{"--node", o.node}, {"--channel", o.channel},
                                               {"--messages", o.messages}, {"--batch", o.batch},
                                               {"--payload-bytes", o.payload_bytes}, {"--rounds", o.rounds},
                                               {"--window", o.window}, {"--side", o.side}});
    if (o.rounds > o.messages) o.rounds = o.messages;
    if (o.side != "both" && o.side != "addrmap" && o.side != "raw")
        throw std::invalid_argument("--side '" + o.side + "': expected both, addrmap or raw");
    if (o.window < 2 * std::max(o.batch, progress_every))
        throw std::invalid_argument("--window must be at least twice --batch and at least " +
                                    std::to_string(2 * progress_every));
    return o;
}

// ---- measuring -------------------------------------------------------------------------------------------

/// CPU seconds of the calling thread (user and system): the subscriber's own cost, without the publisher's.
double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

/// The calling thread's CPU seconds spent in the kernel (getrusage's RUSAGE_THREAD: system time, tick-grained).
double thread_system_seconds() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6;
}

/// The calling thread's context switches: voluntary (it waited for input: one per wake-up) and involuntary (preempted).
std::pair<long, long> thread_switches() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return {u.ru_nvcsw, u.ru_nivcsw};
}

/// Wall time, the subscriber thread's CPU (and the kernel's part of it), context switches and allocations, from the
/// first message on.
struct sub_meter {
    clock_type::time_point wall;
    double cpu = 0;
    double system = 0;
    std::pair<long, long> switches;
    std::uint64_t allocations = 0;
    static sub_meter now() {
        return {clock_type::now(), thread_cpu_seconds(), thread_system_seconds(), thread_switches(),
                addrmap_bench::thread_allocations()};
    }
};

struct side_totals {
    std::size_t sent = 0, received = 0;
    double seconds = 0;            ///< subscriber: first message to "end"
    double cpu = 0;                ///< subscriber thread's CPU seconds over the same span
    double system = 0;             ///< the part of it spent in the kernel (system calls: reads, polls)
    long waits = 0, preempted = 0;  ///< subscriber thread's voluntary and involuntary context switches
    std::uint64_t allocations = 0;  ///< subscriber thread's heap allocations over the same span
    double publish_seconds = 0;    ///< publisher: first write to the last SPUBLISH's reply
    std::size_t publisher_waits = 0;
    std::vector<double> round_per_s;  ///< each round's messages/s

    double best_round() const { return round_per_s.empty() ? 0 : *std::max_element(round_per_s.begin(), round_per_s.end()); }

    double per_s() const { return seconds > 0 ? static_cast<double>(received) / seconds : 0; }
    double publisher_per_s() const { return publish_seconds > 0 ? static_cast<double>(sent) / publish_seconds : 0; }
    double cpu_us_per_msg() const { return received != 0 ? cpu / static_cast<double>(received) * 1e6 : 0; }
    double allocs_per_msg() const {
        return received != 0 ? static_cast<double>(allocations) / static_cast<double>(received) : 0;
    }
};

// ---- the publisher ---------------------------------------------------------------------------------------

/// RESP of SPUBLISH channel payload, formatted once (as the library formats an argv).
std::string spublish_resp(std::string_view channel, std::string_view payload) {
    return addrmap::detail::format_argv({"SPUBLISH", channel, payload});
}

/// What the subscriber tells the publisher: how many messages it has counted so far, and that it gave up.
struct feedback {
    std::atomic<std::size_t> received{0};
    std::atomic<bool> abandoned{false};
};

/// Publishes `count` messages then "end" on its own connection, `batch` SPUBLISH per write, at most 4 batches
/// unanswered, never more than `window` messages ahead of the subscriber. Each SPUBLISH must reach exactly one
/// subscriber. Runs on a thread of its own; errors are returned.
class publisher {
public:
    publisher(redisContext* c, std::string_view channel, std::size_t payload_bytes, std::size_t batch, std::size_t window)
        : c_(c), batch_(batch), window_(window), one_(spublish_resp(channel, std::string(payload_bytes, 'p'))),
          end_(spublish_resp(channel, "end")) {
        full_.reserve(one_.size() * batch);
        for (std::size_t i = 0; i < batch; ++i) full_ += one_;
    }

    struct result {
        double seconds = 0;
        std::size_t sent = 0, waits = 0;
        std::string error;
    };

    result run(std::size_t count, const feedback& from_subscriber) {
        result r;
        try {
            std::size_t unanswered = 0;
            std::string part;
            const auto started = clock_type::now();
            while (r.sent < count) {
                const std::size_t k = std::min(batch_, count - r.sent);
                while (r.sent - std::min(r.sent, from_subscriber.received.load(std::memory_order_relaxed)) > window_) {
                    if (from_subscriber.abandoned.load(std::memory_order_relaxed)) return r;  // its error says why
                    ++r.waits;
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
                }
                if (k == batch_) {
                    append(full_);
                } else {
                    part.clear();
                    for (std::size_t i = 0; i < k; ++i) part += one_;
                    append(part);
                }
                flush();
                r.sent += k;
                unanswered += k;
                while (unanswered > 4 * batch_) {
                    read_one();
                    --unanswered;
                }
            }
            append(end_);
            flush();
            for (++unanswered; unanswered > 0; --unanswered) read_one();
            r.seconds = std::chrono::duration<double>(clock_type::now() - started).count();
        } catch (const std::exception& e) {
            r.error = e.what();
        }
        return r;
    }

private:
    void append(const std::string& resp) {
        if (redisAppendFormattedCommand(c_, resp.data(), resp.size()) != REDIS_OK)
            throw std::runtime_error(std::string("publisher: append: ") + c_->errstr);
    }
    void flush() {
        int done = 0;
        while (done == 0)
            if (redisBufferWrite(c_, &done) != REDIS_OK)
                throw std::runtime_error(std::string("publisher: write: ") + c_->errstr);
    }
    void read_one() {
        void* raw = nullptr;
        if (redisGetReply(c_, &raw) != REDIS_OK) throw std::runtime_error(std::string("publisher: read: ") + c_->errstr);
        const addrmap::reply_ptr reply(static_cast<redisReply*>(raw));
        if (reply->type != REDIS_REPLY_INTEGER)
            throw std::runtime_error("publisher: SPUBLISH answered '" +
                                     std::string(reply->str != nullptr ? reply->str : "", reply->len) + "'");
        if (reply->integer != 1)
            throw std::runtime_error("publisher: SPUBLISH reached " + std::to_string(reply->integer) +
                                     " subscribers (1 expected: is another subscriber on the channel?)");
    }

    redisContext* c_;
    std::size_t batch_, window_;
    std::string one_, end_, full_;
};

/// Runs `subscribe_and_count` (which subscribes, calls `go` once the subscription is confirmed, then counts until
/// "end") with the publisher on its own thread from `go` on, and adds both sides' figures to `totals`.
template <class Side>
void measure(publisher& pub, std::size_t count, side_totals& totals, Side&& subscribe_and_count) {
    feedback to_publisher;
    publisher::result published;
    std::thread thread;
    const auto go = [&] { thread = std::thread([&] { published = pub.run(count, to_publisher); }); };
    std::optional<sub_meter> first;
    std::size_t received = 0;
    // Called for each message: false for "end".
    const auto on_message = [&](std::string_view payload) {
        if (!first) first = sub_meter::now();
        if (payload == "end") return false;
        if (++received % progress_every == 0) to_publisher.received.store(received, std::memory_order_relaxed);
        return true;
    };
    try {
        subscribe_and_count(go, on_message);
    } catch (...) {
        to_publisher.abandoned.store(true);
        if (thread.joinable()) thread.join();
        if (!published.error.empty()) throw std::runtime_error(published.error);  // the first cause
        throw;
    }
    const sub_meter last = sub_meter::now();
    thread.join();
    if (!published.error.empty()) throw std::runtime_error(published.error);
    const double seconds = std::chrono::duration<double>(last.wall - first->wall).count();
    totals.sent += published.sent;
    totals.received += received;
    totals.seconds += seconds;
    totals.round_per_s.push_back(seconds > 0 ? static_cast<double>(received) / seconds : 0);
    totals.cpu += last.cpu - first->cpu;
    totals.system += last.system - first->system;
    totals.waits += last.switches.first - first->switches.first;
    totals.preempted += last.switches.second - first->switches.second;
    totals.allocations += last.allocations - first->allocations;
    totals.publish_seconds += published.seconds;
    totals.publisher_waits += published.waits;
}

// ---- the two subscribers ---------------------------------------------------------------------------------

constexpr std::chrono::milliseconds quiet_limit{5000};  // no event this long: the run failed

std::string describe(const addrmap::pubsub_event& e) {
    switch (e.what) {
        case addrmap::pubsub_event::kind::message: return "a message on " + e.channel;
        case addrmap::pubsub_event::kind::subscribed: return "subscribed " + e.channel;
        case addrmap::pubsub_event::kind::gap: return "a gap on " + e.channel + ": " + e.cause;
        case addrmap::pubsub_event::kind::ended: return "ended " + e.channel + (e.cause.empty() ? "" : ": " + e.cause);
        case addrmap::pubsub_event::kind::refused: return "refused " + e.channel + ": " + e.cause;
    }
    return "an unknown event";
}

/// The next event, which must be `wanted`: anything else (or nothing for 5 s) is an error naming it.
template <class Subscriber>
addrmap::pubsub_event expect_event(Subscriber& sub, addrmap::pubsub_event::kind wanted, const char* waiting_for) {
    std::optional<addrmap::pubsub_event> e = sub.next(quiet_limit);
    if (!e) throw std::runtime_error(std::string("addrmap subscriber: nothing for 5 s while waiting for ") + waiting_for);
    if (e->what != wanted)
        throw std::runtime_error("addrmap subscriber: " + describe(*e) + " while waiting for " + waiting_for);
    return std::move(*e);
}

template <class Policy>
void addrmap_round(addrmap::basic_subscriber<Policy>& sub, const std::string& channel, publisher& pub,
                   std::size_t count, side_totals& totals) {
    using kind = addrmap::pubsub_event::kind;
    measure(pub, count, totals, [&](auto&& go, auto&& on_message) {
        sub.ssubscribe({channel});
        expect_event(sub, kind::subscribed, "the subscription");
        go();
        addrmap::pubsub_event e;  // reused: its strings keep their capacity from one message to the next
        while (true) {
            if (!sub.next(e, quiet_limit)) throw std::runtime_error("addrmap subscriber: no message for 5 s");
            if (e.what != kind::message) throw std::runtime_error("addrmap subscriber: " + describe(e));
            if (!on_message(e.payload)) break;
        }
    });
    sub.sunsubscribe({channel});
    expect_event(sub, kind::ended, "the unsubscription");
}

/// Reads one reply from the raw subscriber (blocking, bounded by command_timeout).
addrmap::reply_ptr raw_reply(redisContext* c) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK) throw std::runtime_error(std::string("raw hiredis: read: ") + c->errstr);
    return addrmap::reply_ptr(static_cast<redisReply*>(raw));
}

/// The frame's first element ("ssubscribe", "smessage", ...), or "" when the reply is not a 3-array of strings.
std::string_view frame_word(const redisReply& r) {
    if (r.type != REDIS_REPLY_ARRAY || r.elements != 3 || r.element[0]->type != REDIS_REPLY_STRING) return {};
    return {r.element[0]->str, r.element[0]->len};
}

void raw_command(redisContext* c, const char* verb, const std::string& channel, std::string_view answer) {
    if (redisAppendCommand(c, "%s %b", verb, channel.data(), channel.size()) != REDIS_OK)
        throw std::runtime_error(std::string("raw hiredis: append: ") + c->errstr);
    const addrmap::reply_ptr reply = raw_reply(c);
    if (frame_word(*reply) != answer)
        throw std::runtime_error(std::string("raw hiredis: ") + verb + " answered " +
                                 (reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                                                   : "something else than " + std::string(answer)));
}

void raw_round(redisContext* c, const std::string& channel, publisher& pub, std::size_t count, side_totals& totals) {
    measure(pub, count, totals, [&](auto&& go, auto&& on_message) {
        raw_command(c, "SSUBSCRIBE", channel, "ssubscribe");
        go();
        while (true) {
            const addrmap::reply_ptr reply = raw_reply(c);
            if (frame_word(*reply) != "smessage")
                throw std::runtime_error("raw hiredis: a reply that is not an smessage frame");
            const redisReply* payload = reply->element[2];
            if (!on_message(std::string_view(payload->str, payload->len))) break;
        }
    });
    raw_command(c, "SUNSUBSCRIBE", channel, "sunsubscribe");
}

// ---- the run ---------------------------------------------------------------------------------------------

bool owns(const addrmap::node_info& n, std::uint16_t slot) {
    return std::any_of(n.slots.begin(), n.slots.end(), [slot](const addrmap::slot_range& r) { return r.contains(slot); });
}

addrmap::tls_connection dial(const addrmap::tls_context& tls, const addrmap::node_info& node) {
    addrmap::tls_connection c =
        addrmap::connect_tls(tls, node.reported, addrmap::endpoint(node.dial_host, node.port, node.tls_name));
    c.set_io_deadline(std::nullopt);  // plain blocking I/O, bounded by command_timeout: hiredis as it comes
    return c;
}

template <class MakePolicy>
void run(const cli_options& o, MakePolicy make_policy, json_line& out) {
    using Policy = decltype(make_policy());
    addrmap::cluster_options options;
    options.seeds = {o.seed};
    options.tls.ca_file = o.cacert;
    const addrmap::tls_context tls(options.tls);

    // The node and the channel: --channel's owner, --node, or the first master in slot order.
    addrmap::basic_cluster<Policy> cluster(options, tls, make_policy());
    cluster.connect();
    const std::vector<addrmap::node_info> masters = addrmap_bench::masters_of(cluster.nodes());
    if (masters.empty()) throw std::runtime_error("the node table lists no master with slots");
    auto chosen = masters.begin();
    if (!o.channel.empty()) {
        const std::uint16_t slot = addrmap::key_slot(o.channel);
        chosen = std::find_if(masters.begin(), masters.end(), [&](const addrmap::node_info& m) { return owns(m, slot); });
        if (chosen == masters.end()) throw std::runtime_error("no master owns slot " + std::to_string(slot));
        if (!o.node.empty() && addrmap::to_string(chosen->reported) != o.node)
            throw std::invalid_argument("--channel " + o.channel + " is owned by " + addrmap::to_string(chosen->reported) +
                                        ", not --node " + o.node);
    } else if (!o.node.empty()) {
        chosen = addrmap_bench::master_named(masters, o.node);
    }
    const addrmap::node_info node = *chosen;
    std::string channel = o.channel;
    for (std::size_t i = 0; channel.empty(); ++i) {
        std::string candidate = "bench:ps:" + std::to_string(i);
        if (owns(node, addrmap::key_slot(candidate))) channel = std::move(candidate);
    }

    addrmap::basic_subscriber<Policy> sub(options, tls, make_policy());
    addrmap::tls_connection raw = dial(tls, node);
    addrmap::tls_connection pub_link = dial(tls, node);
    publisher pub(pub_link.get(), channel, o.payload_bytes, o.batch, o.window);

    // Warm-up (not measured): both sides, which also dials the subscriber's connections.
    const bool with_addrmap = o.side != "raw", with_raw = o.side != "addrmap";
    side_totals warm_a, warm_r;
    const std::size_t warm = std::min<std::size_t>(10000, o.messages);
    if (with_addrmap) {
        addrmap_round(sub, channel, pub, warm, warm_a);
        const std::vector<addrmap::node_address> sub_nodes = sub.connected_nodes();
        if (sub_nodes.size() != 1 || addrmap::to_string(sub_nodes.front()) != addrmap::to_string(node.reported))
            throw std::runtime_error("the addrmap subscriber is not connected to " + addrmap::to_string(node.reported) +
                                     " alone");
    }
    if (with_raw) raw_round(raw.get(), channel, pub, warm, warm_r);

    // Rounds: each side in turn, who goes first alternating, so drift on a shared machine hits both alike.
    side_totals a, r;
    for (std::size_t round = 0; round < o.rounds; ++round) {
        const std::size_t count = o.messages * (round + 1) / o.rounds - o.messages * round / o.rounds;
        addrmap_bench::in_turn(round, [&] { if (with_addrmap) addrmap_round(sub, channel, pub, count, a); },
                               [&] { if (with_raw) raw_round(raw.get(), channel, pub, count, r); });
    }

    out.text("node", addrmap::format_host_port(node.dial_host, node.port));
    out.text("node_reported", addrmap::to_string(node.reported));
    out.text("tls_name", node.tls_name);
    if (!raw.handshake().protocol.empty()) out.text("tls_protocol", raw.handshake().protocol);
    out.text("channel", channel);
    out.integer("slot", addrmap::key_slot(channel));
    const auto side = [&out](const char* name, const side_totals& t) {
        const std::string p = name;
        out.number(p + "_msgs_per_s", t.per_s(), 1);
        out.integer(p + "_messages", static_cast<long long>(t.received));
        out.integer(p + "_lost", static_cast<long long>(t.sent - std::min(t.sent, t.received)));
        out.number(p + "_seconds", t.seconds, 4);
        out.number(p + "_cpu_us_per_msg", t.cpu_us_per_msg(), 3);
        out.number(p + "_cpu_kernel_share", t.cpu > 0 ? t.system / t.cpu : 0, 3);
        // Wake-ups (voluntary switches) and preemptions per 1,000 messages: how often it slept, and was pushed off
        // its core, for the CPU it took.
        const double k = t.received != 0 ? 1000.0 / static_cast<double>(t.received) : 0;
        out.number(p + "_waits_per_1k_msgs", static_cast<double>(t.waits) * k, 2);
        out.number(p + "_preempted_per_1k_msgs", static_cast<double>(t.preempted) * k, 2);
        out.number(p + "_allocs_per_msg", t.allocs_per_msg(), 2);
        out.number(p + "_publisher_msgs_per_s", t.publisher_per_s(), 1);
        out.integer(p + "_publisher_waits", static_cast<long long>(t.publisher_waits));
        std::string rounds;
        for (const double x : t.round_per_s) rounds += (rounds.empty() ? "" : ", ") + std::to_string(static_cast<long long>(x));
        out.raw(p + "_round_msgs_per_s", "[" + rounds + "]");
        out.number(p + "_best_round_msgs_per_s", t.best_round(), 1);
    };
    side("addrmap", a);
    side("raw", r);
    out.number("ratio_vs_raw", r.per_s() > 0 ? a.per_s() / r.per_s() : 0, 4);
    // The same, round by round (each addrmap round next to its raw one), median: less moved by one slow round.
    std::vector<double> ratios;
    for (std::size_t i = 0; i < a.round_per_s.size() && i < r.round_per_s.size(); ++i)
        if (r.round_per_s[i] > 0) ratios.push_back(a.round_per_s[i] / r.round_per_s[i]);
    std::sort(ratios.begin(), ratios.end());
    const std::size_t mid = ratios.size() / 2;
    out.number("ratio_vs_raw_median_of_rounds",
               ratios.empty() ? 0 : ratios.size() % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2, 4);
    out.number("ratio_vs_raw_best_round", r.best_round() > 0 ? a.best_round() / r.best_round() : 0, 4);
    out.number("cpu_ratio_vs_raw", r.cpu_us_per_msg() > 0 ? a.cpu_us_per_msg() / r.cpu_us_per_msg() : 0, 4);
}

/// The topology as the seed reports it (CLUSTER SHARDS over a verified connection), for static_table's entries:
/// each node's IP:PORT -> NAME:PORT.
std::vector<addrmap::static_table::entry> table_entries(const cli_options& o) {
    addrmap::tls_options tls_options;
    tls_options.ca_file = o.cacert;
    const addrmap::node_address seed = addrmap::parse_address(o.seed, "--seed");
    const addrmap::tls_connection probe =
        addrmap::connect_tls(addrmap::tls_context(tls_options), seed, addrmap::endpoint(seed.host, seed.port, o.hostname));
    const addrmap::reply_ptr reply(static_cast<redisReply*>(redisCommand(probe.get(), "CLUSTER SHARDS")));
    if (!reply) throw std::runtime_error(std::string("CLUSTER SHARDS: ") + probe.get()->errstr);
    const addrmap::topology topo = addrmap::parse_cluster_shards(reply.get());
    std::vector<addrmap::static_table::entry> entries;
    const auto add = [&](const addrmap::node_address& a) {
        entries.push_back({addrmap::format_host_port(a.host, a.port), addrmap::format_host_port(o.hostname, a.port)});
    };
    for (const addrmap::shard& s : topo.shards) {
        add(s.master);
        for (const auto& r : s.replicas) add(r);
    }
    return entries;
}

/// One instantiation of run() per policy; the flag only chooses which. Each client gets a policy of its own.
void dispatch(const cli_options& o, json_line& out) {
    using addrmap::ip_to_hostname;
    if (o.policy == "identity") {
        run(o, [] { return addrmap::identity{}; }, out);
    } else if (o.policy == "ip_to_hostname") {
        run(o, [&] { return ip_to_hostname(o.hostname); }, out);
    } else if (o.policy == "ip_to_hostname_keep_ip") {
        run(o, [&] { return ip_to_hostname(o.hostname, ip_to_hostname::mode::dial_ip_verify_hostname); }, out);
    } else if (o.policy == "static_table") {
        const std::vector<addrmap::static_table::entry> entries = table_entries(o);
        out.integer("table_entries", static_cast<long long>(entries.size()));
        run(o, [&] { return addrmap::static_table(entries); }, out);
    } else if (o.policy == "env") {
        run(o, [&] { return addrmap::env(std::map<std::string, std::string>{{"ADDRMAP_HOSTNAME", o.hostname}}); }, out);
    } else {
        throw std::invalid_argument("--policy '" + o.policy + "' is not one of the choices below");
    }
}

}  // namespace

int main(int argc, char** argv) {
    return addrmap_bench::bench_main("pubsub_bench", usage_text, argc, argv, parse_cli, [](const cli_options& o, json_line& out) {
        out.texts({{"bench", "pubsub"}, {"policy", o.policy}, {"seed", o.seed}, {"hostname", o.hostname}});
        out.counts({{"messages", o.messages}, {"batch", o.batch}, {"payload_bytes", o.payload_bytes},
                    {"rounds", o.rounds}, {"window", o.window}});
        out.text("side", o.side);
    }, dispatch);
}
