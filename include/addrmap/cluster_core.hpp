// addrmap/cluster_core.hpp — the I/O-free cluster core every driver (blocking and async) shares: its API, and each
// call's decisions: routing, redirects, retries, deadlines and the delivery rules. Its parts are in detail/.
//
// Events in:  on_reply · on_not_sent (nothing was written) · on_lost_after_write · install (a topology) · time
// Actions out (next()): send to node N (after ASKING?) · refresh the topology · wait until T · fail with an error
// A call's fate after a lost connection is decided here, once, from what was written: drivers never decide it.
// Its parts, each I/O-free: detail/node_registry.hpp (the node table: ids, mapping, reachability, replicas set
// aside), detail/planned_view.hpp (installing a view), detail/refresh_state.hpp (when to refresh, generations,
// unconfirmed MOVEDs, whom to ask), detail/call_state.hpp (a call and how it ends), detail/backoff.hpp (the waits).
// Its longer members are defined, by concern, in detail/core_routing.hpp, detail/core_replies.hpp and
// detail/core_events.hpp (included at the end: this file is the whole API).
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_keys.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/backoff.hpp>
#include <addrmap/detail/call_events.hpp>
#include <addrmap/detail/call_state.hpp>
#include <addrmap/detail/certificate_expiry.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/event_sink.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/planned_view.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/refresh_state.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/detail/topology_events.hpp>
#include <addrmap/error.hpp>
#include <addrmap/events.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <new>
#include <utility>
#include <vector>

namespace addrmap {

namespace detail {
class async_driver;
class async_leases;
}  // namespace detail

// node_id, no_node and core_node (what the core knows of one node): detail/node_registry.hpp.
// call_state (one call on its way): detail/call_state.hpp.

/// What the driver should do next for a call.
struct core_decision {
    enum class kind { send, refresh, wait, fail };
    kind what = kind::fail;
    node_id node = no_node;                    ///< send: where
    bool asking = false;                       ///< send: ASKING first, in the same write
    std::chrono::steady_clock::time_point until;  ///< wait: until when (never past the deadline)
    /// send: wait for the reply until then. The call's deadline, except for a read sent to a replica,
    /// which waits at most tls.command_timeout: then it goes again, elsewhere (a hung replica must not
    /// use up a replica_preferred read's whole deadline).
    std::chrono::steady_clock::time_point reply_by = std::chrono::steady_clock::time_point::max();
};

/// What a reported event means for the call.
enum class core_verdict {
    done,   ///< the reply is the caller's
    retry,  ///< ask next() again
    fail,   ///< call_state::failure says why
};

/// The decisions of a cluster client, without any I/O. Not thread-safe (one driver owns it).
class cluster_core {
public:
    using clock = std::chrono::steady_clock;
    /// The policy, bound by the driver: maps a reported address to an endpoint (it may throw).
    using mapper = detail::node_registry::mapper;

    /// Parses the seeds; throws error{config} for bad options. Nothing is mapped or dialed here.
    cluster_core(const cluster_options& options, mapper map)
        : nodes_(std::move(map)),
          refresh_(options.refresh_min_interval, options.refresh_interval),
          backoff_(options.min_backoff, options.max_backoff,
                   static_cast<std::uint64_t>(clock::now().time_since_epoch().count())),
          deadline_(options.deadline),
          max_redirects_(options.max_redirects),
          read_from_(options.read_from),
          replica_reply_timeout_(options.tls.command_timeout),
          expiry_warning_(options.tls.expiry_warning) {
        if (options.seeds.empty())
            throw error(error_kind::config, "cluster_options.seeds is empty: give at least one \"host:port\"");
        if (options.max_redirects < 1) throw error(error_kind::config, "cluster_options.max_redirects must be >= 1");
        if (options.deadline.count() <= 0) throw error(error_kind::config, "cluster_options.deadline must be > 0 ms");
        if (options.min_backoff.count() < 1 || options.max_backoff < options.min_backoff)
            throw error(error_kind::config, "cluster_options: need 1 ms <= min_backoff <= max_backoff (a zero "
                                            "backoff would redial a refusing node in a hot loop)");
        if (options.refresh_min_interval.count() < 1)
            throw error(error_kind::config, "cluster_options.refresh_min_interval must be >= 1 ms");
        if (options.refresh_interval.count() < 0)
            throw error(error_kind::config, "cluster_options.refresh_interval must be >= 0 ms (0: no periodic refresh; "
                                            "it is " + std::to_string(options.refresh_interval.count()) + " ms)");
        for (std::size_t i = 0; i < options.seeds.size(); ++i)
            nodes_.add_seed(parse_address(options.seeds[i], "seed #" + std::to_string(i + 1)));
        owners_.fill(no_node);
    }

