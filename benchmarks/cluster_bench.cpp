// benchmarks/cluster_bench.cpp — live cost of basic_cluster<Policy> over verified TLS: cold connect, resumed
// reconnect, SET throughput (one at a time and pipelined), against raw hiredis_ssl on the same node. Prints one JSON line.
//
// usage: cluster_bench --seed HOST:PORT --cacert FILE
//                      [--policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env]
//                      [--hostname NAME] [--ops N] [--pipeline K] [--rounds R] [--node HOST:PORT]
//   --hostname  ip_to_hostname/env: the hostname every reported IP maps to; static_table: the target host
//               of each generated entry (127.0.0.1:P -> NAME:P). Default localhost.
//   --ops       SETs per measurement (default 20000); --pipeline: commands per pipeline (default 16)
//   --rounds    the adapter-vs-raw measurements on one node run interleaved in R rounds (default 8)
//   --observer  counting|prometheus: a second cluster with that observer (observer.hpp) runs the same-node rounds
//               beside the plain one, then SETs a quarter of --ops over every master: its CPU per call, and
//               (prometheus) the histograms' per-node counts scraped halfway and at the end, against the calls it
//               made. Default none.
// Exit status: 0 with the results; 1 with {"policy": ..., "error": "..."} (e.g. identity failing TLS
// verification against DNS-only certificates); 2 for a usage error.
#include <addrmap/addrmap.hpp>

#include <hiredis/hiredis_ssl.h>

#include "../examples/prometheus_observer.hpp"
#include "bench_common.hpp"
#include "counting_new.hpp"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using addrmap_bench::in_turn;
using addrmap_bench::json_line;
using addrmap_bench::master_named;
using addrmap_bench::masters_of;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// ---- options ------------------------------------------------------------------------------------------

struct cli_options : addrmap_bench::connection_flags {
    std::size_t ops = 20000;
    std::size_t pipeline = 16;
    std::size_t rounds = 8;
    std::string observer = "none";
    std::string node;  // reported HOST:PORT of the same-node master; empty: the first master in slot order
};

constexpr const char* usage_text =
    "usage: cluster_bench --seed HOST:PORT --cacert FILE\n"
    "                     [--policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env]\n"
    "                     [--hostname NAME] [--ops N] [--pipeline K] [--rounds R] [--node HOST:PORT]\n"
    "                     [--observer none|counting|prometheus]\n"
    "  --node: the master (as the cluster reports it) for the same-node comparisons; redis-benchmark --cluster\n"
    "          with one client drives only its first master, so scripts/bench passes that one here\n";

cli_options parse_cli(int argc, char** argv) {
    cli_options o;
    addrmap_bench::parse_flags(argc, argv, o, {{"--ops", o.ops}, {"--pipeline", o.pipeline}, {"--rounds", o.rounds},
                                               {"--node", o.node}, {"--observer", o.observer}});
    if (o.rounds > o.ops) o.rounds = o.ops;
    return o;
}

// ---- keys ------------------------------------------------------------------------------------------------

constexpr std::string_view value_text = "xyz";  // 3 bytes, redis-benchmark's default -d

/// "bench:0", "bench:1", ...: CRC16 spreads them over all 16384 slots.
std::vector<std::string> keys_over_all_slots(std::size_t count) {
    std::vector<std::string> keys;
    keys.reserve(count);
    for (std::size_t i = 0; i < count; ++i) keys.push_back("bench:" + std::to_string(i));
    return keys;
}

bool in_ranges(const std::vector<addrmap::slot_range>& ranges, std::uint16_t slot) {
    return std::any_of(ranges.begin(), ranges.end(), [slot](const addrmap::slot_range& r) { return r.contains(slot); });
}

/// `count` keys that all hash into `ranges` (one node's slots).
std::vector<std::string> keys_in(const std::vector<addrmap::slot_range>& ranges, std::size_t count) {
    std::vector<std::string> keys;
    keys.reserve(count);
    for (std::size_t i = 0; keys.size() < count; ++i) {
        std::string key = "bench:node:" + std::to_string(i);
        if (in_ranges(ranges, addrmap::key_slot(key))) keys.push_back(std::move(key));
    }
    return keys;
}

