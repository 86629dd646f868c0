// benchmarks/observer_bench.cpp — what an observer (observer.hpp) adds to one call, measured without sockets: the
// cluster core's per-call steps (start, next, on_send, on_reply, and the call's end as the async driver tells it: the
// clock read and call_ended_event) with no observer, a counting one, and the Prometheus example. A live run cannot
// resolve this (a call's CPU there is microseconds of system calls that vary several-fold from run to run).
//
// Names: call/<observer>   observer: none | counting | prometheus.  Counter: allocs_per_call.
#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/event_sink.hpp>

#include <benchmark/benchmark.h>

#include "../examples/prometheus_observer.hpp"
#include "../tests/unit/canned_cluster.hpp"  // the unit tests' canned cluster
#include "counting_new.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <type_traits>

namespace {

using namespace addrmap;
using clock_type = std::chrono::steady_clock;

struct counting_observer {
    std::uint64_t ended = 0;
    void operator()(const call_ended_event&) noexcept { ++ended; }
};

template <class Observer>
void call(benchmark::State& state) {
    cluster_options options;
    options.seeds = {"10.0.0.1:7000"};
    cluster_core core(options, [](const node_address& a) { return endpoint(a.host, a.port, a.host); });
    Observer observer;
    if constexpr (!std::is_same_v<Observer, no_observer>) core.set_observer(detail::event_sink::bind(&observer));
    core.refresh_started(clock_type::now());
    core.install(addrmap_test::three_masters(), core.seed(0), "CLUSTER SHARDS");
    const std::string command = detail::format_argv({"SET", "counter", "1"});
    const int slot = static_cast<int>(key_slot("counter"));
    char ok_text[] = "OK";
    redisReply ok{};
    ok.type = REDIS_REPLY_STATUS;
    ok.str = ok_text;
    ok.len = 2;
    const std::uint64_t allocations_before = addrmap_bench::allocations();
    for (auto _ : state) {
        call_state c = core.start(slot, command, {}, clock_type::now());
        const core_decision d = core.next(c, c.started);
        core.on_send(c);
        benchmark::DoNotOptimize(core.on_reply(c, d.node, ok, cluster_core::read_clock));
        // What the async driver does at every call's end (the blocking one compiles it out without an observer).
        if (core.wants_call_events()) core.on_call_ended(c, &ok, nullptr, clock_type::now());
    }
    state.counters["allocs_per_call"] = benchmark::Counter(
        static_cast<double>(addrmap_bench::allocations() - allocations_before), benchmark::Counter::kAvgIterations);
    if constexpr (std::is_same_v<Observer, counting_observer>)
        if (observer.ended != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("calls went uncounted");
}

BENCHMARK_TEMPLATE(call, no_observer)->Name("call/none");
BENCHMARK_TEMPLATE(call, counting_observer)->Name("call/counting");
BENCHMARK_TEMPLATE(call, example::prometheus_observer)->Name("call/prometheus");

}  // namespace

BENCHMARK_MAIN();
