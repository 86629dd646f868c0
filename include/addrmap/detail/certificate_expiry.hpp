// addrmap/detail/certificate_expiry.hpp — certificates of a node's chain that expire within tls_options::expiry_warning,
// told to the observer once per certificate per process (many connections, and clusters, share one certificate).
#pragma once

#include <addrmap/detail/event_sink.hpp>
#include <addrmap/events.hpp>
#include <addrmap/tls_options.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <string>

namespace addrmap::detail {

/// True the first time this process asks about `fingerprint`: the certificate was not warned about yet.
inline bool first_expiry_warning(const std::string& fingerprint) {
    static std::mutex guard;
    static std::set<std::string> warned;  // one entry per certificate warned about: a handful
    const std::lock_guard<std::mutex> lock(guard);
    return warned.insert(fingerprint).second;
}

/// Tells `sink` of each certificate of `handshake`'s chain that expires within `warning` of now, once per process.
inline void tell_expiring_certificates(const tls_handshake_info& handshake, const event_node& node,
                                       std::chrono::seconds warning, const event_sink& sink) {
    if (warning.count() <= 0) return;
    const auto now = std::chrono::system_clock::now();
    for (const certificate_validity& certificate : handshake.chain) {
        const auto left = std::chrono::duration_cast<std::chrono::seconds>(certificate.not_after - now);
        if (left > warning || certificate.fingerprint.empty() || !first_expiry_warning(certificate.fingerprint)) continue;
        sink.emit(certificate_expiring_event{node, certificate, left});
    }
}

}  // namespace addrmap::detail
