// addrmap/fan_out.hpp — one command on every master (or every node) of the cluster, one outcome per node:
// SCRIPT LOAD, FLUSHALL, CONFIG GET, DBSIZE. A node that fails never discards the other nodes' replies.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// Which nodes a fan-out reaches.
enum class fan_out_to {
    masters,    ///< every master that serves slots (SCRIPT LOAD, FLUSHALL, DBSIZE: the data lives there)
    all_nodes,  ///< masters and replicas (CONFIG GET/SET, INFO)
};

/// What one node answered (or why it did not).
struct node_outcome {
    node_address node;  ///< as the cluster reported it
    node_role role = node_role::master;
    outcome result;     ///< the reply (which may be a Redis error reply), or an addrmap::error
};

/// The nodes a fan-out goes to, from the core's node table, in table order: I/O-free, so every driver
/// fans out to the same nodes. Empty when no topology is installed.
inline std::vector<node_id> fan_out_nodes(const cluster_core& core, fan_out_to who) {
    std::vector<node_id> out;
    for (node_id id = 0; id < core.id_limit(); ++id) {
        if (!core.exists(id)) continue;
        const core_node& n = core.node(id);
        if (!n.in_topology) continue;
        const bool serving_master = n.role == node_role::master && !n.slots.empty();
        if (serving_master || (who == fan_out_to::all_nodes && n.role == node_role::replica)) out.push_back(id);
    }
    return out;
}

/// Why a fan-out does not send to node `n`, if it does not: the policy refused it (it is not dialed). One rule for
/// both drivers' fan-outs.
inline std::optional<error> fan_out_refusal(const core_node& n) {
    if (n.mapped || n.problem.empty()) return std::nullopt;
    return error(error_kind::config,
                 "not sent to " + std::string(to_string(n.role)) + " " + to_string(n.reported) + ": " + n.problem);
}

/// Runs `args` (the command name first) on each node fan_out_nodes() picks, one after the other, each
/// as command_on() does it: no redirect followed, any reply returned, the delivery rules kept (a FLUSHALL
/// whose connection is lost after the write is error_kind::unknown_outcome, not sent again; pass
/// call.repeat_policy = repeat::allowed for commands you know are harmless twice, such as SCRIPT LOAD).
/// `call.deadline` bounds each node's call. Reads the topology first when none is installed or a node failed since
/// the last read (refresh_if_due); with still none, throws refresh()'s error{topology} rather than return no node. A replica the
/// policy refused is not dialed: its outcome is error{config} with the policy's reason.
template <class Cluster>
std::vector<node_outcome> fan_out(Cluster& cluster, const std::vector<std::string_view>& args,
                                  fan_out_to who = fan_out_to::masters, const call_options& call = {}) {
    refresh_if_due(cluster);
    if (!cluster.core().has_topology()) cluster.refresh();  // none within the rate limit either: the error, not {}
    std::vector<node_outcome> out;
    for (node_id id : fan_out_nodes(cluster.core(), who)) {
        if (!cluster.core().exists(id)) continue;  // forgotten by a refresh an earlier node's call made
        const core_node& n = cluster.core().node(id);
        const node_address address = n.reported;
        const node_role role = n.role;
        if (std::optional<error> refused = fan_out_refusal(n)) {
            out.push_back({address, role, outcome(std::move(*refused))});
            continue;
        }
        try {
            out.push_back({address, role, outcome(cluster.command_on(address, args, call))});
        } catch (const error& e) {
            out.push_back({address, role, outcome(e)});
        }
    }
    return out;
}

}  // namespace addrmap
