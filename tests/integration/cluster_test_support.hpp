// tests/integration/cluster_test_support.hpp — shared set-up for the cluster adapter's live tests:
// options for the fixture's TLS cluster, keys that land on chosen slots, each master's node table, the replicas.
#pragma once

#include "admin_connection.hpp"
#include "live_env.hpp"

#include <addrmap/addrmap.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace live {

/// Options for the fixture cluster: CA from scripts/cluster, seeds by name or IP.
inline addrmap::cluster_options cluster_options(std::vector<std::string> seeds) {
    addrmap::cluster_options options;
    options.seeds = std::move(seeds);
    options.tls.ca_file = cluster_tls("ca.crt");
    options.tls.connect_timeout = std::chrono::milliseconds(2000);
    options.tls.command_timeout = std::chrono::milliseconds(5000);
    return options;
}

inline std::string seed_by_name(int node = 0) { return "localhost:" + std::to_string(cluster_port() + node); }
inline std::string seed_by_ip(int node = 0) { return "127.0.0.1:" + std::to_string(cluster_port() + node); }

/// A key whose slot is `slot`: "{<tag>}<suffix>" with a tag found by search (deterministic).
inline std::string tag_for_slot(std::uint16_t slot) {
    for (std::uint64_t i = 0;; ++i) {
        std::string tag = "t" + std::to_string(i);
        if (addrmap::key_slot(tag) == slot) return tag;
    }
}

/// The masters in the adapter's node table.
template <class Cluster>
std::vector<addrmap::node_info> masters(const Cluster& cluster) {
    std::vector<addrmap::node_info> out;
    for (auto& node : cluster.nodes())
        if (node.role == addrmap::node_role::master && !node.slots.empty()) out.push_back(node);
    return out;
}

/// The live cluster's layout, read by the test itself: master port -> replica ports.
inline std::map<std::uint16_t, std::vector<std::uint16_t>> replicas_by_master() {
    admin_connection admin(cluster_port());
    auto reply = admin.ok("CLUSTER SHARDS");
    std::map<std::uint16_t, std::vector<std::uint16_t>> out;
    for (const addrmap::shard& s : addrmap::parse_cluster_shards(reply.get()).shards)
        for (const addrmap::node_address& r : s.replicas) out[s.master.port].push_back(r.port);
    return out;
}

/// How long `f()` took.
template <class F>
std::chrono::milliseconds time_of(F&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

/// Milliseconds since `start` (steady clock).
inline long long ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

/// A reply's string ("" for none).
inline std::string text_of(const redisReply* r) { return r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : std::string(); }
inline std::string text_of(const redisReply& r) { return text_of(&r); }
inline std::string text_of(const addrmap::detail::reply_ptr& r) { return text_of(r.get()); }

}  // namespace live
