// addrmap/detail/async_connection.hpp — one node connection of the async cluster, set up from loop events only:
// non-blocking TCP through hiredis, TLS on our own SSL* (name set), PING, our own peer check, AUTH; then sends.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/async_append.hpp>
#include <addrmap/detail/backoff.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/connect_commands.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/handshake_errors.hpp>
#include <addrmap/detail/peer_verification.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/reply_arena.hpp>
#include <addrmap/detail/sigpipe.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/detail/tls_dial.hpp>
#include <addrmap/detail/tls_link_state.hpp>
#include <addrmap/detail/tls_session_cache.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>
#include <addrmap/tls_options.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis_ssl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

class async_connection;

/// What a connection reports to the cluster that owns it; always on the loop thread, possibly from inside
/// hiredis (a reply callback, or a context being freed).
class async_connection_owner {
public:
    /// Set-up done (TLS verified, AUTH accepted): calls may be sent.
    virtual void connection_ready(async_connection& connection) = 0;
    /// Set-up failed; nothing of any call was written on this connection. Called once, before connection_gone.
    virtual void connection_failed(async_connection& connection, const error& why) = 0;
    /// The reply to something sent with send() (built into a block on a shared connection, by hiredis on a dedicated
    /// one); an empty reply: the connection was lost first, and `written` says whether any of that command's bytes
    /// were handed to the socket.
    virtual void connection_reply(async_connection& connection, void* tag, held_reply reply, bool written) = 0;
    /// hiredis has freed the context (after every reply callback ran): the connection can be deleted once the
    /// current hiredis call has returned.
    virtual void connection_gone(async_connection& connection) = 0;

protected:
    ~async_connection_owner() = default;
};

/// One TLS connection to one node. Not thread-safe (the loop thread only).
class async_connection {
public:
    using clock = std::chrono::steady_clock;
    enum class phase { setting_up, ready, failed, gone };

    /// Everything a connection needs to dial and verify; `mapped` owns its strings.
    struct target {
        std::uint32_t node;
        node_address reported;
        endpoint mapped;  ///< owning (endpoint::owning)
        std::string tcp_address;  ///< the IP to dial (DNS already done)
        std::string user, password;
        bool readonly = false;    ///< send READONLY after AUTH (a replica serving reads)
        std::size_t seed_number = 0;  ///< N > 0: configured seed #N, no topology lists it (messages say so)
        std::string seed_host;        ///< the first seed's host as configured (dial_limits::seed_host)
        std::uint16_t seed_port = 0;
        /// Set when cluster_options::on_connect_commands or on_async_connect is (the cluster's options outlive its
        /// connections): they run once the handshake is known, with `node` (its handshake filled in then).
        const cluster_options* setup_options = nullptr;
        node_info node_row;
        /// A connection of its own for calls that hold it while the server waits (BLPOP, reply_timeout): never its
        /// node's current connection; kept as a spare between such calls.
        bool dedicated = false;
        /// A subscriber's connection (dedicated too): on_async_connect is not run on it, since every reply after its
        /// set-up is read as the subscriber's; it does not count as a blocking command's connection.
        bool subscriber = false;
    };

    async_connection(async_connection_owner& owner, std::shared_ptr<tls_shared> tls, target t, clock::time_point setup_deadline)
        : owner_(owner),
          tls_shared_(std::move(tls)),
          target_(std::move(t)),
          route_(describe_route(target_.reported, target_.mapped, target_.seed_number)),
          setup_deadline_(setup_deadline) {}

    async_connection(const async_connection&) = delete;
    async_connection& operator=(const async_connection&) = delete;
    ~async_connection() = default;  // the owner frees the context (close()) and waits for connection_gone first

    std::uint32_t node() const noexcept { return target_.node; }
    phase state() const noexcept { return phase_; }
    bool ready() const noexcept { return phase_ == phase::ready; }
    clock::time_point setup_deadline() const noexcept { return setup_deadline_; }
    const std::string& route() const noexcept { return route_; }
    /// The connection's SSL (hiredis owns it), nullptr before the handshake starts or once freed.
    SSL* ssl() const noexcept { return ssl_; }
    redisAsyncContext* context() const noexcept { return context_; }
    std::size_t in_flight() const noexcept { return sent_.size(); }
    const std::optional<tls_handshake_info>& handshake() const noexcept { return handshake_; }
    /// After connection_gone: the connection was set up and then broke (not closed by us).
    bool lost_while_ready() const noexcept { return lost_while_ready_; }