/// A key that hashes to exactly `slot`.
std::string key_for_slot(std::uint16_t slot) {
    for (std::size_t i = 0;; ++i) {
        std::string key = "bench:slot:" + std::to_string(i);
        if (addrmap::key_slot(key) == slot) return key;
    }
}

std::vector<std::vector<std::string>> split(const std::vector<std::string>& keys, std::size_t parts) {
    std::vector<std::vector<std::string>> out(parts);
    for (std::size_t p = 0; p < parts; ++p) {
        const std::size_t from = keys.size() * p / parts;
        const std::size_t to = keys.size() * (p + 1) / parts;
        out[p].assign(keys.begin() + static_cast<std::ptrdiff_t>(from), keys.begin() + static_cast<std::ptrdiff_t>(to));
    }
    return out;
}

void expect_ok(const redisReply* reply, std::string_view key) {
    if (reply == nullptr) throw std::runtime_error("SET " + std::string(key) + ": no reply (connection lost)");
    if (reply->type != REDIS_REPLY_STATUS || std::string_view(reply->str, reply->len) != "OK")
        throw std::runtime_error("SET " + std::string(key) + ": unexpected reply '" +
                                 std::string(reply->str != nullptr ? reply->str : "", reply->len) + "'");
}

/// Reads one pipelined reply from raw hiredis and checks it is +OK (the raw baselines' read step).
void read_ok(redisContext* c, std::string_view key) {
    void* raw_reply = nullptr;
    if (redisGetReply(c, &raw_reply) != REDIS_OK)
        throw std::runtime_error(std::string("raw hiredis: read: ") + c->errstr);
    const addrmap::reply_ptr reply(static_cast<redisReply*>(raw_reply));
    expect_ok(reply.get(), key);
}

// ---- latency summary -----------------------------------------------------------------------------------

struct timing {
    addrmap_bench::cost spent;         // wall and CPU seconds, heap allocations (operator new and hiredis's)
    std::size_t ops = 0;
    std::vector<double> latencies_us;  // one per op (sequential runs only)

    void add(const timing& other) {
        spent.seconds += other.spent.seconds;
        spent.cpu += other.spent.cpu;
        spent.allocations += other.spent.allocations;
        ops += other.ops;
        latencies_us.insert(latencies_us.end(), other.latencies_us.begin(), other.latencies_us.end());
    }
    double ops_per_s() const { return spent.seconds > 0 ? static_cast<double>(ops) / spent.seconds : 0; }
    double cpu_s_per_1m() const { return ops != 0 ? spent.cpu / static_cast<double>(ops) * 1e6 : 0; }
    double allocations_per_op() const {
        return ops != 0 ? static_cast<double>(spent.allocations) / static_cast<double>(ops) : 0;
    }
    double percentile(double p) {
        if (latencies_us.empty()) return 0;
        const auto at = static_cast<std::size_t>(p * static_cast<double>(latencies_us.size() - 1));
        std::nth_element(latencies_us.begin(), latencies_us.begin() + static_cast<std::ptrdiff_t>(at), latencies_us.end());
        return latencies_us[at];
    }
};

/// Sends `set(key)` for each of `keys` in turn (it returns the reply to SET), each one timed: the sequential runs of
/// both the adapter and raw hiredis, measured alike.
template <class Set>
timing timed_one_at_a_time(const std::vector<std::string>& keys, Set&& set) {
    timing t;
    t.latencies_us.reserve(keys.size());
    const addrmap_bench::meter meter;
    for (const std::string& key : keys) {
        const auto op = clock_type::now();
        const addrmap::reply_ptr reply = set(key);
        t.latencies_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - op).count());
        expect_ok(reply.get(), key);
    }
    t.spent = meter.spent();
    t.ops = keys.size();
    return t;
}

// ---- raw hiredis over TLS (the baseline) ----------------------------------------------------------------

struct ssl_context_deleter {
    void operator()(redisSSLContext* c) const noexcept { redisFreeSSLContext(c); }
};
using ssl_context_ptr = std::unique_ptr<redisSSLContext, ssl_context_deleter>;

/// hiredis_ssl as its README shows it: chain verified against the CA, SNI set. (hiredis 1.2
/// does not check the certificate's name; the adapter does, so its handshakes do a bit more.)
struct raw_connection {
    ssl_context_ptr ssl;
    addrmap::detail::context_ptr context;

