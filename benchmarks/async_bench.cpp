// benchmarks/async_bench.cpp — throughput of basic_async_cluster<Policy> on one event loop with N operations in
// flight (SETs, fan-outs or transactions), against raw hiredis async (redisAsyncContext + hiredis_ssl on the same loop,
// attached the way the cluster attaches its own, routed by slot, no mapping, no name check) and the blocking adapter
// (one command at a time, and for SETs with more than one in flight also execute(pipeline) as deep as --in-flight, over
// the same keys), in one run. Prints one JSON line last.
//
// usage: async_bench --seed HOST:PORT --cacert FILE
//                    [--policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env]
//                    [--hostname NAME] [--ops N] [--in-flight N] [--rounds R] [--loop libevent|libuv|libev|asio]
//                    [--workload set|fan_out|transaction]
//   --ops        operations per side (default 200000); --in-flight: operations outstanding at once (default 50)
//   --workload   set: SET key value (default); fan_out: PING on every master, one operation per fan-out (raw: a PING
//                to each master's context, done when all answered); transaction: MULTI, SET, EXEC on the key's slot
//                (addrmap: async_transaction, on a connection of its own; raw: the three on the shared context)
//   --rounds     raw, addrmap and the blocking pipeline take turns in R rounds of ops/R SETs each (default 8)
//   --loop       the event loop (default libevent); raw hiredis is attached with the same binding's attach()
//   --observer   counting: the async cluster with an observer that counts call_ended_event (observer.hpp), to price
//                an observer per call against the run without (default none: no observer, nothing compiled in)
//   --side       addrmap or raw: run that side alone and skip the blocking adapter (to profile one side); pipeline:
//                the blocking adapter's pipeline alone (default both: in each round raw, addrmap, then the pipeline)
// Exit status: 0 with the results; 1 with {"policy": ..., "error": "..."}; 2 for a usage error.
#include <addrmap/addrmap.hpp>
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY  // benchmarks/CMakeLists.txt: defined when libuv, libev or Asio is missing
#include <addrmap/loops/asio.hpp>
#include <addrmap/loops/libev.hpp>  // before libevent's: its EV_READ macros would break ev.h's enum
#include <addrmap/loops/libuv.hpp>

#include <boost/asio/io_context.hpp>
#endif
#include <addrmap/loops/libevent.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis_ssl.h>

#include "bench_common.hpp"
#include "counting_new.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using addrmap_bench::json_line;

struct cli_options : addrmap_bench::connection_flags {
    std::string loop = "libevent", workload = "set";
    std::string side = "both";  ///< addrmap or raw: that side alone, no blocking runs (for a profiler)
    std::string observer = "none";  ///< counting: the async cluster counts its calls' ends through an observer
    std::size_t ops = 200000, in_flight = 50, rounds = 8;
    std::size_t max_calls = addrmap::cluster_options{}.max_calls;  ///< and max_calls_per_node: the call bound
};

constexpr const char* usage_text =
    "usage: async_bench --seed HOST:PORT --cacert FILE\n"
    "                   [--policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env]\n"
    "                   [--hostname NAME] [--ops N] [--in-flight N] [--rounds R] [--loop libevent|libuv|libev|asio]\n"
    "                   [--workload set|fan_out|transaction] [--max-calls N (also per node; default: the options')]\n"
    "                   [--side both|addrmap|raw|pipeline] [--observer none|counting]\n";

cli_options parse_cli(int argc, char** argv) {
    cli_options o;
    addrmap_bench::parse_flags(argc, argv, o, {{"--ops", o.ops}, {"--in-flight", o.in_flight}, {"--rounds", o.rounds},
                                               {"--loop", o.loop}, {"--workload", o.workload},
                                               {"--max-calls", o.max_calls}, {"--side", o.side},
                                               {"--observer", o.observer}});
    if (o.workload != "set" && o.workload != "fan_out" && o.workload != "transaction")
        throw std::invalid_argument("--workload '" + o.workload + "' is not one of set, fan_out, transaction");
    if (o.side != "both" && o.side != "addrmap" && o.side != "raw" && o.side != "pipeline")
        throw std::invalid_argument("--side '" + o.side + "' is not one of both, addrmap, raw, pipeline");
    if (o.side == "pipeline" && (o.workload != "set" || o.in_flight < 2))
        throw std::invalid_argument("--side pipeline runs SETs only, at --in-flight 2 or more (the pipeline's depth)");
#ifdef ADDRMAP_BENCH_LIBEVENT_ONLY
    if (o.loop != "libevent")
        throw std::invalid_argument("--loop '" + o.loop + "': this build has libevent only (scripts/setup installs the others)");
#else
    if (o.loop != "libevent" && o.loop != "libuv" && o.loop != "libev" && o.loop != "asio")
        throw std::invalid_argument("--loop '" + o.loop + "' is not one of libevent, libuv, libev, asio");
#endif
    if (o.rounds > o.ops) o.rounds = o.ops;
    return o;
}

