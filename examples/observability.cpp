// examples/observability.cpp — a cluster with an observer: every event as a JSON line on stderr, and per node and
// command db.client.operation.duration histograms printed in Prometheus text format, checked against the calls made.
#include "example_flags.hpp"
#include "json_lines_observer.hpp"
#include "prometheus_observer.hpp"

#include <addrmap/addrmap.hpp>

#include <iostream>
#include <string>
#include <type_traits>

namespace {

/// Both observers in one: the JSON lines hear every event, the histograms the call ends.
struct json_and_prometheus {
    example::json_lines_observer json{std::cerr};
    example::prometheus_observer metrics;

    template <class Event>
    void operator()(const Event& e) {
        json(e);
        if constexpr (std::is_invocable_v<example::prometheus_observer&, const Event&>) metrics(e);
    }
};

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(
        argc, argv, {}, {{"--hostname", "localhost"}},
        "usage: observability --seed HOST:PORT --cacert CA.pem [--hostname NAME]\n");
    if (!flags) return 2;

    json_and_prometheus observer;
    const example::prometheus_observer metrics = observer.metrics;  // a copy shares the histograms: scrape from it
    addrmap::basic_cluster<addrmap::ip_to_hostname, json_and_prometheus> cluster(
        flags->options, addrmap::ip_to_hostname(flags->at("--hostname")), observer);
    cluster.connect();

    std::uint64_t calls = 0;
    for (int i = 0; i < 30; ++i) {
        const std::string key = "observed:" + std::to_string(i);
        cluster.command(key, "SET %s %d", key.c_str(), i);
        cluster.command(key, "GET %s", key.c_str());
        calls += 2;
    }
    addrmap::pipeline batch;
    batch.add("observed:0", "GET %s", "observed:0");
    batch.add("observed:0", "INCR %s", "observed:0");
    cluster.execute(batch);
    ++calls;  // one PIPELINE

    const std::string scrape = metrics.scrape();
    std::cout << scrape;
    std::uint64_t counted = 0;
    for (const auto& [port, count] : example::counts_per_port(scrape)) counted += count;
    if (counted != calls) {
        std::cout << "FAIL: the histograms count " << counted << " calls, " << calls << " were made\n";
        return 1;
    }
    std::cout << "OK: " << calls << " calls, counted per node and command\n";
    return 0;
}
