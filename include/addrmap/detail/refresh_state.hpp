// addrmap/detail/refresh_state.hpp — what the cluster core keeps between topology refreshes: whether one is due,
// which answer may install (generations), the MOVEDs no view confirmed yet, whom to ask first, how discovery failed.
#pragma once

#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/events.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// A MOVED the core applied to its slot map that no installed view has confirmed yet.
struct pending_move {
    std::uint16_t slot;
    node_id target;
    std::uint64_t generation;  ///< the first refresh generation that must already reflect it
};

/// One refresh runs at a time (refresh_started .. refresh_finished), at most once per min_interval, when one is
/// wanted (a MOVED, CLUSTERDOWN, a lost node, no view yet) or the view is older than `interval` (0: never).
/// Each refresh gets a generation: an answer to an older one never replaces a newer view (an async driver may
/// see answers out of order), and a view that contradicts a MOVED learnt since its request is older than the
/// map and is refused.
class refresh_state {
public:
    using clock = std::chrono::steady_clock;

    refresh_state(std::chrono::milliseconds min_interval, std::chrono::milliseconds interval) noexcept
        : min_interval_(min_interval), interval_(interval) {}

    // ---- when ---------------------------------------------------------------------------------------------

    /// True when a refresh is wanted (or the view is older than the interval) and the rate limit allows one now.
    bool due(clock::time_point now) const noexcept {
        if (in_flight_) return false;
        // Periodic: checked on use (no timer), so a moved slot is learnt before a command meets a MOVED.
        const bool periodic = interval_.count() > 0 && has_view_ && last_ && now - *last_ >= interval_;
        if (!wanted_ && has_view_ && !periodic) return false;
        return !last_ || now - *last_ >= min_interval_;
    }
    /// A refresh is wanted, `why` (the first cause since the last install is the one events report).
    void want(refresh_trigger why) noexcept {
        if (!wanted_) wanted_reason_ = why;
        wanted_ = true;
    }
    /// A refresh begins: its generation.
    std::uint64_t started(clock::time_point now) noexcept {
        running_reason_ = !has_view_                  ? refresh_trigger::initial
                          : std::exchange(requested_, false) ? refresh_trigger::requested
                          : wanted_                   ? wanted_reason_
                                                      : refresh_trigger::interval;
        last_ = now;
        in_flight_ = true;
        return ++generation_;
    }
    /// The next refresh is one the caller asked for (it changes nothing but what reason() says).
    void label_requested() noexcept { requested_ = true; }
    /// Why the refresh running (or the last one) was started.
    refresh_trigger reason() const noexcept { return running_reason_; }
    /// The refresh ended, installed or not; the rate limit counts from its end.
    void finished(clock::time_point now) noexcept {
        last_ = now;
        in_flight_ = false;
    }

    // ---- which answer may install -------------------------------------------------------------------------

    /// The generation an answer installs as (0: the newest refresh's); error{topology} when a newer one is
    /// already installed.
    std::uint64_t answer_generation(std::uint64_t generation) const {
        if (generation == 0) generation = generation_;
        if (generation < installed_generation_)
            throw error(error_kind::topology, "a topology answer to an older refresh arrived after a newer one was "
                                              "installed; it was not installed");
        return generation;
    }

