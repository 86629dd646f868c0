// addrmap/cluster_core.hpp — the I/O-free cluster core: node table, slot map, redirect and retry decisions,
// deadlines and delivery rules. Drivers (basic_cluster, blocking) do the I/O it asks for and report what happened.
//
// Events in:  on_reply · on_not_sent (nothing was written) · on_lost_after_write · install (a topology) · time
// Actions out (next()): send to node N (after ASKING?) · refresh the topology · wait until T · fail with an error
// A call's fate after a lost connection is decided here, once, from what was written: drivers never decide it.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace addrmap {

/// A node's number in the core's table. Stable while the node is known; never reused.
using node_id = std::uint32_t;
inline constexpr node_id no_node = 0xffffffffu;

/// What the core knows of one node. Connections are not here: the driver owns them.
struct core_node {
    node_address reported;
    bool mapped = false;      ///< dial_host/port/tls_name are set (masters and seeds are mapped when used)
    std::string dial_host;
    std::uint16_t port = 0;
    std::string tls_name;
    node_role role = node_role::master;
    std::vector<slot_range> slots;
    bool in_topology = false;
    bool is_seed = false;
    bool connected = false;   ///< the driver has a live connection (it tells the core)
    bool down = false;        ///< the last attempt to reach it failed
    std::string problem;      ///< why it is down or unmapped; escaped, for node_info
    node_id master = no_node; ///< replicas: the master they replicate, as the last installed view said
    /// Not dialed again before this (the node's own backoff, shared by every call that waits on it): a dead
    /// master is dialed at one pace, not once per waiting call. Cleared by a successful connect.
    std::chrono::steady_clock::time_point redial_at{};
    int redial_step = 0;
};

