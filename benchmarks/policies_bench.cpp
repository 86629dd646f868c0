// benchmarks/policies_bench.cpp — cost of map() for every shipped policy and a lambda, per input kind, table size
// and hit/miss, plus heap allocations per call (operator new and hiredis's, counting_new.hpp) and env/table
// construction cost.
//
// Names: map/<policy>/<input>/<outcome>[/<entries>]   input: ipv4 | ipv6 | name
//   outcome hit  — the policy's own rule answered (table entry, hostname rule, only-list entry)
//           miss — it declined; try_map fell through first_match (or env's table) to the next rule, or a
//                  pass_through table answered with the address as reported
//           pass — ip_to_hostname given a reported hostname: passed through unchanged
//   The name input is one the policies allow (cluster_names), so a name case measures the allowed-name
//   check and the pass-through; a name no policy allows is refused with error{topology}.
//        construct/<what>/<entries>
//        part/<step>/<input> — pieces of a table lookup (IP parse, key hash), to see where a hit's time goes,
//                              and the adapter's per-command SIGPIPE guard
// Counters: allocs_per_map / allocs_per_construct (kAvgIterations: allocations divided by iterations).
// A case that throws (or calls SkipWithError) is listed on stderr at the end and the program exits 1:
// Google Benchmark alone reports such a case as a row without figures and still exits 0, so a table
// made from its output (scripts/bench, docs/benchmarks.md) loses the case without anyone noticing.
#include <addrmap/address.hpp>
#include <addrmap/detail/cidr.hpp>
#include <addrmap/detail/table_grammar.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/first_match.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policy.hpp>
#include <addrmap/version.hpp>

#if __has_include(<addrmap/detail/sigpipe.hpp>)
#include <addrmap/detail/sigpipe.hpp>
#define ADDRMAP_BENCH_HAVE_SIGPIPE_GUARD 1
#endif

#include <benchmark/benchmark.h>

#include "counting_new.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// ---- inputs and tables -----------------------------------------------------------------------------