    raw_connection(const std::string& cacert, const std::string& host, std::uint16_t port, const std::string& sni) {
        redisSSLContextError ssl_error = REDIS_SSL_CTX_NONE;
        ssl.reset(redisCreateSSLContext(cacert.c_str(), nullptr, nullptr, nullptr, sni.empty() ? nullptr : sni.c_str(),
                                        &ssl_error));
        if (!ssl)
            throw std::runtime_error(std::string("raw hiredis: redisCreateSSLContext: ") +
                                     redisSSLContextGetError(ssl_error));
        context.reset(redisConnect(host.c_str(), port));
        const std::string where = addrmap::format_host_port(host, port);
        if (!context || context->err != 0)
            throw std::runtime_error("raw hiredis: connect " + where + ": " +
                                     (context ? context->errstr : "out of memory"));
        if (redisInitiateSSLWithContext(context.get(), ssl.get()) != REDIS_OK)
            throw std::runtime_error("raw hiredis: TLS to " + where + ": " + context->errstr);
    }

    addrmap::reply_ptr command(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        void* reply = redisvCommand(context.get(), format, ap);
        va_end(ap);
        return addrmap::reply_ptr(static_cast<redisReply*>(reply));
    }
};

timing raw_sequential(raw_connection& raw, const std::vector<std::string>& keys) {
    return timed_one_at_a_time(keys, [&](const std::string& key) {
        return raw.command("SET %b %b", key.data(), key.size(), value_text.data(), value_text.size());
    });
}

timing raw_pipelined(raw_connection& raw, const std::vector<std::string>& keys, std::size_t depth) {
    timing t;
    redisContext* c = raw.context.get();
    const addrmap_bench::meter meter;
    for (std::size_t i = 0; i < keys.size(); i += depth) {
        const std::size_t end = std::min(keys.size(), i + depth);
        for (std::size_t j = i; j < end; ++j)
            if (redisAppendCommand(c, "SET %b %b", keys[j].data(), keys[j].size(), value_text.data(),
                                   value_text.size()) != REDIS_OK)
                throw std::runtime_error(std::string("raw hiredis: append: ") + c->errstr);
        for (std::size_t j = i; j < end; ++j) read_ok(c, keys[j]);
    }
    t.spent = meter.spent();
    t.ops = keys.size();
    return t;
}

/// Raw hiredis to every master, routed by slot: the baseline for the all-slots runs.
struct raw_cluster {
    std::vector<std::unique_ptr<raw_connection>> nodes;
    std::vector<std::size_t> owner = std::vector<std::size_t>(addrmap::slot_count, 0);

    raw_cluster(const std::string& cacert, const std::vector<addrmap::node_info>& masters) {
        for (const auto& m : masters) {
            nodes.push_back(std::make_unique<raw_connection>(cacert, m.dial_host, m.port, m.tls_name));
            for (const auto& r : m.slots)
                for (std::size_t slot = r.first; slot <= r.last; ++slot) owner[slot] = nodes.size() - 1;
        }
    }
    std::size_t node_of(const std::string& key) const { return owner[addrmap::key_slot(key)]; }
};

timing raw_cluster_sequential(raw_cluster& raw, const std::vector<std::string>& keys) {
    timing t;
    const addrmap_bench::meter meter;
    for (const std::string& key : keys) {
        addrmap::reply_ptr reply = raw.nodes[raw.node_of(key)]->command("SET %b %b", key.data(), key.size(),
                                                                         value_text.data(), value_text.size());
        expect_ok(reply.get(), key);
    }
    t.spent = meter.spent();
    t.ops = keys.size();
    return t;
}

