// addrmap/tls.hpp — TLS to cluster nodes with certificate verification always on: one shared SSL_CTX,
// the expected name checked on every connection, and errors that say which name failed and why.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/cert_names.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/sigpipe.hpp>
#include <addrmap/detail/socket_bio.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>

#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

class tls_context;
class tls_connection;
namespace detail {
struct tls_shared;
/// For drivers (the async cluster): the shared state behind a tls_context.
struct tls_context_access;
}  // namespace detail

tls_connection connect_tls(const tls_context& context, const node_address& reported, const endpoint& mapped,
                           const dial_limits& limits = {});

namespace detail {

/// Client-side TLS sessions, one per (TLS name, dial host:port). Keyed by the name because a
/// resumed handshake skips certificate verification: a session verified for one name must never
/// be offered for another.
class tls_session_cache {
public:
    static constexpr std::size_t max_entries = 1024;

    static std::string key(std::string_view tls_name, std::string_view dial_host, std::uint16_t port) {
        std::string out(tls_name);
        out += '\n';
        out += format_host_port(dial_host, port);
        return out;
    }

    /// Takes over one reference to `session`; false (and nothing taken) if it cannot be stored.
    bool adopt(const std::string& key, SSL_SESSION* session) noexcept {
        try {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = sessions_.find(key);
            if (it == sessions_.end()) {
                if (sessions_.size() >= max_entries) sessions_.erase(sessions_.begin());
                it = sessions_.emplace(key, ssl_session_ptr()).first;
            }
            it->second.reset(session);  // noexcept: only now is the reference ours
            return true;
        } catch (...) {
            return false;
        }
    }

    /// A new reference to the resumable session for `key`, or null.
    ssl_session_ptr find(const std::string& key) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = sessions_.find(key);
        if (it == sessions_.end() || !it->second || SSL_SESSION_is_resumable(it->second.get()) != 1) return {};
        SSL_SESSION_up_ref(it->second.get());
        return ssl_session_ptr(it->second.get());
    }

    void erase(const std::string& key) noexcept {
        try {
            std::lock_guard<std::mutex> lock(mutex_);
            sessions_.erase(key);
        } catch (...) {
        }
    }

    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return sessions_.size();
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        sessions_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, ssl_session_ptr> sessions_;
};

/// What all connections of one tls_context share. Connections hold a shared_ptr to it, so late
/// TLS 1.3 tickets always find the cache, whatever the order of destruction.
struct tls_shared {
    tls_options options;
    ssl_ctx_ptr ctx;
    int security_level = 1;  ///< the SSL_CTX's when addrmap set it up: the floor verify_peer holds keys to
    tls_session_cache sessions;
};

/// Per-connection state reached from OpenSSL callbacks through SSL ex_data. It lives exactly as
/// long as the SSL* (it is owned by the redisContext's deleter, or by open_link until then).
struct tls_link_state {
    std::shared_ptr<tls_shared> shared;
    std::string session_key;
    std::chrono::steady_clock::time_point deadline{};
    bool deadline_armed = false;  ///< re-arm socket timeouts to what is left until `deadline`
    socket_io_state io;           ///< after the handshake: the socket BIOs' fd and the armed call deadline

    // What the verify callback saw; after a failed handshake the peer certificate is gone.
    bool names_captured = false;
    std::vector<std::string> peer_names;
    int verify_error = X509_V_OK;  ///< the first error, the one that aborted the handshake
    int verify_depth = -1;
    std::string failed_subject;
    std::string failed_issuer;
    std::string failed_not_before;
    std::string failed_not_after;

    /// Forgets what an earlier verification saw (before verify_peer runs its own).
    void clear_diagnostics() {
        names_captured = false;
        peer_names.clear();
        verify_error = X509_V_OK;
        verify_depth = -1;
        failed_subject.clear();
        failed_issuer.clear();
        failed_not_before.clear();
        failed_not_after.clear();
    }
};

inline int link_state_index() noexcept {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

inline tls_link_state* link_state_of(const SSL* ssl) noexcept {
    const int index = link_state_index();
    if (ssl == nullptr || index < 0) return nullptr;
    return static_cast<tls_link_state*>(SSL_get_ex_data(ssl, index));
}

inline timeval to_timeval(std::chrono::milliseconds ms) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
    return tv;
}

/// SO_RCVTIMEO + SO_SNDTIMEO; at least 1 ms, because 0 would mean "wait forever".
inline bool set_socket_timeout(int fd, std::chrono::milliseconds timeout) noexcept {
    if (timeout < std::chrono::milliseconds(1)) timeout = std::chrono::milliseconds(1);
    const timeval tv = to_timeval(timeout);
    return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
           ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
}

inline std::chrono::milliseconds time_left(std::chrono::steady_clock::time_point deadline) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
}

/// Records the leaf's names and the first verification error; never changes the verdict.
inline int tls_verify_callback(int preverify_ok, X509_STORE_CTX* store) noexcept {
    const auto* ssl =
        static_cast<const SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    tls_link_state* state = link_state_of(ssl);
    if (state == nullptr) return preverify_ok;
    try {
        if (!state->names_captured) {
            if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
                state->peer_names = certificate_names(leaf);
                state->names_captured = true;
            }
        }
        if (preverify_ok == 0 && state->verify_error == X509_V_OK) {
            state->verify_error = X509_STORE_CTX_get_error(store);
            state->verify_depth = X509_STORE_CTX_get_error_depth(store);
            if (X509* current = X509_STORE_CTX_get_current_cert(store)) {
                state->failed_subject = x509_name_text(X509_get_subject_name(current));
                state->failed_issuer = x509_name_text(X509_get_issuer_name(current));
                state->failed_not_before = asn1_time_text(X509_get0_notBefore(current));
                state->failed_not_after = asn1_time_text(X509_get0_notAfter(current));
            }
        }
    } catch (...) {
        // Only the diagnostics are lost; the verdict below is OpenSSL's.
    }
    return preverify_ok;
}

