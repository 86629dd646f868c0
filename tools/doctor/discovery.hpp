// tools/doctor/discovery.hpp — the topology read as basic_cluster::connect() reads it: seeds in order through the
// policy, each asked with the core's own query (detail::topology_refresh), then one row per node, each probed.
#pragma once

#include "command_line.hpp"
#include "policy.hpp"
#include "probe.hpp"
#include "text.hpp"

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/topology_refresh.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/tls.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace doctor {

struct topology_read {
    addrmap::topology layout;
    std::string command;  ///< "CLUSTER SHARDS" or "CLUSTER SLOTS"
};

inline addrmap::reply_ptr ask(redisContext* context, const char* command, const node_address& seed) {
    addrmap::reply_ptr reply(static_cast<redisReply*>(redisCommand(context, command)));
    if (!reply)
        throw error(error_kind::connect, "lost the connection to seed " + addrmap::to_string(seed) + " while asking " +
                                             command + ": " + context->errstr);
    return reply;
}

/// CLUSTER SHARDS, or CLUSTER SLOTS when the server has no SHARDS (Redis < 7) or refuses it for another reason (an
/// ACL user allowed only SLOTS): the drivers' own query (detail/topology_refresh.hpp), so a node that refuses for now
/// (LOADING, BUSY, MASTERDOWN, ...) is reported as such, not asked SLOTS, and the next seed is tried.
inline topology_read read_topology(redisContext* context, const node_address& seed) {
    const std::string name = "seed " + addrmap::to_string(seed);
    bool lacks_shards = false;
    addrmap::detail::node_topology_query query(lacks_shards);
    std::string shards_refusal;
    while (true) {
        const addrmap::reply_ptr reply = ask(context, query.name(), seed);
        const bool refused = reply->type == REDIS_REPLY_ERROR;
        const std::string_view text = refused ? std::string_view(reply->str, reply->len) : std::string_view();
        if (refused && addrmap::detail::refusal_of(text) == addrmap::detail::refusal::noauth)
            throw error(error_kind::server, name + " requires AUTH before " + query.name() + " ('" + printable(text) +
                                                "'): " + password_sources + " (and --user for an ACL user)");
        if (refused && query.querying_slots() && !shards_refusal.empty() && !addrmap::detail::is_transient_refusal(text))
            throw error(error_kind::topology, name + " refused CLUSTER SHARDS ('" + shards_refusal +
                                                  "') and CLUSTER SLOTS ('" + printable(text) + "'); is it a cluster node?");
        if (refused && !query.querying_slots()) shards_refusal = printable(text);
        if (query.on_reply(*reply, name) == addrmap::detail::node_topology_query::result::view)
            return {std::move(query.view()), query.name()};
    }
}

/// cluster_known_nodes from CLUSTER INFO: every node this one knows, including replicas that CLUSTER SHARDS
/// and CLUSTER SLOTS leave out while they sync or after they failed. nullopt when the answer has no such line.
inline std::optional<std::size_t> known_nodes(redisContext* context) {
    const addrmap::reply_ptr info(static_cast<redisReply*>(redisCommand(context, "CLUSTER INFO")));
    if (!info || (info->type != REDIS_REPLY_STRING && info->type != REDIS_REPLY_VERB)) return std::nullopt;
    const std::string_view text(info->str, info->len);
    static constexpr std::string_view key = "cluster_known_nodes:";
    const std::size_t at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t count = 0;
    std::size_t i = at + key.size();
    const std::size_t first_digit = i;
    for (; i < text.size() && i - first_digit < 9 && text[i] >= '0' && text[i] <= '9'; ++i)
        count = count * 10 + static_cast<std::size_t>(text[i] - '0');
    if (i == first_digit) return std::nullopt;
    return count;
}

/// One seed: first through the policy (what basic_cluster::connect() does), then — only to be able to
/// report on the nodes when that failed — dialed as given.
struct seed_attempt {
    node_row row;                     ///< the seed through the policy: the library's truth
    std::optional<outcome> as_given;  ///< the extra dial as given, when the policy's route failed
    std::optional<outcome> read;      ///< reading the topology over the connection that worked
    std::string command;              ///< what produced the topology, when read
    std::size_t masters = 0, replicas = 0, covered_slots = 0;
    std::optional<std::size_t> known_nodes;  ///< what the seed's CLUSTER INFO counts

    /// basic_cluster::connect() gets past this seed: the policy's route verified and answered.
    bool usable() const noexcept { return row.ok() && read && read->ok(); }
};

struct discovery {
    std::vector<seed_attempt> seeds;
    std::optional<addrmap::topology> layout;
    node_address reporter;  ///< the seed whose answer is used; empty hosts resolve against it, as in the adapter

    bool usable_seed() const {
        return std::any_of(seeds.begin(), seeds.end(), [](const seed_attempt& s) { return s.usable(); });
    }
};

/// Reads the topology over `connection` into `attempt`; returns it on success.
inline std::optional<addrmap::topology> read_over(const addrmap::tls_connection& connection,
                                                  seed_attempt& attempt) {
    attempt.read.emplace();
    try {
        topology_read answer = read_topology(connection.get(), attempt.row.reported);
        attempt.command = answer.command;
        for (const auto& s : answer.layout.shards) attempt.replicas += s.replicas.size();
        attempt.masters = answer.layout.shards.size();
        attempt.covered_slots = answer.layout.covered_slots();
        attempt.known_nodes = known_nodes(connection.get());
        return std::move(answer.layout);
    } catch (const error& e) {
        attempt.read->fail(e);
        return std::nullopt;
    }
}

inline std::optional<addrmap::topology> try_seed(addrmap::tls_context& tls, const doctor_policy& policy,
                                                 const credentials& creds, seed_attempt& attempt,
                                                 std::size_t seed_number) {
    node_row& row = attempt.row;
    map_row(policy, row);
    if (row.mapped) {
        if (auto connection = dial(tls, row.reported, *row.mapped, creds, row.result, seed_number))
            return read_over(*connection, attempt);
    }
    const route given = route::as_given(row.reported);
    if (row.mapped && *row.mapped == given) return std::nullopt;  // the same dial would fail the same way
    attempt.as_given.emplace();
    if (auto connection = dial(tls, row.reported, given, creds, *attempt.as_given, seed_number))
        return read_over(*connection, attempt);
    return std::nullopt;
}

/// Tries the seeds in order, like basic_cluster::connect(), until one yields a topology.
inline discovery discover(addrmap::tls_context& tls, const doctor_policy& policy, const credentials& creds,
                          const std::vector<node_address>& seeds) {
    discovery found;
    for (const node_address& seed : seeds) {
        seed_attempt& attempt = found.seeds.emplace_back();
        attempt.row.role = node_role::seed;
        attempt.row.reported = seed;
        if (auto layout = try_seed(tls, policy, creds, attempt, found.seeds.size())) {
            found.layout = std::move(layout);
            found.reporter = seed;
            break;
        }
    }
    return found;
}

/// Each master, then its replicas, each node once; an empty host is the reporter's (as in the adapter). A node is
/// told apart as the core's node table does (node_registry::index_key): by address, a '?' node by its node ID.
inline std::vector<node_row> rows_of(const addrmap::topology& layout, const node_address& reporter) {
    std::vector<node_row> rows;
    std::set<std::string> seen;
    auto add = [&](node_address address, std::string_view id, node_role role,
                   const std::vector<addrmap::slot_range>& slots) {
        if (address.host.empty()) address.host = reporter.host;
        if (!seen.insert(addrmap::detail::node_registry::index_key(address, id)).second) return;
        node_row& row = rows.emplace_back();
        row.role = role;
        row.reported = std::move(address);
        row.id.assign(id);
        row.slots = slots;
    };
    // CLUSTER SHARDS lists shards in no fixed order: sort by first slot, replicas by address, so that
    // two runs print the same table.
    std::vector<const addrmap::shard*> shards;
    for (const addrmap::shard& s : layout.shards) shards.push_back(&s);
    std::sort(shards.begin(), shards.end(), [](const addrmap::shard* a, const addrmap::shard* b) {
        return a->ranges.front().first < b->ranges.front().first;
    });
    using listed = std::pair<node_address, std::string_view>;  // a replica and its node ID
    const auto by_address = [](const listed& a, const listed& b) {
        if (a.first.host != b.first.host) return a.first.host < b.first.host;
        return a.first.port != b.first.port ? a.first.port < b.first.port : a.second < b.second;
    };
    for (const addrmap::shard* s : shards) {
        add(s->master, s->master_id, node_role::master, s->ranges);
        std::vector<listed> replicas;
        for (std::size_t r = 0; r < s->replicas.size(); ++r) replicas.emplace_back(s->replicas[r], s->replica_id(r));
        std::sort(replicas.begin(), replicas.end(), by_address);
        for (const auto& [replica, id] : replicas) add(replica, id, node_role::replica, {});
    }
    return rows;
}

inline void probe_nodes(addrmap::tls_context& tls, const doctor_policy& policy, const credentials& creds,
                        std::vector<node_row>& rows) {
    for (node_row& row : rows) {
        map_row(policy, row);
        if (row.mapped) dial(tls, row.reported, *row.mapped, creds, row.result);  // the connection closes here
    }
}

}  // namespace doctor