/// Each batch: append to every owner; with `flush_first`, write every node's buffer before reading
/// any reply (the round trips overlap); without, the first read on each node writes its buffer, so
/// the nodes are served one after another.
timing raw_cluster_pipelined(raw_cluster& raw, const std::vector<std::string>& keys, std::size_t depth,
                             bool flush_first) {
    timing t;
    std::vector<std::size_t> owner_of_op(depth);
    std::vector<bool> touched(raw.nodes.size());
    const addrmap_bench::meter meter;
    for (std::size_t i = 0; i < keys.size(); i += depth) {
        const std::size_t end = std::min(keys.size(), i + depth);
        std::fill(touched.begin(), touched.end(), false);
        for (std::size_t j = i; j < end; ++j) {
            const std::size_t n = raw.node_of(keys[j]);
            owner_of_op[j - i] = n;
            touched[n] = true;
            redisContext* c = raw.nodes[n]->context.get();
            if (redisAppendCommand(c, "SET %b %b", keys[j].data(), keys[j].size(), value_text.data(),
                                   value_text.size()) != REDIS_OK)
                throw std::runtime_error(std::string("raw hiredis: append: ") + c->errstr);
        }
        if (flush_first) {
            for (std::size_t n = 0; n < raw.nodes.size(); ++n) {
                if (!touched[n]) continue;
                redisContext* c = raw.nodes[n]->context.get();
                int done = 0;
                do {
                    if (redisBufferWrite(c, &done) != REDIS_OK)
                        throw std::runtime_error(std::string("raw hiredis: write: ") + c->errstr);
                } while (done == 0);
            }
        }
        for (std::size_t n = 0; n < raw.nodes.size(); ++n) {
            for (std::size_t j = i; j < end; ++j) {
                if (owner_of_op[j - i] == n) read_ok(raw.nodes[n]->context.get(), keys[j]);
            }
        }
    }
    t.spent = meter.spent();
    t.ops = keys.size();
    return t;
}

// ---- the adapter ---------------------------------------------------------------------------------------

template <class Cluster>
timing adapter_sequential(Cluster& cluster, const std::vector<std::string>& keys) {
    return timed_one_at_a_time(keys, [&](const std::string& key) {
        return cluster.command(key, "SET %b %b", key.data(), key.size(), value_text.data(), value_text.size());
    });
}

template <class Cluster>
timing adapter_pipelined(Cluster& cluster, const std::vector<std::string>& keys, std::size_t depth) {
    timing t;
    addrmap::pipeline batch;
    const addrmap_bench::meter meter;
    for (std::size_t i = 0; i < keys.size(); i += depth) {
        const std::size_t end = std::min(keys.size(), i + depth);
        batch.clear();
        for (std::size_t j = i; j < end; ++j)
            batch.add(keys[j], "SET %b %b", keys[j].data(), keys[j].size(), value_text.data(), value_text.size());
        const std::vector<addrmap::outcome> replies = cluster.execute(batch);
        for (std::size_t j = i; j < end; ++j) expect_ok(replies[j - i].reply(), keys[j]);
    }
    t.spent = meter.spent();
    t.ops = keys.size();
    return t;
}

struct handshake_summary {
    std::size_t count = 0;
    std::size_t resumed = 0;
    double total_us = 0;
    double avg_us() const { return count != 0 ? total_us / static_cast<double>(count) : 0; }
};

handshake_summary summarize_handshakes(const std::vector<addrmap::node_info>& masters) {
    handshake_summary s;
    for (const auto& m : masters) {
        if (!m.connected || !m.handshake) continue;
        ++s.count;
        if (m.handshake->session_reused) ++s.resumed;
        s.total_us += static_cast<double>(m.handshake->handshake_time.count());
    }
    return s;
}

/// What an observer counted ("total N" from the counting one, a Prometheus scrape from the other) against `calls`:
/// {"per_node": {port: count, ...}, "total": N, "calls_made": M}.
std::string scrape_summary(const std::string& scraped, std::uint64_t calls) {
    std::map<std::string, std::uint64_t> per_port;
    if (scraped.compare(0, 6, "total ") == 0)
        per_port["all"] = std::stoull(scraped.substr(6));
    else
        per_port = example::counts_per_port(scraped);
    std::string nodes;
    std::uint64_t total = 0;
    for (const auto& [port, count] : per_port) {
        nodes += (nodes.empty() ? "\"" : ", \"") + port + "\": " + std::to_string(count);
        total += count;
    }
    return "{\"per_node\": {" + nodes + "}, \"total\": " + std::to_string(total) +
           ", \"calls_made\": " + std::to_string(calls) + "}";
}

/// The cheapest observer that does something: it counts the calls that ended.
struct counting_observer {
    std::shared_ptr<std::uint64_t> ended = std::make_shared<std::uint64_t>(0);
    void operator()(const addrmap::call_ended_event&) noexcept { ++*ended; }
};

