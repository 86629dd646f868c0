// addrmap/detail/policy_errors.hpp — the errors shipped policies throw from map(), worded once.
// Only failure paths allocate; the mapping paths never include anything from here.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// True for "" and "?": the server does not know the host. Cheaper than classify_host.
inline bool is_unknown_host(std::string_view host) noexcept { return host.empty() || host == "?"; }

/// A policy was handed an unknown host. The adapter substitutes the host of the node that
/// reported the address before mapping, so reaching a policy means the caller skipped that step.
inline error unknown_host_error(std::string_view policy_name, const node_address& address) {
    return error(error_kind::topology,
                 std::string(policy_name) + " cannot map " + to_string(address) +
                     ": the reported host is unknown ('' or '?'); the adapter resolves '?' against the node "
                     "that reported it before any policy sees it");
}

}  // namespace addrmap::detail