    // ---- the node table (detail/node_registry.hpp) --------------------------------------------------------

    std::size_t seed_count() const noexcept { return nodes_.seeds().size(); }
    node_id seed(std::size_t i) const noexcept { return nodes_.seeds()[i]; }
    bool exists(node_id id) const noexcept { return nodes_.exists(id); }
    /// The node `id`; error{topology} when it left the topology and was forgotten.
    const core_node& node(node_id id) const { return nodes_.node(id); }
    std::size_t id_limit() const noexcept { return nodes_.id_limit(); }  ///< every id is below this
    bool has_topology() const noexcept { return refresh_.has_view(); }

    /// Maps the node through the policy if it is not mapped yet. Throws the policy's (or the
    /// grammar's) error, with where the address came from, and remembers it as the node's problem.
    const core_node& ensure_mapped(node_id id) { return nodes_.ensure_mapped(id); }

    /// The node for a reported address, created (and mapped) if new. `how` and `reporter` say where
    /// the address came from, for messages ("MOVED" from node R).
    node_id node_for(const node_address& address, node_role role, std::string_view how, node_id reporter) {
        return nodes_.node_for(address, role, how, reporter);
    }

    void on_connected(node_id id) {
        nodes_.connected(id);
        ++stats_.connections_made;
        core_node* n = nodes_.find(id);
        if (n == nullptr) return;
        ++n->counters.connections_made;
        // Back after node_down_event (a replica set aside, never told down, is not told up either).
        if (std::exchange(n->down_told, false) && events_.wants<node_up_event>())
            events_.emit(node_up_event{event_node_of(id)});
    }
    /// The same, with what the handshake established and the IP dialed, for the observer (connection opened, and a
    /// certificate of the chain near its expiry: detail/certificate_expiry.hpp).
    void on_connected(node_id id, const tls_handshake_info& handshake, std::string_view dial_address) {
        on_connected(id);
        tell_connection_opened(id, handshake, dial_address);
    }
    /// A connection the core does not track (a subscriber's) was set up: the observer hears of it, and of a
    /// certificate near its expiry, as of any other.
    void tell_connection_opened(node_id id, const tls_handshake_info& handshake, std::string_view dial_address) const;
    /// A connect (TCP, TLS, AUTH) failed at `now`: the node is down until a connect succeeds, and is not dialed
    /// again before its own backoff ends. The calls that waited on that one dial all report it; only the first
    /// report of a dial (one made once the backoff had ended) moves the backoff on.
    void on_unreachable(node_id id, const error& why, clock::time_point now) {
        if (!exists(id)) return;
        if (nodes_.unreachable(id, why.message(), now, backoff_)) {
            ++stats_.dial_failures;
            ++nodes_.find(id)->counters.dial_failures;
        }
        if (!std::exchange(nodes_.find(id)->down_told, true) && events_.wants<node_down_event>())
            events_.emit(node_down_event{event_node_of(id), nodes_.node(id).problem});
        refresh_.want(refresh_trigger::node_lost);
        // A MOVED target that cannot be reached cannot vouch for its slot: let views from others install.
        refresh_.forget_moves_to(id);
    }
    /// True for the failures that say a node is away (connect, timeout), as opposed to a certificate, a policy or
    /// a configuration that would fail the same way on every try.
    static bool is_reachability_error(const error& e) noexcept {
        return e.kind() == error_kind::connect || e.kind() == error_kind::timeout;
    }
    /// A dial of `id` failed with `why` at `now`: the node is unreachable when `why` says it is away; any other
    /// failure is not the node's absence and changes nothing here.
    void on_dial_failed(node_id id, const error& why, clock::time_point now) {
        if (is_reachability_error(why)) on_unreachable(id, why, now);
    }
    /// The driver closed a connection on its own (disconnect(), a node that left): no failure.
    void on_closed(node_id id) noexcept { nodes_.closed(id); }
    /// The driver found an idle connection closed by the peer (`cause`) before writing to it: no failure (nothing was
    /// lost, and it is dialed again at once), but the observer hears of the loss.
    void on_found_closed(node_id id, std::string_view cause) {
        if (nodes_.closed(id) && events_.wants<connection_lost_event>())
            events_.emit(connection_lost_event{event_node_of(id), cause});
    }
    /// A connection that was set up broke while in use (`cause`, escaped, for the observer).
    void on_disconnected(node_id id, std::string_view cause = "the connection was lost") {
        if (!exists(id)) return;
        if (nodes_.closed(id)) {
            ++stats_.connection_losses;
            ++nodes_.find(id)->counters.connection_losses;
            if (events_.wants<connection_lost_event>()) events_.emit(connection_lost_event{event_node_of(id), cause});
        }
        refresh_.want(refresh_trigger::node_lost);
    }