/// The same-node rounds of a second cluster with `observer`, interleaved with the plain cluster's: the CPU per call
/// with the observer against without, and what the observer counted against the calls made.
/// Then it SETs a quarter of `all_keys` one at a time, on every master, so that its counts span the nodes.
template <class Policy, class Observer, class Plain, class Scrape>
void run_observed(const cli_options& o, const addrmap::cluster_options& options, Policy policy, Observer observer,
                  Plain& plain, const std::vector<std::string>& node_keys, const std::vector<std::string>& all_keys,
                  json_line& out, Scrape&& scrape) {
    addrmap::basic_cluster<Policy, Observer> observed(options, policy, observer);
    observed.connect();
    std::uint64_t calls = 0;
    const auto seq = [&](auto& cluster, const std::vector<std::string>& keys) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(cluster)>, Plain>) calls += keys.size();
        return adapter_sequential(cluster, keys);
    };
    const auto pipe = [&](auto& cluster, const std::vector<std::string>& keys) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(cluster)>, Plain>) calls += (keys.size() + o.pipeline - 1) / o.pipeline;
        return adapter_pipelined(cluster, keys, o.pipeline);
    };
    const std::size_t warm = std::min<std::size_t>(1000, node_keys.size());
    seq(observed, std::vector<std::string>(node_keys.begin(), node_keys.begin() + static_cast<std::ptrdiff_t>(warm)));
    timing seq_plain, seq_observed, pipe_plain, pipe_observed;
    const auto chunks = split(node_keys, o.rounds);
    std::string halfway;
    std::uint64_t calls_halfway = 0;
    for (std::size_t r = 0; r < chunks.size(); ++r) {
        const auto& keys = chunks[r];
        in_turn(r, [&] { seq_plain.add(seq(plain, keys)); }, [&] { seq_observed.add(seq(observed, keys)); });
        in_turn(r, [&] { pipe_plain.add(pipe(plain, keys)); }, [&] { pipe_observed.add(pipe(observed, keys)); });
        if (r + 1 == chunks.size() / 2) halfway = scrape(), calls_halfway = calls;
    }
    seq(observed, std::vector<std::string>(all_keys.begin(), all_keys.begin() + static_cast<std::ptrdiff_t>(all_keys.size() / 4)));
    out.text("observer", o.observer);
    out.number("plain_cpu_s_per_1m_seq", seq_plain.cpu_s_per_1m(), 3);
    out.number("observed_cpu_s_per_1m_seq", seq_observed.cpu_s_per_1m(), 3);
    out.number("plain_cpu_s_per_1m_pipelined", pipe_plain.cpu_s_per_1m(), 3);
    out.number("observed_cpu_s_per_1m_pipelined", pipe_observed.cpu_s_per_1m(), 3);
    out.number("observer_cost_us_per_seq_call", (seq_observed.cpu_s_per_1m() - seq_plain.cpu_s_per_1m()), 3);
    out.integer("observed_calls_made", static_cast<long long>(calls));
    out.raw("observer_counted", "{\"halfway\": " + scrape_summary(halfway, calls_halfway) +
                                    ", \"end\": " + scrape_summary(scrape(), calls) + "}");
}

