// addrmap/detail/node_table.hpp — the node table as both drivers show it (nodes()): the core's nodes with their
// mapping, role, slots and state, plus the handshake of each live connection, in one order. No I/O.
#pragma once

#include <addrmap/cluster_core.hpp>

#include <algorithm>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// The node table as drivers show it (nodes()): every node of the topology and the seeds, sorted by reported
/// address; `handshake(id)` gives the handshake of the node's live connection, if it has one.
template <class Handshake>
std::vector<node_info> node_table(const cluster_core& core, Handshake handshake) {
    std::vector<node_info> out;
    for (node_id id = 0; id < core.id_limit(); ++id) {
        if (!core.exists(id)) continue;
        const core_node& node = core.node(id);
        if (!node.in_topology && !node.is_seed) continue;
        node_info info;
        info.reported = node.reported;
        info.dial_host = node.dial_host;
        info.port = node.port;
        info.tls_name = node.tls_name;
        info.role = node.role;
        info.slots = node.slots;
        info.down = node.down;
        info.problem = node.problem;
        info.counters = node.counters;
        info.handshake = handshake(id);
        info.connected = info.handshake.has_value();
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const node_info& a, const node_info& b) {
        if (a.reported.host != b.reported.host) return a.reported.host < b.reported.host;
        return a.reported.port < b.reported.port;
    });
    return out;
}

}  // namespace addrmap::detail