    /// The replicas of `master` a read may go to now: in the topology, mapped (a replica the policy
    /// refused is never dialed) and not set aside (found down or refusing less than
    /// replica_retry_interval ago). In the order of the node table.
    std::vector<node_id> usable_replicas(node_id master, clock::time_point now) const {
        return nodes_.usable_replicas(master, now);
    }

    /// A replica found down or refusing is not chosen for reads again before this much time passed.
    static constexpr std::chrono::milliseconds replica_retry_interval{1000};

    // ---- topology (the slot map here; detail/refresh_state.hpp, detail/planned_view.hpp) -------------------

    /// The node serving `slot`, or for -1 a master that is not known down (else any master).
    node_id owner(int slot) const noexcept {
        if (slot >= 0) return owners_[static_cast<std::size_t>(slot) % slot_count];
        return nodes_.any_master();
    }

    /// True when a refresh is wanted (a MOVED, CLUSTERDOWN, a lost node, no topology yet, or the last
    /// refresh is older than refresh_interval) and the rate limit allows one now.
    bool refresh_due(clock::time_point now) const noexcept { return refresh_.due(now); }
    /// A refresh begins (one at a time): returns its generation, which install() takes, so an answer
    /// to an older refresh can never replace a newer one (an async driver may see them out of order).
    std::uint64_t refresh_started(clock::time_point now) noexcept { return refresh_.started(now); }
    /// The refresh ended, installed or not; the rate limit counts from its end.
    void refresh_finished(clock::time_point now) noexcept { refresh_.finished(now); }
    void request_refresh() noexcept { refresh_.want(refresh_trigger::requested); }
    /// The next refresh is the caller's (connect(), refresh()): events say so, whatever else wanted one.
    void label_refresh_requested() noexcept { refresh_.label_requested(); }
    /// A refresh ended with no view installed; `first_error` is the first node's error. While no topology
    /// was ever installed, an error that would repeat on every try (certificate, policy, configuration, a
    /// malformed reply: not connect, timeout or topology) ends calls waiting for the topology at once instead
    /// of at their deadline.
    void refresh_failed(const error& first_error) { refresh_.failed(first_error, is_reachability_error(first_error)); }

    /// Whom to ask for the topology, best first: targets of MOVEDs not yet confirmed (they know the
    /// newest owner), connected nodes, nodes not known down, the rest of the topology, then the seeds.
    std::vector<node_id> refresh_candidates() const { return refresh_.candidates(nodes_); }

