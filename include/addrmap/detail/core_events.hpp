// addrmap/detail/core_events.hpp — what cluster_core tells its observer (events.hpp) of calls, redirects, slot moves
// and connections opened: each built only when the observer handles its type. No I/O.
#pragma once

#include <addrmap/cluster_core.hpp>

#include <optional>
#include <string_view>
#include <vector>

namespace addrmap {

inline void cluster_core::tell_connection_opened(node_id id, const tls_handshake_info& handshake, std::string_view dial_address) const {
    if (!exists(id)) return;
    if (events_.wants<connection_opened_event>())
        events_.emit(connection_opened_event{event_node_of(id), dial_address, handshake});
    if (events_.wants<certificate_expiring_event>())
        detail::tell_expiring_certificates(handshake, event_node_of(id), expiry_warning_, events_);
}

inline void cluster_core::on_call_ended(const call_state& c, const redisReply* reply, const error* failure, clock::time_point now) const {
    if (!events_.wants<call_ended_event>()) return;
    const detail::operation_name name(c.command);
    tell_call_ended(name.view(), 1, c.sent_to, c.started, static_cast<unsigned>(c.sends), reply, failure, now);
}

inline void cluster_core::tell_call_ended(std::string_view operation, std::size_t batch_size, node_id node, clock::time_point started,
                     unsigned sends, const redisReply* reply, const error* failure, clock::time_point now) const {
    if (!events_.wants<call_ended_event>()) return;
    std::optional<event_node> where;
    if (node != no_node && exists(node)) where.emplace(event_node_of(node));
    call_ended_event e;
    e.operation = operation;
    e.batch_size = batch_size;
    e.seed = nodes_.seeds().empty() ? nullptr : &nodes_.node(nodes_.seeds().front()).reported;
    e.node = where ? &*where : nullptr;
    e.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(now - started);
    e.sends = sends;
    detail::set_result(e, reply, failure);
    events_.emit(e);
}

inline void cluster_core::tell_redirect(const call_state& c, node_id from, const redirect& r, node_id target) const {
    if (!events_.wants<redirect_event>() || !exists(from) || !exists(target)) return;
    const detail::operation_name name(c.command);
    events_.emit(redirect_event{r.type == redirect::kind::ask, r.slot, nodes_.node(from).reported,
                                nodes_.node(target).reported, name.view()});
}

inline void cluster_core::tell_moved(std::uint16_t slot, node_id from, node_id target) const {
    const node_id before = owners_[slot];
    const std::vector<slot_move> moves{slot_move{slot_range{slot, slot},
                                                 exists(before) ? &nodes_.node(before).reported : nullptr,
                                                 &nodes_.node(target).reported}};
    events_.emit(topology_changed_event{refresh_trigger::moved, true,
                                        exists(from) ? &nodes_.node(from).reported : nullptr, moves});
}

}  // namespace addrmap
