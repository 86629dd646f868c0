// addrmap/snapshot.hpp — the cluster as the client sees it, on demand: every node with its role, slots, mapping
// (reported → dial → TLS name), state, certificate dates and counters, plus the client's counters; and its JSON form.
#pragma once

#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/quote.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap {

/// What basic_cluster::snapshot() and basic_async_cluster::snapshot() give: for a health endpoint or a log line.
struct topology_snapshot {
    std::chrono::system_clock::time_point taken_at;
    bool has_topology = false;    ///< a view was installed (else the nodes are the seeds)
    std::vector<node_info> nodes;  ///< as nodes() gives them
    cluster_stats stats;
};

namespace detail {
/// A JSON string of a node table's text (addresses and mappings the host grammar passed, problems already escaped):
/// shortened() (the one escaping helper's form for escaped text: a "\x1b" stays as it is, any byte still not printable
/// ASCII is escaped), then JSON's own quoting.
inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char ch : shortened(text, 1000)) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + "\"";
}
inline std::string json_seconds_since_epoch(std::chrono::system_clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}
}  // namespace detail

/// The snapshot as one JSON object (times as Unix seconds; text escaped as every addrmap message escapes it).
inline std::string to_json(const topology_snapshot& s) {
    using detail::json_string;
    std::string out = "{\"taken_at\":" + detail::json_seconds_since_epoch(s.taken_at) +
                      ",\"has_topology\":" + (s.has_topology ? "true" : "false") + ",\"nodes\":[";
    for (std::size_t i = 0; i < s.nodes.size(); ++i) {
        const node_info& n = s.nodes[i];
        std::string slots;
        for (const slot_range& r : n.slots)
            slots += (slots.empty() ? "[" : ",[") + std::to_string(r.first) + "," + std::to_string(r.last) + "]";
        out += (i == 0 ? "{" : ",{");
        out += "\"reported\":" + json_string(to_string(n.reported)) + ",\"role\":" + json_string(to_string(n.role)) +
               ",\"dial\":" + json_string(n.dial_host.empty() ? std::string() : format_host_port(n.dial_host, n.port)) +
               ",\"tls_name\":" + json_string(n.tls_name) + ",\"slots\":[" + slots + "]" +
               ",\"connected\":" + (n.connected ? "true" : "false") + ",\"down\":" + (n.down ? "true" : "false") +
               ",\"problem\":" + json_string(n.problem);
        if (n.handshake) {
            out += ",\"tls\":" + json_string(n.handshake->protocol) +
                   ",\"resumed\":" + (n.handshake->session_reused ? "true" : "false");
            if (!n.handshake->chain.empty())
                out += ",\"not_after\":" + detail::json_seconds_since_epoch(n.handshake->chain.front().not_after);
        }
        const node_counters& c = n.counters;
        out += ",\"counters\":{\"sends\":" + std::to_string(c.sends) + ",\"redirects\":" + std::to_string(c.redirects) +
               ",\"connections_made\":" + std::to_string(c.connections_made) +
               ",\"connection_losses\":" + std::to_string(c.connection_losses) +
               ",\"dial_failures\":" + std::to_string(c.dial_failures) + "}}";
    }
    const cluster_stats& t = s.stats;
    out += "],\"stats\":{\"moved\":" + std::to_string(t.moved) + ",\"ask\":" + std::to_string(t.ask) +
           ",\"refreshes\":" + std::to_string(t.refreshes) + ",\"retries\":" + std::to_string(t.retries) +
           ",\"unknown_outcomes\":" + std::to_string(t.unknown_outcomes) +
           ",\"connections_made\":" + std::to_string(t.connections_made) +
           ",\"connection_losses\":" + std::to_string(t.connection_losses) +
           ",\"dial_failures\":" + std::to_string(t.dial_failures) + "}}";
    return out;
}

}  // namespace addrmap