    /// A MOVED (slot to target) was applied to the map. Stamped with the newest refresh generation: an install
    /// of that generation or a later one (requested after this MOVED) clears it; an answer to an earlier
    /// request does not. The newest 64 are kept.
    void note_moved(std::uint16_t slot, node_id target) {
        const pending_move m{slot, target, generation_ + (in_flight_ ? 1 : 0)};
        for (auto& entry : pending_)
            if (entry.slot == slot) {
                entry = m;
                return;
            }
        if (pending_.size() >= 64) pending_.erase(pending_.begin());  // bounded: the newest count
        pending_.push_back(m);
    }
    /// `target` cannot be reached: its MOVEDs no longer vouch for their slots (views from others may install).
    void forget_moves_to(node_id target) {
        pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                      [target](const pending_move& m) { return m.target == target; }),
                       pending_.end());
    }
    /// The first unconfirmed MOVED the view read from `reporter` contradicts (it is older than the map), or null.
    /// The MOVED's target itself knows best: its view is newer than its own MOVED.
    const pending_move* contradicted_move(const topology& topo, node_id reporter, const node_registry& nodes) const {
        for (const pending_move& m : pending_) {
            const core_node* target = nodes.find(m.target);
            if (target == nullptr || m.target == reporter) continue;
            const shard* s = topo.owner_of(m.slot);
            if (s == nullptr || to_string(nodes.resolve_unknown(s->master, reporter)) != to_string(target->reported))
                return &m;
        }
        return nullptr;
    }

    /// A view of refresh `generation` was installed: MOVEDs that arrived while it was on its way stay (they
    /// may be newer than the view); nothing is wanted until the next cause.
    void installed(std::uint64_t generation) {
        pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                      [generation](const pending_move& m) { return m.generation < generation; }),
                       pending_.end());
        installed_generation_ = generation;
        discovery_failure_.reset();
        in_flight_ = false;
        wanted_ = false;
        has_view_ = true;
    }
    bool has_view() const noexcept { return has_view_; }

    // ---- whom to ask --------------------------------------------------------------------------------------

    /// Best first: targets of MOVEDs not yet confirmed (newest first: they know the newest owner), connected
    /// nodes, nodes not known down, the rest of the topology, then the seeds.
    std::vector<node_id> candidates(const node_registry& nodes) const {
        std::vector<node_id> order;
        auto add = [&](node_id id) {
            if (nodes.exists(id) && std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
        };
        for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) add(it->target);
        for (int pass = 0; pass < 3; ++pass)
            for (node_id id = 0; id < nodes.id_limit(); ++id) {
                const core_node* n = nodes.find(id);
                // A node that cannot be mapped ('?', refused by the policy) cannot be asked: skip it, keep its problem.
                if (n == nullptr || !n->in_topology || (!n->mapped && !n->problem.empty())) continue;
                const bool first = n->connected, second = !n->connected && !n->down;
                if ((pass == 0 && first) || (pass == 1 && second) || (pass == 2 && !first && !second)) add(id);
            }
        for (node_id id : nodes.seeds()) add(id);
        return order;
    }

    // ---- discovery ----------------------------------------------------------------------------------------

    /// A refresh ended with no view installed; `first_error` is the first node's, and `away` says it only
    /// tells that the node was away (cluster_core::is_reachability_error: connect, timeout). Before any view,
    /// an error that would repeat on every try (certificate, policy, configuration, a malformed reply) becomes
    /// discovery_failure(); the others only the problem waiting calls report.
    void failed(const error& first_error, bool away) {
        if (has_view_) return;
        // connect, timeout and topology (a node still loading, a cluster still assigning its slots, a view older
        // than a MOVED) pass; a certificate, a policy, a malformed reply would fail the same way next time.
        if (away || first_error.kind() == error_kind::topology) {
            discovery_failure_.reset();
            discovery_problem_ = detail::escaped(first_error.message(), 600);
        } else {
            discovery_failure_ = first_error;
        }
    }
    /// Set while no view was ever installed and the last discovery failed in a way querying again would repeat.
    const std::optional<error>& discovery_failure() const noexcept { return discovery_failure_; }
    /// The last failed discovery's first error, when it may pass (escaped; empty if none).
    const std::string& discovery_problem() const noexcept { return discovery_problem_; }

private:
    std::chrono::milliseconds min_interval_;
    std::chrono::milliseconds interval_;      // 0: no periodic refresh
    std::vector<pending_move> pending_;       // MOVEDs an installed view has not confirmed yet
    std::uint64_t generation_ = 0;            // of the newest refresh started
    refresh_trigger wanted_reason_ = refresh_trigger::initial;   // the first cause since the last install
    refresh_trigger running_reason_ = refresh_trigger::initial;  // the cause of the refresh started last
    bool requested_ = false;                                     // the next one is the caller's (label_requested)
    std::uint64_t installed_generation_ = 0;  // of the refresh whose view is installed
    bool in_flight_ = false;
    std::optional<clock::time_point> last_;
    bool wanted_ = true;
    bool has_view_ = false;
    std::optional<error> discovery_failure_;
    std::string discovery_problem_;
};

}  // namespace addrmap::detail