/// Time, CPU time and heap allocations (operator new and hiredis's) of one side, summed over rounds.
struct tally {
    std::size_t ops = 0;
    addrmap_bench::cost spent;
    void add(const addrmap_bench::cost& more, std::size_t more_ops) {
        spent.seconds += more.seconds;
        spent.cpu += more.cpu;
        spent.allocations += more.allocations;
        ops += more_ops;
    }
    double ops_per_s() const { return spent.seconds > 0 ? static_cast<double>(ops) / spent.seconds : 0; }
    double cpu_s_per_1m() const { return ops > 0 ? spent.cpu / static_cast<double>(ops) * 1e6 : 0; }
    double allocations_per_op() const {
        return ops > 0 ? static_cast<double>(spent.allocations) / static_cast<double>(ops) : 0;
    }
};

/// One event loop, driven the same way whatever it is: run until stop(), or one turn.
class bench_loop {
public:
    explicit bench_loop(const std::string& name) : name_(name) {
        if (name_ == "libevent") base_ = event_base_new();
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
        else if (name_ == "libuv") uv_loop_init(&uv_);
        else if (name_ == "libev") ev_ = ev_loop_new(EVFLAG_AUTO);
#endif
    }
    ~bench_loop() {
        if (base_ != nullptr) event_base_free(base_);
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
        if (name_ == "libuv") {
            uv_run(&uv_, UV_RUN_NOWAIT);
            uv_loop_close(&uv_);
        }
        if (ev_ != nullptr) ev_loop_destroy(ev_);
#endif
    }
    bench_loop(const bench_loop&) = delete;
    bench_loop& operator=(const bench_loop&) = delete;

    /// A binding for a cluster, or for attaching raw contexts (its attach() is the one the cluster uses).
    std::unique_ptr<addrmap::event_loop> binding() {
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
        if (name_ == "libuv") return addrmap::on_libuv(&uv_);
        if (name_ == "libev") return addrmap::on_libev(ev_);
        if (name_ == "asio") return addrmap::on_asio(io_);
#endif
        return addrmap::on_libevent(base_);
    }
    void run() {
        if (base_ != nullptr) return (void)event_base_dispatch(base_);
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
        if (name_ == "libuv") uv_run(&uv_, UV_RUN_DEFAULT);
        else if (ev_ != nullptr) ev_run(ev_, 0);
        else {
            io_.restart();
            io_.run();
        }
#endif
    }
    void run_once() {
        if (base_ != nullptr) return (void)event_base_loop(base_, EVLOOP_ONCE);
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
        if (name_ == "libuv") uv_run(&uv_, UV_RUN_ONCE);
        else if (ev_ != nullptr) ev_run(ev_, EVRUN_ONCE);
        else {
            io_.restart();
            io_.run_one();
        }
#endif
    }
    void stop() {
        if (base_ != nullptr) return (void)event_base_loopbreak(base_);
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
        if (name_ == "libuv") uv_stop(&uv_);
        else if (ev_ != nullptr) ev_break(ev_, EVBREAK_ALL);
        else io_.stop();
#endif
    }

private:
    std::string name_;
    event_base* base_ = nullptr;
#ifndef ADDRMAP_BENCH_LIBEVENT_ONLY
    uv_loop_t uv_{};
    struct ev_loop* ev_ = nullptr;
    boost::asio::io_context io_;
#endif
};

/// The run in progress: each side's reply callback calls completed(), which issues the next command.
struct run_state {
    bench_loop* loop;
    std::size_t next, to, finished, total;
    const std::function<void(std::size_t)>* issue;
};
run_state* current_run = nullptr;

