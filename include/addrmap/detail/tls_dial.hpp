// addrmap/detail/tls_dial.hpp — one verified TLS connection to a node: TCP through hiredis, our own SSL* with the
// expected name, the handshake bounded by connect_timeout, our peer check, socket BIOs without SIGPIPE, then one PING.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/cert_names.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/handshake_errors.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/peer_verification.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/sigpipe.hpp>
#include <addrmap/detail/socket_bio.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/detail/tls_link_state.hpp>
#include <addrmap/detail/tls_session_cache.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>

#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>

namespace addrmap::detail {

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
    // The chain as verified (the node's certificate first); a resumed session keeps only the node's certificate.
    if (STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl); chain != nullptr && sk_X509_num(chain) > 0) {
        for (int i = 0; i < sk_X509_num(chain); ++i) info.chain.push_back(validity_of(sk_X509_value(chain, i), i));
    } else {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        if (const X509* own = SSL_get0_peer_certificate(ssl)) info.chain.push_back(validity_of(own, 0));
#else
        if (peer) info.chain.push_back(validity_of(peer.get(), 0));
#endif
    }
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
    const std::string route = describe_route(reported, mapped, limits.seed_number);
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
        throw tcp_connect_error(route, mapped, escaped(tcp->errstr, 200));
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
    state->seed_host.assign(limits.seed_host);
    state->seed_port = limits.seed_port;
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

}  // namespace addrmap::detail
