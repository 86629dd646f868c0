// addrmap/policies/identity.hpp — the policy that dials and verifies exactly what the cluster reports.
// Right when certificates carry the reported names or IPs; the terminal fallback of a first_match.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/policy_errors.hpp>

namespace addrmap {

/// Maps host:port to endpoint{host, port, tls name = host}. An IP host means the certificate's IP
/// SANs are checked. Has no try_map: it always answers, so in a first_match it ends the search.
///
/// Lifetime: the endpoint views `address.host`; it is valid while that node_address lives
/// unchanged. map never allocates (except to build the error below).
/// Errors: an unknown host ("" or "?") throws error{topology} naming the address.
struct identity {
    endpoint map(const node_address& address) const {
        if (detail::is_unknown_host(address.host)) throw detail::unknown_host_error("identity", address);
        return endpoint(address.host, address.port, address.host);
    }
};

}  // namespace addrmap
