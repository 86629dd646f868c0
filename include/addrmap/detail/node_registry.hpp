// addrmap/detail/node_registry.hpp — the cluster core's node table: every node it knows (seeds, the installed view,
// redirect targets) by a stable id, its mapping through the policy, and whether it can be reached. No I/O.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/backoff.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace addrmap {

// node_id and core_node are public: cluster_core.hpp (which includes this header) hands them to drivers.

/// A node's number in the core's table. Stable while the node is known; never reused.
using node_id = std::uint32_t;
inline constexpr node_id no_node = 0xffffffffu;

/// What the core knows of one node. Connections are not here: the driver owns them.
struct core_node {
    node_address reported;
    std::string reported_id;  ///< the node ID the installed view gave it; empty when none did
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
    node_counters counters;   ///< for node_info (the snapshot a health endpoint shows)
    /// As the last installed view said (a MOVED changes role and in_topology at once; these wait for a view): what
    /// topology events compare with, so that a MOVED does not hide a failover or a new node.
    bool in_installed_view = false;
    node_role installed_role = node_role::master;
    bool down_told = false;   ///< node_down_event was told and node_up_event not yet
};

}  // namespace addrmap

namespace addrmap::detail {

/// Two reported nodes the policy sends to one host:port: refused, with the fix.
inline std::string shared_endpoint_message(const node_address& a, const node_address& b, std::string_view host,
                                           std::uint16_t port) {
    return "the policy maps two reported nodes, " + to_string(a) + " and " + to_string(b) + ", to one endpoint " +
           format_host_port(host, port) +
           ": DNS would pick between them at random. Map each node to its own host:port (ip_to_hostname's "
           "dial_ip_verify_hostname mode keeps the IPs apart)";
}

/// The nodes the core knows, each under the id it got when first seen (by reported address; a "?" node by its
/// node ID, see index_key). A node leaves only when an installed view no longer lists it (forget_absent), and seeds
/// never leave. Every address is mapped through the policy here and nowhere else in the core, checked by the one
/// host grammar first.
class node_registry {
public:
    using clock = std::chrono::steady_clock;
    /// The policy, bound by the driver: maps a reported address to an endpoint (it may throw).
    using mapper = std::function<endpoint(const node_address&)>;

    explicit node_registry(mapper map) : map_(std::move(map)) {}

    // ---- ids ------------------------------------------------------------------------------------------

    /// Records a configured seed (as parsed): it stays known when it is not in the topology.
    node_id add_seed(const node_address& seed) {
        seed_addresses_.push_back(seed);
        const node_id id = record(seed, node_role::seed);
        nodes_[id]->is_seed = true;
        seeds_.push_back(id);
        return id;
    }
    /// The seeds' ids, in the order configured.
    const std::vector<node_id>& seeds() const noexcept { return seeds_; }

    bool exists(node_id id) const noexcept { return id < nodes_.size() && nodes_[id] != nullptr; }
    std::size_t id_limit() const noexcept { return nodes_.size(); }  ///< every id is below this
    /// The node `id`; error{topology} when it left the topology and was forgotten.
    const core_node& node(node_id id) const { return *known(id); }
    /// The node `id`, or null when it was forgotten (or never was).
    const core_node* find(node_id id) const noexcept { return exists(id) ? nodes_[id].get() : nullptr; }
    core_node* find(node_id id) noexcept { return exists(id) ? nodes_[id].get() : nullptr; }
    /// The node reported as `address`, or null when none is known.
    const core_node* find(const node_address& address) const {
        const auto known = index_.find(to_string(address));
        return known != index_.end() ? nodes_[known->second].get() : nullptr;
    }

    /// The id of the node reported as `address` (with node ID `reported_id`, "" if none), recorded (unmapped, as
    /// `role`) if it is new.
    node_id record(const node_address& address, node_role role, std::string_view reported_id = {}) {
        std::string key = index_key(address, reported_id);
        const auto known = index_.find(key);
        if (known != index_.end()) return known->second;
        auto n = std::make_unique<core_node>();
        n->reported = address;
        n->reported_id.assign(reported_id);
        n->role = role;
        nodes_.push_back(std::move(n));
        const node_id id = static_cast<node_id>(nodes_.size() - 1);
        index_.emplace(std::move(key), id);
        return id;
    }