/// One command (or pipeline entry) on its way. The encoded command is the caller's: it must outlive the call.
struct call_state {
    using clock = std::chrono::steady_clock;
    int slot = -1;                 ///< -1: any master (keyless commands)
    std::string_view command;      ///< RESP-encoded
    repeat repeat_policy = repeat::by_table;  ///< decides the "may have run" case (looked up only then)
    clock::time_point started;
    clock::time_point deadline;
    clock::time_point not_before;  ///< backoff: nothing is sent before this
    node_id target = no_node;      ///< from the last MOVED/ASK, used for the next send only
    bool asking = false;           ///< send ASKING first (the last reply was ASK)
    node_id fixed_node = no_node;  ///< command_on: this node only, replies returned as they are
    int redirects = 0;
    int sends = 0;
    int backoff_step = 0;
    bool may_have_run = false;     ///< it was lost after a write and re-sent (only when it may repeat)
    bool unconfirmed_redirect = false;  ///< a script followed a redirect it may have written itself (once only)
    std::string redirect_text;          ///< that redirect, for the message if it ends unknown_outcome
    bool replica_read = false;     ///< a keyed read that read_from lets a replica serve
    std::string last_problem;      ///< escaped, for the deadline message
    std::optional<error> failure;  ///< set when next() says fail
    std::optional<std::chrono::milliseconds> reply_timeout;  ///< call_options::reply_timeout (the driver applies it)
};

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
    using mapper = std::function<endpoint(const node_address&)>;

    /// Parses the seeds; throws error{config} for bad options. Nothing is mapped or dialed here.
    cluster_core(const cluster_options& options, mapper map)
        : map_(std::move(map)),
          deadline_(options.deadline),
          max_redirects_(options.max_redirects),
          min_backoff_(options.min_backoff),
          max_backoff_(options.max_backoff),
          refresh_min_interval_(options.refresh_min_interval),
          refresh_interval_(options.refresh_interval),

          read_from_(options.read_from),
          replica_reply_timeout_(options.tls.command_timeout) {
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
        for (std::size_t i = 0; i < options.seeds.size(); ++i) {
            const node_address seed = parse_address(options.seeds[i], "seed #" + std::to_string(i + 1));
            seed_addresses_.push_back(seed);
            const node_id id = record(seed, node_role::seed);
            nodes_[id]->is_seed = true;
            seeds_.push_back(id);
        }
        owners_.fill(no_node);
        jitter_state_ = static_cast<std::uint64_t>(clock::now().time_since_epoch().count()) | 1u;
    }

    // ---- the node table -------------------------------------------------------------------------------

    std::size_t seed_count() const noexcept { return seeds_.size(); }
    node_id seed(std::size_t i) const noexcept { return seeds_[i]; }
    bool exists(node_id id) const noexcept { return id < nodes_.size() && nodes_[id] != nullptr; }
    /// The node `id`; error{topology} when it left the topology and was forgotten.
    const core_node& node(node_id id) const { return *known(id); }
    std::size_t id_limit() const noexcept { return nodes_.size(); }  ///< every id is below this
    bool has_topology() const noexcept { return has_topology_; }

    /// Maps the node through the policy if it is not mapped yet. Throws the policy's (or the
    /// grammar's) error, with where the address came from, and remembers it as the node's problem.
    const core_node& ensure_mapped(node_id id) {
        core_node& n = *known(id);
        if (n.mapped) return n;
        try {
            set_mapping(n, map_checked(n.reported));
        } catch (const error& e) {
            n.problem = e.message();
            throw error(e.kind(), std::string(e.message()) + origin_of(n));
        }
        n.problem.clear();
        return n;
    }

    void on_connected(node_id id) {
        core_node& n = *nodes_.at(id);
        n.connected = true;
        n.down = false;
        n.problem.clear();
        n.redial_at = {};
        n.redial_step = 0;
        ++stats_.connections_made;
    }
    /// A connect (TCP, TLS, AUTH) failed at `now`: the node is down until a connect succeeds, and is not dialed
    /// again before its own backoff ends. The calls that waited on that one dial all report it; only the first
    /// report of a dial (one made once the backoff had ended) moves the backoff on.
    void on_unreachable(node_id id, const error& why, clock::time_point now) {
        if (!exists(id)) return;
        core_node& n = *nodes_[id];
        n.connected = false;
        n.down = true;
        n.problem = why.message();
        if (now >= n.redial_at) {
            n.redial_at = saturating_add(now, backoff_delay(n.redial_step));
            ++stats_.dial_failures;
        }
        refresh_wanted_ = true;
        // A MOVED target that cannot be reached cannot vouch for its slot: let views from others install.
        pending_moved_.erase(std::remove_if(pending_moved_.begin(), pending_moved_.end(),
                                            [id](const pending_move& m) { return m.target == id; }),
                             pending_moved_.end());
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
    /// The driver closed a connection on its own (found stale while idle, or disconnect()): no failure.
    void on_closed(node_id id) noexcept {
        if (exists(id)) nodes_[id]->connected = false;
    }
    /// A connection that was set up broke while in use.
    void on_disconnected(node_id id) {
        if (!exists(id)) return;
        if (nodes_[id]->connected) ++stats_.connection_losses;
        nodes_[id]->connected = false;
        refresh_wanted_ = true;
    }

    // ---- topology -------------------------------------------------------------------------------------

    /// The node serving `slot`, or for -1 a master that is not known down (else any master).
    node_id owner(int slot) const noexcept {
        if (slot >= 0) return owners_[static_cast<std::size_t>(slot) % slot_count];
        node_id fallback = no_node;
        for (node_id id = 0; id < nodes_.size(); ++id) {
            const core_node* n = nodes_[id].get();
            if (n == nullptr || !n->in_topology || n->role != node_role::master || n->slots.empty()) continue;
            if (!n->down) return id;
            if (fallback == no_node) fallback = id;
        }
        return fallback;
    }

    /// True when a refresh is wanted (a MOVED, CLUSTERDOWN, a lost node, no topology yet, or the last
    /// refresh is older than refresh_interval) and the rate limit allows one now.
    bool refresh_due(clock::time_point now) const noexcept {
        if (refresh_in_flight_) return false;
        // Periodic: checked on use (no timer), so a moved slot is learnt before a command meets a MOVED.
        const bool periodic = refresh_interval_.count() > 0 && has_topology_ && last_refresh_ &&
                              now - *last_refresh_ >= refresh_interval_;
        if (!refresh_wanted_ && has_topology_ && !periodic) return false;
        return !last_refresh_ || now - *last_refresh_ >= refresh_min_interval_;
    }
    /// A refresh begins (one at a time): returns its generation, which install() takes, so an answer
    /// to an older refresh can never replace a newer one (an async driver may see them out of order).
    std::uint64_t refresh_started(clock::time_point now) noexcept {
        last_refresh_ = now;
        refresh_in_flight_ = true;
        return ++refresh_generation_;
    }
    /// The refresh ended, installed or not; the rate limit counts from its end.
    void refresh_finished(clock::time_point now) noexcept {
        last_refresh_ = now;
        refresh_in_flight_ = false;
    }
    void request_refresh() noexcept { refresh_wanted_ = true; }
    /// A refresh ended with no view installed; `first_error` is the first node's error. While no topology
    /// was ever installed, an error that would repeat on every try (certificate, policy, configuration, a
    /// malformed reply: not connect, timeout or topology) ends calls waiting for the topology at once instead
    /// of at their deadline.
    void refresh_failed(const error& first_error) {
        if (has_topology_) return;
        // connect, timeout and topology (a node still loading, a cluster still assigning its slots, a view older
        // than a MOVED) pass; a certificate, a policy, a malformed reply would fail the same way next time.
        if (is_reachability_error(first_error) || first_error.kind() == error_kind::topology) {
            discovery_failure_.reset();
            discovery_problem_ = detail::escaped(first_error.message(), 600);
        } else {
            discovery_failure_ = first_error;
        }
    }

    /// Whom to ask for the topology, best first: targets of MOVEDs not yet confirmed (they know the
    /// newest owner), connected nodes, nodes not known down, the rest of the topology, then the seeds.
    std::vector<node_id> refresh_candidates() const {
        std::vector<node_id> order;
        auto add = [&](node_id id) {
            if (exists(id) && std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
        };
        for (auto it = pending_moved_.rbegin(); it != pending_moved_.rend(); ++it) add(it->target);
        for (int pass = 0; pass < 3; ++pass)
            for (node_id id = 0; id < nodes_.size(); ++id) {
                const core_node* n = nodes_[id].get();
                if (n == nullptr || !n->in_topology) continue;
                const bool first = n->connected, second = !n->connected && !n->down;
                if ((pass == 0 && first) || (pass == 1 && second) || (pass == 2 && !first && !second)) add(id);
            }
        for (node_id id : seeds_) add(id);
        return order;
    }

    /// Installs a topology read from `reporter` ("CLUSTER SHARDS" / "CLUSTER SLOTS" in `how`).
    /// Every master is mapped and checked before anything changes, so an error (a master the policy
    /// refuses, two nodes mapped to one endpoint, a view older than a MOVED already applied) leaves
    /// the previous map in place. Replicas the policy refuses are kept as unmapped rows with their
    /// problem (they are not dialed). Returns the nodes that left the topology and were forgotten:
    /// the driver closes their connections.
    /// `generation` is refresh_started()'s; 0 means "the newest" (a caller that refreshes one at a time).
    std::vector<node_id> install(const topology& topo, node_id reporter, std::string_view how,
                                 std::uint64_t generation = 0) {
        if (generation == 0) generation = refresh_generation_;
        if (generation < installed_generation_)
            throw error(error_kind::topology, "a topology answer to an older refresh arrived after a newer one was "
                                              "installed; it was not installed");
        const std::string where = "reported by " + reporter_name(reporter) + " in " + std::string(how);
        struct planned {
            node_address address;
            node_role role = node_role::master;
            const shard* owner_of = nullptr;  // masters: their shard
            std::size_t master_at = 0;        // replicas: their master's index in the plan
            bool mapped = false;
            std::string dial_host, tls_name, problem;
            std::uint16_t port = 0;
        };
        std::vector<planned> plan;
        const auto add = [&](const node_address& address, node_role role, const shard* owns) {
            planned p;
            p.address = as_configured_if_seed(resolve_unknown(address, reporter));
            p.role = role;
            p.owner_of = owns;
            plan.push_back(std::move(p));
        };
        for (const shard& s : topo.shards) {
            const std::size_t master_at = plan.size();
            add(s.master, node_role::master, &s);
            for (const node_address& r : s.replicas) {
                add(r, node_role::replica, nullptr);
                plan.back().master_at = master_at;
            }
        }
        for (planned& p : plan) {
            try {
                if (is_unknown_node(p.address)) throw error(error_kind::topology, detail::unknown_node_message(p.address));
                const auto known = index_.find(to_string(p.address));
                if (known != index_.end() && nodes_[known->second]->mapped) {
                    const core_node& n = *nodes_[known->second];
                    p.dial_host = n.dial_host, p.port = n.port, p.tls_name = n.tls_name;
                } else {
                    const endpoint e = map_checked(p.address);
                    p.dial_host.assign(e.dial_host()), p.port = e.port(), p.tls_name.assign(e.tls_name());
                }
                p.mapped = true;
            } catch (const error& e) {
                if (p.role == node_role::master) throw detail::with_context(e, where);
                p.problem = e.message();
            }
        }
        check_no_shared_endpoints(plan, where);
        // A view that contradicts a MOVED applied since the last install is older than what we know.
        for (const pending_move& m : pending_moved_) {
            const std::uint16_t slot = m.slot;
            const node_id target = m.target;
            const shard* s = topo.owner_of(slot);
            // The MOVED target itself knows best: its view is newer than its own MOVED.
            if (!exists(target) || target == reporter) continue;
            if (s == nullptr || to_string(resolve_unknown(s->master, reporter)) != to_string(nodes_[target]->reported)) {
                ++stats_.stale_views_refused;
                throw error(error_kind::topology,
                            "the view " + where + " is older than what a MOVED already said: slot " +
                                std::to_string(slot) + " is served by " + to_string(nodes_[target]->reported) +
                                "; it was not installed");
            }
        }
        // Commit: nothing below throws except bad_alloc.
        std::array<node_id, slot_count> owners;
        owners.fill(no_node);
        for (auto& n : nodes_)
            if (n) n->in_topology = false, n->slots.clear();
        std::vector<node_id> planned_ids;
        for (planned& p : plan) {
            const node_id id = record(p.address, p.role);
            planned_ids.push_back(id);
            core_node& n = *nodes_[id];
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
                    for (std::uint32_t slot = r.first; slot <= r.last && slot < slot_count; ++slot) owners[slot] = id;
            }
        }
        std::vector<node_id> forgotten;
        for (node_id id = 0; id < nodes_.size(); ++id) {
            core_node* n = nodes_[id].get();
            if (n == nullptr || n->in_topology || n->is_seed) continue;
            index_.erase(to_string(n->reported));
            nodes_[id].reset();
            forgotten.push_back(id);
        }
        for (node_id id : seeds_)
            if (!nodes_[id]->in_topology) nodes_[id]->role = node_role::seed;
        owners_ = owners;
        // MOVEDs that arrived while this refresh was on its way may be newer than the view: keep those.
        pending_moved_.erase(std::remove_if(pending_moved_.begin(), pending_moved_.end(),
                                            [generation](const pending_move& m) { return m.generation < generation; }),
                             pending_moved_.end());
        installed_generation_ = generation;
        discovery_failure_.reset();
        refresh_in_flight_ = false;
        refresh_wanted_ = false;
        has_topology_ = true;
        ++stats_.refreshes;
        return forgotten;
    }

    // ---- calls ----------------------------------------------------------------------------------------

    /// When a call started at `now` with the default deadline must end (the end of time if that overflows).
    clock::time_point deadline_from(clock::time_point now) const noexcept { return saturating_add(now, deadline_); }

    /// A call of `command` (RESP, owned by the caller) for `slot` (-1: any master). Throws error{config}
    /// for a command that would change the shared connection's state (SUBSCRIBE, MONITOR, HELLO, ...).
    call_state start(int slot, std::string_view command, const call_options& options, clock::time_point now) const {
        if (auto refused = detail::refuse_connection_state_command(command)) throw std::move(*refused);
        call_state c;
        c.slot = slot;
        c.command = command;
        c.repeat_policy = options.repeat_policy;  // the table is consulted only if a send is lost
        if (options.reply_timeout && options.reply_timeout->count() <= 0)
            throw error(error_kind::config, "call_options::reply_timeout must be > 0 ms (it is " +
                                                std::to_string(options.reply_timeout->count()) + " ms)");
        c.reply_timeout = options.reply_timeout;
        c.started = now;
        c.deadline = saturating_add(now, options.deadline.value_or(deadline_));
        c.not_before = now;
        c.replica_read = slot >= 0 && read_from_ != read_preference::master && is_read_only_command(command);
        return c;
    }

    /// A call to one chosen node (no redirects followed; any reply is the caller's).
    call_state start_on(node_id node, std::string_view command, const call_options& options,
                        clock::time_point now) const {
        call_state c = start(-1, command, options, now);
        c.fixed_node = node;
        return c;
    }

    /// What to do next for `c`.
    core_decision next(call_state& c, clock::time_point now) {
        core_decision d;
        if (c.failure) return d;
        if (now >= c.deadline) {
            c.failure = deadline_error(c, now);
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
        if (!has_topology_ && discovery_failure_ && c.fixed_node == no_node) {
            // Every node asked failed in a way that asking again would repeat (a certificate, a policy):
            // say so now rather than at the deadline.
            c.failure = *discovery_failure_;
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
        if (c.replica_read && !redirected && n != no_node && exists(n)) {
            n = read_node(c, n, now);
            if (n == no_node) {  // read_from = replica and none is usable: wait for one (within the deadline)
                refresh_wanted_ = true;
                schedule_backoff(c, now);
                d.what = core_decision::kind::wait;
                d.until = std::min(c.not_before, c.deadline);
                return d;
            }
        }
        if (n != no_node && !exists(n)) {
            if (c.fixed_node != no_node) {
                c.failure = error(error_kind::topology, "the node chosen for " + name_of(c) + " left the topology");
                return d;
            }
            n = no_node;
        }
        if (n == no_node) {
            c.last_problem = has_topology_ ? "no node serves slot " + std::to_string(c.slot)
                             : discovery_problem_.empty()
                                 ? std::string("the cluster topology is not known yet")
                                 : "the cluster topology is not known yet (last attempt: " + discovery_problem_ + ")";
            refresh_wanted_ = true;
            schedule_backoff(c, now);
            d.what = core_decision::kind::wait;
            d.until = std::min(c.not_before, c.deadline);
            return d;
        }
        const core_node& to = *nodes_[n];
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
        // ASKING only towards the ASK's target: when a refresh forgot the target, the call goes to the owner plain.
        if (!redirected) c.asking = false;
        d.asking = c.asking;
        d.reply_by = c.deadline;
        if (c.replica_read && nodes_[n]->role == node_role::replica)
            d.reply_by = std::min(c.deadline, saturating_add(now, replica_reply_timeout_));
        return d;
    }

    /// The driver is about to write the call to `node` (counts sends and retries).
    void on_send(call_state& c) noexcept {
        if (c.sends++ > 0) ++stats_.retries;
    }

    /// A reply (possibly an error reply) arrived for `c` from `from`.
    core_verdict on_reply(call_state& c, node_id from, const redisReply& reply, clock::time_point now) {
        c.target = no_node;
        c.asking = false;
        if (reply.type != REDIS_REPLY_ERROR || c.fixed_node != no_node) return core_verdict::done;
        const std::string_view text(reply.str, reply.len);
        const detail::error_reply_meaning meaning = detail::meaning_of_error(text, c.command, c.repeat_policy);
        if (meaning == detail::error_reply_meaning::reply) {
            // The caller's reply. If it is a refusal's text (a script's, or the server's), the map may be stale:
            // ask for a refresh anyway; it costs nothing when the text was the script's.
            if (detail::asks_refresh(detail::refusal_of(text))) refresh_wanted_ = true;
            return core_verdict::done;
        }
        if (meaning == detail::error_reply_meaning::redirect) {
            std::optional<redirect> r;
            const bool must_match = detail::redirect_slot_must_match(c.command);
            try {
                r = parse_redirect(text);
            } catch (const error& e) {
                if (must_match) return core_verdict::done;  // the script's own text, not the server's
                return fail(c, detail::with_context(e, "reply from " + reporter_name(from)));
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
            if (detail::asks_refresh(why)) refresh_wanted_ = true;
            c.last_problem = detail::quoted(text, 200) + " from " + reporter_name(from);
            schedule_backoff(c, now);
            return core_verdict::retry;
        };
        if (exists(from) && nodes_[from]->role == node_role::replica &&
            (why == detail::refusal::loading || why == detail::refusal::masterdown))
            set_replica_aside(from, detail::quoted(text, 200), now);
        switch (why) {
            case detail::refusal::tryagain: return refused(stats_.tryagain);
            case detail::refusal::clusterdown: return refused(stats_.clusterdown);
            case detail::refusal::loading:
            case detail::refusal::masterdown: return refused(stats_.loading);
            default: return core_verdict::done;
        }
    }

    /// Nothing of `c` was written to `node`: the connect (DNS, TCP, TLS, AUTH) failed, or the write
    /// failed before its first byte. Connect-level failures are retried within the deadline; TLS
    /// verification, policy and configuration errors are not (they would fail the same way).
    core_verdict on_not_sent(call_state& c, node_id node, const error& why, clock::time_point now) {
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

    /// `c` was written (wholly or in part, and the part may have been a whole command) to `node` and
    /// no reply came: the connection broke or the reply timed out (`why`). It may have run. It is sent
    /// again only when it may repeat; otherwise the call ends with error_kind::unknown_outcome.
    core_verdict on_lost_after_write(call_state& c, node_id node, std::string_view why, clock::time_point now) {
        on_disconnected(node);
        set_replica_aside(node, why, now);
        c.target = no_node;
        c.asking = false;
        const std::string where = exists(node) ? to_string(nodes_[node]->reported) : std::string("a node");
        if (may_repeat(c.command, c.repeat_policy)) {
            c.may_have_run = true;
            c.last_problem = where + ": " + std::string(why);
            schedule_backoff(c, now);
            return core_verdict::retry;
        }
        ++stats_.unknown_outcomes;
        return fail(c, error(error_kind::unknown_outcome,
                             name_of(c) + " was sent to " + where + ", then " + std::string(why) +
                                 ": it may or may not have run, so it was not sent again "
                                 "(it is not known safe to repeat; call_options::repeat_policy = repeat::allowed "
                                 "permits that)"));
    }

    /// An async driver's call reached its deadline while handed to the connection to `node` (the
    /// connection stays: its reply, if it comes, is dropped). Whatever of it is still queued there will
    /// be written, so it may run: a command not known safe to repeat ends `unknown_outcome`, any other
    /// ends `timeout` saying it may have run.
    core_verdict on_expired_in_flight(call_state& c, node_id node, clock::time_point now) {
        const std::string where = exists(node) ? to_string(nodes_[node]->reported) : std::string("a node");
        if (!may_repeat(c.command, c.repeat_policy)) {
            ++stats_.unknown_outcomes;
            return fail(c, error(error_kind::unknown_outcome,
                                 name_of(c) + " was handed to the connection to " + where +
                                     " and no reply came before its deadline: it may or may not have run (it is "
                                     "not known safe to repeat)"));
        }
        c.may_have_run = true;
        c.last_problem = where + ": no reply before the deadline";
        return fail(c, deadline_error(c, now));
    }

    cluster_stats& stats() noexcept { return stats_; }
    const cluster_stats& stats() const noexcept { return stats_; }

    /// The node for a reported address, created (and mapped) if new. `how` and `reporter` say where
    /// the address came from, for messages ("MOVED" from node R).
    node_id node_for(const node_address& address, node_role role, std::string_view how, node_id reporter) {
        const auto known = index_.find(to_string(address));
        node_id id = known != index_.end() ? known->second : no_node;
        if (id != no_node && nodes_[id]->mapped) return id;
        const std::string where = exists(reporter) ? "reported by " + reporter_name(reporter) + " in " + std::string(how)
                                                   : "given to " + std::string(how);
        if (is_unknown_node(address))
            throw error(error_kind::topology, where + ": " + detail::unknown_node_message(address));
        // The parsers already refuse such hosts; this keeps every other path (command_on) to the same grammar.
        if (auto problem = detail::check_host(address.host, false))
            throw error(exists(reporter) ? error_kind::protocol : error_kind::config,
                        where + ": node " + to_string(address) + " refused before mapping: " + problem->message);
        const node_address marked = as_configured_if_seed(address);
        endpoint e = endpoint({}, 0, {});
        try {
            e = map_checked(marked);
        } catch (const error& err) {
            throw detail::with_context(err, where);
        }
        for (node_id other = 0; other < nodes_.size(); ++other) {
            const core_node* n = nodes_[other].get();
            if (n == nullptr || other == id || !n->mapped || n->is_seed || n->port != e.port() ||
                !detail::iequals_ascii(n->dial_host, e.dial_host()))
                continue;
            throw error(error_kind::config, where + ": " + shared_endpoint_message(n->reported, marked, e.dial_host(), e.port()));
        }
        if (id == no_node) id = record(marked, role);
        set_mapping(*nodes_[id], e);
        return id;
    }

    /// The replicas of `master` a read may go to now: in the topology, mapped (a replica the policy
    /// refused is never dialed) and not set aside (found down or refusing less than
    /// replica_retry_interval ago). In the order of the node table.
    std::vector<node_id> usable_replicas(node_id master, clock::time_point now) const {
        std::vector<node_id> out;
        for (node_id id = 0; id < nodes_.size(); ++id) {
            const core_node* n = nodes_[id].get();
            if (n == nullptr || !n->in_topology || n->role != node_role::replica || n->master != master) continue;
            if (!n->mapped && !n->problem.empty()) continue;
            const auto aside = replica_aside_until_.find(id);
            if (aside != replica_aside_until_.end() && now < aside->second) continue;
            if (!n->connected && now < n->redial_at) continue;  // in its own dial backoff: read elsewhere meanwhile
            out.push_back(id);
        }
        return out;
    }

    /// A replica found down or refusing is not chosen for reads again before this much time passed.
    static constexpr std::chrono::milliseconds replica_retry_interval{1000};

private:
    /// A redirect for its own slot to a command that writes its own errors and may not repeat (a script). It is most
    /// likely the server's (a slot moved: the script did not run), but the script could have written it after it
    /// ran. So: followed once, to the target only, without teaching the map (a refresh will); a second redirect,
    /// or a target that cannot be reached, ends the call unknown_outcome rather than run it again. A forged MOVED
    /// therefore costs no second run: the target, not owning the slot, answers with the server's own redirect.
    core_verdict follow_unconfirmed(call_state& c, node_id from, const redirect& r, std::string_view text,
                                    clock::time_point now) {
        if (c.unconfirmed_redirect)
            return fail(c, unconfirmed_redirect_failure(c, "its target answered " + detail::quoted(text, 200) + " (" +
                                                               reporter_name(from) + ")"));
        const std::optional<node_id> target = redirect_target(c, from, r);
        if (!target) return core_verdict::fail;
        // A server never redirects to itself: that text is the script's, and following it would run it again.
        if (*target == from) return core_verdict::done;
        ++c.redirects;
        ++(r.type == redirect::kind::moved ? stats_.moved : stats_.ask);
        c.unconfirmed_redirect = true;
        c.redirect_text.assign(text.substr(0, 200));
        c.target = *target;
        c.asking = r.type == redirect::kind::ask;
        // No refresh is asked for here: one could forget the target (a new master owning no slot yet, a lagging
        // view), and the call could then not go on. A genuine MOVED is learnt by the next one met by any call.
        (void)now;
        return core_verdict::retry;
    }

    /// The node a redirect from `from` names (mapped through the policy if new); nullopt, with the call failed,
    /// when the policy or the grammar refuses it.
    std::optional<node_id> redirect_target(call_state& c, node_id from, const redirect& r) {
        try {
            return node_for(resolve_unknown(r.target, from), node_role::master,
                            r.type == redirect::kind::moved ? "MOVED" : "ASK", from);
        } catch (const error& e) {
            fail(c, e);
            return std::nullopt;
        }
    }

    /// Follows a parsed MOVED (the slot's owner changed: the map learns it) or ASK (this send only).
    core_verdict follow(call_state& c, node_id from, const redirect& r, std::string_view text, clock::time_point now) {
        if (++c.redirects > max_redirects_)
            return fail(c, error(error_kind::redirect_limit,
                                 "gave up on " + name_of(c) + " after " + std::to_string(max_redirects_) +
                                     " redirects for slot " + std::to_string(c.slot) + "; last: " +
                                     detail::quoted(text, 200) + " from " + reporter_name(from)));
        const std::optional<node_id> found = redirect_target(c, from, r);
        if (!found) return core_verdict::fail;
        const node_id target = *found;
        if (r.type == redirect::kind::moved) {
            ++stats_.moved;
            owners_[r.slot] = target;
            nodes_[target]->in_topology = true;
            nodes_[target]->role = node_role::master;
            note_moved(r.slot, target);
            refresh_wanted_ = true;
        } else {
            ++stats_.ask;
            c.asking = true;
        }
        c.target = target;
        // While a slot changes hands, source and target can briefly point at each other: back off
        // after the first few redirects instead of spinning through the limit.
        if (c.redirects > 2) schedule_backoff(c, now);
        return core_verdict::retry;
    }

    /// Where a replica-eligible read of a slot owned by `master` goes: the next usable replica
    /// (round robin), else the master (replica_preferred) or no_node (replica: the caller waits).
    node_id read_node(call_state& c, node_id master, clock::time_point now) {
        const std::vector<node_id> replicas = usable_replicas(master, now);
        if (!replicas.empty()) {
            ++stats_.replica_sends;
            return replicas[replica_turn_++ % replicas.size()];
        }
        if (read_from_ == read_preference::replica_preferred) {
            ++stats_.replica_fallbacks;
            return master;
        }
        c.last_problem = "no usable replica of master " + to_string(nodes_[master]->reported) + " for slot " +
                         std::to_string(c.slot) + " (cluster_options::read_from is replica, which never reads from "
                         "the master; replica_preferred would)";
        return no_node;
    }

    /// A replica that could not be reached, lost a read, or refused one (LOADING, MASTERDOWN): reads
    /// go elsewhere for replica_retry_interval. Masters are not set aside: they own their slots.
    void set_replica_aside(node_id id, std::string_view why, clock::time_point now) {
        if (!exists(id) || nodes_[id]->role != node_role::replica) return;
        nodes_[id]->down = true;
        nodes_[id]->problem = detail::shortened(why, 600);  // callers pass escaped text
        replica_aside_until_[id] = saturating_add(now, replica_retry_interval);
    }

    node_id record(const node_address& address, node_role role) {
        std::string key = to_string(address);
        const auto known = index_.find(key);
        if (known != index_.end()) return known->second;
        auto n = std::make_unique<core_node>();
        n->reported = address;
        n->role = role;
        nodes_.push_back(std::move(n));
        const node_id id = static_cast<node_id>(nodes_.size() - 1);
        index_.emplace(std::move(key), id);
        return id;
    }

    /// The policy's answer, checked by the one grammar before anyone dials it.
    endpoint map_checked(const node_address& address) const {
        endpoint e = map_(address);
        detail::check_mapping("the policy's mapping of " + to_string(address) + " (" + to_string(e) + ")", e);
        // The endpoint may view `address`, which the caller keeps alive; copy what we keep.
        return e;
    }

    /// "The seeds' own names are allowed": a reported host equal to a seed's host counts as configured.
    node_address as_configured_if_seed(node_address address) const {
        return configured_if_seed(std::move(address), seed_addresses_);
    }

    static void set_mapping(core_node& n, const endpoint& e) {
        n.dial_host.assign(e.dial_host());
        n.port = e.port();
        n.tls_name.assign(e.tls_name());
        n.mapped = true;
    }

    std::string origin_of(const core_node& n) const {
        if (n.is_seed && !n.in_topology) {
            const auto it = std::find(seeds_.begin(), seeds_.end(), index_.at(to_string(n.reported)));
            return " (seed #" + std::to_string(it - seeds_.begin() + 1) + ")";
        }
        return " (" + std::string(to_string(n.role)) + " " + to_string(n.reported) + ")";
    }

    std::string reporter_name(node_id id) const {
        return exists(id) ? to_string(nodes_[id]->reported) : std::string("a node no longer known");
    }

    /// Redis reports "" (or nil) for "the host of the node you asked"; "?" is an unknown node, "not
    /// necessarily the one serving the current command" (CLUSTER SLOTS docs), so it stays "?" and is never mapped.
    node_address resolve_unknown(node_address address, node_id reporter) const {
        if (address.host.empty() && exists(reporter)) address.host = nodes_[reporter]->reported.host;
        return address;
    }

    static bool is_unknown_node(const node_address& address) noexcept { return address.host == "?"; }

    static std::string shared_endpoint_message(const node_address& a, const node_address& b, std::string_view host,
                                               std::uint16_t port) {
        return "the policy maps two reported nodes, " + to_string(a) + " and " + to_string(b) + ", to one endpoint " +
               format_host_port(host, port) +
               ": DNS would pick between them at random. Map each node to its own host:port (ip_to_hostname's "
               "dial_ip_verify_hostname mode keeps the IPs apart)";
    }

    template <class Plan>
    void check_no_shared_endpoints(const std::vector<Plan>& plan, const std::string& where) const {
        for (std::size_t i = 0; i < plan.size(); ++i)
            for (std::size_t j = i + 1; j < plan.size(); ++j) {
                const Plan &a = plan[i], &b = plan[j];
                if (!a.mapped || !b.mapped || a.port != b.port || !detail::iequals_ascii(a.dial_host, b.dial_host))
                    continue;
                if (to_string(a.address) == to_string(b.address)) continue;  // listed twice: one node
                throw error(error_kind::config, where + ": " + shared_endpoint_message(a.address, b.address, a.dial_host, a.port));
            }
    }

    void note_moved(std::uint16_t slot, node_id target) {
        // Stamped with the newest refresh generation: an install of that generation or a later one
        // (requested after this MOVED) clears it; an answer to an earlier request does not.
        const pending_move m{slot, target, refresh_generation_ + (refresh_in_flight_ ? 1 : 0)};
        for (auto& entry : pending_moved_)
            if (entry.slot == slot) {
                entry = m;
                return;
            }
        if (pending_moved_.size() >= 64) pending_moved_.erase(pending_moved_.begin());  // bounded: the newest count
        pending_moved_.push_back(m);
    }

    core_node* known(node_id id) const {
        if (id >= nodes_.size() || nodes_[id] == nullptr)
            throw error(error_kind::topology, "node #" + std::to_string(id) + " left the topology and was forgotten");
        return nodes_[id].get();
    }

    /// t + d, or the end of time when that would overflow (a deadline of "forever" must not wrap around).
    template <class Rep, class Period>
    static clock::time_point saturating_add(clock::time_point t, std::chrono::duration<Rep, Period> d) noexcept {
        const auto room = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(clock::time_point::max() - t);
        return d >= room ? clock::time_point::max() : t + std::chrono::duration_cast<clock::duration>(d);
    }

    void schedule_backoff(call_state& c, clock::time_point now) noexcept {
        c.not_before = std::min(saturating_add(now, backoff_delay(c.backoff_step)), c.deadline);
    }

    /// The wait before the next try, for a call's or a node's `step` (moved on by one): from min_backoff, doubling,
    /// capped at max_backoff, with jitter from the step's upper half so many clients that lost the same node
    /// spread out.
    std::chrono::microseconds backoff_delay(int& step_counter) noexcept {
        const int step = std::min(step_counter++, 20);
        auto base = min_backoff_ * (std::int64_t{1} << step);
        if (base > max_backoff_ || base.count() < 0) base = max_backoff_;
        base = std::min(base, std::chrono::milliseconds(3600 * 1000));  // keeps the arithmetic below in range
        jitter_state_ ^= jitter_state_ << 13, jitter_state_ ^= jitter_state_ >> 7, jitter_state_ ^= jitter_state_ << 17;
        const auto half = std::chrono::duration_cast<std::chrono::microseconds>(base) / 2;
        const auto extra = half.count() > 0 ? std::chrono::microseconds(static_cast<std::int64_t>(
                                                  jitter_state_ % static_cast<std::uint64_t>(half.count() + 1)))
                                            : std::chrono::microseconds(0);
        return half + extra;
    }

    core_verdict fail(call_state& c, error e) {
        c.failure = std::move(e);
        return core_verdict::fail;
    }

    static std::string name_of(const call_state& c) {
        const std::string_view name = command_name(c.command);
        return name.empty() ? std::string("the command") : detail::quoted(name, 40);
    }

    /// How a script that followed a redirect it may have written ends when `what` happened: unknown_outcome.
    error unconfirmed_redirect_message(const call_state& c, const std::string& what) const {
        return error(error_kind::unknown_outcome, name_of(c) + " answered " + detail::quoted(c.redirect_text, 200) +
                                                      ", which a script can write itself, and " + what +
                                                      ": it may or may not have run, so it was not sent again");
    }
    error unconfirmed_redirect_failure(const call_state& c, const std::string& what) {
        ++stats_.unknown_outcomes;
        return unconfirmed_redirect_message(c, what);
    }

    error deadline_error(const call_state& c, clock::time_point now) const {
        const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.started).count();
        if (c.unconfirmed_redirect)
            return unconfirmed_redirect_message(c, "its deadline passed after " + std::to_string(spent) +
                                                       " ms before the redirect's target answered");
        std::string text = "gave up on " + name_of(c) + (c.slot >= 0 ? " for slot " + std::to_string(c.slot) : "") +
                           " at its deadline, after " + std::to_string(spent) + " ms and " +
                           std::to_string(c.sends) + " send(s)";
        if (!c.last_problem.empty()) text += "; last problem: " + c.last_problem;
        text += c.may_have_run ? " (it may have run: a send was lost after writing; it is safe to repeat)"
                               : " (it did not run)";
        return error(error_kind::timeout, text);
    }

    mapper map_;
    std::chrono::milliseconds deadline_;
    int max_redirects_;
    std::chrono::milliseconds min_backoff_, max_backoff_, refresh_min_interval_;
    std::chrono::milliseconds refresh_interval_;  // 0: no periodic refresh
    read_preference read_from_;
    std::chrono::milliseconds replica_reply_timeout_;
    std::uint32_t replica_turn_ = 0;                                    // round robin over a shard's replicas
    std::unordered_map<node_id, clock::time_point> replica_aside_until_;  // replicas reads avoid until then
    std::vector<std::unique_ptr<core_node>> nodes_;  // by node_id; null once forgotten
    std::unordered_map<std::string, node_id> index_;  // to_string(reported) -> id
    std::vector<node_id> seeds_;
    std::optional<error> discovery_failure_;  // see refresh_failed()
    std::string discovery_problem_;           // the last failed discovery's first error (retryable kinds)
    std::vector<node_address> seed_addresses_;  // as parsed (configured), for configured_if_seed
    std::array<node_id, slot_count> owners_{};
    struct pending_move {
        std::uint16_t slot;
        node_id target;
        std::uint64_t generation;  // the first refresh generation that must already reflect it
    };
    std::vector<pending_move> pending_moved_;  // MOVEDs an installed view has not confirmed yet
    std::uint64_t refresh_generation_ = 0;     // of the newest refresh started
    std::uint64_t installed_generation_ = 0;   // of the refresh whose view is installed
    bool refresh_in_flight_ = false;
    std::optional<clock::time_point> last_refresh_;
    bool refresh_wanted_ = true;
    bool has_topology_ = false;
    std::uint64_t jitter_state_ = 1;
    cluster_stats stats_;
};

/// The node table as drivers show it (nodes()): every node of the topology and the seeds, sorted by reported
/// address; `handshake(id)` gives the handshake of the node's live connection, if it has one.
template <class Handshake>
std::vector<node_info> node_table(const cluster_core& core, Handshake handshake) {
    std::vector<node_info> out;
    for (node_id id = 0; id < core.id_limit(); ++id) {
        if (!core.exists(id)) continue;
        const core_node& node = core.node(id);
        if (!node.in_topology && !node.is_seed) continue;
        node_info info;
        info.reported = node.reported;
        info.dial_host = node.dial_host;
        info.port = node.port;
        info.tls_name = node.tls_name;
        info.role = node.role;
        info.slots = node.slots;
        info.down = node.down;
        info.problem = node.problem;
        info.handshake = handshake(id);
        info.connected = info.handshake.has_value();
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const node_info& a, const node_info& b) {
        if (a.reported.host != b.reported.host) return a.reported.host < b.reported.host;
        return a.reported.port < b.reported.port;
    });
    return out;
}

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