    /// Starts TCP + TLS on `loop`. Errors found before any I/O (the loop refuses, OpenSSL refuses the
    /// name) are thrown; everything later arrives through the owner.
    void open(event_loop& loop) {
        const tls_options& options = tls_shared_->options;
        // No hiredis timeouts: the owner's one timer bounds the set-up (setup_deadline) and notices a stalled
        // connection (stall_deadline). hiredis's would re-register the socket with the loop on every command.
        redisOptions ro{};
        REDIS_OPTIONS_SET_TCP(&ro, target_.tcp_address.c_str(), target_.mapped.port());
        ro.options |= REDIS_OPT_NOAUTOFREEREPLIES;  // replies are handed to the caller
        redisAsyncContext* ac = redisAsyncConnectWithOptions(&ro);
        if (ac == nullptr) throw std::bad_alloc();
        if (ac->err != 0) {
            const std::string why = escaped(ac->errstr, 200);
            redisAsyncFree(ac);
            throw tcp_connect_error(route_, target_.mapped, why);
        }
        // From here the context calls back into this connection: through its data and its cleanup.
        context_ = ac;
        ac->data = this;
        ac->dataCleanup = &async_connection::context_freed;
        // A shared connection's replies are built into blocks, O(1) allocations for many (detail/reply_arena.hpp). A
        // dedicated one keeps hiredis's own: it may be lent to plain hiredis code (context_for_key), whose replies
        // hiredis builds and frees.
        if (!target_.dedicated) builder_.build_every_reply_of(ac->c.reader);
        if (loop.attach(ac) != REDIS_OK) {
            discard_context();
            throw error(error_kind::config, route_ + ": the event loop refused the connection (its hiredis adapter's attach failed)");
        }
        if (target_.mapped.dial_host() != target_.tcp_address) {
            char* name = hi_strdup(std::string(target_.mapped.dial_host()).c_str());  // c->tcp.host shows the policy's host
            if (name != nullptr) {
                hi_free(ac->c.tcp.host);
                ac->c.tcp.host = name;
            }
        }

        state_ = std::make_unique<tls_link_state>();
        state_->shared = tls_shared_;
        state_->session_key = tls_session_cache::key(target_.mapped.tls_name(), target_.mapped.dial_host(), target_.mapped.port());
        state_->seed_host = target_.seed_host;
        state_->seed_port = target_.seed_port;
        state_->deadline = setup_deadline_;
        state_->deadline_armed = false;  // non-blocking: the owner's timer bounds the set-up
        ssl_ptr ssl;
        try {
            ssl = new_verifying_ssl(*tls_shared_, route_, std::string(target_.mapped.tls_name()), *state_);
        } catch (...) {
            discard_context();
            throw;
        }
        ERR_clear_error();
        int rc = REDIS_ERR;
        int handshake_errno = 0;
        {
            const sigpipe_guard no_sigpipe;  // the stock BIO hiredis puts on first may write(2) to a failed socket
            errno = 0;
            rc = redisInitiateSSL(&ac->c, ssl.get());
            handshake_errno = errno;
        }
        if (rc != REDIS_OK) {
            // The connect is non-blocking: a refused one shows up here, as the handshake's first write failing.
            const int connect_errno = failed_connect_errno(ac->c.fd, handshake_errno);
            error failure = connect_errno != 0
                                ? tcp_connect_error(route_, target_.mapped, std::strerror(connect_errno))
                                : link_error(route_, target_.mapped, options, *state_, &ac->c, handshake_errno, false);
            ERR_clear_error();
            discard_context();  // `ssl` is still ours and freed on the way out
            throw failure;
        }
        ssl_ = ssl.release();  // hiredis owns it now (redisFree frees it)
        install_socket_bios(ssl_, ac->c.fd, *state_, route_);
        // The first round trip finishes the handshake; nothing of ours (AUTH, a call) is written before
        // verify_peer has checked the certificate on our terms.
        send_internal(kind::ping, "*1\r\n$4\r\nPING\r\n");
    }

    /// Appends a command (ASKING first if asked) to the connection's output; false when the context
    /// no longer takes commands (it is closing: nothing was written).
    bool send(void* tag, std::string_view command, bool asking) {
        if (context_ == nullptr || phase_ != phase::ready) return false;
        if (asking && !send_internal(kind::asking, "*1\r\n$6\r\nASKING\r\n")) return false;
        return append(kind::call, tag, command);
    }