template <class Policy>
void run(const cli_options& o, Policy policy, json_line& out) {
    addrmap::cluster_options options;
    options.seeds = {o.seed};
    options.tls.ca_file = o.cacert;

    // 1. Cold: construct (SSL_CTX, CA file) + connect() (discover, verified TLS to every master) + one command; ten
    // times, each a new cluster (no session to resume), since one run in several can take many times the others. The
    // last one stays for the rest.
    const std::string first_key = "bench:first";
    std::vector<double> cold_runs_ms;
    std::unique_ptr<addrmap::basic_cluster<Policy>> cluster;
    for (int run = 0; run < 10; ++run) {
        cluster.reset();
        const auto cold_start = clock_type::now();
        cluster = std::make_unique<addrmap::basic_cluster<Policy>>(options, policy);
        cluster->connect();
        addrmap::reply_ptr first = cluster->command(first_key, "SET %b %b", first_key.data(), first_key.size(),
                                                    value_text.data(), value_text.size());
        expect_ok(first.get(), first_key);
        cold_runs_ms.push_back(seconds_since(cold_start) * 1000);
    }
    const double cold_ms = cold_runs_ms.front();
    std::sort(cold_runs_ms.begin(), cold_runs_ms.end());

    const std::vector<addrmap::node_info> masters = masters_of(cluster->nodes());
    if (masters.empty()) throw std::runtime_error("the node table lists no master with slots");
    const handshake_summary cold = summarize_handshakes(masters);
    std::string protocol, cipher;
    if (masters.front().handshake) {
        protocol = masters.front().handshake->protocol;
        cipher = masters.front().handshake->cipher;
    }

    // 2. Reconnect: drop every connection, then touch every master again (cached sessions resume).
    std::vector<std::string> master_keys;
    for (const auto& m : masters) master_keys.push_back(key_for_slot(m.slots.front().first));
    cluster->disconnect();
    const auto reconnect_start = clock_type::now();
    for (const std::string& key : master_keys) {
        addrmap::reply_ptr reply =
            cluster->command(key, "SET %b %b", key.data(), key.size(), value_text.data(), value_text.size());
        expect_ok(reply.get(), key);
    }
    const double reconnect_ms = seconds_since(reconnect_start) * 1000;
    const handshake_summary resumed = summarize_handshakes(masters_of(cluster->nodes()));

    // 3. The node for the apples-to-apples comparison: --node, or the first master; dialed as the adapter dials it.
    const addrmap::node_info& node = o.node.empty() ? masters.front() : *master_named(masters, o.node);
    const std::vector<std::string> all_keys = keys_over_all_slots(o.ops);
    const std::vector<std::string> node_keys = keys_in(node.slots, o.ops);
    raw_connection raw(o.cacert, node.dial_host, node.port, node.tls_name);

    // Warm-up (not measured): both clients, both paths.
    const std::size_t warm = std::min<std::size_t>(1000, o.ops);
    const std::vector<std::string> warm_keys(node_keys.begin(), node_keys.begin() + static_cast<std::ptrdiff_t>(warm));
    adapter_sequential(*cluster, warm_keys);
    raw_sequential(raw, warm_keys);
    adapter_pipelined(*cluster, warm_keys, o.pipeline);
    raw_pipelined(raw, warm_keys, o.pipeline);

    // 4. All slots, every master: the adapter, and raw hiredis routed by slot (interleaved in rounds).
    raw_cluster raw_all(o.cacert, masters);
    timing seq_all, pipe_all, raw_seq_all, raw_pipe_all, raw_pipe_all_lazy;
    const auto all_chunks = split(all_keys, o.rounds);
    for (std::size_t r = 0; r < all_chunks.size(); ++r) {
        const auto& keys = all_chunks[r];
        in_turn(r, [&] { seq_all.add(adapter_sequential(*cluster, keys)); },
                [&] { raw_seq_all.add(raw_cluster_sequential(raw_all, keys)); },
                [&] { pipe_all.add(adapter_pipelined(*cluster, keys, o.pipeline)); },
                [&] { raw_pipe_all.add(raw_cluster_pipelined(raw_all, keys, o.pipeline, true)); },
                [&] { raw_pipe_all_lazy.add(raw_cluster_pipelined(raw_all, keys, o.pipeline, false)); });
    }

    // 5. One node: adapter and raw interleaved in rounds, alternating who goes first, so drift on a
    //    shared machine hits both alike.
    timing seq_node, pipe_node, raw_seq, raw_pipe;
    const auto chunks = split(node_keys, o.rounds);
    for (std::size_t r = 0; r < chunks.size(); ++r) {
        const auto& keys = chunks[r];
        in_turn(r, [&] { seq_node.add(adapter_sequential(*cluster, keys)); },
                [&] { raw_seq.add(raw_sequential(raw, keys)); });
        in_turn(r, [&] { pipe_node.add(adapter_pipelined(*cluster, keys, o.pipeline)); },
                [&] { raw_pipe.add(raw_pipelined(raw, keys, o.pipeline)); });
    }

    // 6. One node, one key: redis-benchmark's own shape (without -r it SETs the same key again and again). The
    //    server's cost per SET depends on the keys (one hot key costs it far less than many), so a ratio against
    //    redis-benchmark compares like with like only here.
    timing pipe_one_key, raw_pipe_one_key;
    const std::vector<std::string> one_key(node_keys.size(), node_keys.front());
    const auto one_key_chunks = split(one_key, o.rounds);
    for (std::size_t r = 0; r < one_key_chunks.size(); ++r) {
        in_turn(r, [&] { pipe_one_key.add(adapter_pipelined(*cluster, one_key_chunks[r], o.pipeline)); },
                [&] { raw_pipe_one_key.add(raw_pipelined(raw, one_key_chunks[r], o.pipeline)); });
    }

    const addrmap::cluster_stats& stats = cluster->stats();
    out.integer("masters", static_cast<long long>(masters.size()));
    out.text("same_node", addrmap::format_host_port(node.dial_host, node.port));
    out.text("same_node_reported", addrmap::to_string(node.reported));
    out.text("tls_name", node.tls_name);
    out.text("tls_protocol", protocol);
    out.text("tls_cipher", cipher);
    out.number("cold_connect_ms", cold_ms, 3);
    out.number("cold_connect_ms_min", cold_runs_ms.front(), 3);
    out.number("cold_connect_ms_median", (cold_runs_ms[4] + cold_runs_ms[5]) / 2, 3);
    out.number("cold_connect_ms_max", cold_runs_ms.back(), 3);
    out.number("cold_handshake_us_avg", cold.avg_us(), 1);
    out.integer("cold_resumed", static_cast<long long>(cold.resumed));
    out.number("reconnect_ms", reconnect_ms, 3);
    out.number("reconnect_handshake_us_avg", resumed.avg_us(), 1);
    out.integer("reconnect_handshakes", static_cast<long long>(resumed.count));
    out.integer("reconnect_resumed", static_cast<long long>(resumed.resumed));
    // SETs per second and latencies in µs to 0.1: all slots (the adapter, raw hiredis routed by slot), then one node.
    out.numbers(1, {{"seq_ops_per_s", seq_all.ops_per_s()},
                    {"seq_p50_us", seq_all.percentile(0.50)},
                    {"seq_p99_us", seq_all.percentile(0.99)},
                    {"pipelined_ops_per_s", pipe_all.ops_per_s()},
                    {"raw_seq_ops_per_s_all_nodes", raw_seq_all.ops_per_s()},
                    {"raw_pipelined_ops_per_s_all_nodes", raw_pipe_all.ops_per_s()},
                    {"raw_pipelined_lazy_ops_per_s_all_nodes", raw_pipe_all_lazy.ops_per_s()},
                    {"seq_ops_per_s_same_node", seq_node.ops_per_s()},
                    {"seq_same_node_p50_us", seq_node.percentile(0.50)},
                    {"pipelined_ops_per_s_same_node", pipe_node.ops_per_s()}});
    // Per SET, to 0.01: CPU seconds per million, then heap allocations; the adapter's next to raw hiredis's.
    out.numbers(2, {{"adapter_cpu_s_per_1m_seq", seq_node.cpu_s_per_1m()},
                    {"raw_cpu_s_per_1m_seq", raw_seq.cpu_s_per_1m()},
                    {"adapter_cpu_s_per_1m_pipelined", pipe_node.cpu_s_per_1m()},
                    {"raw_cpu_s_per_1m_pipelined", raw_pipe.cpu_s_per_1m()},
                    {"adapter_cpu_s_per_1m_pipelined_all_nodes", pipe_all.cpu_s_per_1m()},
                    {"raw_cpu_s_per_1m_pipelined_all_nodes", raw_pipe_all.cpu_s_per_1m()},
                    {"adapter_allocs_per_seq_op", seq_node.allocations_per_op()},
                    {"adapter_allocs_per_pipelined_op", pipe_node.allocations_per_op()},
                    {"raw_allocs_per_seq_op", raw_seq.allocations_per_op()},
                    {"raw_allocs_per_pipelined_op", raw_pipe.allocations_per_op()},
                    {"adapter_allocs_per_pipelined_op_all_nodes", pipe_all.allocations_per_op()},
                    {"raw_allocs_per_pipelined_op_all_nodes", raw_pipe_all.allocations_per_op()}});
    // Raw hiredis on the one node, then one key (redis-benchmark's shape), to 0.1; the ratios adapter / raw to 0.0001.
    out.numbers(1, {{"raw_seq_ops_per_s", raw_seq.ops_per_s()},
                    {"raw_seq_p50_us", raw_seq.percentile(0.50)},
                    {"raw_pipelined_ops_per_s", raw_pipe.ops_per_s()},
                    {"pipelined_ops_per_s_same_node_one_key", pipe_one_key.ops_per_s()},
                    {"raw_pipelined_ops_per_s_one_key", raw_pipe_one_key.ops_per_s()}});
    const auto ratio = [](const timing& adapter, const timing& raw) {
        return raw.ops_per_s() > 0 ? adapter.ops_per_s() / raw.ops_per_s() : 0;
    };
    out.numbers(4, {{"seq_ratio_vs_raw", ratio(seq_node, raw_seq)},
                    {"pipelined_ratio_vs_raw", ratio(pipe_node, raw_pipe)}});
    if (o.observer == "counting") {
        counting_observer counter;
        run_observed(o, options, policy, counter, *cluster, node_keys, all_keys, out, [counter] {
            return "total " + std::to_string(*counter.ended);
        });
    } else if (o.observer == "prometheus") {
        example::prometheus_observer metrics;
        run_observed(o, options, policy, metrics, *cluster, node_keys, all_keys, out, [metrics] { return metrics.scrape(); });
    } else if (o.observer != "none") {
        throw std::invalid_argument("--observer '" + o.observer + "': expected none, counting or prometheus");
    }
    out.raw("stats", "{\"moved\": " + std::to_string(stats.moved) + ", \"ask\": " + std::to_string(stats.ask) +
                         ", \"tryagain\": " + std::to_string(stats.tryagain) +
                         ", \"connection_losses\": " + std::to_string(stats.connection_losses) +
                         ", \"connections_made\": " + std::to_string(stats.connections_made) +
                         ", \"refreshes\": " + std::to_string(stats.refreshes) + "}");
}