/// Stores each new resumable session (TLS 1.2: at the end of the handshake; TLS 1.3: for each
/// ticket, which arrives after the handshake) under the connection's (TLS name, host:port) key.
inline int tls_new_session_callback(SSL* ssl, SSL_SESSION* session) noexcept {
    tls_link_state* state = link_state_of(ssl);
    if (state == nullptr || !state->shared || SSL_SESSION_is_resumable(session) != 1) return 0;
    return state->shared->sessions.adopt(state->session_key, session) ? 1 : 0;
}

/// hiredis runs SSL_connect on a blocking socket; at every handshake step, shrink the socket
/// timeouts to what is left of connect_timeout, so the whole handshake is bounded, not each read.
inline void tls_info_callback(const SSL* ssl, int /*where*/, int /*ret*/) noexcept {
    const tls_link_state* state = link_state_of(ssl);
    if (state == nullptr || !state->deadline_armed) return;
    const int fd = SSL_get_fd(ssl);
    if (fd >= 0) set_socket_timeout(fd, time_left(state->deadline));
}

/// Frees a TLS redisContext. A healthy connection is first marked as cleanly shut down
/// (SSL_set_shutdown, no I/O: nothing can block or raise SIGPIPE here), because OpenSSL marks the
/// session non-resumable when an SSL is freed without shutdown — and hiredis's redisFree just
/// SSL_free's. `ssl` is our non-owning view of the SSL* hiredis owns; `privctx` is hiredis's
/// wrapper at hand-over time, compared so that a stray redisReconnect (which frees the SSL*) is
/// detected instead of touching freed memory.
struct tls_redis_deleter {
    std::unique_ptr<tls_link_state> state;  // destroyed after operator() ran: the SSL* is gone by then
    SSL* ssl = nullptr;
    void* privctx = nullptr;

    void operator()(redisContext* context) const noexcept {
        if (context == nullptr) return;
        if (ssl != nullptr && privctx != nullptr && context->privctx == privctx && context->err == 0)
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        redisFree(context);
    }
};

using tls_redis_ptr = std::unique_ptr<redisContext, tls_redis_deleter>;

// ---- messages -------------------------------------------------------------------------------