    // ---- mapping --------------------------------------------------------------------------------------

    /// The policy's answer, checked by the one grammar before anyone dials it.
    endpoint map_checked(const node_address& address) const {
        endpoint e = map_(address);
        detail::check_mapping("the policy's mapping of " + to_string(address) + " (" + to_string(e) + ")", e);
        // The endpoint may view `address`, which the caller keeps alive; copy what we keep.
        return e;
    }

    /// Maps the node through the policy if it is not mapped yet. Throws the policy's (or the
    /// grammar's) error, with where the address came from, and remembers it as the node's problem.
    const core_node& ensure_mapped(node_id id) {
        core_node& n = *known(id);
        if (n.mapped) return n;
        // '?' is never mapped, whatever the policy would say; its problem (with the fix) stays as install wrote it.
        if (is_unknown_node(n.reported)) throw error(error_kind::topology, detail::unknown_node_message(n.reported) + origin_of(n));
        try {
            set_mapping(n, map_checked(n.reported));
        } catch (const error& e) {
            n.problem = e.message();
            throw error(e.kind(), std::string(e.message()) + origin_of(n));
        }
        n.problem.clear();
        return n;
    }

    /// The node for a reported address, created (and mapped) if new. `how` and `reporter` say where
    /// the address came from, for messages ("MOVED" from node R).
    node_id node_for(const node_address& address, node_role role, std::string_view how, node_id reporter) {
        const auto known = index_.find(to_string(address));
        node_id id = known != index_.end() ? known->second : no_node;
        if (id != no_node && nodes_[id]->mapped && !is_unknown_node(address)) return id;
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

    /// "The seeds' own names are allowed": a reported host equal to a seed's host counts as configured.
    node_address as_configured_if_seed(node_address address) const {
        return configured_if_seed(std::move(address), seed_addresses_);
    }

    /// Redis reports "" (or nil) for "the host of the node you asked"; "?" is an unknown node, "not
    /// necessarily the one serving the current command" (CLUSTER SLOTS docs), so it stays "?" and is never mapped.
    node_address resolve_unknown(node_address address, node_id reporter) const {
        if (address.host.empty() && exists(reporter)) address.host = nodes_[reporter]->reported.host;
        return address;
    }

    static bool is_unknown_node(const node_address& address) noexcept { return address.host == "?"; }

    /// What the table finds a node by: its reported "host:port", except for a "?" node with a node ID. Every "?" at
    /// one port prints as the same "?:port", yet each is a node of its own (Redis: "an unknown node"): keyed by
    /// address they would collapse into one. The space keeps the key apart from every "host:port".
    static std::string index_key(const node_address& address, std::string_view reported_id) {
        std::string key = to_string(address);
        if (is_unknown_node(address) && !reported_id.empty()) key.append(" id ").append(reported_id);
        return key;
    }

    /// The node as messages name it: its reported address.
    std::string reporter_name(node_id id) const {
        return exists(id) ? to_string(nodes_[id]->reported) : std::string("a node no longer known");
    }

    // ---- reachability ---------------------------------------------------------------------------------

    /// The driver made a connection: the node is up and its dial backoff starts over. (An id never issued
    /// throws std::out_of_range.)
    void connected(node_id id) {
        core_node& n = *nodes_.at(id);
        n.connected = true;
        n.down = false;
        n.problem.clear();
        n.redial_at = {};
        n.redial_step = 0;
    }
    /// A dial of a known node failed at `now` (`why`, escaped): down until a connect succeeds, and not dialed
    /// again before its own backoff ends. True for the first report of a dial made once the backoff had ended:
    /// that one moves the backoff on (the calls that waited on the same dial all report it).
    bool unreachable(node_id id, std::string_view why, clock::time_point now, backoff& pace) {
        core_node& n = *nodes_[id];
        n.connected = false;
        n.down = true;
        n.problem.assign(why);
        if (now < n.redial_at) return false;
        n.redial_at = saturating_add(now, pace.delay(n.redial_step));
        return true;
    }
    /// The driver closed the node's connection (or lost it): true when there was one.
    bool closed(node_id id) noexcept {
        if (!exists(id)) return false;
        const bool was = nodes_[id]->connected;
        nodes_[id]->connected = false;
        return was;
    }

    // ---- replicas -------------------------------------------------------------------------------------

    /// A replica that could not be reached, lost a read, or refused one: down, and skipped by reads until
    /// `until`. Masters are not set aside: they own their slots.
    void set_replica_aside(node_id id, std::string_view why, clock::time_point until) {
        if (!exists(id) || nodes_[id]->role != node_role::replica) return;
        nodes_[id]->down = true;
        nodes_[id]->problem = detail::shortened(why, 600);  // callers pass escaped text
        replica_aside_until_[id] = until;
    }

    /// The replicas of `master` a read may go to now: in the topology, mapped (a replica the policy
    /// refused is never dialed), not set aside and not in their own dial backoff. In the order of the table.
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

    // ---- the topology's members -----------------------------------------------------------------------

    /// A master of the topology that owns slots and is not known down; else one that is; else no_node.
    node_id any_master() const noexcept {
        node_id fallback = no_node;
        for (node_id id = 0; id < nodes_.size(); ++id) {
            const core_node* n = nodes_[id].get();
            if (n == nullptr || !n->in_topology || n->role != node_role::master || n->slots.empty()) continue;
            if (!n->down) return id;
            if (fallback == no_node) fallback = id;
        }
        return fallback;
    }

    /// A MOVED named `id` a slot's owner: it is a master of the topology until a view says otherwise.
    void mark_master(node_id id) {
        core_node& n = *known(id);
        n.in_topology = true;
        n.role = node_role::master;
    }

    /// A view is about to be committed: no node is in the topology or owns a slot until it says so.
    void clear_topology() noexcept {
        for (auto& n : nodes_)
            if (n) n->in_topology = false, n->slots.clear();
    }

    /// After a view was committed: forgets every node it did not list (seeds excepted; a seed outside the
    /// topology is a seed again). Returns the forgotten ids: their connections are the driver's to close.
    std::vector<node_id> forget_absent() {
        std::vector<node_id> forgotten;
        for (node_id id = 0; id < nodes_.size(); ++id) {
            core_node* n = nodes_[id].get();
            if (n == nullptr || n->in_topology || n->is_seed) continue;
            index_.erase(index_key(n->reported, n->reported_id));
            nodes_[id].reset();
            forgotten.push_back(id);
        }
        for (node_id id : seeds_)
            if (!nodes_[id]->in_topology) nodes_[id]->role = node_role::seed;
        return forgotten;
    }

private:
    static void set_mapping(core_node& n, const endpoint& e) {
        n.dial_host.assign(e.dial_host());
        n.port = e.port();
        n.tls_name.assign(e.tls_name());
        n.mapped = true;
    }

    /// Where a node came from, for a mapping error: " (seed #2)" or " (replica host:port)".
    std::string origin_of(const core_node& n) const {
        if (n.is_seed && !n.in_topology) {
            const auto it = std::find(seeds_.begin(), seeds_.end(), index_.at(index_key(n.reported, n.reported_id)));
            return " (seed #" + std::to_string(it - seeds_.begin() + 1) + ")";
        }
        return " (" + std::string(to_string(n.role)) + " " + to_string(n.reported) + ")";
    }

    core_node* known(node_id id) const {
        if (id >= nodes_.size() || nodes_[id] == nullptr)
            throw error(error_kind::topology, "node #" + std::to_string(id) + " left the topology and was forgotten");
        return nodes_[id].get();
    }

    mapper map_;
    std::vector<std::unique_ptr<core_node>> nodes_;  // by node_id; null once forgotten
    std::unordered_map<std::string, node_id> index_;  // index_key(reported, reported_id) -> id
    std::vector<node_id> seeds_;
    std::vector<node_address> seed_addresses_;  // as parsed (configured), for configured_if_seed
    std::unordered_map<node_id, clock::time_point> replica_aside_until_;  // replicas reads avoid until then
};

}  // namespace addrmap::detail