namespace {

using addrmap::endpoint;
using addrmap_bench::allocations;
using addrmap::node_address;

constexpr std::uint16_t node_port = 7000;
const char* const cluster_hostname = "redis.cluster.example.com";
/// The reported names a policy lets through: what ip_to_hostname(cluster_hostname) allows by default
/// besides the hostname (its siblings, allowed_names::hostname_and_siblings), so env and first_match
/// allow them too; static_table, whose default is its own target names, is given them explicitly.
const char* const cluster_names = "*.cluster.example.com";

/// Key #i of a generated table: even i are IPv4 (10.x.y.z), odd i IPv6 (fd00::<hex i>).
std::string key_ip(std::size_t i) {
    if (i % 2 == 0)
        return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
               std::to_string(i & 255);
    char hex[16];
    std::snprintf(hex, sizeof hex, "%zx", i + 1);
    return std::string("fd00::") + hex;
}

std::string bracketed(const std::string& ip) { return ip.find(':') != std::string::npos ? "[" + ip + "]" : ip; }
std::string target_of(std::size_t i) { return "node" + std::to_string(i) + ".redis.test"; }

/// Middle entries of an n-entry table: the IPv4 one and the IPv6 one.
std::size_t hit_v4_index(std::size_t n) { return (n / 2) & ~std::size_t{1}; }
std::size_t hit_v6_index(std::size_t n) { return hit_v4_index(n) + 1; }

node_address reported(std::string host) { return node_address{std::move(host), node_port, {}}; }
const node_address miss_v4 = reported("192.0.2.77");  // never in a generated table
const node_address name_input = reported("node-7.cluster.example.com");  // allowed by cluster_names

std::vector<addrmap::static_table::entry> table_entries(std::size_t n) {
    std::vector<addrmap::static_table::entry> entries;
    entries.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        entries.push_back({bracketed(key_ip(i)) + ":" + std::to_string(node_port), target_of(i)});
    return entries;
}

std::string table_text(std::size_t n) {
    std::string text;
    for (const auto& e : table_entries(n)) {
        if (!text.empty()) text += ';';
        text += e.from + "=" + e.to;
    }
    return text;
}

std::string only_list_text(std::size_t n) {
    std::string text;
    for (std::size_t i = 0; i < n; ++i) {
        if (!text.empty()) text += ',';
        text += key_ip(i);
    }
    return text;
}

std::map<std::string, std::string> env_variables(std::size_t n) {
    return {{"ADDRMAP_TABLE", table_text(n)}, {"ADDRMAP_HOSTNAME", cluster_hostname}};
}

// ---- cases that fail --------------------------------------------------------------------------------

/// Every case that ended in an error: name -> its first message. main exits 1 unless it is empty.
std::mutex failed_mutex;
std::map<std::string, std::string> failed_cases;

void record_failure(const std::string& name, std::string message) {
    const std::lock_guard<std::mutex> lock(failed_mutex);
    failed_cases.emplace(name, std::move(message));
}

/// Registers `body` as the case `name`, the only way a case is registered here: an exception from the
/// body becomes SkipWithError (Google Benchmark does not catch it) and, like a SkipWithError the body
/// called itself, is recorded in failed_cases.
template <class Body>
void add_case(const std::string& name, Body body) {
    benchmark::RegisterBenchmark(name.c_str(), [name, body = std::move(body)](benchmark::State& state) {
        try {
            body(state);
        } catch (const std::exception& e) {
            record_failure(name, e.what());
            state.SkipWithError(e.what());
            return;
        } catch (...) {
            record_failure(name, "an exception not derived from std::exception");
            state.SkipWithError("an exception not derived from std::exception");
            return;
        }
        if (state.error_occurred()) record_failure(name, "SkipWithError (its message is in the benchmark output)");
    });
}

// ---- the one benchmark body, instantiated per policy -------------------------------------------------

/// Times map_address(policy, address) — the adapter's own call path — and counts allocations.
/// Checks once, untimed, that the case is what its name says (the expected dial host); throws if not.
template <class Policy>
void bm_map(benchmark::State& state, const Policy& policy, const node_address& address,
            const std::string& expected_dial_host) {
    const endpoint probe = addrmap::map_address(policy, address);
    if (probe.dial_host() != expected_dial_host)
        throw std::logic_error("mapped to " + addrmap::to_string(probe) + ", expected dial host " + expected_dial_host);
    const std::uint64_t before = allocations();
    for (auto _ : state) {
        endpoint mapped = addrmap::map_address(policy, address);
        benchmark::DoNotOptimize(mapped);
    }
    const std::uint64_t made = allocations() - before;
    state.counters["allocs_per_map"] = benchmark::Counter(static_cast<double>(made), benchmark::Counter::kAvgIterations);
}

template <class Policy>
void add_map(const std::string& name, std::shared_ptr<const Policy> policy, node_address address,
             std::string expected_dial_host) {
    add_case(name, [policy = std::move(policy), address = std::move(address),
                    expected = std::move(expected_dial_host)](benchmark::State& state) {
        bm_map(state, *policy, address, expected);
    });
}

/// Times `make()` (a constructor) and counts its allocations.
template <class Make>
void add_construct(const std::string& name, Make make) {
    add_case(name, [make](benchmark::State& state) {
        const std::uint64_t before = allocations();
        for (auto _ : state) {
            auto built = make();
            benchmark::DoNotOptimize(built);
        }
        const std::uint64_t made = allocations() - before;
        state.counters["allocs_per_construct"] =
            benchmark::Counter(static_cast<double>(made), benchmark::Counter::kAvgIterations);
    });
}

template <class P>
std::shared_ptr<const P> share(P policy) {
    return std::make_shared<const P>(std::move(policy));
}

/// The steps of static_table::try_map on their own: inet_pton into 16 bytes, then the key's hash.
void register_parts() {
    for (const auto& [input, host] : {std::pair{"ipv4", "10.0.0.2"}, std::pair{"ipv6", "fd00::3"},
                                      std::pair{"name", "node-7.cluster.example.com"}}) {
        add_case(std::string("part/parse_ip/") + input, [text = std::string(host)](benchmark::State& state) {
            for (auto _ : state) {
                auto ip = addrmap::detail::parse_ip(text);
                benchmark::DoNotOptimize(ip);
            }
        });
    }
    add_case("part/table_key_hash/ipv6", [](benchmark::State& state) {
        addrmap::detail::table_key key{*addrmap::detail::parse_ip("fd00::3"), node_port};
        const addrmap::detail::table_key_hash hash;
        for (auto _ : state) {
            benchmark::DoNotOptimize(key);
            std::size_t h = hash(key);
            benchmark::DoNotOptimize(h);
        }
    });
#ifdef ADDRMAP_BENCH_HAVE_SIGPIPE_GUARD
    // Not a policy: what the adapter pays per command() / execute() to keep SIGPIPE away (4 syscalls).
    add_case("part/sigpipe_guard/none", [](benchmark::State& state) {
        for (auto _ : state) {
            const addrmap::detail::sigpipe_guard guard;
            benchmark::DoNotOptimize(&guard);
        }
    });
#endif
}

void register_all() {
    using addrmap::first_match;
    using addrmap::identity;
    using addrmap::ip_to_hostname;
    using addrmap::on_miss;
    using addrmap::static_table;

    const node_address v4 = reported("10.0.0.2");
    const node_address v6 = reported("fd00::3");

    // Size-independent policies.
    // A reported name passes identity only when allowed: the cost measured includes that check.
    auto id = share(identity{addrmap::allowed_names{"*.example.com"}});
    add_map("map/identity/ipv4/hit", id, v4, v4.host);
    add_map("map/identity/ipv6/hit", id, v6, v6.host);
    add_map("map/identity/name/hit", id, name_input, name_input.host);

    auto lambda = share([](const node_address& a) { return endpoint(a.host, a.port, a.host); });
    add_map("map/lambda/ipv4/hit", lambda, v4, v4.host);
    add_map("map/lambda/ipv6/hit", lambda, v6, v6.host);
    add_map("map/lambda/name/hit", lambda, name_input, name_input.host);
    // A lambda that computes its names: shows what the counter reports for a policy that allocates.
    auto owning = share([](const node_address& a) {
        return endpoint::owning(a.host + ".ip.redis.test", a.port, std::string(cluster_hostname));
    });
    add_map("map/lambda_owning/ipv4/hit", owning, v4, v4.host + ".ip.redis.test");

    auto by_name = share(ip_to_hostname(cluster_hostname));
    add_map("map/ip_to_hostname/ipv4/hit", by_name, v4, cluster_hostname);
    add_map("map/ip_to_hostname/ipv6/hit", by_name, v6, cluster_hostname);
    add_map("map/ip_to_hostname/name/pass", by_name, name_input, name_input.host);
    auto keep_ip = share(ip_to_hostname(cluster_hostname, ip_to_hostname::mode::dial_ip_verify_hostname));
    add_map("map/ip_to_hostname_keep_ip/ipv4/hit", keep_ip, v4, v4.host);
    add_map("map/ip_to_hostname_keep_ip/ipv6/hit", keep_ip, v6, v6.host);
    add_map("map/ip_to_hostname_keep_ip/name/pass", keep_ip, name_input, name_input.host);

    // Table-sized policies: the hit is the middle entry of each family.
    for (const std::size_t n : {std::size_t{4}, std::size_t{100}, std::size_t{10000}}) {
        const std::string size = "/" + std::to_string(n);
        const node_address hit4 = reported(key_ip(hit_v4_index(n)));
        const node_address hit6 = reported(key_ip(hit_v6_index(n)));
        const std::string hit4_target = target_of(hit_v4_index(n));
        const std::string hit6_target = target_of(hit_v6_index(n));

        auto table = share(static_table(table_entries(n), on_miss::fail));
        auto table_pass =
            share(static_table(table_entries(n), on_miss::pass_through, addrmap::allowed_names{cluster_names}));
        add_map("map/static_table/ipv4/hit" + size, table, hit4, hit4_target);
        add_map("map/static_table/ipv6/hit" + size, table, hit6, hit6_target);
        add_map("map/static_table/ipv4/miss" + size, table_pass, miss_v4, miss_v4.host);
        add_map("map/static_table/name/miss" + size, table_pass, name_input, name_input.host);

        auto from_env = share(addrmap::env(env_variables(n)));
        add_map("map/env/ipv4/hit" + size, from_env, hit4, hit4_target);
        add_map("map/env/ipv6/hit" + size, from_env, hit6, hit6_target);
        add_map("map/env/ipv4/miss" + size, from_env, miss_v4, cluster_hostname);
        add_map("map/env/name/miss" + size, from_env, name_input, name_input.host);

        auto stacked = share(first_match<static_table, ip_to_hostname>(static_table(table_entries(n), on_miss::fail),
                                                                         ip_to_hostname(cluster_hostname)));
        add_map("map/first_match/ipv4/hit" + size, stacked, hit4, hit4_target);
        add_map("map/first_match/ipv6/hit" + size, stacked, hit6, hit6_target);
        add_map("map/first_match/ipv4/miss" + size, stacked, miss_v4, cluster_hostname);
        add_map("map/first_match/name/miss" + size, stacked, name_input, name_input.host);

        // ip_to_hostname restricted to an only-list of n single IPs; a miss falls through to identity.
        auto only = share(first_match<ip_to_hostname, identity>(
            ip_to_hostname(cluster_hostname, ip_to_hostname::mode::dial_hostname, only_list_text(n)), identity{}));
        add_map("map/ip_to_hostname_only/ipv4/hit" + size, only, hit4, cluster_hostname);
        add_map("map/ip_to_hostname_only/ipv6/hit" + size, only, hit6, cluster_hostname);
        add_map("map/ip_to_hostname_only/ipv4/miss" + size, only, miss_v4, miss_v4.host);

        // Construction: env from an explicit map (the table is parsed and indexed), and its parts alone.
        add_construct("construct/env/" + std::to_string(n),
                      [variables = env_variables(n)] { return addrmap::env(variables); });
        add_construct("construct/static_table_parse/" + std::to_string(n),
                      [text = table_text(n)] { return static_table::parse(text); });
        add_construct("construct/ip_to_hostname_only/" + std::to_string(n), [text = only_list_text(n)] {
            return ip_to_hostname(cluster_hostname, ip_to_hostname::mode::dial_hostname, text);
        });
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        register_all();
        register_parts();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "policies_bench: setting up the policies failed: %s\n", e.what());
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("addrmap_version", std::to_string(ADDRMAP_VERSION_MAJOR) + "." +
                                                       std::to_string(ADDRMAP_VERSION_MINOR) + "." +
                                                       std::to_string(ADDRMAP_VERSION_PATCH));
    benchmark::AddCustomContext("allocation_counter", "global operator new, all replaceable forms");
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    // Every case has finished: failed_cases is no longer written.
    if (failed_cases.empty()) return 0;
    std::fprintf(stderr, "policies_bench: FAILED: %zu case(s) ended in an error and have no figures:\n",
                 failed_cases.size());
    for (const auto& [name, message] : failed_cases)
        std::fprintf(stderr, "  %s: %s\n", name.c_str(), message.c_str());
    return 1;
}