inline bool starts_with(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

/// Would `pattern` ("n*.redis.test") match `host` if partial-label wildcards were allowed?
inline bool partial_wildcard_would_match(std::string_view pattern, std::string_view host) noexcept {
    const std::size_t pattern_dot = pattern.find('.');
    const std::size_t host_dot = host.find('.');
    if (pattern_dot == std::string_view::npos || host_dot == std::string_view::npos) return false;
    const std::string_view label = pattern.substr(0, pattern_dot);
    const std::size_t star = label.find('*');
    if (star == std::string_view::npos || label == "*") return false;
    if (!iequals_ascii(pattern.substr(pattern_dot), host.substr(host_dot))) return false;
    const std::string_view prefix = label.substr(0, star);
    const std::string_view suffix = label.substr(star + 1);
    const std::string_view host_label = host.substr(0, host_dot);
    return host_label.size() >= prefix.size() + suffix.size() &&
           iequals_ascii(host_label.substr(0, prefix.size()), prefix) &&
           iequals_ascii(host_label.substr(host_label.size() - suffix.size()), suffix);
}

/// A certificate's names for a message: at most 16, each cut to 120 characters (they are escaped already, by
/// certificate_names), then "and N more": a certificate with thousands of SANs cannot flood what().
inline std::string names_text(const std::vector<std::string>& names) {
    static constexpr std::size_t max_names = 16;
    if (names.empty()) return "no names at all";
    std::string out;
    const std::size_t shown = std::min(names.size(), max_names);
    for (std::size_t i = 0; i < shown; ++i) {
        if (i > 0) out += ", ";
        out += shortened(names[i], 120);
    }
    if (shown < names.size()) out += " and " + std::to_string(names.size() - shown) + " more";
    return out;
}

/// "node 10.0.0.5:6379 (as reported by the cluster), mapped to dial 10.0.0.5:6379 with TLS name 'x'"
inline std::string describe_route(const node_address& reported, const endpoint& mapped) {
    // Everything here may come from a custom policy or caller: escaped, like all input in messages.
    std::string out = "node " + escaped(to_string(reported), 300);
    out += reported.hostname.empty() ? " (as reported by the cluster)"
                                     : " (hostname " + escaped(reported.hostname, 300) + ", as reported by the cluster)";
    out += ", mapped to dial " + escaped(format_host_port(mapped.dial_host(), mapped.port()), 300) +
           " with TLS name " + quoted(mapped.tls_name());
    return out;
}

inline std::string trust_store_text(const tls_options& options) {
    if (!options.ca_file.empty() && !options.ca_dir.empty())
        return "ca_file " + quoted(options.ca_file, 255) + " and ca_dir " + quoted(options.ca_dir, 255);
    if (!options.ca_file.empty()) return "ca_file " + quoted(options.ca_file, 255);
    if (!options.ca_dir.empty()) return "ca_dir " + quoted(options.ca_dir, 255);
    return "the system trust store, as ca_file and ca_dir are empty";
}

inline bool is_name_error(int verify_error) noexcept {
    return verify_error == X509_V_ERR_HOSTNAME_MISMATCH || verify_error == X509_V_ERR_IP_ADDRESS_MISMATCH ||
           verify_error == X509_V_ERR_EMAIL_MISMATCH;
}

/// The certificate chains to a trusted CA but does not carry `expected`. Everything quoted is escaped and cut:
/// `expected` comes from a policy, the names from the server's certificate.
inline error name_mismatch_error(const std::string& route, std::string_view expected, const tls_link_state& st) {
    const host_kind kind = classify_host(expected);
    const bool expect_ip = kind == host_kind::ipv4 || kind == host_kind::ipv6;
    const std::string want = escaped(expected, 255);
    bool has_dns = false, has_ip = false, cn_matches = false;
    std::string partial, one_label, first_cn;
    for (const auto& name : st.peer_names) {
        if (starts_with(name, "DNS:")) {
            has_dns = true;
            const std::string_view pattern = std::string_view(name).substr(4);
            if (partial.empty() && partial_wildcard_would_match(pattern, expected)) partial = name;
            if (one_label.empty() && starts_with(pattern, "*.") && expected.size() > pattern.size() - 1 &&
                iequals_ascii(expected.substr(expected.size() - (pattern.size() - 1)), pattern.substr(1)))
                one_label = name;
        } else if (starts_with(name, "IP:")) {
            has_ip = true;
        } else if (starts_with(name, "CN=")) {
            if (first_cn.empty()) first_cn = name;
            if (iequals_ascii(std::string_view(name).substr(3), expected)) cn_matches = true;
        }
    }
    std::string msg = route + ": the server's certificate does not carry the expected " +
                      (expect_ip ? "IP address " : "name ") + want + " (OpenSSL: " +
                      X509_verify_cert_error_string(st.verify_error) + "); it carries " + names_text(st.peer_names) +
                      ".";
    if (!expect_ip && cn_matches && has_dns)
        msg += " Its subject CN matches, but the subject CN is never used for the name check (RFC 6125): only "
               "DNS SANs count.";
    if (expect_ip && !has_ip && has_dns) {
        msg += " The cluster reports IP addresses but the certificate carries only DNS names: map nodes with "
               "ip_to_hostname (dial the hostname, or dial the IP and verify the hostname) or a static_table.";
    } else if (expect_ip) {
        msg += " The certificate's IP addresses do not include " + want +
               ": map the node to a name or address the certificate carries (static_table), or reissue the "
               "certificate with IP:" + want + ".";
    } else if (!has_dns) {
        msg += " The certificate has no DNS SANs (subjectAltName DNS entries), and the subject CN" +
               (first_cn.empty() ? std::string() : " (" + shortened(first_cn, 120) + ")") +
               " is not used for the name check, as RFC 6125 and current browsers require: reissue the "
               "certificate with subjectAltName DNS:" + want + ".";
    } else if (!partial.empty()) {
        const std::string_view pattern = std::string_view(partial).substr(4);
        msg += " Partial-label wildcards such as " + shortened(partial, 120) +
               " are refused (RFC 6125 section 6.4.3): reissue the certificate with DNS:*" +
               shortened(pattern.substr(pattern.find('.')), 120) + " or DNS:" + want + ".";
    } else if (!one_label.empty()) {
        msg += " A wildcard such as " + shortened(one_label, 120) + " covers exactly one label, not " + want +
               ": map the node to a name one level below it, or reissue the certificate with DNS:" + want + ".";
    } else {
        msg += " Map the node to a name the certificate carries (ip_to_hostname or static_table), or reissue "
               "the certificate with DNS:" + want + ".";
    }
    return error(error_kind::tls_name, msg);
}

inline error chain_error(const std::string& route, const tls_options& options, const tls_link_state& st) {
    // Subjects and issuers come from the server's certificates: escaped already (cert_names.hpp), cut here.
    const std::string subject = shortened(st.failed_subject, 200);
    const std::string issuer = shortened(st.failed_issuer, 200);
    const bool leaf = st.verify_depth <= 0;
    const std::string which = leaf ? "the certificate" : "the CA certificate '" + subject + "'";
    const std::string which_sentence = leaf ? "The certificate" : "The CA certificate '" + subject + "'";
    std::string msg = route + ": the server's certificate chain is not trusted (OpenSSL: " +
                      X509_verify_cert_error_string(st.verify_error);
    if (!leaf) msg += ", at depth " + std::to_string(st.verify_depth) + ": " + subject;
    msg += "); the certificate carries " + names_text(st.peer_names) + ".";
    switch (st.verify_error) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            msg += " Renew it: " + which + " expired on " + st.failed_not_after + " (or check this host's clock).";
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            msg += " " + which_sentence + " is not yet valid: it is valid only from " + st.failed_not_before +
                   "; check the clocks of this host and the server, or reissue it.";
            break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            msg += " Check ca_file/ca_dir: " + which + " was issued by '" + issuer +
                   "', which is not among the CAs trusted here (" + trust_store_text(options) +
                   "); add that CA, or have the server send its intermediate certificates too.";
            break;
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            msg += " Check ca_file/ca_dir: the chain ends in the self-signed '" + subject +
                   "', which is not among the CAs trusted here (" + trust_store_text(options) + ").";
            break;
        case X509_V_ERR_INVALID_PURPOSE:
            msg += " " + which_sentence + " is not meant for a TLS server (its extendedKeyUsage lacks serverAuth): "
                   "reissue it with serverAuth.";
            break;
        default:
            msg += " Check ca_file/ca_dir (" + trust_store_text(options) +
                   ") and that the server sends its whole chain (tls-cert-file with intermediates).";
            break;
    }
    return error(error_kind::tls_chain, msg);
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
        if (is_name_error(st.verify_error)) return name_mismatch_error(route, mapped.tls_name(), st);
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

/// After a failed first PING, reads a TLS alert that may still wait in the receive buffer. With
/// TLS 1.3 a server that wants a client certificate sends "certificate required" and closes with
/// a reset (it leaves our Finished unread); our PING write then fails with ECONNRESET before the
/// alert was read. The kernel keeps already-received data after a reset, so read it: the alert's
/// reason lands in OpenSSL's error queue. Never blocks (poll with a zero timeout first).
inline void collect_pending_alert(SSL* ssl, int fd) noexcept {
    if (ERR_peek_last_error() != 0 || fd < 0) return;
    pollfd readable{};
    readable.fd = fd;
    readable.events = POLLIN;
    if (::poll(&readable, 1, 0) != 1) return;
    char byte = 0;
    (void)SSL_read(ssl, &byte, 1);
}

/// True when the certificate store has a function of its own for building or checking chains (X509_STORE_set_verify,
/// _get_issuer, _check_issued, _lookup_certs, _check_policy): one that says yes would make verify_peer's chain check
/// meaningless. addrmap never installs one; only code holding native_handle() can. (The store's verify callback is
/// harmless: verify_peer replaces it with its own for its check.)
inline bool store_has_custom_chain_functions(const X509_STORE* store) noexcept {
    return X509_STORE_get_verify(store) != nullptr || X509_STORE_get_get_issuer(store) != nullptr ||
           X509_STORE_get_check_issued(store) != nullptr || X509_STORE_get_lookup_certs(store) != nullptr ||
           X509_STORE_get_check_policy(store) != nullptr;
}

struct x509_store_ctx_deleter {
    void operator()(X509_STORE_CTX* ctx) const noexcept { X509_STORE_CTX_free(ctx); }
};

/// The check addrmap makes itself after every handshake, full or resumed, on a live `ssl`: a peer certificate is
/// present, it chains to the trusted CAs (verified again here, with our callback and parameters), it carries
/// `tls_name` (X509_check_host / X509_check_ip_asc, partial wildcards refused, subject CN never used), and
/// OpenSSL's own verdict is X509_V_OK. Nothing a caller installs on the SSL_CTX through native_handle() — a
/// verify callback that always says yes, SSL_VERIFY_NONE, a cert_verify_callback that skips verification,
/// flags that stop the time check — can make it pass a certificate it would refuse. A resumed session is checked
/// with the certificates it carries from its first handshake, against the trust store as it is now.
/// Fails closed with error{tls_chain | tls_name}, worded as for a failed handshake (`st` gets the diagnostics).
inline void verify_peer(SSL* ssl, const std::string& route, const endpoint& mapped, const tls_options& options,
                        tls_link_state& st) {
    st.clear_diagnostics();
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509* const peer = SSL_get0_peer_certificate(ssl);
#else
    const x509_ptr peer_ref(SSL_get_peer_certificate(ssl));
    X509* const peer = peer_ref.get();
#endif
    if (peer == nullptr)
        throw error(error_kind::tls_chain, route + ": the handshake completed but the server presented no "
                                                   "certificate; addrmap verifies one on every connection, so the "
                                                   "connection is refused.");
    st.peer_names = certificate_names(peer);
    st.names_captured = true;

    // 1. The chain, against the SSL_CTX's trust store as it is now (CAs added through native_handle() count).
    X509_STORE* const store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
    if (store == nullptr)
        throw error(error_kind::tls_chain, route + ": the TLS context has no certificate store to verify against.");
    if (store_has_custom_chain_functions(store))
        throw error(error_kind::tls_chain,
                    route + ": the TLS context's certificate store has its own chain-building or verification "
                            "function (installed through tls_context::native_handle()); addrmap verifies every "
                            "chain with OpenSSL's own, so the connection is refused. Remove that function.");
    const std::unique_ptr<X509_STORE_CTX, x509_store_ctx_deleter> check(X509_STORE_CTX_new());
    if (!check || X509_STORE_CTX_init(check.get(), store, peer, SSL_get_peer_cert_chain(ssl)) != 1 ||
        X509_STORE_CTX_set_default(check.get(), "ssl_server") != 1)
        throw error(error_kind::tls_chain, route + ": cannot set up the certificate check (OpenSSL: " +
                                               last_openssl_reason() + "); the connection is refused.");
    X509_VERIFY_PARAM* const param = X509_STORE_CTX_get0_param(check.get());
    // addrmap's minimum, whatever the store's parameters say: a TLS server certificate, checked at the current
    // time, no unknown critical extension ignored. The name is checked below, so none is set here.
    // Key sizes and signature digests are checked at the security level addrmap set up, or higher: a verify
    // callback that clears "key too weak" in the handshake, or a lowered level, cannot weaken this check.
    const tls_link_state* const link = link_state_of(ssl);
    const int floor = link != nullptr && link->shared ? link->shared->security_level : 1;
    X509_VERIFY_PARAM_set_auth_level(param, std::max(floor, SSL_get_security_level(ssl)));
    if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER) != 1 ||
        X509_VERIFY_PARAM_set_trust(param, X509_TRUST_SSL_SERVER) != 1 ||
        X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_USE_CHECK_TIME | X509_V_FLAG_NO_CHECK_TIME |
                                                 X509_V_FLAG_IGNORE_CRITICAL) != 1 ||
        X509_VERIFY_PARAM_set1_host(param, nullptr, 0) != 1 || X509_VERIFY_PARAM_set1_ip(param, nullptr, 0) != 1 ||
        X509_VERIFY_PARAM_set1_email(param, nullptr, 0) != 1)
        throw error(error_kind::tls_chain, route + ": cannot set the certificate check's parameters (OpenSSL: " +
                                               last_openssl_reason() + "); the connection is refused.");
    // Our callback (it records the first error into `st` and never changes the verdict) replaces any the store has.
    X509_STORE_CTX_set_ex_data(check.get(), SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
    X509_STORE_CTX_set_verify_cb(check.get(), &tls_verify_callback);
    if (X509_verify_cert(check.get()) != 1) {
        if (st.verify_error == X509_V_OK) {
            const int reason = X509_STORE_CTX_get_error(check.get());
            st.verify_error = reason != X509_V_OK ? reason : X509_V_ERR_UNSPECIFIED;
        }
        if (is_name_error(st.verify_error)) throw name_mismatch_error(route, mapped.tls_name(), st);
        throw chain_error(route, options, st);
    }

    // 2. The name, on the certificate itself.
    const std::string tls_name(mapped.tls_name());
    const host_kind name_kind = classify_host(tls_name);
    const bool by_ip = name_kind == host_kind::ipv4 || name_kind == host_kind::ipv6;
    const int name_ok =
        by_ip ? X509_check_ip_asc(peer, tls_name.c_str(), 0)
              : X509_check_host(peer, tls_name.data(), tls_name.size(),
                                X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr);
    if (name_ok != 1) {
        st.verify_error = by_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
        st.verify_depth = 0;
        throw name_mismatch_error(route, tls_name, st);
    }

    // 3. OpenSSL's own verdict from the handshake (or from the session's first handshake) must agree.
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) {
        st.verify_error = static_cast<int>(verdict);
        st.verify_depth = -1;
        if (is_name_error(st.verify_error)) throw name_mismatch_error(route, tls_name, st);
        throw chain_error(route, options, st);
    }
}