void completed() {
    run_state* s = current_run;
    ++s->finished;
    if (s->next < s->to) (*s->issue)(s->next++);
    if (s->finished == s->total) s->loop->stop();
}

/// Sends commands [from, to) with `issue`, at most `in_flight` outstanding, on `loop`; adds to `t`.
void drive(bench_loop& loop, std::size_t from, std::size_t to, std::size_t in_flight,
           const std::function<void(std::size_t)>& issue, tally& t) {
    run_state st{&loop, from, to, 0, to - from, &issue};
    current_run = &st;
    const addrmap_bench::meter meter;
    while (st.next < st.to && st.next - from < in_flight) issue(st.next++);
    loop.run();
    t.add(meter.spent(), st.total);
    current_run = nullptr;
    if (st.finished != st.total) throw std::runtime_error("a run ended with commands unanswered");
}

// ---- raw hiredis async: one redisAsyncContext per master, slot table from CLUSTER SHARDS -----------------------

struct raw_cluster {
    redisSSLContext* ssl = nullptr;
    std::vector<redisAsyncContext*> contexts;
    std::array<redisAsyncContext*, addrmap::slot_count> by_slot{};
    std::size_t errors = 0;

    std::unique_ptr<addrmap::event_loop> attacher;  // the loop's binding, used only for attach()

    raw_cluster(bench_loop& loop, const cli_options& o, const addrmap::topology& topo) : attacher(loop.binding()) {
        redisSSLContextError ssl_error = REDIS_SSL_CTX_NONE;
        ssl = redisCreateSSLContext(o.cacert.c_str(), nullptr, nullptr, nullptr, o.hostname.c_str(), &ssl_error);
        if (ssl == nullptr) throw std::runtime_error(std::string("raw: ") + redisSSLContextGetError(ssl_error));
        for (const addrmap::shard& s : topo.shards) {
            redisAsyncContext* ac = redisAsyncConnect(s.master.host.c_str(), s.master.port);
            if (ac == nullptr || ac->err != 0) throw std::runtime_error("raw: connect failed");
            if (redisInitiateSSLWithContext(&ac->c, ssl) != REDIS_OK) throw std::runtime_error("raw: TLS failed");
            if (attacher->attach(ac) != REDIS_OK) throw std::runtime_error("raw: cannot attach to the loop");
            contexts.push_back(ac);
            for (const addrmap::slot_range& r : s.ranges)
                for (std::uint32_t slot = r.first; slot <= r.last; ++slot) by_slot[slot] = ac;
        }
        int answered = 0;
        for (redisAsyncContext* ac : contexts)
            redisAsyncCommand(ac, [](redisAsyncContext*, void* r, void* p) { *static_cast<int*>(p) += r != nullptr ? 1 : 1000; },
                              &answered, "PING");
        while (answered < static_cast<int>(contexts.size())) loop.run_once();
        if (answered != static_cast<int>(contexts.size())) throw std::runtime_error("raw: a master did not answer PING");
    }
    ~raw_cluster() {
        for (redisAsyncContext* ac : contexts) redisAsyncFree(ac);
        redisFreeSSLContext(ssl);
    }
};

/// The cheapest observer that does something: it counts the calls that ended.
struct counting_observer {
    std::shared_ptr<std::uint64_t> ended = std::make_shared<std::uint64_t>(0);
    void operator()(const addrmap::call_ended_event&) noexcept { ++*ended; }
};

