// addrmap/detail/handshake_errors.hpp — one error for a failed dial (TCP connect, TLS handshake or first round trip):
// the route (node reported, endpoint mapped), the reason (the socket's, OpenSSL's) and the likely fix.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/cert_names.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/peer_verification.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/tls_link_state.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>

namespace addrmap::detail {

/// "node 10.0.0.5:6379 (as reported by the cluster), mapped to dial 10.0.0.5:6379 with TLS name 'x'"; for a
/// configured seed no topology lists yet (`seed_number` N > 0, see dial_limits), "(seed #N as configured)".
inline std::string describe_route(const node_address& reported, const endpoint& mapped, std::size_t seed_number = 0) {
    // Everything here may come from a custom policy or caller: escaped, like all input in messages.
    std::string out = "node " + escaped(to_string(reported), 300);
    if (seed_number > 0)
        out += " (seed #" + std::to_string(seed_number) + " as configured)";
    else
        out += reported.hostname.empty() ? " (as reported by the cluster)"
                                         : " (hostname " + escaped(reported.hostname, 300) + ", as reported by the cluster)";
    out += ", mapped to dial " + escaped(format_host_port(mapped.dial_host(), mapped.port()), 300) +
           " with TLS name " + quoted(mapped.tls_name());
    return out;
}

/// The TCP connect to `mapped` failed (`why`: the socket's or hiredis's words). Both drivers say it this way.
inline error tcp_connect_error(const std::string& route, const endpoint& mapped, const std::string& why) {
    return error(error_kind::connect, route + ": TCP connect failed: " + why + ". Check that the node is up and that " +
                                          format_host_port(mapped.dial_host(), mapped.port()) + " is reachable from here.");
}

/// A non-blocking dial starts the handshake before the TCP connect is done: when the handshake's first write failed
/// because the connect did (refused, unreachable), this is the connect's errno; 0 when the socket is connected or the
/// error is not one a connect gives (a reset or a closed connection is the server's doing during the handshake).
inline int failed_connect_errno(int fd, int saved_errno) noexcept {
    switch (saved_errno) {
        case ECONNREFUSED:
        case ENETUNREACH:
        case EHOSTUNREACH:
        case ENETDOWN:
        case ETIMEDOUT: break;
        default: return 0;
    }
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    if (fd >= 0 && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) == 0) return 0;  // it did connect
    return saved_errno;
}

inline bool is_ssl_reason(unsigned long code, int reason) noexcept {
    return code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == reason;
}