/// One SSL* from the shared context for a connection to `tls_name`: our state attached (verify callback
/// diagnostics, session key), the expected name set (SNI + host check, or IP SAN check for an IP literal),
/// and the cached session for `state.session_key` offered. Used by the blocking and the async path alike.
inline ssl_ptr new_verifying_ssl(const tls_shared& shared, const std::string& route, const std::string& tls_name,
                                 tls_link_state& state) {
    ssl_ptr ssl(SSL_new(shared.ctx.get()));
    if (!ssl)
        throw error(error_kind::tls_handshake, route + ": SSL_new failed (OpenSSL: " + last_openssl_reason() + ")");
    if (SSL_set_ex_data(ssl.get(), link_state_index(), &state) != 1)
        throw error(error_kind::tls_handshake, route + ": cannot attach state to the SSL object (SSL_set_ex_data)");
    SSL_set_info_callback(ssl.get(), &tls_info_callback);
#ifdef SSL_OP_ENABLE_KTLS
    // Kernel TLS would encrypt below the write BIO swapped in after the handshake: keep it off.
    SSL_clear_options(ssl.get(), SSL_OP_ENABLE_KTLS);
#endif
    // A TLS 1.2 renegotiation is a handshake verify_peer would not see (a context weakened through
    // native_handle() would then accept another certificate mid-connection). Redis never renegotiates.
    SSL_set_options(ssl.get(), SSL_OP_NO_RENEGOTIATION);
    const host_kind name_kind = classify_host(tls_name);
    if (name_kind == host_kind::ipv4 || name_kind == host_kind::ipv6) {
        // An IP literal: no SNI (RFC 6066 forbids it); the certificate's IP SANs must carry it.
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), tls_name.c_str()) != 1)
            throw error(error_kind::config, route + ": OpenSSL refused the IP address " + quoted(tls_name) + " as TLS name");
    } else {
        if (SSL_set_tlsext_host_name(ssl.get(), tls_name.c_str()) != 1 ||
            SSL_set1_host(ssl.get(), tls_name.c_str()) != 1)
            throw error(error_kind::config, route + ": OpenSSL refused " + quoted(tls_name) + " as TLS name (OpenSSL: " +
                                                last_openssl_reason() + ")");
        // RFC 6125: only DNS SANs count; a certificate with none is refused even if its subject CN matches.
        SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    }
    if (ssl_session_ptr session = shared.sessions.find(state.session_key)) SSL_set_session(ssl.get(), session.get());
    return ssl;
}