    /// Installs a topology read from `reporter` ("CLUSTER SHARDS" / "CLUSTER SLOTS" in `how`).
    /// Every master is mapped and checked before anything changes, so an error (a master the policy
    /// refuses, two nodes mapped to one endpoint, a view older than a MOVED already applied) leaves
    /// the previous map in place. Replicas the policy refuses are kept as unmapped rows with their
    /// problem (they are not dialed). Returns the nodes that left the topology and were forgotten:
    /// the driver closes their connections.
    /// `generation` is refresh_started()'s; 0 means "the newest" (a caller that refreshes one at a time).
    std::vector<node_id> install(const topology& topo, node_id reporter, std::string_view how,
                                 std::uint64_t generation = 0) {
        generation = refresh_.answer_generation(generation);
        const std::string where = "reported by " + nodes_.reporter_name(reporter) + " in " + std::string(how);
        detail::planned_view view(topo, reporter, nodes_, where);
        // A view that contradicts a MOVED applied since the last install is older than what we know.
        if (const detail::pending_move* m = refresh_.contradicted_move(topo, reporter, nodes_)) {
            ++stats_.stale_views_refused;
            throw error(error_kind::topology,
                        "the view " + where + " is older than what a MOVED already said: slot " +
                            std::to_string(m->slot) + " is served by " + to_string(nodes_.node(m->target).reported) +
                            "; it was not installed");
        }
        // Commit: nothing below throws except bad_alloc.
        std::optional<detail::topology_before> before;
        if (events_.wants<topology_changed_event>() || events_.wants<node_added_event>() ||
            events_.wants<node_removed_event>() || events_.wants<failover_event>())
            before.emplace(nodes_, owners_);
        std::vector<node_id> forgotten = view.commit(nodes_, owners_);
        refresh_.installed(generation);
        ++stats_.refreshes;
        if (before) {
            const core_node* from = nodes_.find(reporter);
            try {  // the view is installed: telling of it must not lose `forgotten` (whose connections must close)
                before->emit(nodes_, owners_, refresh_.reason(), from != nullptr ? &from->reported : nullptr, events_);
            } catch (const std::bad_alloc&) {
            }
        }
        return forgotten;
    }

    // ---- calls ----------------------------------------------------------------------------------------

    /// When a call started at `now` with the default deadline must end (the end of time if that overflows).
    clock::time_point deadline_from(clock::time_point now) const noexcept {
        return detail::saturating_add(now, deadline_);
    }

    /// A call of `command` (RESP, owned by the caller) for `slot` (-1: any master). Throws error{config}
    /// for a command that would change the shared connection's state (SUBSCRIBE, MONITOR, HELLO, ...).
    call_state start(int slot, std::string_view command, const call_options& options, clock::time_point now) const {
        if (auto refused = detail::refuse_connection_state_command(command)) throw std::move(*refused);
        return start_vetted(slot, command, options, now);
    }

    /// A call to one chosen node (no redirects followed; any reply is the caller's).
    call_state start_on(node_id node, std::string_view command, const call_options& options,
                        clock::time_point now) const {
        call_state c = start(-1, command, options, now);
        c.fixed_node = node;
        return c;
    }

    /// What to do next for `c`.
    core_decision next(call_state& c, clock::time_point now);

    /// The driver is about to write the call to `node` (counts sends and retries).
    void on_send(call_state& c) noexcept {
        if (core_node* n = nodes_.find(c.sent_to)) ++n->counters.sends;
        if (c.sends++ > 0) ++stats_.retries;
        if (c.read_routed == call_state::read_route::replica) ++stats_.replica_sends;
        if (c.read_routed == call_state::read_route::master_fallback) ++stats_.replica_fallbacks;
    }

    /// The clock the drivers hand to on_reply() below.
    static clock::time_point read_clock() noexcept { return clock::now(); }
    /// A reply (possibly an error reply) arrived for `c` from `from`.
    core_verdict on_reply(call_state& c, node_id from, const redisReply& reply, clock::time_point now) {
        return on_reply(c, from, reply, [now] { return now; });
    }
    /// The same, with the time read by `read_time()` only when the reply needs it: most replies (any but an error, any
    /// to a fixed-node call) end their call whatever the time, and on a VM's clock source a reading costs tens of
    /// nanoseconds, on every reply.
    template <class ReadClock, std::enable_if_t<std::is_invocable_r_v<clock::time_point, ReadClock&>, int> = 0>
    core_verdict on_reply(call_state& c, node_id from, const redisReply& reply, ReadClock&& read_time);

    /// Nothing of `c` was written to `node`: the connect (DNS, TCP, TLS, AUTH) failed, or the write
    /// failed before its first byte. Connect-level failures are retried within the deadline; TLS
    /// verification, policy and configuration errors are not (they would fail the same way).
    core_verdict on_not_sent(call_state& c, node_id node, const error& why, clock::time_point now);

