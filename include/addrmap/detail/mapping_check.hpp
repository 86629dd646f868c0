// addrmap/detail/mapping_check.hpp — the check of a policy's endpoint before any I/O: dial host and TLS name pass
// the one host grammar and the port is not 0. No OpenSSL or socket I/O here, so the I/O-free core uses it too.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/error.hpp>

#include <string>

namespace addrmap::detail {

/// Validates what the policy produced before any I/O, by the same grammar as every parser
/// (classify_host): the dial host and the TLS name must each be an IPv4 address, an IPv6 address or a
/// valid DNS name. Anything else (a NUL that c_str() would cut, a space, a control byte) never reaches
/// getaddrinfo or OpenSSL.
inline void check_mapping(const std::string& route, const endpoint& mapped) {
    const host_kind dial_kind = classify_host(mapped.dial_host());
    if (dial_kind == host_kind::unknown)
        throw error(error_kind::config, route + ": the dial host is empty or unknown; fix the policy's mapping.");
    if (dial_kind == host_kind::invalid)
        throw error(error_kind::config, route + ": the dial host " + invalid_host_message(mapped.dial_host()) +
                                            "; refused before dialing. Fix the policy's mapping.");
    if (mapped.port() == 0) throw error(error_kind::config, route + ": port 0 cannot be dialled; fix the policy.");
    const host_kind name_kind = classify_host(mapped.tls_name());
    if (name_kind == host_kind::unknown)
        throw error(error_kind::config, route + ": the TLS name is empty; every connection verifies a name, so "
                                                "the policy must map the node to one.");
    if (name_kind == host_kind::invalid)
        throw error(error_kind::config, route + ": the TLS name " + invalid_host_message(mapped.tls_name()) + ".");
}

}  // namespace addrmap::detail