/// What a finished handshake agreed on and what the peer presented (handshake_time is the caller's to set).
inline tls_handshake_info handshake_info_of(SSL* ssl) {
    tls_handshake_info info;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    info.certificate_names = certificate_names(SSL_get0_peer_certificate(ssl));
#else
    x509_ptr peer(SSL_get_peer_certificate(ssl));
    info.certificate_names = certificate_names(peer.get());
#endif
    info.session_reused = SSL_session_reused(ssl) == 1;
    info.protocol = SSL_get_version(ssl);
    info.cipher = SSL_get_cipher_name(ssl);
    return info;
}

/// Puts the send(MSG_NOSIGNAL), deadline-bounded socket BIOs (socket_bio.hpp) on `ssl` in place of the
/// stock ones hiredis set, and turns on partial writes: without them a failed SSL_write of many records
/// reports nothing written although earlier records reached the server, and a driver's "was this
/// command written?" must see every record that left.
inline void install_socket_bios(SSL* ssl, int fd, tls_link_state& st, const std::string& route) {
    const BIO_METHOD* method = nosignal_socket_method();
    bio_ptr write_bio(method != nullptr ? BIO_new(method) : nullptr);
    bio_ptr read_bio(method != nullptr ? BIO_new(method) : nullptr);
    if (!write_bio || !read_bio)
        throw error(error_kind::tls_handshake, route + ": OpenSSL could not create the connection's socket BIOs (" +
                                                   last_openssl_reason() + ")");
    st.io.fd = fd;
    attach_socket_io(write_bio.get(), &st.io);
    attach_socket_io(read_bio.get(), &st.io);
    SSL_set0_wbio(ssl, write_bio.release());  // the SSL* owns them now
    SSL_set0_rbio(ssl, read_bio.release());
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
}