template <class Policy, class Observer = addrmap::no_observer>
void run(const cli_options& o, Policy policy, const addrmap::topology& topo, json_line& out, Observer observer = {}) {
    bench_loop loop(o.loop);
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < o.ops; ++i) keys.push_back("bench:" + std::to_string(i));
    const std::string value = "xyz";
    tally mine, raw, blocking, pipelined;
    // The blocking adapter's pipeline, as deep as the async side's in-flight count, over the same keys: what one thread
    // gets when it can batch its commands itself (execute(pipeline)), the async side's yardstick. It runs in every
    // round, after the async sides' slices, so that all three share the machine's quiet and busy moments.
    const bool run_pipeline = (o.side == "both" || o.side == "pipeline") && o.workload == "set" && o.in_flight > 1;
    std::optional<addrmap::basic_cluster<Policy>> blocking_cluster;
    if (o.side == "both" || o.side == "pipeline") {
        addrmap::cluster_options options;
        options.seeds = {o.seed};
        options.tls.ca_file = o.cacert;
        blocking_cluster.emplace(options, policy);
        blocking_cluster->connect();
    }
    addrmap::pipeline batch;
    const auto pipeline_slice = [&](std::size_t from, std::size_t to) {
        const addrmap_bench::meter meter;
        for (std::size_t i = from; i < to; i += o.in_flight) {
            const std::size_t end = std::min(to, i + o.in_flight);
            batch.clear();
            for (std::size_t j = i; j < end; ++j) batch.add(keys[j], "SET %s %s", keys[j].c_str(), value.c_str());
            for (const addrmap::outcome& r : blocking_cluster->execute(batch))
                if (!r || r->type != REDIS_REPLY_STATUS) throw std::runtime_error("a pipelined SET failed");
        }
        pipelined.add(meter.spent(), to - from);
    };
    const auto round_slice = [&](std::size_t round) {
        return std::make_pair(o.ops * round / o.rounds, o.ops * (round + 1) / o.rounds);
    };
    if (o.side == "pipeline") {
        for (std::size_t round = 0; round < o.rounds; ++round) {
            const auto [from, to] = round_slice(round);
            pipeline_slice(from, to);
        }
    } else {
        addrmap::cluster_options options;
        options.seeds = {o.seed};
        options.tls.ca_file = o.cacert;
        if (o.max_calls != options.max_calls) options.max_calls = options.max_calls_per_node = o.max_calls;
        addrmap::basic_async_cluster<Policy, Observer> cluster(options, loop.binding(), policy, observer);
        std::string failure;
        bool connected = false;
        cluster.connect([&](const addrmap::error* e) {
            if (e != nullptr) failure = e->message();
            connected = true;
            loop.stop();
        });
        if (!connected) loop.run();  // a seed refused at once calls back inside connect(), before the loop runs
        if (!connected || !failure.empty()) throw std::runtime_error(failure.empty() ? "connect did not finish" : failure);
        raw_cluster plain(loop, o, topo);

        std::size_t errors = 0;
        const std::size_t masters = plain.contexts.size();
        std::function<void(std::size_t)> issue_mine, issue_raw;
        if (o.workload == "set") {
            issue_mine = [&](std::size_t i) {
                cluster.command(keys[i], [&errors](addrmap::outcome r) {
                    if (!r || r->type != REDIS_REPLY_STATUS) ++errors;
                    completed();
                }, "SET %s %s", keys[i].c_str(), value.c_str());
            };
            issue_raw = [&](std::size_t i) {
                redisAsyncContext* ac = plain.by_slot[addrmap::key_slot(keys[i])];
                redisAsyncCommand(ac, [](redisAsyncContext*, void* r, void* errors_seen) {
                    auto* reply = static_cast<redisReply*>(r);
                    if (reply == nullptr || reply->type != REDIS_REPLY_STATUS) ++*static_cast<std::size_t*>(errors_seen);
                    completed();
                }, &plain.errors, "SET %s %s", keys[i].c_str(), value.c_str());
            };
        } else if (o.workload == "fan_out") {
            issue_mine = [&](std::size_t) {
                cluster.fan_out({"PING"}, [&errors, masters](const addrmap::error* e, std::vector<addrmap::node_outcome> nodes) {
                    if (e != nullptr || nodes.size() != masters) ++errors;
                    for (const addrmap::node_outcome& n : nodes)
                        if (!n.result.ok() || n.result->type != REDIS_REPLY_STATUS) ++errors;
                    completed();
                });
            };
            issue_raw = [&](std::size_t) {
                struct fan { std::size_t left; std::size_t* errors; };
                auto* f = new fan{masters, &plain.errors};
                for (redisAsyncContext* ac : plain.contexts)
                    redisAsyncCommand(ac, [](redisAsyncContext*, void* r, void* p) {
                        auto* f = static_cast<fan*>(p);
                        if (r == nullptr || static_cast<redisReply*>(r)->type != REDIS_REPLY_STATUS) ++*f->errors;
                        if (--f->left > 0) return;
                        delete f;
                        completed();
                    }, f, "PING");
            };
        } else {
            issue_mine = [&](std::size_t i) {
                addrmap::async_transaction tx = cluster.begin_transaction(keys[i]);
                tx.queue("SET %s %s", keys[i].c_str(), value.c_str());
                tx.exec([&errors](addrmap::outcome r) {  // the transaction object may go: exec() holds what it needs
                    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1) ++errors;
                    completed();
                });
            };
            issue_raw = [&](std::size_t i) {
                redisAsyncContext* ac = plain.by_slot[addrmap::key_slot(keys[i])];
                redisAsyncCommand(ac, nullptr, nullptr, "MULTI");
                redisAsyncCommand(ac, nullptr, nullptr, "SET %s %s", keys[i].c_str(), value.c_str());
                redisAsyncCommand(ac, [](redisAsyncContext*, void* r, void* errors_seen) {
                    auto* reply = static_cast<redisReply*>(r);
                    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) ++*static_cast<std::size_t*>(errors_seen);
                    completed();
                }, &plain.errors, "EXEC");
            };
        }
        for (std::size_t round = 0; round < o.rounds; ++round) {
            const auto [from, to] = round_slice(round);
            if (o.side == "both" || o.side == "raw") drive(loop, from, to, o.in_flight, issue_raw, raw);
            if (o.side == "both" || o.side == "addrmap") drive(loop, from, to, o.in_flight, issue_mine, mine);
            if (run_pipeline) pipeline_slice(from, to);
        }
        if (errors != 0 || plain.errors != 0)
            throw std::runtime_error(std::to_string(errors) + " addrmap and " + std::to_string(plain.errors) + " raw SETs failed");
        if constexpr (!std::is_same_v<Observer, addrmap::no_observer>)
            out.integer("observer_calls_counted", static_cast<long long>(*observer.ended));
        const auto& stats = cluster.stats();
        out.raw("stats", "{\"moved\": " + std::to_string(stats.moved) + ", \"ask\": " + std::to_string(stats.ask) +
                             ", \"connection_losses\": " + std::to_string(stats.connection_losses) +
                             ", \"connections_made\": " + std::to_string(stats.connections_made) +
                             ", \"blocking_connections_made\": " + std::to_string(stats.blocking_connections_made) + "}");
    }
    if (o.side == "both") {
        // The blocking adapter, one command at a time (its only mode on one thread), on a tenth of the keys.
        const std::size_t n = std::max<std::size_t>(1, o.ops / 10);
        const addrmap_bench::meter meter;
        for (std::size_t i = 0; i < n; ++i) {
            if (o.workload == "set") {
                blocking_cluster->command(keys[i], "SET %s %s", keys[i].c_str(), value.c_str());
            } else if (o.workload == "fan_out") {
                addrmap::fan_out(*blocking_cluster, {"PING"});
            } else {
                addrmap::transaction tx = blocking_cluster->begin_transaction(keys[i]);
                tx.queue("SET %s %s", keys[i].c_str(), value.c_str());
                tx.exec();
            }
        }
        blocking.add(meter.spent(), n);
    }
    // Only what ran is reported (--side runs one side alone).
    const bool mine_ran = o.side == "both" || o.side == "addrmap", raw_ran = o.side == "both" || o.side == "raw";
    if (mine_ran) out.number("addrmap_ops_per_s", mine.ops_per_s(), 0);
    if (raw_ran) out.number("raw_async_ops_per_s", raw.ops_per_s(), 0);
    if (mine_ran && raw_ran)
        out.number("ratio_vs_raw_async", raw.ops_per_s() > 0 ? mine.ops_per_s() / raw.ops_per_s() : 0, 4);
    if (o.side == "both") {
        out.number("blocking_sequential_ops_per_s", blocking.ops_per_s(), 0);
        out.number("ratio_vs_blocking", blocking.ops_per_s() > 0 ? mine.ops_per_s() / blocking.ops_per_s() : 0, 2);
    }
    if (pipelined.ops > 0) {
        out.number("blocking_pipelined_ops_per_s", pipelined.ops_per_s(), 0);
        if (mine_ran) out.number("ratio_vs_blocking_pipeline", mine.ops_per_s() / pipelined.ops_per_s(), 4);
        out.number("blocking_pipelined_cpu_s_per_1m", pipelined.cpu_s_per_1m(), 2);
        out.number("blocking_pipelined_allocations_per_set", pipelined.allocations_per_op(), 2);
    }
    if (mine_ran) {
        out.number("addrmap_cpu_s_per_1m", mine.cpu_s_per_1m(), 2);
        out.number("addrmap_allocations_per_set", mine.allocations_per_op(), 2);
    }
    if (raw_ran) {
        out.number("raw_async_cpu_s_per_1m", raw.cpu_s_per_1m(), 2);
        out.number("raw_async_allocations_per_set", raw.allocations_per_op(), 2);
    }
}

