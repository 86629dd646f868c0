// addrmap/policies/identity.hpp — the policy that dials and verifies exactly what the cluster reports.
// Right when certificates carry the reported names or IPs; the terminal fallback of a first_match.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/allowed_names.hpp>
#include <addrmap/detail/policy_errors.hpp>

#include <utility>

namespace addrmap {

/// Maps host:port to endpoint{host, port, tls name = host}. An IP host means the certificate's IP
/// SANs are checked. Has no try_map: it always answers, so in a first_match it ends the search.
///
/// Reported *names* are dialed only when allowed: `identity{}` allows none (IPs map as before, and a
/// seed's own name is always allowed); `identity{allowed_names{"*.cluster.example.com"}}` allows
/// those; `identity{allowed_names::any()}` allows every name (discouraged: with the system trust
/// store any publicly certified host then verifies and receives AUTH).
///
/// Lifetime: the endpoint views `address.host`; it is valid while that node_address lives
/// unchanged. map never allocates (except to build the errors below).
/// Errors (error{topology}, naming the address): an unknown host ("" or "?"), a host that is neither
/// an IP nor a valid DNS name, a reported name outside the allowed names.
class identity {
public:
    identity() = default;
    explicit identity(allowed_names names) : allowed_(std::move(names)) {}

    endpoint map(const node_address& address) const {
        switch (classify_host(address.host)) {
            case host_kind::unknown: throw detail::unknown_host_error("identity", address);
            case host_kind::invalid: throw detail::invalid_host_error("identity", address);
            case host_kind::name:
                if (!address.is_configured() && !allowed_.allows(address.host))
                    throw detail::name_not_allowed_error("identity", address, allowed_,
                                                         "identity{allowed_names{\"<name or *.domain>\"}}");
                break;
            case host_kind::ipv4:
            case host_kind::ipv6: break;
        }
        return endpoint(address.host, address.port, address.host);
    }

    const allowed_names& allowed() const noexcept { return allowed_; }

private:
    allowed_names allowed_;
};

}  // namespace addrmap
