// addrmap/detail/policy_errors.hpp — the errors of mapping a node, worded once: those shipped policies throw from
// map(), the '?' node nobody can map, and with_context (where the address came from). Only failure paths allocate.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/allowed_names.hpp>
#include <addrmap/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// True for "" and "?": the server does not know the host. Cheaper than classify_host.
inline bool is_unknown_host(std::string_view host) noexcept { return host.empty() || host == "?"; }

/// A policy was handed an unknown host. The adapter substitutes the reporter's host for '' and
/// never maps '?' (an unknown node), so reaching a policy means the caller skipped that step.
inline error unknown_host_error(std::string_view policy_name, const node_address& address) {
    return error(error_kind::topology,
                 std::string(policy_name) + " cannot map " + to_string(address) +
                     ": the reported host is unknown ('' or '?'); the adapter resolves '' against the node "
                     "that reported it and never maps '?' (a node whose address the server does not know)");
}

/// Why Redis reports '?' for a node, and the fix: the words of unknown_node_message, which addrmap-doctor's advice
/// for such nodes reuses, so the library and the tool never give two versions of it.
inline constexpr std::string_view unknown_node_cause =
    "the server reports '?' when cluster-preferred-endpoint-type is hostname and the node has no "
    "cluster-announce-hostname";
/// "set cluster-announce-hostname on `which`": the fix for the nodes `which` names.
inline std::string unknown_node_fix(std::string_view which) {
    return "set cluster-announce-hostname on " + std::string(which);
}

/// Redis reports '?' for a node that announces hostnames but has none: "an unknown node, not
/// necessarily the one serving the current command". It cannot be dialed; say what to set.
inline std::string unknown_node_message(const node_address& address) {
    return "node " + to_string(address) + " has an unknown address: " + std::string(unknown_node_cause) +
           "; it is not dialed (" + unknown_node_fix("that node") + ")";
}

/// A policy was handed a host that is neither an IP address nor a valid DNS name. The parsers and
/// the adapter refuse such hosts before any policy sees them; this is the policy's own last line.
inline error invalid_host_error(std::string_view policy_name, const node_address& address) {
    return error(error_kind::topology, std::string(policy_name) + " refuses " + to_string(address) + ": " +
                                           invalid_host_message(address.host));
}

/// A reported DNS name that the policy's allowed names do not cover. `setting` says how to allow it.
inline error name_not_allowed_error(std::string_view policy_name, const node_address& address,
                                    const allowed_names& allowed, std::string_view setting) {
    return error(error_kind::topology,
                 std::string(policy_name) + " refuses node " + to_string(address) + ": the reported name " +
                     quoted(address.host) + " is not an allowed name (allowed: " + allowed.describe() +
                     "; a seed's own name is always allowed). If this node is part of your cluster, allow it with " +
                     std::string(setting));
}

/// The same error with where the address came from put first: "reported by 127.0.0.1:7001 in MOVED: ...".
inline error with_context(const error& e, std::string_view context) {
    return error(e.kind(), std::string(context) + ": " + e.message());
}

}  // namespace addrmap::detail
