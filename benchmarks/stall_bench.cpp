// benchmarks/stall_bench.cpp — the async cluster's memory while one master is stopped under offered load: SETs offered
// at a fixed rate over all slots on a libevent loop, the master SIGSTOPped for the load's length; prints one JSON line.
//
// usage: stall_bench --seed HOST:PORT --cacert FILE --stop-pid PID [--rate N] [--seconds S] [--hostname NAME]
//                    [--max-calls N] [--max-calls-per-node N]
//   --stop-pid  the redis-server to stop (SIGSTOP) during the load and continue (SIGCONT) after it; give only a process
//               you started (scripts/bench passes its own cluster's master); it is continued on every way out
//   --rate      SETs offered per second (default 100000): every millisecond, those due by then (at most 10,000 at a
//               time, so the loop keeps turning; the JSON says the rate reached)
//   --seconds   length of the load (default 10)
//   --max-calls, --max-calls-per-node  cluster_options' bounds (default: the defaults; give large ones to see the
//               memory without them)
// It reports the SETs offered, ended ok, refused (overloaded) and failed otherwise, and the process's RSS before, at
// its highest during the load, at the end of each second of it and at its end (from /proc/self/statm). Every accepted SET ends: those for
// the stopped master when it is back. Exit status: 0 with the results; 1 with {"error": ...}; 2 for a usage error.
#include <addrmap/addrmap.hpp>
#include <addrmap/loops/libevent.hpp>

#include "bench_common.hpp"

#include <event2/event.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using addrmap_bench::json_line;
using addrmap_bench::parse_count;
using clock_type = std::chrono::steady_clock;

struct cli_options {
    std::string seed, cacert, hostname = "localhost";
    pid_t stop_pid = 0;
    std::size_t rate = 100000, seconds = 10;
    std::size_t max_calls = addrmap::cluster_options{}.max_calls, max_calls_per_node = addrmap::cluster_options{}.max_calls_per_node;
};

constexpr const char* usage_text =
    "usage: stall_bench --seed HOST:PORT --cacert FILE --stop-pid PID [--rate N] [--seconds S] [--hostname NAME]\n"
    "                   [--max-calls N] [--max-calls-per-node N]\n";

cli_options parse_cli(int argc, char** argv) {
    cli_options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") throw std::invalid_argument("");
        if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--seed") o.seed = value;
        else if (flag == "--cacert") o.cacert = value;
        else if (flag == "--hostname") o.hostname = value;
        else if (flag == "--stop-pid") o.stop_pid = static_cast<pid_t>(parse_count(flag, value));
        else if (flag == "--rate") o.rate = parse_count(flag, value);
        else if (flag == "--seconds") o.seconds = parse_count(flag, value);
        else if (flag == "--max-calls") o.max_calls = parse_count(flag, value);
        else if (flag == "--max-calls-per-node") o.max_calls_per_node = parse_count(flag, value);
        else throw std::invalid_argument("unknown flag '" + flag + "'");
    }
    if (o.seed.empty() || o.cacert.empty() || o.stop_pid <= 1)
        throw std::invalid_argument("--seed, --cacert and --stop-pid are required");
    return o;
}

long rss_kib() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// The stopped node is continued however the run ends.
class stopped_process {
public:
    explicit stopped_process(pid_t pid) : pid_(pid) {
        if (kill(pid_, SIGSTOP) != 0) throw std::runtime_error("cannot SIGSTOP pid " + std::to_string(pid_));
    }
    ~stopped_process() { resume(); }
    stopped_process(const stopped_process&) = delete;
    stopped_process& operator=(const stopped_process&) = delete;
    void resume() {
        if (pid_ != 0) kill(std::exchange(pid_, 0), SIGCONT);
    }

private:
    pid_t pid_;
};

struct load_state {
    event_base* base = nullptr;
    addrmap::ip_to_hostname_async_cluster* cluster = nullptr;
    std::vector<std::string> keys;
    std::size_t rate = 0, next_key = 0;
    std::chrono::duration<double> length{0};
    std::size_t offered = 0, ok = 0, overloaded = 0, failed = 0;
    std::map<std::string, std::size_t> failures;  // by error kind
    long rss_max = 0;
    std::vector<long> rss_each_second;  // at the end of each second of the load
    clock_type::time_point started;
};

void on_outcome(load_state& s, const addrmap::outcome& o) {
    if (o.ok() && o->type == REDIS_REPLY_STATUS) return (void)++s.ok;
    if (!o.ok() && o.failure()->kind() == addrmap::error_kind::overloaded) return (void)++s.overloaded;
    ++s.failed;
    ++s.failures[o.ok() ? std::string("reply") : std::string(addrmap::to_string(o.failure()->kind()))];
}