/// Reads the topology with a raw hiredis connection to the seed (this also loads OpenSSL before any
/// timing, for every policy alike) and builds the static_table: each node's IP:PORT -> NAME:PORT.
addrmap::static_table table_for_cluster(const cli_options& o) {
    const addrmap::node_address seed = addrmap::parse_address(o.seed, "--seed");
    raw_connection probe(o.cacert, seed.host, seed.port, o.hostname);
    addrmap::reply_ptr reply = probe.command("CLUSTER SHARDS");
    const addrmap::topology topo = addrmap::parse_cluster_shards(reply.get());
    std::vector<addrmap::static_table::entry> entries;
    auto add = [&](const addrmap::node_address& a) {
        entries.push_back({addrmap::format_host_port(a.host, a.port), addrmap::format_host_port(o.hostname, a.port)});
    };
    for (const addrmap::shard& s : topo.shards) {
        add(s.master);
        for (const auto& r : s.replicas) add(r);
    }
    return addrmap::static_table(entries);
}

/// One instantiation of run() per policy; the flag only chooses which.
void dispatch(const cli_options& o, json_line& out) {
    using addrmap::ip_to_hostname;
    addrmap::static_table table = table_for_cluster(o);
    if (o.policy == "identity") {
        run(o, addrmap::identity{}, out);
    } else if (o.policy == "ip_to_hostname") {
        run(o, ip_to_hostname(o.hostname), out);
    } else if (o.policy == "ip_to_hostname_keep_ip") {
        run(o, ip_to_hostname(o.hostname, ip_to_hostname::mode::dial_ip_verify_hostname), out);
    } else if (o.policy == "static_table") {
        out.integer("table_entries", static_cast<long long>(table.size()));
        run(o, std::move(table), out);
    } else if (o.policy == "env") {
        run(o, addrmap::env(std::map<std::string, std::string>{{"ADDRMAP_HOSTNAME", o.hostname}}), out);
    } else {
        throw std::invalid_argument("--policy '" + o.policy +
                                    "': expected identity, ip_to_hostname, ip_to_hostname_keep_ip, static_table or env");
    }
}

}  // namespace

int main(int argc, char** argv) {
    return addrmap_bench::bench_main("cluster_bench", usage_text, argc, argv, parse_cli, [](const cli_options& o, json_line& out) {
        out.texts({{"policy", o.policy}, {"seed", o.seed}, {"hostname", o.hostname}});
        out.counts({{"ops", o.ops}, {"pipeline", o.pipeline}, {"rounds", o.rounds}});
    }, dispatch);
}