    /// `c` was written (wholly or in part, and the part may have been a whole command) to `node` and
    /// no reply came: the connection broke or the reply timed out (`why`). It may have run. It is sent
    /// again only when it may repeat; otherwise the call ends with error_kind::unknown_outcome.
    core_verdict on_lost_after_write(call_state& c, node_id node, std::string_view why, clock::time_point now);
    /// A connection of the call's own (the async cluster's, for a blocking command) was lost with the call on it,
    /// `written` or not: the call's fate is decided as on_lost_after_write and on_not_sent decide it, but the node's
    /// state stays its shared connection's to tell (a refresh is asked for: a lost connection may be a failover).
    core_verdict on_own_connection_lost(call_state& c, node_id node, bool written, std::string_view why, clock::time_point now);

private:
    core_verdict lost_after_write(call_state& c, node_id node, std::string_view why, clock::time_point now);

public:

    /// An async driver's call reached its deadline while handed to the connection to `node` (the
    /// connection stays: its reply, if it comes, is dropped). Whatever of it is still queued there will
    /// be written, so it may run: a command not known safe to repeat ends `unknown_outcome`, any other
    /// ends `timeout` saying it may have run.
    core_verdict on_expired_in_flight(call_state& c, node_id node, clock::time_point now);

    cluster_stats& stats() noexcept { return stats_; }
    const cluster_stats& stats() const noexcept { return stats_; }

    // ---- the observer (observer.hpp, events.hpp) --------------------------------------------------------

    /// Where events go (the driver binds its observer; by default nowhere, and nothing is built for them).
    void set_observer(detail::event_sink sink) noexcept { events_ = sink; }
    const detail::event_sink& events() const noexcept { return events_; }
    /// The node `id` as events name it.
    event_node event_node_of(node_id id) const { return detail::event_node_of(nodes_.node(id)); }
    /// Whether the observer wants call_ended_event (drivers read the clock at a call's end only then).
    bool wants_call_events() const noexcept { return events_.wants<call_ended_event>(); }
    /// Call `c` ended at `now`: with `reply`, or (reply null) with `failure`.
    void on_call_ended(const call_state& c, const redisReply* reply, const error* failure, clock::time_point now) const;
    /// A pipeline (PIPELINE) or transaction (MULTI) of `batch_size` commands, started at `started`, ended at `now`:
    /// `node` the node it went to (no_node: several, or none), `failure` the first entry's failure if any.
    void tell_call_ended(std::string_view operation, std::size_t batch_size, node_id node, clock::time_point started,
                         unsigned sends, const redisReply* reply, const error* failure, clock::time_point now) const;

private:
    void tell_redirect(const call_state& c, node_id from, const redirect& r, node_id target) const;
    /// One MOVED changed the owner of `slot` to `target` (the map learnt it before any view did).
    void tell_moved(std::uint16_t slot, node_id from, node_id target) const;

    template <class, class>
    friend class basic_cluster;
    friend class detail::async_driver;  // a transaction's calls, vetted by async_transaction
    friend class detail::async_leases;  // what a transaction's refusal teaches (an empty, vetted call)

