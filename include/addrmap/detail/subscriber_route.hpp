// addrmap/detail/subscriber_route.hpp — which node a subscriber's shard channels of one slot go to: the slot's master,
// or under read_from one of its replicas. One rule for both subscribers, without I/O.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>  // read_preference

#include <chrono>

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

}  // namespace addrmap::detail
