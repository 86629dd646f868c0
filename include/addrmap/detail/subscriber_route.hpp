// addrmap/detail/subscriber_route.hpp — where a subscriber's subscriptions go: a slot's shard channels to its master or,
// under read_from, one of its replicas; a pattern on every master to each serving master; classic channels and patterns
// to one node. One rule for both subscribers.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>  // read_preference
#include <addrmap/detail/quote.hpp>      // escaped
#include <addrmap/fan_out.hpp>           // fan_out_nodes

#include <chrono>
#include <map>
#include <string>

namespace addrmap::detail {

/// The node for SSUBSCRIBEs of `slot`: its master (read_from = master); else the first of the master's usable replicas
/// (the node table's order, so the choice holds from one map to the next and a subscription is not moved for nothing)
/// that `backing_off` does not set aside, falling back to the master (replica_preferred) or to none (replica: asked
/// again later). A replica receives what is published on its shard, and Redis 7 pushes `sunsubscribe` there too when
/// the slot moves. no_node when the map names no master, or the master is set aside.
template <class BackingOff>
node_id shard_subscriber_node(const cluster_core& core, int slot, read_preference read_from, std::chrono::steady_clock::time_point now,
                              const BackingOff& backing_off) {
    const node_id master = core.owner(slot);
    if (master == no_node) return no_node;
    if (read_from != read_preference::master)
        for (const node_id replica : core.usable_replicas(master, now))
            if (!backing_off(replica)) return replica;
    if (read_from == read_preference::replica) return no_node;
    return backing_off(master) ? no_node : master;
}

/// The node for classic and pattern subscriptions, which a subscriber keeps on one node: `current` while the map still
/// names it and `backing_off` does not set it aside (a master demoted since still receives every PUBLISH); else the
/// map's first master (one not known down, if any); else any other master in the map not set aside, one not known down
/// first (the first one backing off after a drop must not hold them all back); no_node when there is none.
template <class BackingOff>
node_id classic_subscriber_node(const cluster_core& core, node_id current, const BackingOff& backing_off) {
    if (current != no_node && core.exists(current) && core.node(current).in_topology && !backing_off(current)) return current;
    const node_id first = core.owner(-1);
    if (first != no_node && !backing_off(first)) return first;
    node_id down = no_node;
    for (node_id n = 0; n < core.id_limit(); ++n) {
        if (!core.exists(n) || !core.node(n).in_topology || core.node(n).role != node_role::master || backing_off(n)) continue;
        if (!core.node(n).down) return n;
        if (down == no_node) down = n;
    }
    return down;
}

/// How a subscriber's messages name node `n` (escaped).
inline std::string subscriber_node_name(const cluster_core& core, node_id n) {
    return core.exists(n) ? "node " + escaped(to_string(core.node(n).reported), 300) : "a node no longer in the topology";
}

/// The masters a pattern on every master goes to (those serving slots: a fan-out's masters), with their names, for
/// subscription_fsm::masters_changed().
inline std::map<node_id, std::string> subscriber_masters(const cluster_core& core) {
    std::map<node_id, std::string> masters;
    for (const node_id m : fan_out_nodes(core, fan_out_to::masters)) masters.emplace(m, subscriber_node_name(core, m));
    return masters;
}

}  // namespace addrmap::detail
