// addrmap/detail/core_replies.hpp — cluster_core's rules for what happens to a call: a reply (the caller's, a redirect
// to follow, a refusal to wait out), nothing written, a loss after writing, a deadline reached in flight. No I/O.
#pragma once

#include <addrmap/cluster_core.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace addrmap {

template <class ReadClock, std::enable_if_t<std::is_invocable_r_v<cluster_core::clock::time_point, ReadClock&>, int>>
inline core_verdict cluster_core::on_reply(call_state& c, node_id from, const redisReply& reply, ReadClock&& read_time) {
    c.target = no_node;
    c.asking = false;
    c.slot_moving = false;
    if (reply.type != REDIS_REPLY_ERROR || c.fixed_node != no_node) return core_verdict::done;
    const clock::time_point now = read_time();
    const std::string_view text(reply.str, reply.len);
    const detail::error_reply_meaning meaning = detail::meaning_of_error(text, c.command, c.repeat_policy);
    if (meaning == detail::error_reply_meaning::reply) {
        // The caller's reply. If it is a refusal's text (a script's, or the server's), the map may be stale:
        // ask for a refresh anyway; it costs nothing when the text was the script's.
        if (detail::asks_refresh(detail::refusal_of(text))) refresh_.want(refresh_trigger::refusal);
        return core_verdict::done;
    }
    if (meaning == detail::error_reply_meaning::redirect) {
        std::optional<redirect> r;
        const bool must_match = detail::redirect_slot_must_match(c.command);
        try {
            r = parse_redirect(text);
        } catch (const error& e) {
            if (must_match) return core_verdict::done;  // the script's own text, not the server's
            return fail(c, detail::with_context(e, "reply from " + nodes_.reporter_name(from)));
        }
        // A script may have run and written "MOVED ..." itself: only a redirect for its own slot can be the
        // server's (it checks the keys before running anything); any other is the caller's reply.
        if (must_match && (c.slot < 0 || r->slot != c.slot)) return core_verdict::done;
        if (must_match && !may_repeat(c.command, c.repeat_policy)) return follow_unconfirmed(c, from, *r, text, now);
        return follow(c, from, *r, text, now);
    }
    const detail::refusal why = detail::refusal_of(text);
    const auto refused = [&](std::uint64_t& counter) {
        ++counter;
        if (detail::asks_refresh(why)) refresh_.want(refresh_trigger::refusal);
        c.last_problem = detail::quoted(text, 200) + " from " + nodes_.reporter_name(from);
        schedule_backoff(c, now);
        return core_verdict::retry;
    };
    if (exists(from) && nodes_.node(from).role == node_role::replica &&
        (why == detail::refusal::loading || why == detail::refusal::masterdown))
        set_replica_aside(from, detail::quoted(text, 200), now);
    switch (why) {
        case detail::refusal::tryagain: c.slot_moving = true; return refused(stats_.tryagain);
        case detail::refusal::clusterdown: return refused(stats_.clusterdown);
        case detail::refusal::loading:
        case detail::refusal::masterdown: return refused(stats_.loading);
        default: return core_verdict::done;
    }
}

inline core_verdict cluster_core::on_not_sent(call_state& c, node_id node, const error& why, clock::time_point now) {
    if (c.unconfirmed_redirect) {
        // It may have run where it wrote the redirect; sending it anywhere but the target could run it twice.
        on_dial_failed(node, why, now);
        return fail(c, unconfirmed_redirect_failure(
                           c, "its target could not be reached (" + std::string(why.message()) + ")"));
    }
    if (c.target == node) c.target = no_node, c.asking = false;
    if (!is_reachability_error(why)) return fail(c, why);
    on_unreachable(node, why, now);
    set_replica_aside(node, why.message(), now);
    c.last_problem = detail::escaped(why.message(), 600);
    schedule_backoff(c, now);
    return core_verdict::retry;
}

inline core_verdict cluster_core::on_lost_after_write(call_state& c, node_id node, std::string_view why, clock::time_point now) {
    on_disconnected(node, why);
    set_replica_aside(node, why, now);
    return lost_after_write(c, node, why, now);
}

inline core_verdict cluster_core::on_own_connection_lost(call_state& c, node_id node, bool written, std::string_view why, clock::time_point now) {
    refresh_.want(refresh_trigger::node_lost);
    if (written) return lost_after_write(c, node, why, now);
    if (c.unconfirmed_redirect)
        return fail(c, unconfirmed_redirect_failure(c, "its connection was lost (" + std::string(why) + ")"));
    if (c.target == node) c.target = no_node, c.asking = false;
    c.last_problem = detail::escaped(why, 600);
    schedule_backoff(c, now);
    return core_verdict::retry;
}

