// addrmap/detail/planned_view.hpp — a topology view checked against the node table before anything changes (every
// node mapped, no two sharing an endpoint), then committed to the table and the slot map at once. No I/O.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/topology.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// The slot map: the node serving each slot (no_node: none known).
using slot_owners = std::array<node_id, slot_count>;

/// A view read from one node, planned: each reported address resolved ("" is the reporter's host), marked
/// configured if it is a seed's, and mapped through the policy (or the mapping it already has). Planning
/// throws, and so changes nothing, when a master cannot be mapped or two nodes map to one endpoint; a replica
/// the policy refuses stays in the plan unmapped, with its problem (it is listed, never dialed). commit()
/// then installs the plan and throws nothing but bad_alloc. The topology must outlive the plan.
class planned_view {
public:
    /// `where` names the view in messages ("reported by host:port in CLUSTER SHARDS").
    planned_view(const topology& topo, node_id reporter, const node_registry& nodes, const std::string& where) {
        const auto add = [&](const node_address& address, std::string_view id, node_role role, const shard* owns) {
            planned p;
            p.address = nodes.as_configured_if_seed(nodes.resolve_unknown(address, reporter));
            p.reported_id.assign(id);
            p.role = role;
            p.owner_of = owns;
            plan_.push_back(std::move(p));
        };
        for (const shard& s : topo.shards) {
            const std::size_t master_at = plan_.size();
            add(s.master, s.master_id, node_role::master, &s);
            for (std::size_t r = 0; r < s.replicas.size(); ++r) {
                add(s.replicas[r], s.replica_id(r), node_role::replica, nullptr);
                plan_.back().master_at = master_at;
            }
        }
        for (planned& p : plan_) {
            try {
                if (node_registry::is_unknown_node(p.address))
                    throw error(error_kind::topology, detail::unknown_node_message(p.address));
                const core_node* known = nodes.find(p.address);
                if (known != nullptr && known->mapped) {
                    p.dial_host = known->dial_host, p.port = known->port, p.tls_name = known->tls_name;
                } else {
                    const endpoint e = nodes.map_checked(p.address);
                    p.dial_host.assign(e.dial_host()), p.port = e.port(), p.tls_name.assign(e.tls_name());
                }
                p.mapped = true;
            } catch (const error& e) {
                if (p.role == node_role::master) throw detail::with_context(e, where);
                p.problem = e.message();
            }
        }
        check_no_shared_endpoints(where);
    }

    /// Installs the plan: the listed nodes (recorded if new) are the topology, with their roles, masters,
    /// mappings and slots, and `owners` is the view's slot map. Returns the nodes forgotten (no longer listed).
    std::vector<node_id> commit(node_registry& nodes, slot_owners& owners) {
        slot_owners next;
        next.fill(no_node);
        nodes.clear_topology();
        std::vector<node_id> planned_ids;
        for (planned& p : plan_) {
            const node_id id = nodes.record(p.address, p.role, p.reported_id);
            planned_ids.push_back(id);
            core_node& n = *nodes.find(id);
            n.reported_id = std::move(p.reported_id);
            n.in_topology = true;
            n.role = p.role;
            n.master = p.role == node_role::replica ? planned_ids[p.master_at] : no_node;
            if (p.mapped) {
                n.mapped = true, n.dial_host = std::move(p.dial_host), n.port = p.port, n.tls_name = std::move(p.tls_name);
                if (!n.down) n.problem.clear();
            } else {
                n.mapped = false, n.problem = p.problem;
            }
            if (p.owner_of != nullptr) {
                n.slots.insert(n.slots.end(), p.owner_of->ranges.begin(), p.owner_of->ranges.end());
                for (const slot_range& r : p.owner_of->ranges)
                    for (std::uint32_t slot = r.first; slot <= r.last && slot < slot_count; ++slot) next[slot] = id;
            }
        }
        std::vector<node_id> forgotten = nodes.forget_absent();
        for (node_id id = 0; id < nodes.id_limit(); ++id)
            if (core_node* n = nodes.find(id)) n->in_installed_view = n->in_topology, n->installed_role = n->role;
        owners = next;
        return forgotten;
    }

private:
    struct planned {
        node_address address;
        std::string reported_id;          // the node ID the view gave, "" if none
        node_role role = node_role::master;
        const shard* owner_of = nullptr;  // masters: their shard
        std::size_t master_at = 0;        // replicas: their master's index in the plan
        bool mapped = false;
        std::string dial_host, tls_name, problem;
        std::uint16_t port = 0;
    };

    /// Two nodes mapped to one host:port would be one connection that DNS picks at random: refused. A node
    /// listed twice is one node.
    void check_no_shared_endpoints(const std::string& where) const {
        for (std::size_t i = 0; i < plan_.size(); ++i)
            for (std::size_t j = i + 1; j < plan_.size(); ++j) {
                const planned &a = plan_[i], &b = plan_[j];
                if (!a.mapped || !b.mapped || a.port != b.port || !detail::iequals_ascii(a.dial_host, b.dial_host))
                    continue;
                if (to_string(a.address) == to_string(b.address)) continue;  // listed twice: one node
                throw error(error_kind::config, where + ": " + shared_endpoint_message(a.address, b.address, a.dial_host, a.port));
            }
    }

    std::vector<planned> plan_;
};

}  // namespace addrmap::detail
