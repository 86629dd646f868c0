// addrmap/detail/subscriber_route.hpp — where a subscriber's subscriptions go: a slot's shard channels to its master or,
// under read_from, one of its replicas; a pattern on every master to each serving master. One rule for both subscribers.
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
