// addrmap/tls_options.hpp — TLS as plain data: how to trust servers and present ourselves, the limits on one dial,
// and what a handshake established. No OpenSSL, hiredis or socket header: the I/O-free core needs only these.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap {

/// Lowest TLS version a connection may negotiate.
enum class tls_version { tls1_2, tls1_3 };

constexpr const char* to_string(tls_version version) noexcept {
    return version == tls_version::tls1_3 ? "TLS 1.3" : "TLS 1.2";
}

/// How to trust servers and present ourselves. There is deliberately no way to turn verification
/// off: every connection checks the chain *and* the name the policy chose.
struct tls_options {
    std::string ca_file;    ///< PEM bundle of trusted CAs; with ca_dir empty too, the system store is used
    std::string ca_dir;     ///< directory of hashed CA certificates (c_rehash / openssl rehash)
    std::string cert_file;  ///< client certificate chain (PEM) for mutual TLS; needs key_file
    std::string key_file;   ///< its private key (PEM, unencrypted)
    tls_version min_version = tls_version::tls1_2;
    /// Bounds the TCP connect, and then the TLS handshake plus the first round trip together.
    std::chrono::milliseconds connect_timeout{2000};
    /// Socket send/receive timeout for every command after the connection is set up.
    std::chrono::milliseconds command_timeout{5000};
    /// A certificate of a node's chain (its own or a CA's) that expires within this is told to the cluster's observer
    /// (certificate_expiring_event, once per certificate per process) and flagged by addrmap-doctor. 0: never.
    std::chrono::seconds expiry_warning{std::chrono::hours(14 * 24)};
};

/// The validity of one certificate of a peer's chain (depth 0: the node's own).
struct certificate_validity {
    int depth = 0;
    std::vector<std::string> names;  ///< the node's: SANs as "DNS:x" / "IP:y", then "CN=z"; a CA's: "CN=z"
    std::chrono::system_clock::time_point not_after;
    std::string fingerprint;  ///< SHA-256 of the DER certificate, hex: tells certificates apart
};

/// What one successful handshake established.
struct tls_handshake_info {
    /// The peer certificate's names: SANs as "DNS:x" / "IP:y" (also "email:", "URI:"), then "CN=z".
    std::vector<std::string> certificate_names;
    bool session_reused = false;  ///< resumed a session cached for the same (TLS name, host:port)
    /// The TLS handshake alone (not TCP, not the PING). The async cluster measures it from loop events, from the
    /// handshake's first message to its last: a TCP connect still completing when the first one is written counts.
    std::chrono::microseconds handshake_time{0};
    std::string protocol;  ///< "TLSv1.3", "TLSv1.2"
    std::string cipher;    ///< "TLS_AES_256_GCM_SHA384", ...
    /// The verified chain, the node's own certificate first (a resumed session may hold the node's alone).
    std::vector<certificate_validity> chain;
};

/// Limits a driver puts on one dial, tighter than tls_options: what is left of a call's deadline, and
/// an address DNS already gave (so hiredis does not resolve the name again, without a time limit). And, for
/// messages, whether the node is a configured seed rather than an address the cluster reported.
struct dial_limits {
    std::string_view tcp_host;                                 ///< IP to connect to; empty: the dial host
    std::optional<std::chrono::milliseconds> connect_timeout;  ///< used when below tls_options::connect_timeout
    /// N > 0: `reported` is seed #N as configured (cluster_options::seeds, 1-based), no topology lists it yet, and
    /// errors say "seed #N as configured"; 0: errors say "as reported by the cluster".
    std::size_t seed_number = 0;
    /// The first seed's host as configured: a certificate name error names it as the name to map to when the
    /// certificate covers it. Empty: the error suggests one of the certificate's own names.
    std::string_view seed_host;
    std::uint16_t seed_port = 0;  ///< and its port
};

}  // namespace addrmap
