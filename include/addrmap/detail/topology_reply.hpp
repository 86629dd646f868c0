// addrmap/detail/topology_reply.hpp — what a node's answer to CLUSTER SHARDS / CLUSTER SLOTS means, for every
// driver: a view to install, "ask CLUSTER SLOTS instead", or a refusal naming the node. No I/O.
#pragma once

#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/error.hpp>
#include <addrmap/topology.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// A node that cannot answer right now (any refusal of reply_rules.hpp: still loading, not authenticated,
/// ...): querying it with CLUSTER SLOTS instead would fail the same way, so the refresh moves on to another node.
inline bool is_transient_refusal(std::string_view text) noexcept { return refusal_of(text) != refusal::none; }

/// The kind of a node's refusal of the topology query: topology when a later query may work (LOADING, BUSY,
/// MASTERDOWN, TRYAGAIN, CLUSTERDOWN), server when it would fail the same way (NOAUTH, NOPERM, "cluster support
/// disabled", ...): a discovery that ends so fails the calls waiting for it at once (cluster_core::refresh_failed).
inline error_kind refusal_kind(std::string_view text) noexcept {
    const refusal r = refusal_of(text);
    return r == refusal::none || r == refusal::noauth ? error_kind::server : error_kind::topology;
}

/// The view in a CLUSTER SHARDS reply from `node` (its reported address, for messages). std::nullopt:
/// ask CLUSTER SLOTS instead — the server has no SHARDS (Redis < 7: `lacks_shards` is set, so the driver
/// asks SLOTS from then on), or refused it for another reason (an ACL user allowed only SLOTS).
/// Throws error{topology} for a transient refusal and error{protocol | topology} for a malformed view.
inline std::optional<topology> topology_from_shards(const redisReply& reply, const std::string& node, bool& lacks_shards) {
    if (reply.type == REDIS_REPLY_ERROR) {
        const std::string_view text(reply.str, reply.len);
        if (text.substr(0, 22) == "ERR unknown subcommand" || text.substr(0, 22) == "ERR Unknown subcommand")
            lacks_shards = true;
        else if (is_transient_refusal(text))
            throw error(refusal_kind(text), node + " refused CLUSTER SHARDS: " + escaped(text, 300));
        return std::nullopt;
    }
    try {
        return parse_cluster_shards(&reply);
    } catch (const error& e) {
        throw with_context(e, "CLUSTER SHARDS reply from " + node);
    }
}

/// The view in a CLUSTER SLOTS reply from `node`; throws for a refusal (error{topology} when it may pass,
/// error{server} when not: refusal_kind) and error{protocol | topology} for a malformed view, naming the node.
inline topology topology_from_slots(const redisReply& reply, const std::string& node) {
    if (reply.type == REDIS_REPLY_ERROR)
        throw error(refusal_kind(std::string_view(reply.str, reply.len)),
                    node + " refused CLUSTER SLOTS: " + escaped(std::string_view(reply.str, reply.len), 300));
    try {
        return parse_cluster_slots(&reply);
    } catch (const error& e) {
        throw with_context(e, "CLUSTER SLOTS reply from " + node);
    }
}

}  // namespace addrmap::detail
