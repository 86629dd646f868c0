// examples/prometheus_observer.hpp — an observer (addrmap/observer.hpp) that keeps OpenTelemetry's
// db.client.operation.duration as histograms per node and command, and prints them in Prometheus text format.
#pragma once

#include <addrmap/events.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>

namespace example {

/// Copies share one set of histograms (the cluster holds its own copy): keep one to scrape() from any thread.
class prometheus_observer {
public:
    /// Bucket bounds in seconds, as OpenTelemetry advises for db.client.operation.duration.
    static constexpr std::array<double, 14> bounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
                                                      0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   10.0};

    void operator()(const addrmap::call_ended_event& e) {
        // The series: the node contacted after mapping, the command, and error.type for calls that did not succeed.
        std::string peer = "none", port = "";
        if (e.node != nullptr) peer.assign(e.node->dial_host), port = std::to_string(e.node->port);
        std::string error;
        if (e.result == addrmap::call_result::error_reply) error.assign(e.status_code);
        if (e.result == addrmap::call_result::failed && e.error_type) error = addrmap::to_string(*e.error_type);
        const double seconds = std::chrono::duration<double>(e.duration).count();
        const std::lock_guard<std::mutex> lock(state_->mutex);
        auto key = std::make_tuple(peer, port, std::string(e.operation), error);
        // Bounded: past max_series, new combinations share one series per node (a node inventing error codes, or a
        // caller inventing command names, cannot grow the scrape without end).
        if (state_->series.size() >= max_series && state_->series.count(key) == 0)
            key = std::make_tuple(peer, port, std::string("OTHER"), std::string(error.empty() ? "" : "OTHER"));
        histogram& h = state_->series[key];
        for (std::size_t i = 0; i < bounds.size(); ++i)
            if (seconds <= bounds[i]) ++h.buckets[i];
        ++h.count;
        h.sum += seconds;
    }

    /// The histograms in Prometheus text format (OpenTelemetry's names, dots as underscores).
    std::string scrape() const {
        std::ostringstream out;
        out << "# HELP db_client_operation_duration_seconds Duration of database client operations.\n"
               "# TYPE db_client_operation_duration_seconds histogram\n";
        const std::lock_guard<std::mutex> lock(state_->mutex);
        for (const auto& [key, h] : state_->series) {
            const auto& [peer, port, operation, error] = key;
            std::string labels = "db_system_name=\"redis\",db_operation_name=" + label(operation) +
                                 ",network_peer_address=" + label(peer);
            if (!port.empty()) labels += ",network_peer_port=" + label(port);
            if (!error.empty()) labels += ",error_type=" + label(error);
            for (std::size_t i = 0; i < bounds.size(); ++i)
                out << "db_client_operation_duration_seconds_bucket{" << labels << ",le=\"" << bounds[i] << "\"} "
                    << h.buckets[i] << "\n";
            out << "db_client_operation_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << h.count << "\n"
                << "db_client_operation_duration_seconds_sum{" << labels << "} " << h.sum << "\n"
                << "db_client_operation_duration_seconds_count{" << labels << "} " << h.count << "\n";
        }
        return out.str();
    }

    /// At most this many series (node, command, error.type); see operator().
    static constexpr std::size_t max_series = 1000;

private:
    /// A label value in Prometheus text format: quoted, with '\\', '"' and line feeds escaped.
    static std::string label(const std::string& value) {
        std::string out = "\"";
        for (const char ch : value) {
            if (ch == '\\' || ch == '"') out += '\\';
            if (ch == '\n') {
                out += "\\n";
                continue;
            }
            out += ch;
        }
        return out + "\"";
    }

    struct histogram {
        std::array<std::uint64_t, bounds.size()> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
    };
    struct state {
        std::mutex mutex;
        std::map<std::tuple<std::string, std::string, std::string, std::string>, histogram> series;
    };
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

/// Sums the _count samples of a scrape per network_peer_port: what a test compares with the calls it made.
inline std::map<std::string, std::uint64_t> counts_per_port(const std::string& scrape) {
    std::map<std::string, std::uint64_t> out;
    std::istringstream lines(scrape);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("db_client_operation_duration_seconds_count{", 0) != 0) continue;
        const std::size_t at = line.find("network_peer_port=\"");
        const std::string port =
            at == std::string::npos ? "none" : line.substr(at + 19, line.find('"', at + 19) - (at + 19));
        out[port] += std::stoull(line.substr(line.rfind(' ') + 1));
    }
    return out;
}

}  // namespace example
