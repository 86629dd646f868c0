// addrmap/detail/tls_link_state.hpp — what a TLS connection carries into OpenSSL's callbacks (shared state, session
// key, handshake deadline, what verification saw), those callbacks, and the deleter of a TLS redisContext.
#pragma once

#include <addrmap/detail/cert_names.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/socket_bio.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/detail/tls_session_cache.hpp>
#include <addrmap/tls_options.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace addrmap::detail {

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
    /// The first handshake's first and last message (the info callback records them; later ones, such as TLS 1.3
    /// session tickets, leave them): the async path's handshake_time, measured from loop events.
    std::optional<std::chrono::steady_clock::time_point> handshake_started;
    std::optional<std::chrono::steady_clock::time_point> handshake_done;

    /// The first seed's host as configured, for a name mismatch's advice (the name that would verify); may be empty.
    std::string seed_host;
    std::uint16_t seed_port = 0;

    // What the verify callback saw; after a failed handshake the peer certificate is gone.
    bool names_captured = false;
    std::vector<std::string> peer_names;
    int verify_error = X509_V_OK;  ///< the first error, the one that aborted the handshake
    int verify_depth = -1;
    /// The OpenSSL security level the check that found `verify_error` ran at (-1: not known): the handshake's is the
    /// connection's level, verify_peer's may be higher. A "key too weak" message names this level, not a default.
    int verify_security_level = -1;
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
        verify_security_level = -1;
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
            // The level this chain check holds keys and digests to (the handshake sets it from the SSL's level).
            state->verify_security_level = X509_VERIFY_PARAM_get_auth_level(X509_STORE_CTX_get0_param(store));
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
/// It also notes when the first handshake started and ended (handshake_started/handshake_done).
inline void tls_info_callback(const SSL* ssl, int where, int /*ret*/) noexcept {
    tls_link_state* state = link_state_of(ssl);
    if (state == nullptr) return;
    if ((where & SSL_CB_HANDSHAKE_START) != 0 && !state->handshake_started)
        state->handshake_started = std::chrono::steady_clock::now();
    if ((where & SSL_CB_HANDSHAKE_DONE) != 0 && state->handshake_started && !state->handshake_done)
        state->handshake_done = std::chrono::steady_clock::now();
    if (!state->deadline_armed) return;
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

}  // namespace addrmap::detail