/// TCP through hiredis, then TLS on our own SSL* (expected name set), then one PING round trip.
inline std::pair<tls_redis_ptr, tls_handshake_info> open_link(const std::shared_ptr<tls_shared>& shared,
                                                              const node_address& reported,
                                                              const endpoint& mapped,
                                                              const dial_limits& limits = {}) {
    using clock = std::chrono::steady_clock;
    const tls_options& options = shared->options;
    const std::string route = describe_route(reported, mapped);
    check_mapping(route, mapped);
    const std::string dial_host(mapped.dial_host());
    const std::string tcp_host = limits.tcp_host.empty() ? dial_host : std::string(limits.tcp_host);
    if (!limits.tcp_host.empty() && classify_host(tcp_host) != host_kind::ipv4 && classify_host(tcp_host) != host_kind::ipv6)
        throw error(error_kind::config, route + ": dial_limits::tcp_host " + quoted(tcp_host) +
                                            " is not an IP address; it is what DNS answered, so it must be one.");
    const std::string tls_name(mapped.tls_name());
    const std::string key = tls_session_cache::key(tls_name, dial_host, mapped.port());
    const std::chrono::milliseconds budget =
        limits.connect_timeout ? std::max(std::chrono::milliseconds(1), std::min(*limits.connect_timeout, options.connect_timeout))
                               : options.connect_timeout;
    const auto deadline = clock::now() + budget;

    // 1. TCP, bounded by connect_timeout. command_timeout is recorded in the context (hiredis
    //    re-applies it itself) but the socket timeouts are ours until the connection is set up.
    const timeval connect_tv = to_timeval(budget);
    const timeval command_tv = to_timeval(options.command_timeout);
    redisOptions ro{};
    REDIS_OPTIONS_SET_TCP(&ro, tcp_host.c_str(), mapped.port());
    ro.connect_timeout = &connect_tv;
    ro.command_timeout = &command_tv;
    errno = 0;
    context_ptr tcp(redisConnectWithOptions(&ro));
    const int connect_errno = errno;
    if (!tcp) throw std::bad_alloc();
    if (tcp->err != 0) {
        const bool timed_out = connect_errno == ETIMEDOUT || connect_errno == EINPROGRESS ||
                               std::strstr(tcp->errstr, "timed out") != nullptr;
        if (timed_out)
            throw error(error_kind::timeout, route + ": the TCP connect did not complete within connect_timeout (" +
                                                 std::to_string(options.connect_timeout.count()) +
                                                 " ms); check that the node is up and reachable from here.");
        throw error(error_kind::connect, route + ": TCP connect failed: " + escaped(tcp->errstr, 200) +
                                             ". Check that the node is up and that " +
                                             format_host_port(dial_host, mapped.port()) + " is reachable from here.");
    }

    // hiredis records the address it dialed; show the policy's dial host, as a hiredis user expects
    // (c->tcp.host), also when DNS was done beforehand within the call's deadline.
    if (tcp_host != dial_host) {
        char* name = hi_strdup(dial_host.c_str());
        if (name == nullptr) throw std::bad_alloc();
        hi_free(tcp->tcp.host);
        tcp->tcp.host = name;
    }

    // 2. One SSL* per connection from the shared context, with the expected name on it.
    auto state = std::make_unique<tls_link_state>();
    state->shared = shared;
    state->session_key = key;
    state->deadline = deadline;
    state->deadline_armed = true;
    ssl_ptr ssl = new_verifying_ssl(*shared, route, tls_name, *state);

    // 3. The handshake, inside hiredis, on its blocking socket: bounded by what is left.
    set_socket_timeout(tcp->fd, time_left(deadline));
    ERR_clear_error();
    errno = 0;
    const auto started = clock::now();
    int rc = REDIS_ERR;
    {
        // hiredis puts a stock socket BIO on the SSL* (SSL_set_fd), whose writes can raise SIGPIPE;
        // after the handshake it is replaced by one that cannot (below).
        const sigpipe_guard no_sigpipe;
        rc = redisInitiateSSL(tcp.get(), ssl.get());
    }
    const int handshake_errno = errno;
    const auto handshake_time = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
    if (rc != REDIS_OK) {
        // hiredis did not take the SSL*: `ssl` still owns it and frees it on the way out.
        shared->sessions.erase(key);
        if (state->verify_error == X509_V_OK && SSL_get_verify_result(ssl.get()) != X509_V_OK) {
            // A verify callback installed through native_handle() replaced ours and refused: still say why.
            state->verify_error = static_cast<int>(SSL_get_verify_result(ssl.get()));
        }
        error failure = link_error(route, mapped, options, *state, tcp.get(), handshake_errno, false);
        ERR_clear_error();
        throw failure;
    }

    // hiredis owns the SSL* from here (redisFree frees it); keep a non-owning view for the deleter.
    SSL* const live = ssl.release();
    void* const privctx = tcp->privctx;
    tls_redis_ptr link(tcp.release(), tls_redis_deleter{std::move(state), live, privctx});
    tls_link_state& st = *link.get_deleter().state;

    // Our own check of chain and name, on every connection (resumed ones too), before a byte of ours is sent:
    // the handshake's verification can be weakened through native_handle(), this cannot.
    try {
        verify_peer(live, route, mapped, options, st);
    } catch (...) {
        shared->sessions.erase(key);  // a TLS 1.2 session of this handshake may be cached already
        ERR_clear_error();
        throw;
    }

    // Every later write (ours, and plain hiredis calls on context_for_key) goes through send(MSG_NOSIGNAL):
    // a node that went away yields EPIPE (a lost connection), never a process-killing SIGPIPE. Reads and
    // writes also wait at most until a deadline a driver arms (tls_connection::set_io_deadline).
    install_socket_bios(live, link->fd, st, route);
    st.io.read_timeout = options.command_timeout;
    // A reply's record header and body in one recv (and one deadline poll), not two.
    SSL_set_read_ahead(live, 1);

    // 4. One round trip. With TLS 1.3 the server's verdict on our client certificate (and its
    //    session tickets) only arrive after the handshake; PING makes both arrive now. Any reply,
    //    even an error such as NOAUTH, proves the TLS channel works.
    ERR_clear_error();
    errno = 0;
    reply_ptr pong = adopt_reply(redisCommand(link.get(), "PING"));
    const int ping_errno = errno;
    if (!pong) {
        shared->sessions.erase(key);
        collect_pending_alert(live, link->fd);
        error failure = link_error(route, mapped, options, st, link.get(), ping_errno, true);
        ERR_clear_error();
        throw failure;
    }
    st.deadline_armed = false;
    if (redisSetTimeout(link.get(), command_tv) != REDIS_OK)
        throw error(error_kind::connect, route + ": cannot set command_timeout on the socket: " + escaped(link->errstr, 200));

    tls_handshake_info info = handshake_info_of(live);
    info.handshake_time = handshake_time;
    return {std::move(link), std::move(info)};
}

