// addrmap/detail/topology_refresh.hpp — one topology refresh as an I/O-free state machine: whom to ask next, CLUSTER
// SHARDS or SLOTS, what each answer means, and when it ends. Both drivers run it; the doctor asks one node as it does.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/seed_number.hpp>
#include <addrmap/detail/topology_reply.hpp>
#include <addrmap/error.hpp>
#include <addrmap/topology.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

inline constexpr char cluster_shards_command[] = "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n";
inline constexpr char cluster_slots_command[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

/// Querying one node for its view: CLUSTER SHARDS (it carries hostnames and endpoints), else CLUSTER SLOTS. `lacks_shards`
/// is the driver's memory that the server has no SHARDS (Redis < 7): then SLOTS is asked first from then on.
class node_topology_query {
public:
    enum class result { view, ask_slots };

    explicit node_topology_query(bool& lacks_shards) noexcept : lacks_shards_(lacks_shards), slots_(lacks_shards) {}

    /// True once the query is CLUSTER SLOTS (the server has no SHARDS, or refused only it).
    bool querying_slots() const noexcept { return slots_; }
    const char* name() const noexcept { return slots_ ? "CLUSTER SLOTS" : "CLUSTER SHARDS"; }
    std::string_view command() const noexcept {
        return slots_ ? std::string_view(cluster_slots_command) : std::string_view(cluster_shards_command);
    }

    /// The node's answer (`node` names it in messages): result::view (in view()), or result::ask_slots (ask again,
    /// on the same connection). Throws error{topology} for a refusal (LOADING, NOAUTH, BUSY, ... or SLOTS refused)
    /// and error{protocol | topology} for a malformed view, naming the node.
    result on_reply(const redisReply& reply, const std::string& node) {
        if (!slots_) {
            view_ = topology_from_shards(reply, node, lacks_shards_);
            if (view_) return result::view;
            slots_ = true;
            return result::ask_slots;
        }
        view_ = topology_from_slots(reply, node);
        return result::view;
    }
    topology& view() noexcept { return *view_; }

private:
    bool& lacks_shards_;
    bool slots_;
    std::optional<topology> view_;
};

/// How connect() ends when a refresh installed no view (both drivers): the seed's own error when it is the only seed
/// and no topology was ever installed (the user sees exactly what went wrong), else error{connect} listing what
/// each node asked said (`failures`).
inline error connect_failure(const cluster_core& core, const error& first, const std::string& failures) {
    if (core.seed_count() == 1 && !core.has_topology()) return first;
    return error(error_kind::connect, (core.has_topology() ? "no node could be asked for the topology:"
                                                           : "no seed could be used to discover the cluster:") +
                                          failures);
}

/// One refresh of the cluster core's map. The driver asks the node the machine names and reports what happened;
/// the machine decides the rest, the same way for every driver:
///  - whom to ask, best first: the targets of MOVEDs not yet confirmed, connected nodes, nodes not known down,
///    the rest of the topology, then the seeds (cluster_core::refresh_candidates); before any topology, the seeds;
///  - SHARDS, then SLOTS on the same connection when the server has no SHARDS or refuses only it;
///  - a node that cannot answer (connect, lost, timeout, LOADING, ...) or whose view the core refuses (older than a
///    MOVED, a master the policy refuses, malformed): the next one is asked;
///  - the end: a view installed (forgotten() lists the nodes it dropped), or every node failed — the core is told
///    (refresh_failed), so that calls waiting for a first topology end at once when querying again would fail the
///    same way (a certificate, a policy), and wait otherwise.
class topology_refresh {
public:
    using clock = std::chrono::steady_clock;
    enum class step { ask, installed, failed };

    /// Starts a refresh at `now` (one at a time: cluster_core::refresh_started).
    topology_refresh(cluster_core& core, bool& lacks_shards, clock::time_point now)
        : core_(core), lacks_shards_(lacks_shards), generation_(core.refresh_started(now)),
          candidates_(core.refresh_candidates()) {}
    topology_refresh(const topology_refresh&) = delete;
    topology_refresh& operator=(const topology_refresh&) = delete;
    /// A refresh dropped unfinished (its driver went away, or threw) still ends in the core.
    ~topology_refresh() {
        if (!ended_) core_.refresh_finished(clock::now());
    }

    /// The first node to ask (or the end, when there is none).
    step start(clock::time_point now) { return advance(now); }

    /// The node the refresh is querying now, and with what (query().command()).
    node_id queried() const noexcept { return queried_; }
    const node_topology_query& query() const noexcept { return *query_; }

    /// The answer of the node asked. Installs its view, or asks it SLOTS, or moves on to the next node.
    step on_reply(const redisReply& reply, clock::time_point now) {
        if (ended_) return step::failed;
        const std::string name = core_.exists(queried_) ? to_string(core_.node(queried_).reported) : "a node no longer known";
        try {
            if (query_->on_reply(reply, name) == node_topology_query::result::ask_slots) return step::ask;
            forgotten_ = core_.install(query_->view(), queried_, query_->name(), generation_);
            to_close_ = forgotten_;
            // A seed that is no node of the view (given by name, reported by IP) has done its work: the view names the
            // same server under its reported address, so its connection would be one idle extra per client.
            for (std::size_t i = 0; i < core_.seed_count(); ++i)
                if (core_.exists(core_.seed(i)) && !core_.node(core_.seed(i)).in_topology) to_close_.push_back(core_.seed(i));
        } catch (const error& e) {
            return on_failure(e, now);
        }
        return finish(true, now);
    }

    /// The node asked could not be reached, lost the connection, or did not answer in time: the next one is asked.
    /// (The driver tells the core what it saw of the node itself: a failed dial, or a lost connection.)
    step on_failure(const error& why, clock::time_point now) {
        if (ended_) return step::failed;
        note(queried_, why);
        return advance(now);
    }

    /// The caller's deadline passed: the refresh ends without a view.
    step give_up(clock::time_point now) {
        if (ended_) return step::failed;
        failures_ += "\n  (the deadline passed before more nodes could be asked)";
        return finish(false, now);
    }

    bool ended() const noexcept { return ended_; }
    /// After step::installed: the nodes that left the topology (the driver closes their connections).
    const std::vector<node_id>& forgotten() const noexcept { return forgotten_; }
    /// After step::installed: the connections the driver closes (once idle): the forgotten nodes', and the seeds' that
    /// are no node of the view.
    const std::vector<node_id>& connections_to_close() const noexcept { return to_close_; }
    /// Each node asked and why it failed, one "\n  node: error" line each.
    const std::string& failures() const noexcept { return failures_; }
    /// The first node's error (the only one, with a single seed), or "no node to ask".
    error first_error() const {
        return first_error_ ? *first_error_ : error(error_kind::topology, "no node to ask for the topology");
    }
    std::uint64_t generation() const noexcept { return generation_; }

private:
    step advance(clock::time_point now) {
        while (next_ < candidates_.size()) {
            const node_id n = candidates_[next_++];
            if (!core_.exists(n)) continue;  // forgotten by an install since the list was made
            queried_ = n;
            query_.emplace(lacks_shards_);
            return step::ask;
        }
        queried_ = no_node;
        return finish(false, now);
    }

    step finish(bool installed, clock::time_point now) {
        ended_ = true;
        core_.refresh_finished(now);
        if (!installed) core_.refresh_failed(first_error());
        return installed ? step::installed : step::failed;
    }

    void note(node_id n, const error& e) {
        if (!first_error_) first_error_ = e;
        failures_ += "\n  " + name_of(n) + ": " + e.what();
    }

    /// For the failures list: "seed #2 host:port" for a seed not (yet) in the topology, else "host:port".
    std::string name_of(node_id n) const {
        if (!core_.exists(n)) return "a node no longer known";
        std::string name = to_string(core_.node(n).reported);
        if (const std::size_t seed = configured_seed_number(core_, n)) return "seed #" + std::to_string(seed) + " " + name;
        return name;
    }

    cluster_core& core_;
    bool& lacks_shards_;
    std::uint64_t generation_;
    std::vector<node_id> candidates_;
    std::size_t next_ = 0;
    node_id queried_ = no_node;
    std::optional<node_topology_query> query_;
    std::vector<node_id> forgotten_;
    std::vector<node_id> to_close_;
    std::optional<error> first_error_;
    std::string failures_;
    bool ended_ = false;
};

}  // namespace addrmap::detail
