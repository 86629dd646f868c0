// benchmarks/command_keys_bench.cpp — what routing by the command's own keys costs per command (command_keys.hpp):
// the table lookup and key extraction, the slot, and the RESP decoding call() adds, with heap allocations per call.
#include "counting_new.hpp"

#include <addrmap/command_keys.hpp>
#include <addrmap/detail/command.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

void report_allocations(benchmark::State& state, std::uint64_t before) {
    state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(addrmap_bench::allocations() - before),
                                                     benchmark::Counter::kAvgIterations);
}

void run_slot(benchmark::State& state, std::vector<std::string_view> argv) {
    const auto before = addrmap_bench::allocations();
    for (auto _ : state) benchmark::DoNotOptimize(addrmap::command_slot(argv));
    report_allocations(state, before);
}

void BM_slot_GET(benchmark::State& s) { run_slot(s, {"GET", "user:1000"}); }
void BM_slot_SET(benchmark::State& s) { run_slot(s, {"SET", "user:1000", "value", "EX", "60"}); }
void BM_slot_ZADD(benchmark::State& s) { run_slot(s, {"ZADD", "board", "1", "m"}); }  // late in the table
void BM_slot_MGET_8(benchmark::State& s) {
    run_slot(s, {"MGET", "{u}1", "{u}2", "{u}3", "{u}4", "{u}5", "{u}6", "{u}7", "{u}8"});
}
void BM_slot_EVAL(benchmark::State& s) { run_slot(s, {"EVAL", "return 1", "2", "{u}a", "{u}b", "x"}); }  // last rows
void BM_slot_XREADGROUP(benchmark::State& s) {
    run_slot(s, {"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "{s}a", "{s}b", ">", ">"});
}
// What call("SET %s %s", ...) adds before routing: decoding the formatted command back into argument views.
void BM_decode_and_slot_SET(benchmark::State& state) {
    const std::string cmd = addrmap::detail::format_argv({"SET", "user:1000", "value"});
    const auto before = addrmap_bench::allocations();
    for (auto _ : state) benchmark::DoNotOptimize(addrmap::command_slot(addrmap::detail::decode_command(cmd)));
    report_allocations(state, before);
}
// For comparison: the keyed API's only routing work.
void BM_key_slot_only(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(addrmap::key_slot("user:1000"));
}

}  // namespace

BENCHMARK(BM_slot_GET);
BENCHMARK(BM_slot_SET);
BENCHMARK(BM_slot_ZADD);
BENCHMARK(BM_slot_MGET_8);
BENCHMARK(BM_slot_EVAL);
BENCHMARK(BM_slot_XREADGROUP);
BENCHMARK(BM_decode_and_slot_SET);
BENCHMARK(BM_key_slot_only);
BENCHMARK_MAIN();