/// The topology through a blocking raw hiredis TLS connection (also builds static_table's entries).
addrmap::topology read_topology(const cli_options& o, std::vector<addrmap::static_table::entry>& entries) {
    const addrmap::node_address seed = addrmap::parse_address(o.seed, "--seed");
    redisSSLContextError ssl_error = REDIS_SSL_CTX_NONE;
    redisSSLContext* ssl = redisCreateSSLContext(o.cacert.c_str(), nullptr, nullptr, nullptr, o.hostname.c_str(), &ssl_error);
    if (ssl == nullptr) throw std::runtime_error(std::string("probe: ") + redisSSLContextGetError(ssl_error));
    addrmap::detail::context_ptr c(redisConnect(seed.host.c_str(), seed.port));
    if (!c || c->err != 0 || redisInitiateSSLWithContext(c.get(), ssl) != REDIS_OK) {
        redisFreeSSLContext(ssl);
        throw std::runtime_error("probe: cannot connect to the seed");
    }
    addrmap::reply_ptr reply(static_cast<redisReply*>(redisCommand(c.get(), "CLUSTER SHARDS")));
    c.reset();
    redisFreeSSLContext(ssl);
    addrmap::topology topo = addrmap::parse_cluster_shards(reply.get());
    for (const addrmap::shard& s : topo.shards) {
        entries.push_back({addrmap::format_host_port(s.master.host, s.master.port), addrmap::format_host_port(o.hostname, s.master.port)});
        for (const auto& r : s.replicas)
            entries.push_back({addrmap::format_host_port(r.host, r.port), addrmap::format_host_port(o.hostname, r.port)});
    }
    return topo;
}

