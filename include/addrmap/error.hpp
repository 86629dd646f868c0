// addrmap/error.hpp — the one exception type addrmap throws, with a kind to branch on.
// Messages are written for a person: what failed, the offending text, and what to do.
#pragma once

#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <string>

namespace addrmap {

/// What went wrong, coarse enough to branch on. `what()` carries the details.
enum class error_kind {
    config,          ///< bad input at construction: address, table entry, env value, option
    connect,         ///< TCP connect failed or the peer closed during set-up
    timeout,         ///< connect, handshake or command exceeded its timeout
    tls_chain,       ///< certificate chain not trusted (unknown CA, expired, not yet valid, ...)
    tls_name,        ///< chain trusted, but the certificate does not carry the expected name
    tls_handshake,   ///< TLS failed for another reason (protocol, missing client certificate, ...)
    protocol,        ///< the server sent a reply we cannot interpret
    topology,        ///< the cluster layout is unusable (no slots, unmappable node, ...)
    redirect_limit,  ///< more MOVED/ASK redirects for one call than cluster_options::max_redirects
    server,          ///< the server answered with an error reply for the caller's command
    unknown_outcome, ///< the command was sent, no reply came, and it is not known safe to repeat: it may have run
    closed,          ///< the client was disconnected or destroyed before the command was sent: it did not run
    overloaded,      ///< the async cluster already holds as many calls as its bound allows: this one did not run
};

/// Stable lower-case name of a kind, as used in messages ("tls_name", ...).
constexpr const char* to_string(error_kind kind) noexcept {
    switch (kind) {
        case error_kind::config: return "config";
        case error_kind::connect: return "connect";
        case error_kind::timeout: return "timeout";
        case error_kind::tls_chain: return "tls_chain";
        case error_kind::tls_name: return "tls_name";
        case error_kind::tls_handshake: return "tls_handshake";
        case error_kind::protocol: return "protocol";
        case error_kind::topology: return "topology";
        case error_kind::redirect_limit: return "redirect_limit";
        case error_kind::server: return "server";
        case error_kind::unknown_outcome: return "unknown_outcome";
        case error_kind::closed: return "closed";
        case error_kind::overloaded: return "overloaded";
    }
    return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, error_kind kind) { return out << to_string(kind); }

/// The only exception type addrmap throws (besides std::bad_alloc).
class error : public std::runtime_error {
public:
    error(error_kind kind, const std::string& message)
        : std::runtime_error("addrmap: " + std::string(to_string(kind)) + ": " + message), kind_(kind) {}

    error_kind kind() const noexcept { return kind_; }
    /// what() without the "addrmap: <kind>: " prefix, for wrapping in a message with more context.
    const char* message() const noexcept { return what() + prefix_length(); }

private:
    std::size_t prefix_length() const noexcept { return 11 + std::char_traits<char>::length(to_string(kind_)); }
    error_kind kind_;
};

}  // namespace addrmap