inline error context_config_error(const std::string& what) {
    std::string msg = what + " (OpenSSL: " + first_openssl_reason() + ")";
    ERR_clear_error();
    return error(error_kind::config, msg);
}

inline std::shared_ptr<tls_shared> make_tls_shared(tls_options options) {
    if (options.connect_timeout.count() <= 0)
        throw error(error_kind::config, "tls_options.connect_timeout must be positive (it is " +
                                            std::to_string(options.connect_timeout.count()) +
                                            " ms): a peer that never answers would otherwise block forever");
    if (options.command_timeout.count() <= 0)
        throw error(error_kind::config, "tls_options.command_timeout must be positive (it is " +
                                            std::to_string(options.command_timeout.count()) +
                                            " ms): a peer that never answers would otherwise block forever");
    if (options.cert_file.empty() != options.key_file.empty()) {
        const std::string set = options.cert_file.empty() ? "key_file " + quoted(options.key_file, 255)
                                                          : "cert_file " + quoted(options.cert_file, 255);
        const char* unset = options.cert_file.empty() ? "cert_file" : "key_file";
        throw error(error_kind::config,
                    "tls_options." + set + " is set but " + unset + " is empty: set both or neither");
    }
    auto shared = std::make_shared<tls_shared>();
    ERR_clear_error();
    shared->ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!shared->ctx) throw context_config_error("cannot create an OpenSSL SSL_CTX");
    SSL_CTX* ctx = shared->ctx.get();
    const int min_version = options.min_version == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1)
        throw context_config_error(std::string("this OpenSSL cannot require ") + to_string(options.min_version));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &tls_verify_callback);

    if (!options.ca_file.empty() && SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1)
        throw context_config_error("cannot load tls_options.ca_file " + quoted(options.ca_file, 255));
    if (!options.ca_dir.empty()) {
        struct stat st {};
        if (::stat(options.ca_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw error(error_kind::config, "tls_options.ca_dir " + quoted(options.ca_dir, 255) + " is not a directory");
        if (SSL_CTX_load_verify_locations(ctx, nullptr, options.ca_dir.c_str()) != 1)
            throw context_config_error("cannot use tls_options.ca_dir " + quoted(options.ca_dir, 255));
    }
    if (options.ca_file.empty() && options.ca_dir.empty() && SSL_CTX_set_default_verify_paths(ctx) != 1)
        throw context_config_error("cannot load the system trust store (ca_file and ca_dir are empty)");

    if (!options.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1)
            throw context_config_error("cannot load tls_options.cert_file " + quoted(options.cert_file, 255));
        if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
            const unsigned long code = ERR_peek_error();
            if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
                throw context_config_error("tls_options.key_file " + quoted(options.key_file, 255) +
                                           " is not the key of cert_file " + quoted(options.cert_file, 255));
            throw context_config_error("cannot load tls_options.key_file " + quoted(options.key_file, 255));
        }
        if (SSL_CTX_check_private_key(ctx) != 1)
            throw context_config_error("tls_options.key_file " + quoted(options.key_file, 255) +
                                       " is not the key of cert_file " + quoted(options.cert_file, 255));
    }

    // Client session cache, stored by us (keyed by TLS name) rather than by OpenSSL.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &tls_new_session_callback);
    if (link_state_index() < 0) throw context_config_error("cannot allocate an OpenSSL ex_data index");
    shared->security_level = SSL_CTX_get_security_level(ctx);
    shared->options = std::move(options);
    return shared;
}

}  // namespace detail

/// One SSL_CTX, configured once and shared by every node connection (thread-safe to share: the
/// session cache has its own lock). Cheap to copy: copies share the same context and cache.
/// Throws error{config} naming the file and OpenSSL's reason for unusable CA/cert/key files.
class tls_context {
public:
    explicit tls_context(tls_options options = {}) : shared_(detail::make_tls_shared(std::move(options))) {}