/// run() with the observer --observer names.
template <class Policy>
void run_observed(const cli_options& o, Policy policy, const addrmap::topology& topo, json_line& out) {
    out.text("observer", o.observer);
    if (o.observer == "none") run(o, std::move(policy), topo, out);
    else if (o.observer == "counting") run(o, std::move(policy), topo, out, counting_observer{});
    else throw std::invalid_argument("--observer '" + o.observer + "': expected none or counting");
}

void dispatch(const cli_options& o, json_line& out) {
    using addrmap::ip_to_hostname;
    std::vector<addrmap::static_table::entry> entries;
    const addrmap::topology topo = read_topology(o, entries);
    if (o.policy == "identity") run_observed(o, addrmap::identity{}, topo, out);
    else if (o.policy == "ip_to_hostname") run_observed(o, ip_to_hostname(o.hostname), topo, out);
    else if (o.policy == "ip_to_hostname_keep_ip")
        run_observed(o, ip_to_hostname(o.hostname, ip_to_hostname::mode::dial_ip_verify_hostname), topo, out);
    else if (o.policy == "static_table") run_observed(o, addrmap::static_table(entries), topo, out);
    else if (o.policy == "env") run_observed(o, addrmap::env(std::map<std::string, std::string>{{"ADDRMAP_HOSTNAME", o.hostname}}), topo, out);
    else throw std::invalid_argument("--policy '" + o.policy + "' is not one of the choices below");
}

}  // namespace

int main(int argc, char** argv) {
    return addrmap_bench::bench_main("async_bench", usage_text, argc, argv, parse_cli, [](const cli_options& o, json_line& out) {
        out.texts({{"bench", "async"}, {"policy", o.policy}, {"loop", o.loop}, {"workload", o.workload},
                   {"side", o.side}, {"seed", o.seed}});
        out.counts({{"ops", o.ops}, {"in_flight", o.in_flight}, {"max_calls", o.max_calls}, {"rounds", o.rounds}});
    }, dispatch);
}
