// addrmap/detail/topology_events.hpp — what an installed view changed, told as events (node added or removed, slots
// moved, failover): the table before the install is kept, then compared with the one after. No I/O.
#pragma once

#include <addrmap/detail/event_sink.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/planned_view.hpp>
#include <addrmap/events.hpp>

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// The event name of a node the registry holds.
inline event_node event_node_of(const core_node& n) noexcept {
    return event_node{n.reported, n.dial_host, n.port, n.tls_name};
}

/// The node table and slot map as they were before an install; after it, emit() tells what changed. Made only when
/// the observer wants a topology event (it copies the slot map).
class topology_before {
public:
    topology_before(const node_registry& nodes, const slot_owners& owners) : owners_(owners) {
        rows_.resize(nodes.id_limit());
        for (node_id id = 0; id < nodes.id_limit(); ++id)
            if (const core_node* n = nodes.find(id)) rows_[id] = row{n->reported, n->installed_role, n->in_installed_view};
    }

    /// Tells `sink` what the install changed, `reason` and `reporter` naming where the view came from: nodes added,
    /// the slot moves, failovers, then nodes removed.
    void emit(const node_registry& nodes, const slot_owners& owners, refresh_trigger reason,
              const node_address* reporter, const event_sink& sink) const {
        if (sink.wants<node_added_event>())
            for (node_id id = 0; id < nodes.id_limit(); ++id) {
                const core_node* n = nodes.find(id);
                if (n != nullptr && n->in_topology && !was_in_topology(id))
                    sink.emit(node_added_event{event_node_of(*n), n->role});
            }
        const std::vector<move> moves = moves_to(owners);
        if (!moves.empty() && sink.wants<topology_changed_event>()) {
            std::vector<slot_move> told;
            told.reserve(moves.size());
            for (const move& m : moves)
                told.push_back(slot_move{m.slots, address_before(m.from), address_now(nodes, m.to)});
            sink.emit(topology_changed_event{reason, false, reporter, told});
        }
        if (sink.wants<failover_event>()) emit_failovers(nodes, moves, sink);
        if (sink.wants<node_removed_event>())
            for (node_id id = 0; id < rows_.size(); ++id) {
                const core_node* n = nodes.find(id);
                if (was_in_topology(id) && (n == nullptr || !n->in_topology))
                    sink.emit(node_removed_event{rows_[id]->reported, rows_[id]->role});
            }
    }

private:
    struct row {
        node_address reported;
        node_role role;
        bool in_topology;
    };
    struct move {
        slot_range slots;
        node_id from, to;
    };

    bool was_in_topology(node_id id) const noexcept { return id < rows_.size() && rows_[id] && rows_[id]->in_topology; }
    const node_address* address_before(node_id id) const noexcept {
        return id < rows_.size() && rows_[id] ? &rows_[id]->reported : nullptr;
    }
    static const node_address* address_now(const node_registry& nodes, node_id id) noexcept {
        const core_node* n = nodes.find(id);
        return n != nullptr ? &n->reported : nullptr;
    }

    /// Runs of slots whose owner changed, each with one (old, new) pair; slots no node serves now are not moves.
    std::vector<move> moves_to(const slot_owners& owners) const {
        std::vector<move> out;
        for (std::size_t slot = 0; slot < slot_count; ++slot) {
            const node_id from = owners_[slot], to = owners[slot];
            if (from == to || to == no_node) continue;
            if (!out.empty() && out.back().from == from && out.back().to == to && std::size_t{out.back().slots.last} + 1 == slot)
                out.back().slots.last = static_cast<std::uint16_t>(slot);
            else
                out.push_back(move{slot_range{static_cast<std::uint16_t>(slot), static_cast<std::uint16_t>(slot)}, from, to});
        }
        return out;
    }

    /// A move to a node that was a replica in the view before (of any master: views may disagree on which) is its
    /// shard's failover; one event per (old master, new master), with all its ranges.
    void emit_failovers(const node_registry& nodes, const std::vector<move>& moves, const event_sink& sink) const {
        std::vector<std::pair<std::pair<node_id, node_id>, std::vector<slot_range>>> pairs;
        for (const move& m : moves) {
            if (m.from == no_node || m.to >= rows_.size() || !rows_[m.to] || rows_[m.to]->role != node_role::replica ||
                !rows_[m.to]->in_topology)
                continue;
            const auto key = std::make_pair(m.from, m.to);
            auto it = pairs.begin();
            while (it != pairs.end() && it->first != key) ++it;
            if (it == pairs.end()) it = pairs.insert(pairs.end(), {key, {}});
            it->second.push_back(m.slots);
        }
        for (auto& [key, ranges] : pairs) {
            const node_address* old_master = address_before(key.first);
            const node_address* new_master = address_now(nodes, key.second);
            if (old_master != nullptr && new_master != nullptr)
                sink.emit(failover_event{*old_master, *new_master, std::move(ranges)});
        }
    }

    slot_owners owners_;
    std::vector<std::optional<row>> rows_;
};

}  // namespace addrmap::detail
