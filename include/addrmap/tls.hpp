// addrmap/tls.hpp — TLS to cluster nodes with verification always on: tls_context (one shared SSL_CTX), connect_tls
// and tls_connection; the expected name is checked on every connection, and errors say which name failed and why.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/socket_bio.hpp>
#include <addrmap/detail/tls_context_setup.hpp>
#include <addrmap/detail/tls_dial.hpp>
#include <addrmap/detail/tls_link_state.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace addrmap {

class tls_context;
class tls_connection;
namespace detail {
/// For drivers (the async cluster): the shared state behind a tls_context.
struct tls_context_access;
}  // namespace detail

tls_connection connect_tls(const tls_context& context, const node_address& reported, const endpoint& mapped,
                           const dial_limits& limits = {});

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

    /// The caller's own poll() just found the socket readable: the next read takes what is there without polling
    /// again (it still waits, within the deadline, if a TLS record turns out incomplete).
    void expect_input() noexcept { context_.get_deleter().state->io.readable = true; }

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