    const tls_options& options() const noexcept { return shared_->options; }
    /// The shared SSL_CTX, for what tls_options does not cover (cipher lists, CAs from memory, stricter checks
    /// in a verify callback of your own). It can add restrictions, never remove one: after every handshake,
    /// resumed ones too, addrmap checks the peer certificate itself — present, chaining to the CAs of this
    /// context's store with OpenSSL's own chain building, valid now, meant for a TLS server, carrying the
    /// mapped name (DNS SANs or IP SANs; the subject CN never counts) — and that OpenSSL's verdict is
    /// X509_V_OK. A verify callback that always says yes, SSL_VERIFY_NONE or a cert_verify_callback that
    /// skips verification ends in error{tls_chain | tls_name} like any other bad certificate; a chain-building
    /// function of your own on the store (X509_STORE_set_verify, _get_issuer, ...) is refused outright.
    SSL_CTX* native_handle() const noexcept { return shared_->ctx.get(); }
    /// Number of (TLS name, host:port) pairs with a cached session.
    std::size_t cached_sessions() const { return shared_->sessions.size(); }
    void clear_sessions() { shared_->sessions.clear(); }

private:
    friend tls_connection connect_tls(const tls_context&, const node_address&, const endpoint&, const dial_limits&);
    friend struct detail::tls_context_access;
    std::shared_ptr<detail::tls_shared> shared_;
};

namespace detail {
struct tls_context_access {
    static const std::shared_ptr<tls_shared>& shared(const tls_context& context) noexcept { return context.shared_; }
};
}  // namespace detail

/// A verified TLS connection to one node: owns the redisContext (never redisFree it yourself,
/// and never call redisReconnect on it — hiredis would drop TLS; use reconnect()).
/// Not thread-safe: one thread at a time, like a redisContext.
class tls_connection {
public:
    using context_ptr = detail::tls_redis_ptr;

    tls_connection(tls_connection&&) noexcept = default;
    tls_connection& operator=(tls_connection&&) noexcept = default;
    tls_connection(const tls_connection&) = delete;
    tls_connection& operator=(const tls_connection&) = delete;
    ~tls_connection() = default;

    /// The hiredis context (blocking, TLS set up, command_timeout applied). Valid until this
    /// object is destroyed or reconnect() succeeds.
    redisContext* get() const noexcept { return context_.get(); }
    const tls_handshake_info& handshake() const noexcept { return info_; }
    const node_address& reported() const noexcept { return reported_; }
    /// The endpoint this connection dials (an owning copy of what connect_tls was given).
    const endpoint& mapped() const noexcept { return mapped_; }

    /// True when OpenSSL holds received bytes not yet read (records read ahead, an alert): on an idle
    /// connection that means the server said something unasked, which RESP2 never does.
    bool has_buffered_input() const noexcept {
        const SSL* ssl = context_.get_deleter().ssl;
        return ssl != nullptr && SSL_has_pending(ssl) == 1;
    }

    /// Bounds every later read and write on this connection (also inside one SSL record) by `deadline`;
    /// past it they fail as a timeout. std::nullopt: only the socket timeouts (command_timeout) bound them.
    void set_io_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
        detail::socket_io_state& io = context_.get_deleter().state->io;
        io.armed = deadline.has_value();
        if (deadline) io.deadline = *deadline;
    }

    /// Replaces command_timeout as the limit on each wait for reply bytes while a deadline is armed, for a
    /// command that blocks on the server (BLPOP); std::nullopt restores command_timeout.
    void set_reply_timeout(std::optional<std::chrono::milliseconds> timeout) noexcept {
        context_.get_deleter().state->io.read_timeout = timeout ? *timeout : shared_->options.command_timeout;
    }

    /// A fresh TCP + verified TLS connection through the same path, resuming the cached session.
    /// On failure it throws and this object keeps its old connection (strong guarantee).
    void reconnect() {
        if (!shared_) throw error(error_kind::config, "reconnect() on a moved-from tls_connection");
        auto fresh = detail::open_link(shared_, reported_, mapped_);
        context_ = std::move(fresh.first);  // the old connection is closed here
        info_ = std::move(fresh.second);
    }

private:
    friend tls_connection connect_tls(const tls_context&, const node_address&, const endpoint&, const dial_limits&);

    tls_connection(std::shared_ptr<detail::tls_shared> shared, node_address reported, endpoint mapped,
                   std::pair<context_ptr, tls_handshake_info> link)
        : shared_(std::move(shared)),
          reported_(std::move(reported)),
          mapped_(std::move(mapped)),
          info_(std::move(link.second)),
          context_(std::move(link.first)) {}

    std::shared_ptr<detail::tls_shared> shared_;
    node_address reported_;
    endpoint mapped_;
    tls_handshake_info info_;
    context_ptr context_;
};

/// Connects to `mapped` (dial host:port) and verifies that the certificate chains to the trusted
/// CAs and carries `mapped.tls_name()` (a DNS name, with SNI; or an IP literal, checked against
/// IP SANs, without SNI). `reported` is what the cluster said; it is used in messages only.
/// Ends with one PING (before any AUTH: a NOAUTH error reply counts as an answer) so that a
/// TLS 1.3 server's refusal of our client certificate, and its session tickets, arrive now.
/// Throws error{config | connect | timeout | tls_chain | tls_name | tls_handshake}.
inline tls_connection connect_tls(const tls_context& context, const node_address& reported, const endpoint& mapped,
                                  const dial_limits& limits) {
    endpoint owned = endpoint::owning(std::string(mapped.dial_host()), mapped.port(), std::string(mapped.tls_name()));
    auto link = detail::open_link(context.shared_, reported, owned, limits);
    return tls_connection(context.shared_, reported, std::move(owned), std::move(link));
}

}  // namespace addrmap