    /// start() for a command whose name the caller has read already (command_name(command)), so that it is read once
    /// per call. Private: a name that is not the command's would skip the check (async_driver passes its own reading).
    call_state start(int slot, std::string_view command, std::string_view name, const call_options& options,
                     clock::time_point now) const {
        if (auto refused = detail::refuse_connection_state_command(command, name, {})) throw std::move(*refused);
        return start_vetted(slot, command, options, now);
    }
    /// start() for a command refuse_connection_state_command has passed already (pipeline::add checks each entry
    /// as it is added), so that a pipelined entry is not looked at twice. Private: only basic_cluster's
    /// execute(pipeline) may skip the check.
    call_state start_vetted(int slot, std::string_view command, const call_options& options,
                            clock::time_point now) const {
        call_state c;
        c.slot = slot;
        c.command = command;
        c.repeat_policy = options.repeat_policy;  // the table is consulted only if a send is lost
        if (options.reply_timeout && options.reply_timeout->count() <= 0)
            throw error(error_kind::config, "call_options::reply_timeout must be > 0 ms (it is " +
                                                std::to_string(options.reply_timeout->count()) + " ms)");
        c.reply_timeout = options.reply_timeout;
        c.started = now;
        c.deadline = detail::saturating_add(now, options.deadline.value_or(deadline_));
        c.not_before = now;
        c.replica_read = slot >= 0 && read_from_ != read_preference::master && is_read_only_command(command);
        return c;
    }
    /// A redirect for its own slot to a command that writes its own errors and may not repeat (a script). It is most
    /// likely the server's (a slot moved: the script did not run), but the script could have written it after it
    /// ran. So: followed once, to the target only, without teaching the map (a refresh will); a second redirect,
    /// or a target that cannot be reached, ends the call unknown_outcome rather than run it again. A forged MOVED
    /// therefore costs no second run: the target, not owning the slot, answers with the server's own redirect.
    core_verdict follow_unconfirmed(call_state& c, node_id from, const redirect& r, std::string_view text,
                                    clock::time_point now);

    /// The node a redirect from `from` names (mapped through the policy if new); nullopt, with the call failed,
    /// when the policy or the grammar refuses it.
    std::optional<node_id> redirect_target(call_state& c, node_id from, const redirect& r);

    /// Follows a parsed MOVED (the slot's owner changed: the map learns it) or ASK (this send only).
    core_verdict follow(call_state& c, node_id from, const redirect& r, std::string_view text, clock::time_point now);

    /// Where a replica-eligible read of a slot owned by `master` goes: the next usable replica
    /// (round robin), else the master (replica_preferred) or no_node (replica: the caller waits).
    node_id read_node(call_state& c, node_id master, clock::time_point now);

    /// A replica that could not be reached, lost a read, or refused one (LOADING, MASTERDOWN): reads
    /// go elsewhere for replica_retry_interval. Masters are not set aside: they own their slots.
    void set_replica_aside(node_id id, std::string_view why, clock::time_point now) {
        nodes_.set_replica_aside(id, why, detail::saturating_add(now, replica_retry_interval));
    }

    void schedule_backoff(call_state& c, clock::time_point now) noexcept {
        c.not_before = std::min(detail::saturating_add(now, backoff_.delay(c.backoff_step)), c.deadline);
    }

    core_verdict fail(call_state& c, error e) {
        c.failure = std::move(e);
        return core_verdict::fail;
    }

    error unconfirmed_redirect_failure(const call_state& c, const std::string& what) {
        ++stats_.unknown_outcomes;
        return detail::unconfirmed_redirect_error(c, what);
    }

    detail::node_registry nodes_;
    detail::refresh_state refresh_;
    detail::backoff backoff_;
    detail::slot_owners owners_{};
    std::chrono::milliseconds deadline_;
    int max_redirects_;
    read_preference read_from_;
    std::chrono::milliseconds replica_reply_timeout_;
    std::uint32_t replica_turn_ = 0;  // round robin over a shard's replicas
    std::chrono::seconds expiry_warning_;
    cluster_stats stats_;
    detail::event_sink events_;
};

/// Reads the topology before choosing nodes from it (a scan's slot owners, a fan-out's masters) when the core
/// says a refresh is due: none installed, or a node found down or lost since the last read (a fixed-node call
/// that failed marks it so, like any other), within the rate limit. Fixed-node calls never refresh by
/// themselves, since they go where the caller said; so a scan or fan-out after a failover goes to the new master
/// instead of spending its deadline on the dead one. A failed refresh throws only when there is no map at all;
/// otherwise the current map is used (the failure is the next call's to report).
template <class Cluster>
void refresh_if_due(Cluster& cluster) {
    if (!cluster.core().refresh_due(std::chrono::steady_clock::now())) return;
    try {
        cluster.refresh();
    } catch (const error&) {
        if (!cluster.core().has_topology()) throw;
    }
}

}  // namespace addrmap

// The members' definitions, by concern (each I/O-free): where a call goes, what an answer does to it, what the
// observer hears.
#include <addrmap/detail/core_routing.hpp>
#include <addrmap/detail/core_replies.hpp>
#include <addrmap/detail/core_events.hpp>
