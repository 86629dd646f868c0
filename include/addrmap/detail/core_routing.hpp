// addrmap/detail/core_routing.hpp — cluster_core's rule for where a call goes next: send (where, ASKING or not, how
// long to wait), refresh the topology first, wait, or fail; and which replica a read goes to. No I/O.
#pragma once

#include <addrmap/cluster_core.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace addrmap {

inline core_decision cluster_core::next(call_state& c, clock::time_point now) {
    core_decision d;
    if (c.failure) return d;
    if (now >= c.deadline) {
        c.failure = detail::deadline_error(c, now);
        if (c.unconfirmed_redirect) ++stats_.unknown_outcomes;  // deadline_error said unknown_outcome
        return d;
    }
    if (now < c.not_before) {
        d.what = core_decision::kind::wait;
        d.until = std::min(c.not_before, c.deadline);
        return d;
    }
    if (refresh_due(now) && c.fixed_node == no_node) {
        d.what = core_decision::kind::refresh;
        return d;
    }
    if (!refresh_.has_view() && refresh_.discovery_failure() && c.fixed_node == no_node) {
        // Every node asked failed in a way that querying again would repeat (a certificate, a policy):
        // say so now rather than at the deadline.
        c.failure = *refresh_.discovery_failure();
        return d;
    }
    node_id n = c.fixed_node;
    const bool redirected = n == no_node && c.target != no_node && exists(c.target);
    if (c.unconfirmed_redirect && !redirected) {
        // A refresh forgot the redirect's target: the owner may be where the script already ran.
        c.failure = unconfirmed_redirect_failure(c, "its target left the topology");
        return d;
    }
    if (n == no_node) n = redirected ? c.target : owner(c.slot);
    c.read_routed = call_state::read_route::none;
    if (c.replica_read && !redirected && n != no_node && exists(n)) {
        n = read_node(c, n, now);
        if (n == no_node) {  // read_from = replica and none is usable: wait for one (within the deadline)
            refresh_.want(refresh_trigger::node_lost);
            schedule_backoff(c, now);
            d.what = core_decision::kind::wait;
            d.until = std::min(c.not_before, c.deadline);
            return d;
        }
    }
    if (n != no_node && !exists(n)) {
        if (c.fixed_node != no_node) {
            c.failure =
                error(error_kind::topology, "the node chosen for " + detail::call_name(c) + " left the topology");
            return d;
        }
        n = no_node;
    }
    if (n == no_node) {
        const std::string& last_discovery = refresh_.discovery_problem();
        c.last_problem = refresh_.has_view() ? "no node serves slot " + std::to_string(c.slot)
                         : last_discovery.empty()
                             ? std::string("the cluster topology is not known yet")
                             : "the cluster topology is not known yet (last attempt: " + last_discovery + ")";
        refresh_.want(refresh_.has_view() ? refresh_trigger::refusal : refresh_trigger::initial);
        schedule_backoff(c, now);
        d.what = core_decision::kind::wait;
        d.until = std::min(c.not_before, c.deadline);
        return d;
    }
    const core_node& to = nodes_.node(n);
    if (!to.connected && now < to.redial_at) {
        // Found unreachable a moment ago: wait for the node's own backoff (one dial for every waiting call).
        c.last_problem = to_string(to.reported) + " is unreachable (" + detail::shortened(to.problem, 300) +
                         "); dialed again at its backoff pace";
        d.what = core_decision::kind::wait;
        d.until = std::min(to.redial_at, c.deadline);
        return d;
    }
    d.what = core_decision::kind::send;
    d.node = n;
    c.sent_to = n;
    // ASKING only towards the ASK's target: when a refresh forgot the target, the call goes to the owner plain.
    if (!redirected) c.asking = false;
    d.asking = c.asking;
    d.reply_by = c.deadline;
    if (c.replica_read && nodes_.node(n).role == node_role::replica)
        d.reply_by = std::min(c.deadline, detail::saturating_add(now, replica_reply_timeout_));
    return d;
}

inline node_id cluster_core::read_node(call_state& c, node_id master, clock::time_point now) {
    const std::vector<node_id> replicas = usable_replicas(master, now);
    if (!replicas.empty()) {
        c.read_routed = call_state::read_route::replica;
        return replicas[replica_turn_++ % replicas.size()];
    }
    if (read_from_ == read_preference::replica_preferred) {
        c.read_routed = call_state::read_route::master_fallback;
        return master;
    }
    c.last_problem = "no usable replica of master " + to_string(nodes_.node(master).reported) + " for slot " +
                     std::to_string(c.slot) + " (cluster_options::read_from is replica, which never reads from "
                     "the master; replica_preferred would)";
    return no_node;
}

}  // namespace addrmap