    /// When this connection counts as stalled: commands are waiting for replies and none came for
    /// command_timeout (the owner then closes it: its commands are lost after writing). None when idle. While calls
    /// that take long on the server are out (expect_hold: a BLPOP's wait, a WAIT, reply_timeout), the longest of
    /// their allowances counts when it is longer.
    std::optional<clock::time_point> stall_deadline() const noexcept {
        if (phase_ != phase::ready || sent_.empty() || context_ == nullptr || freeing_) return std::nullopt;
        return saturating_add(last_progress_, std::max(tls_shared_->options.command_timeout, allowance_));
    }
    bool dedicated() const noexcept { return target_.dedicated; }
    bool subscriber() const noexcept { return target_.subscriber; }
    const std::string& tcp_address() const noexcept { return target_.tcp_address; }
    /// The call sent next may take `allowance` before its reply comes (the server waits for it); allowances add up
    /// as a maximum while several are out (two WAITs): the longest counts until every one is back.
    void expect_hold(std::chrono::milliseconds allowance) noexcept {
        ++holds_;
        allowance_ = std::max(allowance_, allowance);
    }
    /// One such call is back; with none left, command_timeout bounds the connection again.
    void hold_over() noexcept {
        if (holds_ > 0 && --holds_ == 0) clear_holds();
    }
    /// No call holds it any more (a dedicated connection between calls).
    void clear_holds() noexcept {
        holds_ = 0;
        allowance_ = std::chrono::milliseconds(0);
    }
    /// Frees it now, `why` told to the call it carries (the call's deadline passed, disconnect()).
    void close_because(std::string why) {
        if (!close_reason_) close_reason_ = std::move(why);
        close();
    }
    /// Closes a stalled connection (see stall_deadline).
    void close_stalled() noexcept {
        stalled_ = true;
        close();
    }

    /// Ends the set-up with `why` (the owner's timer: connect_timeout passed) and closes.
    void abort_setup(const error& why) {
        if (phase_ != phase::setting_up) return;
        fail_setup(why);
    }

    /// Frees the hiredis context now (or, inside one of its callbacks, as soon as the callback returns):
    /// unanswered commands come back through connection_reply with a null reply, then connection_gone.
    void close() noexcept {
        if (context_ == nullptr || freeing_) return;
        closing_ = freeing_ = true;
        if (ssl_ != nullptr && context_->c.err == 0 && phase_ == phase::ready)
            SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);  // keep the session resumable
        redisAsyncFree(context_);  // also after close_when_idle(): freeing overrides draining
    }

    /// Closes once every command sent so far is answered (hiredis's redisAsyncDisconnect); close() still
    /// frees it at once.
    void close_when_idle() noexcept {
        if (context_ == nullptr || closing_) return;
        closing_ = true;
        // Not SSL_set_shutdown here: OpenSSL would read every reply still to come as the end of the stream.
        // context_freed() marks the session resumable once hiredis frees a connection that closed cleanly.
        redisAsyncDisconnect(context_);
    }

    /// The connection is plain hiredis code's from now on (a leased context, always a dedicated connection: its
    /// replies are hiredis's own): hiredis frees every reply after its callback. `last_of_ours` is the last reply of
    /// ours on it: inside this context's callback it is the reply hiredis is handing out, and hiredis frees it when the
    /// callback returns; else it is let go of here.
    void give_replies_to_hiredis(held_reply last_of_ours) noexcept {
        if (context_ == nullptr) return;
        context_->c.flags &= ~REDIS_NO_AUTO_FREE_REPLIES;
        if ((context_->c.flags & REDIS_IN_CALLBACK) != 0) last_of_ours.release_to_hiredis();
    }

    /// Why the connection was lost, for messages: hiredis's words, or a timeout.
    std::string why_lost() const {
        if (close_reason_) return *close_reason_;
        if (stalled_ && allowance_ > tls_shared_->options.command_timeout)
            return "no reply within the wait its command allows (" + std::to_string(allowance_.count()) +
                   " ms: its timeout argument and command_timeout, or reply_timeout), so the connection was closed";
        if (stalled_)
            return "no reply within command_timeout (" + std::to_string(tls_shared_->options.command_timeout.count()) +
                   " ms), so the connection was closed";
        if (context_ == nullptr) return "the connection was closed";
        if (context_->c.err != 0 && context_->c.errstr[0] != '\0') return escaped(context_->c.errstr, 200);
        if (closing_) return "the connection was closed by the client";
        return "the connection was lost";
    }

