// addrmap/detail/seed_number.hpp — which configured seed a node is dialed as, for messages: "seed #N as configured"
// for a seed no installed topology lists (yet), as cluster_core names it; any other node is one the cluster reported.
#pragma once

#include <addrmap/cluster_core.hpp>

#include <cstddef>

namespace addrmap::detail {

/// N (1-based, the position in cluster_options::seeds) when node `n` is a seed that no installed topology lists;
/// 0 for a node the cluster reported (a seed the topology lists counts as reported: the cluster named it too).
inline std::size_t configured_seed_number(const cluster_core& core, node_id n) {
    if (!core.exists(n)) return 0;
    const core_node& node = core.node(n);
    if (!node.is_seed || node.in_topology) return 0;
    for (std::size_t i = 0; i < core.seed_count(); ++i)
        if (core.seed(i) == n) return i + 1;
    return 0;
}

}  // namespace addrmap::detail
