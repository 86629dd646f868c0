// tests/integration/cluster_test_support.hpp — shared set-up for the cluster adapter's live tests:
// options for the fixture's TLS cluster, keys that land on chosen slots, and each master's node table.
#pragma once

#include "live_env.hpp"

#include <addrmap/addrmap.hpp>

#include <chrono>
#include <cstdint>
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

}  // namespace live