private:
    enum class kind : std::uint8_t { ping, auth, readonly, setup_command, asking, call };
    struct sent_command {
        kind what;
        void* tag;
        std::uint64_t start;  // byte offsets in everything appended to this connection
        std::uint64_t end;
    };

    bool send_internal(kind what, std::string_view command) { return append(what, nullptr, command); }

    /// Frees a context that never got a command (open() failed): no callback of ours runs.
    void discard_context() noexcept {
        if (context_ == nullptr) return;
        context_->data = nullptr;
        context_->dataCleanup = nullptr;
        redisAsyncFree(context_);
        context_ = nullptr;
    }

    bool append(kind what, void* tag, std::string_view command) {
        if (append_async_command(context_, &async_connection::replied, nullptr, command.data(), command.size()) != REDIS_OK)
            return false;
        if (sent_.empty()) last_progress_ = clock::now();  // the stall clock starts when the connection gets busy
        sent_.push_back({what, tag, appended_, appended_ + command.size()});
        appended_ += command.size();
        return true;
    }

    /// Every reply (and every "lost" null reply) of this connection, in the order sent.
    static void replied(redisAsyncContext* ac, void* raw, void*) {
        ac->c.flags |= REDIS_NO_AUTO_FREE_REPLIES;  // the reply is ours (on_async_connect's replies were hiredis's to free)
        auto* self = static_cast<async_connection*>(ac->data);
        held_reply reply = raw != nullptr ? held_reply::from(*ac->c.reader, static_cast<redisReply*>(raw)) : held_reply();
        if (self == nullptr || self->sent_.empty()) return;  // cannot happen: every command is recorded
        if (reply) self->builder_.finish();  // between two replies: a block grown past its first chunk is let go of
        const sent_command sent = self->sent_.front();
        self->sent_.pop_front();
        if (reply) self->last_progress_ = clock::now();
        bool written = true;
        if (!reply) {
            const std::uint64_t unwritten = ac->c.obuf != nullptr ? sdslen(ac->c.obuf) : 0;
            written = sent.start < self->appended_ - unwritten;
        }
        switch (sent.what) {
            case kind::call: self->owner_.connection_reply(*self, sent.tag, std::move(reply), written); return;
            case kind::asking: return;  // its reply let go of
            case kind::ping:
            case kind::auth:
            case kind::readonly:
            case kind::setup_command: self->setup_step(sent.what, std::move(reply)); return;
        }
    }

    /// PING answered: check the peer, then AUTH, then READONLY, then ready.
    void setup_step(kind step, held_reply reply) {
        if (phase_ != phase::setting_up) return;  // aborted meanwhile: the error was given already
        if (!reply) {
            fail_setup(setup_refusal_ ? *setup_refusal_ : lost_during_setup(step));  // refused, then closed: the refusal
            return;
        }
        try {
            if (step == kind::ping) {
                verify_peer(ssl_, route_, target_.mapped, tls_shared_->options, *state_);
                record_handshake();
                if (!target_.password.empty()) {
                    send_auth();
                    return;
                }
            } else if (step == kind::auth && reply->type == REDIS_REPLY_ERROR) {
                throw error(error_kind::server, "AUTH failed on node " + to_string(target_.reported) + ": " +
                                                    escaped(std::string_view(reply->str, reply->len), 300) +
                                                    " (check cluster_options.user/password)");
            } else if (step == kind::readonly && reply->type == REDIS_REPLY_ERROR) {
                throw error(error_kind::server, "READONLY failed on replica " + to_string(target_.reported) + ": " +
                                                    escaped(std::string_view(reply->str, reply->len), 300));
            } else if (step == kind::setup_command) {
                // on_connect_commands, sent together: the first error reply refuses the connection once all are back.
                const std::string& sent_command = setup_commands_[setup_commands_.size() - setup_left_];
                if (!setup_refusal_ && reply->type == REDIS_REPLY_ERROR)
                    setup_refusal_ = connect_command_refused(target_.reported, sent_command, std::string_view(reply->str, reply->len));
                if (--setup_left_ > 0) return;
                if (setup_refusal_) throw *setup_refusal_;
            }
            if ((step == kind::ping || step == kind::auth) && target_.readonly) {
                send_internal(kind::readonly, "*1\r\n$8\r\nREADONLY\r\n");
                return;
            }
            if (step != kind::setup_command && target_.setup_options != nullptr) {
                target_.node_row.handshake = handshake_;
                setup_commands_ = connect_commands_for(*target_.setup_options, target_.node_row);
                if (!setup_commands_.empty()) {
                    setup_left_ = setup_commands_.size();
                    for (const std::string& command : setup_commands_) send_internal(kind::setup_command, command);
                    return;
                }
            }
            if (target_.setup_options != nullptr && target_.setup_options->on_async_connect && !target_.subscriber &&
                run_async_connect())
                reply.release_to_hiredis();  // replies are hiredis's to free now, this one too (see run_async_connect)
        } catch (const error& e) {
            tls_shared_->sessions.erase(state_->session_key);
            ERR_clear_error();
            fail_setup(e);
            return;
        } catch (...) {  // nothing may unwind through hiredis's C callback (std::bad_alloc formatting a command)
            tls_shared_->sessions.erase(state_->session_key);
            ERR_clear_error();
            fail_setup(error(error_kind::config, "setting up the connection to " + to_string(target_.reported) +
                                                     " failed with a non-addrmap exception"));
            return;
        }
        phase_ = phase::ready;
        owner_.connection_ready(*this);
    }

    /// cluster_options::on_async_connect: the user's commands go on the wire ahead of every call. Their bytes are
    /// counted among ours, so what a lost call had written is still told right (none of theirs is ever re-sent).
    /// True when it sent any: then hiredis frees replies again (REDIS_NO_AUTO_FREE_REPLIES off), so the user's are
    /// freed after their callbacks as plain hiredis code expects, and so is the setup reply being handled now (the
    /// caller lets go of it); replied() turns the flag on again at the first reply of ours, which comes after theirs.
    bool run_async_connect() {
        const std::string where = "cluster_options.on_async_connect on node " + to_string(target_.reported);
        const std::size_t before = context_->c.obuf != nullptr ? sdslen(context_->c.obuf) : 0;
        try {
            target_.setup_options->on_async_connect(context_, target_.node_row);
        } catch (const error& e) {
            throw error(e.kind(), where + ": " + e.message());
        } catch (const std::exception& e) {
            throw error(error_kind::config, where + " threw: " + escaped(e.what(), 300));
        } catch (...) {
            throw error(error_kind::config, where + " threw a non-standard exception");
        }
        if (context_ == nullptr || (context_->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) != 0)
            throw error(error_kind::config, where + " closed the connection (leave it open: the cluster owns it)");
        if ((context_->c.flags & (REDIS_SUBSCRIBED | REDIS_MONITORING)) != 0)
            throw error(error_kind::config, where + " sent SUBSCRIBE or MONITOR: the calls' replies would not be theirs");
        const std::size_t after = context_->c.obuf != nullptr ? sdslen(context_->c.obuf) : 0;
        if (after < before)
            throw error(error_kind::config, where + " wrote to the socket itself (leave the writing to the loop)");
        // The rule on_connect_commands follows: nothing that changes what later replies mean (MULTI, CLIENT REPLY,
        // HELLO, SELECT, ...). Refused before anything of it is written (the connection is closed unwritten).
        for (std::string_view added(context_->c.obuf + before, after - before); !added.empty();) {
            resp_args args(added);
            while (args.size() > 0 && args.next()) {
            }
            if (!args.well_formed() || args.size() > 0) break;  // hiredis formatted it: cannot happen
            const std::size_t length = added.size() - args.rest().size();
            if (std::optional<error> refused = refuse_connection_state_command(added.substr(0, length)))
                throw error(refused->kind(), where + ": " + refused->message());
            added.remove_prefix(length);
        }
        if (after == before) return false;
        appended_ += after - before;
        context_->c.flags &= ~REDIS_NO_AUTO_FREE_REPLIES;
        return true;
    }

    void send_auth() {
        std::vector<const char*> argv{"AUTH"};
        std::vector<std::size_t> lens{4};
        if (!target_.user.empty()) {
            argv.push_back(target_.user.data());
            lens.push_back(target_.user.size());
        }
        argv.push_back(target_.password.data());
        lens.push_back(target_.password.size());
        char* raw = nullptr;
        const long long len = redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), argv.data(), lens.data());
        command_buffer owned(raw);
        if (len < 0 || raw == nullptr) throw std::bad_alloc();
        send_internal(kind::auth, std::string_view(raw, static_cast<std::size_t>(len)));
    }

    error lost_during_setup(kind step) {
        if (aborted_) return *aborted_;  // the owner's timer ended the set-up (hiredis's own timers are never armed)
        const tls_options& options = tls_shared_->options;
        if (step != kind::ping)
            return error(error_kind::connect, "lost the connection to " + to_string(target_.reported) + " while sending " +
                                                  (step == kind::auth       ? "AUTH"
                                                   : step == kind::readonly ? "READONLY"
                                                                            : "cluster_options.on_connect_commands") +
                                                  ": " + why_lost());
        const bool handshake_done = ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1;
        if (ssl_ != nullptr && context_ != nullptr) collect_pending_alert(ssl_, context_->c.fd);
        if (context_ != nullptr && (context_->c.flags & REDIS_CONNECTED) == 0)
            return tcp_connect_error(route_, target_.mapped, escaped(context_->c.errstr, 200));
        if (state_->verify_error == X509_V_OK && ssl_ != nullptr && SSL_get_verify_result(ssl_) != X509_V_OK)
            state_->verify_error = static_cast<int>(SSL_get_verify_result(ssl_));  // a callback of the user's refused
        error e = link_error(route_, target_.mapped, options, *state_, context_ != nullptr ? &context_->c : nullptr, 0,
                             handshake_done);
        ERR_clear_error();
        return e;
    }

    void fail_setup(const error& why) {
        if (phase_ != phase::setting_up) return;
        if (why.kind() == error_kind::timeout) aborted_ = why;
        phase_ = phase::failed;
        if (state_) tls_shared_->sessions.erase(state_->session_key);
        owner_.connection_failed(*this, why);
        close();
    }

    void record_handshake() {
        handshake_ = handshake_info_of(ssl_);
        // From the handshake's first message to its last, as the info callback saw them from loop events (a connect
        // still in progress when the first one was written is included).
        if (state_->handshake_started && state_->handshake_done)
            handshake_->handshake_time =
                std::chrono::duration_cast<std::chrono::microseconds>(*state_->handshake_done - *state_->handshake_started);
    }

    /// hiredis is about to free the context (every reply callback has run).
    static void context_freed(void* data) {
        auto* self = static_cast<async_connection*>(data);
        if (self == nullptr) return;
        if (self->ssl_ != nullptr && self->closing_ && self->context_ != nullptr && self->context_->c.err == 0 &&
            self->phase_ == phase::ready)
            SSL_set_shutdown(self->ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);  // a clean close: resumable
        if (self->ssl_ != nullptr) SSL_set_ex_data(self->ssl_, link_state_index(), nullptr);  // state_ outlives nothing
        self->ssl_ = nullptr;
        self->context_ = nullptr;
        self->lost_while_ready_ = self->phase_ == phase::ready && !self->closing_;
        self->phase_ = phase::gone;
        self->owner_.connection_gone(*self);
    }

    async_connection_owner& owner_;
    std::shared_ptr<tls_shared> tls_shared_;
    target target_;
    std::string route_;
    clock::time_point setup_deadline_;
    phase phase_ = phase::setting_up;
    redisAsyncContext* context_ = nullptr;
    SSL* ssl_ = nullptr;  // owned by hiredis
    std::unique_ptr<tls_link_state> state_;
    reply_builder builder_;  // builds a shared connection's replies; outlives the context (freed before we are)
    std::deque<sent_command> sent_;
    std::uint64_t appended_ = 0;
    bool closing_ = false;  // close_when_idle() or close() was asked
    bool freeing_ = false;  // close() was asked: hiredis frees the context
    bool lost_while_ready_ = false;
    std::size_t holds_ = 0;                   // calls out that may take long (expect_hold until hold_over)
    std::chrono::milliseconds allowance_{0};  // the longest wait among them
    std::optional<std::string> close_reason_;  // close_because()'s words
    bool stalled_ = false;
    clock::time_point last_progress_{};
    std::optional<error> aborted_;
    std::optional<tls_handshake_info> handshake_;
    std::vector<std::string> setup_commands_;  // on_connect_commands, formatted, while their replies come back
    std::size_t setup_left_ = 0;
    std::optional<error> setup_refusal_;
};

}  // namespace addrmap::detail