inline core_verdict cluster_core::lost_after_write(call_state& c, node_id node, std::string_view why, clock::time_point now) {
    c.target = no_node;
    c.asking = false;  // (slot_moving stays: a lost connection says nothing about the slot's move)
    const std::string where = exists(node) ? to_string(nodes_.node(node).reported) : std::string("a node");
    if (may_repeat(c.command, c.repeat_policy)) {
        c.may_have_run = true;
        c.last_problem = where + ": " + std::string(why);
        schedule_backoff(c, now);
        return core_verdict::retry;
    }
    ++stats_.unknown_outcomes;
    return fail(c, detail::lost_after_write_error(c, where, why));
}

inline core_verdict cluster_core::on_expired_in_flight(call_state& c, node_id node, clock::time_point now) {
    const std::string where = exists(node) ? to_string(nodes_.node(node).reported) : std::string("a node");
    if (!may_repeat(c.command, c.repeat_policy)) {
        ++stats_.unknown_outcomes;
        return fail(c, detail::expired_in_flight_error(c, where));
    }
    c.may_have_run = true;
    c.last_problem = where + ": no reply before the deadline";
    return fail(c, detail::deadline_error(c, now));
}

inline core_verdict cluster_core::follow_unconfirmed(call_state& c, node_id from, const redirect& r, std::string_view text,
                                clock::time_point now) {
    if (c.unconfirmed_redirect)
        return fail(c, unconfirmed_redirect_failure(c, "its target answered " + detail::quoted(text, 200) + " (" +
                                                           nodes_.reporter_name(from) + ")"));
    std::optional<node_id> target;
    try {
        target = node_for(nodes_.resolve_unknown(r.target, from), node_role::master,
                          r.type == redirect::kind::moved ? "MOVED" : "ASK", from);
    } catch (const error& e) {
        // The script may have written that text after it ran: a target that cannot be followed ('?', a node the
        // policy refuses) leaves the outcome unknown; "did not run" could make the caller run it again.
        return fail(c, unconfirmed_redirect_failure(c, "its target could not be followed (" +
                                                           std::string(e.message()) + ")"));
    }
    // A server never redirects to itself: that text is the script's, and following it would run it again.
    if (*target == from) return core_verdict::done;
    ++c.redirects;
    ++(r.type == redirect::kind::moved ? stats_.moved : stats_.ask);
    if (core_node* n = nodes_.find(from)) ++n->counters.redirects;
    tell_redirect(c, from, r, *target);
    c.unconfirmed_redirect = true;
    c.redirect_text.assign(text.substr(0, 200));
    c.target = *target;
    c.asking = r.type == redirect::kind::ask;
    c.slot_moving = c.asking && detail::may_have_several_keys(c.command);
    // No refresh is asked for here: one could forget the target (a new master owning no slot yet, a lagging
    // view), and the call could then not go on. A genuine MOVED is learnt by the next one met by any call.
    (void)now;
    return core_verdict::retry;
}

inline std::optional<node_id> cluster_core::redirect_target(call_state& c, node_id from, const redirect& r) {
    try {
        return node_for(nodes_.resolve_unknown(r.target, from), node_role::master,
                        r.type == redirect::kind::moved ? "MOVED" : "ASK", from);
    } catch (const error& e) {
        fail(c, e);
        return std::nullopt;
    }
}

inline core_verdict cluster_core::follow(call_state& c, node_id from, const redirect& r, std::string_view text, clock::time_point now) {
    if (++c.redirects > max_redirects_)
        return fail(c, detail::redirect_limit_error(c, max_redirects_, text, nodes_.reporter_name(from)));
    const std::optional<node_id> found = redirect_target(c, from, r);
    if (!found) return core_verdict::fail;
    const node_id target = *found;
    tell_redirect(c, from, r, target);
    if (core_node* n = nodes_.find(from)) ++n->counters.redirects;
    if (r.type == redirect::kind::moved) {
        ++stats_.moved;
        if (owners_[r.slot] != target && events_.wants<topology_changed_event>()) tell_moved(r.slot, from, target);
        owners_[r.slot] = target;
        nodes_.mark_master(target);
        refresh_.note_moved(r.slot, target);
        refresh_.want(refresh_trigger::moved);
    } else {
        ++stats_.ask;
        c.asking = true;
        // A single-key command sent with ASKING always runs on the importing node; one with several keys
        // can be refused (TRYAGAIN) there while a newer one runs: that one travels alone in its slot.
        c.slot_moving = detail::may_have_several_keys(c.command);
    }
    c.target = target;
    // While a slot changes hands, source and target can briefly point at each other: back off
    // after the first few redirects instead of spinning through the limit.
    if (c.redirects > 2) schedule_backoff(c, now);
    return core_verdict::retry;
}

}  // namespace addrmap