/// Turns a failed handshake (after_handshake = false) or a failed first PING (true) into one error.
/// Reads OpenSSL's thread-local error queue, which the caller cleared before the operation.
inline error link_error(const std::string& route, const endpoint& mapped, const tls_options& options,
                        const tls_link_state& st, const redisContext* context, int saved_errno,
                        bool after_handshake) {
    if (!after_handshake && st.verify_error != X509_V_OK) {
        if (is_name_error(st.verify_error)) return name_mismatch_error(route, mapped.tls_name(), st, options, mapped.port());
        return chain_error(route, options, st);
    }
    const unsigned long code = ERR_peek_last_error();
    const std::string reason = openssl_reason(code);
    const std::string port = std::to_string(mapped.port());
    const std::string when =
        after_handshake ? "at the first round trip after the TLS handshake" : "during the TLS handshake";
    const bool have_client_cert = !options.cert_file.empty();
    const std::string client_cert_fix =
        "set tls_options.cert_file/key_file to a client certificate that the server's tls-ca-cert-file trusts";

    if (is_ssl_reason(code, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED))
        return error(error_kind::tls_handshake,
                     route + ": the server requires a client certificate (tls-auth-clients yes) and none was sent "
                             "(OpenSSL: " + reason + ", " + when + "): " + client_cert_fix + ".");
    if (is_ssl_reason(code, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)) {
        if (!have_client_cert)
            return error(error_kind::tls_handshake,
                         route + ": the server refused the TLS handshake (OpenSSL: " + reason +
                             "). The likely cause: the server requires a client certificate (tls-auth-clients "
                             "yes) and none was sent: " + client_cert_fix +
                             ". Otherwise check that server and client share a protocol version and cipher.");
        return error(error_kind::tls_handshake,
                     route + ": the server refused the TLS handshake (OpenSSL: " + reason +
                         "): check that it accepts the client certificate " + quoted(options.cert_file, 255) +
                         " and that server and client share a protocol version and cipher.");
    }
    const int alert_reasons[] = {SSL_R_TLSV1_ALERT_UNKNOWN_CA,           SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
                                 SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED,  SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN,
                                 SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED,  SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE,
                                 SSL_R_TLSV1_ALERT_ACCESS_DENIED,        SSL_R_TLSV1_ALERT_DECRYPT_ERROR};
    for (const int alert : alert_reasons) {
        if (!is_ssl_reason(code, alert)) continue;
        if (have_client_cert)
            return error(error_kind::tls_handshake,
                         route + ": the server rejected the client certificate " + quoted(options.cert_file, 255) +
                             " (OpenSSL: " + reason + ", " + when +
                             "): the server's tls-ca-cert-file must trust its issuer, and it must be valid and "
                             "allow clientAuth.");
        return error(error_kind::tls_handshake,
                     route + ": the server aborted the TLS handshake (OpenSSL: " + reason + ", " + when +
                         "); see the server's log.");
    }
    if (is_ssl_reason(code, SSL_R_WRONG_VERSION_NUMBER) || is_ssl_reason(code, SSL_R_PACKET_LENGTH_TOO_LONG) ||
        is_ssl_reason(code, SSL_R_RECORD_LENGTH_MISMATCH))
        return error(error_kind::tls_handshake,
                     route + ": the server did not answer in TLS (OpenSSL: " + reason + "): port " + port +
                         " is probably a plain-text port; dial the node's tls-port.");
    if (is_ssl_reason(code, SSL_R_UNSUPPORTED_PROTOCOL) || is_ssl_reason(code, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) ||
        is_ssl_reason(code, SSL_R_NO_PROTOCOLS_AVAILABLE))
        return error(error_kind::tls_handshake,
                     route + ": server and client share no TLS version (OpenSSL: " + reason +
                         "): this client requires at least " + to_string(options.min_version) +
                         " (tls_options.min_version); check the server's tls-protocols.");

    const bool closed_hint_needed = !have_client_cert;
    const std::string closed_hint =
        closed_hint_needed ? " If it requires client certificates (tls-auth-clients yes), " + client_cert_fix +
                                 "; otherwise check that port " + port + " is a TLS port and see the server's log."
                           : " Check that port " + port + " is a TLS port and see the server's log.";
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (is_ssl_reason(code, SSL_R_UNEXPECTED_EOF_WHILE_READING))
        return error(error_kind::connect,
                     route + ": the server closed the connection " + when + " (OpenSSL: " + reason + ")." +
                         closed_hint);
#endif
    if (code != 0)
        return error(error_kind::tls_handshake,
                     route + ": TLS failed " + when + " (OpenSSL: " + reason + "); see the server's log.");

    // A socket timeout surfaces as EAGAIN from read/write (hiredis keeps errno); the deadline
    // check covers an errno clobbered on the way out. (SSL_want_read is no guide: OpenSSL leaves
    // it set after a reset too.)
    const bool timed_out = saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT ||
                           std::chrono::steady_clock::now() >= st.deadline;
    if (timed_out)
        return error(error_kind::timeout,
                     route + ": no answer " + when + " within connect_timeout (" +
                         std::to_string(options.connect_timeout.count()) +
                         " ms): the server accepted the TCP connection but " +
                         (after_handshake ? "did not answer PING" : "did not complete the TLS handshake") +
                         ". Check that port " + port +
                         " is the node's tls-port (not a plain-text port or another service) and that the "
                         "server is not overloaded.");
    // hiredis's own text ("SSL_connect failed: Connection reset by peer", "Server closed the
    // connection") is the most faithful; errno is the fallback.
    std::string why = "end of stream";
    if (context != nullptr && context->errstr[0] != '\0')
        why = escaped(context->errstr, 200);
    else if (saved_errno != 0)
        why = std::strerror(saved_errno);
    return error(error_kind::connect, route + ": the server closed the connection " + when + " (" + why + ")." +
                                          closed_hint);
}

}  // namespace addrmap::detail
