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
};

}  // namespace addrmap
