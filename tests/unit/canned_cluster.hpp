// tests/unit/canned_cluster.hpp — the canned cluster the core's unit tests (and observer_bench) install: three masters
// with one replica each, mapped as reported, and options with short backoffs. No sockets.
#pragma once

#include "resp_helpers.hpp"

#include <addrmap/cluster_core.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace addrmap_test {

inline addrmap::endpoint as_reported(const addrmap::node_address& a) { return addrmap::endpoint(a.host, a.port, a.host); }

inline addrmap::cluster_options options_with(std::vector<std::string> seeds = {"10.0.0.1:7000"}) {
    using std::chrono::milliseconds;
    addrmap::cluster_options o;
    o.seeds = std::move(seeds);
    o.deadline = milliseconds(1000);
    o.min_backoff = milliseconds(4);
    o.max_backoff = milliseconds(64);
    o.refresh_min_interval = milliseconds(100);
    return o;
}

/// Three masters 10.0.0.1..3:7000..7002, one replica each (10.0.1.x:710x), slots split as redis-cli does.
inline addrmap::topology three_masters() {
    addrmap::topology t;
    const std::uint16_t bounds[4] = {0, 5461, 10923, 16384};
    for (int i = 0; i < 3; ++i) {
        addrmap::shard s;
        s.ranges.push_back({bounds[i], static_cast<std::uint16_t>(bounds[i + 1] - 1)});
        s.master = at("10.0.0." + std::to_string(i + 1), static_cast<std::uint16_t>(7000 + i));
        s.replicas.push_back(at("10.0.1." + std::to_string(i + 1), static_cast<std::uint16_t>(7100 + i)));
        t.shards.push_back(s);
    }
    return t;
}

/// The id of the node reported as `a` (no_node if none).
inline addrmap::node_id id_of(const addrmap::cluster_core& core, const addrmap::node_address& a) {
    for (addrmap::node_id id = 0; id < core.id_limit(); ++id)
        if (core.exists(id) && core.node(id).reported == a) return id;
    return addrmap::no_node;
}

}  // namespace addrmap_test