void tick(evutil_socket_t, short, void* raw) {
    auto& s = *static_cast<load_state*>(raw);
    const std::chrono::duration<double> elapsed = clock_type::now() - s.started;
    if (elapsed >= s.length) return (void)event_base_loopbreak(s.base);
    const auto due = static_cast<std::size_t>(elapsed.count() * static_cast<double>(s.rate));
    const std::size_t now = due > s.offered ? std::min<std::size_t>(due - s.offered, 10000) : 0;
    for (std::size_t i = 0; i < now; ++i) {
        const std::string& key = s.keys[s.next_key++ % s.keys.size()];
        ++s.offered;
        s.cluster->command(key, [&s](addrmap::outcome o) { on_outcome(s, o); }, "SET %s %s", key.c_str(), "v");
    }
    const long rss = rss_kib();
    s.rss_max = std::max(s.rss_max, rss);
    if (elapsed.count() >= static_cast<double>(s.rss_each_second.size() + 1)) s.rss_each_second.push_back(rss);
}

void run(const cli_options& o, json_line& out) {
    event_base* base = event_base_new();
    load_state s;
    s.base = base;
    for (int i = 0; i < 65536; ++i) s.keys.push_back("stall:" + std::to_string(i));
    s.rate = o.rate;
    s.length = std::chrono::seconds(o.seconds);
    {
        addrmap::cluster_options options;
        options.seeds = {o.seed};
        options.tls.ca_file = o.cacert;
        options.max_calls = o.max_calls;
        options.max_calls_per_node = o.max_calls_per_node;
        addrmap::ip_to_hostname_async_cluster cluster(options, addrmap::on_libevent(base), addrmap::ip_to_hostname(o.hostname));
        s.cluster = &cluster;
        std::string failure;
        bool connected = false;
        cluster.connect([&](const addrmap::error* e) {
            if (e != nullptr) failure = e->message();
            connected = true;
            event_base_loopbreak(base);
        });
        if (!connected) event_base_dispatch(base);
        if (!failure.empty()) throw std::runtime_error(failure);
        // Every master connected and warm before the load: one SET per key spread.
        std::size_t warm = 0;
        for (int i = 0; i < 300; ++i)
            cluster.command(s.keys[static_cast<std::size_t>(i)], [&](addrmap::outcome) {
                if (++warm == 300) event_base_loopbreak(base);
            }, "SET %s %s", s.keys[static_cast<std::size_t>(i)].c_str(), "v");
        event_base_dispatch(base);
        const long rss_before = rss_kib();

        timeval every{0, 1000};
        event* timer = event_new(base, -1, EV_PERSIST, &tick, &s);
        {
            stopped_process stopped(o.stop_pid);
            s.started = clock_type::now();
            event_add(timer, &every);
            event_base_dispatch(base);  // until the last tick
            event_free(timer);
            const double load_seconds = std::chrono::duration<double>(clock_type::now() - s.started).count();
            out.number("load_seconds", load_seconds, 2);
            out.number("offered_per_s", static_cast<double>(s.offered) / load_seconds, 0);
            out.integer("rss_kib_end_of_load", rss_kib());
            out.integer("pending_end_of_load", static_cast<long long>(cluster.pending()));
            stopped.resume();
        }
        // The node is back: every accepted SET ends.
        const auto back = clock_type::now();
        while (cluster.pending() > 0 && clock_type::now() - back < std::chrono::seconds(60))
            event_base_loop(base, EVLOOP_ONCE);
        out.integer("offered", static_cast<long long>(s.offered));
        out.integer("ok", static_cast<long long>(s.ok));
        out.integer("overloaded", static_cast<long long>(s.overloaded));
        out.integer("failed", static_cast<long long>(s.failed));
        std::string kinds = "{";
        for (const auto& [kind, n] : s.failures) kinds += (kinds.size() > 1 ? ", \"" : "\"") + kind + "\": " + std::to_string(n);
        out.raw("failed_by_kind", kinds + "}");
        out.integer("pending_at_exit", static_cast<long long>(cluster.pending()));
        out.integer("rss_kib_before", rss_before);
        out.integer("rss_kib_max_during_load", s.rss_max);
        std::string each = "[";
        for (long kib : s.rss_each_second) each += (each.size() > 1 ? ", " : "") + std::to_string(kib);
        out.raw("rss_kib_each_second", each + "]");
        out.integer("max_calls", static_cast<long long>(options.max_calls));
        out.integer("max_calls_per_node", static_cast<long long>(options.max_calls_per_node));
    }
    event_base_free(base);
}

}  // namespace

int main(int argc, char** argv) {
    return addrmap_bench::bench_main("stall_bench", usage_text, argc, argv, parse_cli, [](const cli_options& o, json_line& out) {
        out.text("bench", "stall");
        out.integer("rate", static_cast<long long>(o.rate));
        out.integer("seconds", static_cast<long long>(o.seconds));
    }, run);
}
