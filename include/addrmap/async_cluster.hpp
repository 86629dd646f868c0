// addrmap/async_cluster.hpp — basic_async_cluster<Policy>: the cluster core driven from an event loop (libevent,
// libuv, libev or any loop with a hiredis adapter): many commands in flight, TLS set up and verified from loop events.
//
// Threads: every member runs on the loop's thread, except submit() and submit_argv(), which any thread may call
// (the command is posted to the loop thread; the reply_future refuses to wait on the loop thread itself).
#pragma once

#include <addrmap/async_future.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/async_calls.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/handshake_errors.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/resolve.hpp>
#include <addrmap/detail/seed_number.hpp>
#include <addrmap/detail/topology_refresh.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policy.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/tls.hpp>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstdarg>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace addrmap {

/// A Redis Cluster client on an event loop, every node address resolved through `Policy` and every
/// connection verified (chain and name) — the same decisions as basic_cluster, made by the same cluster_core.
///
/// Lifetime: destroy it on the loop thread, before the loop; never from inside one of its own callbacks
/// (call disconnect() there). The destructor ends every pending call's callback first (error_kind::closed,
/// or unknown_outcome for a command that was written); no callback runs after it returns.
template <class Policy = identity>
class basic_async_cluster final : private loop_events, private detail::async_connection_owner {
    ADDRMAP_CHECK_POLICY(Policy);

public:
    using policy_type = Policy;
    using clock = std::chrono::steady_clock;

    /// Parses the seeds and sets up TLS (throws error{config}); no I/O until connect() or a command.
    basic_async_cluster(const cluster_options& options, std::unique_ptr<event_loop> loop, Policy policy = Policy{})
        : basic_async_cluster(options, tls_context(options.tls), std::move(loop), std::move(policy)) {}

    /// The same over a shared tls_context (one CA load and one session cache for several clusters); its
    /// options replace `options.tls`.
    basic_async_cluster(const cluster_options& options, tls_context tls, std::unique_ptr<event_loop> loop,
                        Policy policy = Policy{})
        : options_(options),
          policy_(std::move(policy)),
          tls_(std::move(tls)),
          core_(options_, [this](const node_address& address) { return detail::policy_access::map(policy_, address); }),
          loop_(std::move(loop)) {
        if (!loop_) throw error(error_kind::config, "basic_async_cluster: the event loop binding is null");
        options_.tls = tls_.options();
        mailbox_ = std::make_shared<detail::async_mailbox>(loop_.get());
        loop_->start(static_cast<loop_events&>(*this));
    }

    basic_async_cluster(const basic_async_cluster&) = delete;
    basic_async_cluster& operator=(const basic_async_cluster&) = delete;

    ~basic_async_cluster() {
        shutting_down_ = true;
        for (auto& job : mailbox_->close()) job(false);
        loop_->stop();
        for (auto& link : links_) link->close();  // unanswered commands come back through connection_reply
        fail_waiting("the cluster was destroyed");
        links_.clear();
    }

    // ---- set-up ---------------------------------------------------------------------------------------

    /// Reads the topology from the seeds, then connects to every master; `done` gets nullptr, or the error
    /// (as basic_cluster::connect throws it: a seed's own error when there is one seed, else one listing
    /// each seed's; a master whose certificate or mapping fails verification). Commands need not wait for it.
    void connect(std::function<void(const error*)> done) {
        if (closed_) {
            const error e(error_kind::closed, "connect() after disconnect()");
            if (done) done(&e);
            return;
        }
        connect_waiters_.push_back(std::move(done));
        connect_masters_.clear();
        connect_error_.reset();
        core_.request_refresh();
        if (!refresh_) start_refresh(clock::now());
        rearm();
    }

    /// Called with every error that concerns no single command: a node whose TLS or AUTH set-up failed
    /// (the commands waiting for it get their own error too), an exception thrown by a callback.
    void on_error(std::function<void(const error&)> handler) { error_handler_ = std::move(handler); }

    // ---- commands (loop thread) -----------------------------------------------------------------------

    /// printf-style command (hiredis format) routed by `key`.
    void command(std::string_view key, async_callback done, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        detail::check_formatted(raw, format);
        start(static_cast<int>(key_slot(key)), std::move(raw), {}, std::move(done));
    }
    /// The same with per-call settings (deadline; whether it may be repeated after it may have run).
    void command(const call_options& call, std::string_view key, async_callback done, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        detail::check_formatted(raw, format);
        start(static_cast<int>(key_slot(key)), std::move(raw), call, std::move(done));
    }
    /// argv command routed by `key`; the first argument is the command name.
    void command_argv(std::string_view key, const std::vector<std::string_view>& args, async_callback done,
                      const call_options& call = {}) {
        start(static_cast<int>(key_slot(key)), detail::format_argv(args), call, std::move(done));
    }
    /// A keyless command (PING, INFO, ...) on a live master.
    void command_any(async_callback done, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        detail::check_formatted(raw, format);
        start(-1, std::move(raw), {}, std::move(done));
    }

    // ---- commands (any thread) ------------------------------------------------------------------------

    /// Thread-safe: formats here, runs on the loop thread. See reply_future for waiting.
    reply_future submit(std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return post_call(static_cast<int>(key_slot(key)), detail::to_command(raw, format), {});
    }
    /// Thread-safe argv form.
    reply_future submit_argv(std::string_view key, const std::vector<std::string_view>& args, const call_options& call = {}) {
        return post_call(static_cast<int>(key_slot(key)), detail::format_argv(args), call);
    }

    // ---- shutting down --------------------------------------------------------------------------------

    /// Stops taking commands: those not sent yet end with error_kind::closed now, those in flight get their
    /// replies, then every connection closes and `done` runs. Later commands end with error_kind::closed.
    void disconnect(std::function<void()> done = {}) {
        closed_ = true;
        if (done) disconnect_waiters_.push_back(std::move(done));
        if (iterating_)
            pump_again_ = true;  // pump() ends the queued calls after its pass
        else
            fail_waiting("disconnect() was called");
        refresh_.reset();  // its answer, if one comes, is dropped; the machine ends the refresh in the core
        connect_masters_.clear();
        const error stopped(error_kind::closed, "disconnect() was called before connect() finished");
        connect_done(&stopped);
        for (auto& link : links_) {
            if (link->state() == detail::async_connection::phase::ready)
                link->close_when_idle();
            else
                link->close();
        }
        maybe_disconnected();
    }

    // ---- inspection -----------------------------------------------------------------------------------

    /// The node table, as basic_cluster::nodes() gives it.
    std::vector<node_info> nodes() const {
        return node_table(core_, [this](node_id id) -> std::optional<tls_handshake_info> {
            if (const detail::async_connection* link = link_of(id); link != nullptr && link->ready()) return link->handshake();
            return std::nullopt;
        });
    }
    const cluster_stats& stats() const noexcept { return core_.stats(); }
    const cluster_core& core() const noexcept { return core_; }
    const Policy& policy() const noexcept { return policy_; }
    /// Calls whose callback has not run yet.
    std::size_t pending() const noexcept { return pending_; }

private:
    using async_call = detail::async_call;
    struct node_conn {
        detail::async_connection* link = nullptr;  // the current one (others may still be closing)
        bool resolving = false;
        std::uint64_t dns_ticket = 0;
        std::vector<std::string> addresses;
        std::size_t next_address = 0;
        clock::time_point setup_deadline{};
    };
    /// The refresh in progress: the machine (detail/topology_refresh.hpp) decides; this holds the I/O side of the
    /// current ask (its tag, whether it was written, when it is given up on).
    struct refresh_job {
        detail::topology_refresh machine;
        std::uint64_t attempt = 0;
        bool sent = false;
        clock::time_point attempt_deadline{};
        refresh_job(cluster_core& core, bool& lacks_shards, clock::time_point now) : machine(core, lacks_shards, now) {}
        node_id asking() const noexcept { return machine.asking(); }
    };

    // ---- calls ----------------------------------------------------------------------------------------

    void start(int slot, std::string command, const call_options& call, async_callback done) {
        if (closed_ || shutting_down_) {
            if (done) invoke(done, outcome(error(error_kind::closed, "the cluster is disconnected: the command was not sent")));
            return;
        }
        async_call* c = calls_.make();
        c->command = std::move(command);
        start(c, slot, call, std::move(done));
    }
    void start(int slot, detail::raw_command raw, const call_options& call, async_callback done) {
        if (closed_ || shutting_down_) {
            if (done) invoke(done, outcome(error(error_kind::closed, "the cluster is disconnected: the command was not sent")));
            return;
        }
        async_call* c = calls_.make();
        c->raw = std::move(raw.bytes);
        c->raw_length = static_cast<std::size_t>(raw.length);
        start(c, slot, call, std::move(done));
    }
    void start(async_call* c, int slot, const call_options& call, async_callback done) {
        const auto now = clock::now();
        try {
            c->state = core_.start(slot, c->text(), call, now);
        } catch (const error& e) {  // refused before sending (a bad option, SUBSCRIBE, ...): nothing was sent
            calls_.release(c);
            if (done) invoke(done, outcome(e));
            return;
        }
        c->callback = std::move(done);
        c->seq = ++next_seq_;
        ++pending_;
        calls_.track_deadline(c, call.deadline.has_value());
        arm_by(c->state.deadline);
        if (!calls_.slot_has_waiting(slot)) {
            // No older call of its slot is queued: route it now (the common case sends at once).
            const auto wake_before = wake_at_;
            if (route(c, now)) return;
            calls_.enqueue(c);
            if (wake_at_ < wake_before) rearm();
            return;
        }
        calls_.enqueue(c);  // behind an older call of its slot; pump() moves them in order
    }

    /// Ends every queued call with error_kind::closed (disconnect, destruction).
    void fail_waiting(const char* why) {
        while (!calls_.waiting().empty()) {
            async_call* c = calls_.waiting().begin()->second;
            calls_.dequeue(calls_.waiting().begin());
            finish(c, outcome(error(error_kind::closed, std::string(why) + " before " + command_name_of(*c) +
                                                            " was sent: it did not run")));
        }
    }
    /// Runs pump() from the loop soon, once for everything that happened in this turn (a read event's
    /// replies), instead of once per reply.
    void request_pump() {
        if (pump_requested_ || shutting_down_) return;
        pump_requested_ = true;
        loop_->wake_up();
    }

    reply_future post_call(int slot, std::string command, const call_options& call) {
        auto promise = std::make_shared<std::promise<outcome>>();
        reply_future future(promise->get_future(), mailbox_);
        mailbox_->post([this, slot, command = std::move(command), call, promise](bool run) mutable {
            if (!run) {
                promise->set_value(outcome(error(error_kind::closed, "the cluster was destroyed before the command was sent: it did not run")));
                return;
            }
            start(slot, std::move(command), call, [promise](outcome o) { promise->set_value(std::move(o)); });
        });
        return future;
    }

    bool send_on(detail::async_connection& link, async_call* c, const core_decision& d) {
        if (!link.send(c, c->text(), d.asking)) return false;
        core_.on_send(c->state);
        ++core_.stats().round_trips;
        calls_.sent(c, &link);
        c->in_flight = true;
        c->sent_to = d.node;
        c->sent_on = &link;
        if (link.in_flight() <= 2)  // it was idle: its stall clock starts now
            if (const auto stall = link.stall_deadline()) arm_by(*stall);
        return true;
    }

    /// Ends a call: its callback runs (now, or after the current pass over the queue).
    void finish(async_call* c, outcome o) {
        calls_.untrack_deadline(c);
        c->finished = true;
        --pending_;
        if (iterating_) {
            deferred_.emplace_back(c, std::move(o));
            return;
        }
        complete(c, std::move(o));
    }
    void complete(async_call* c, outcome o) {
        async_callback cb = std::move(c->callback);
        if (!c->in_flight) calls_.release(c);
        if (cb) invoke(cb, std::move(o));
    }
    void invoke(const async_callback& cb, outcome o) {
        try {
            cb(std::move(o));
        } catch (const std::exception& e) {
            report(error(error_kind::config, std::string("a command's callback threw: ") + detail::escaped(e.what(), 300)));
        } catch (...) {
            report(error(error_kind::config, "a command's callback threw a non-standard exception"));
        }
    }
    void report(const error& e) {
        if (!error_handler_) return;
        try {
            error_handler_(e);
        } catch (...) {
            // an error handler that throws has nowhere to report to
        }
    }

    /// Calls past their deadline while in flight end now (a late reply is dropped); waiting ones end in pump().
    void expire(clock::time_point now) {
        for (async_call* c : calls_.due(now)) {
            if (!c->in_flight || c->finished) continue;
            core_.on_expired_in_flight(c->state, c->sent_to, now);
            finish(c, outcome(*c->state.failure));
        }
    }

    // ---- the queue ------------------------------------------------------------------------------------

    /// Routes every waiting call, oldest first. A slot with an older call still waiting is held, so calls of
    /// one slot leave in the order they were made, also after a redirect or a retry.
    void pump() {
        if (pumping_ || shutting_down_) {
            pump_again_ = true;
            return;
        }
        pumping_ = true;
        do {
            pump_again_ = false;
            const auto now = clock::now();
            held_.reset();
            wake_at_ = clock::time_point::max();
            iterating_ = true;
            for (auto it = calls_.waiting().begin(); it != calls_.waiting().end();) {
                async_call* c = it->second;
                const int slot = c->state.slot;
                if (slot >= 0 && held_.test(static_cast<std::size_t>(slot))) {
                    if (now >= c->state.deadline) {  // held behind an older call, out of time: end it
                        core_.next(c->state, now);
                        it = calls_.dequeue(it);
                        finish(c, outcome(*c->state.failure));
                    } else {
                        ++it;
                    }
                    continue;
                }
                if (route(c, now)) {
                    it = calls_.dequeue(it);
                } else {
                    if (slot >= 0) held_.set(static_cast<std::size_t>(slot));
                    ++it;
                }
            }
            iterating_ = false;
            auto done = std::exchange(deferred_, {});
            for (auto& [c, o] : done) complete(c, std::move(o));
            if (closed_) fail_waiting("disconnect() was called");
            for (auto& [n, why] : std::exchange(deferred_failures_, {})) node_failed(n, why);
        } while (pump_again_);
        pumping_ = false;
        rearm();
    }

    /// One waiting call: true when it left the queue (sent, or ended).
    bool route(async_call* c, clock::time_point now) {
        const int slot = c->state.slot;
        if (calls_.draining(slot) && now < c->state.deadline) {
            // A call of this slot was redirected or lost while others were still out: wait until they are
            // back, so none of them is sent after a newer call.
            wake_at_ = std::min(wake_at_, c->state.deadline);
            return false;
        }
        for (int attempt = 0; attempt < 3; ++attempt) {
            const core_decision d = core_.next(c->state, now);
            switch (d.what) {
                case core_decision::kind::fail: finish(c, outcome(*c->state.failure)); return true;
                case core_decision::kind::wait: wake_at_ = std::min(wake_at_, d.until); return false;
                case core_decision::kind::refresh:
                    start_refresh(now);
                    continue;  // route on the current map meanwhile (next() no longer says refresh)
                case core_decision::kind::send: break;
            }
            detail::async_connection* link = link_of(d.node);
            if (link != nullptr && on_its_way_out(*link)) {
                conns_[d.node].link = nullptr;  // dial a fresh one
                link = nullptr;
            }
            if (link == nullptr && !conn(d.node).resolving) {
                try {
                    dial(d.node, now);
                } catch (const error& e) {
                    if (e.kind() != error_kind::closed) report(e);
                    if (core_.on_not_sent(c->state, d.node, e, now) == core_verdict::fail) {
                        finish(c, outcome(*c->state.failure));
                        return true;
                    }
                    continue;
                }
                link = link_of(d.node);
            }
            if (link == nullptr || !link->ready()) {
                c->waiting_for = d.node;
                return false;
            }
            c->waiting_for = no_node;
            if (!c->state.replica_read && calls_.out_on_another_connection(slot, link) && now < c->state.deadline) {
                // An older call of the slot is still out elsewhere (the old owner, a connection being replaced):
                // sent now, this one could run first. Wait until the older ones are back.
                calls_.hold_for_order(slot);
                wake_at_ = std::min(wake_at_, c->state.deadline);
                return false;
            }
            if (send_on(*link, c, d)) return true;
            conns_[d.node].link = nullptr;
        }
        return false;
    }

    // ---- connections ----------------------------------------------------------------------------------

    node_conn& conn(node_id n) {
        if (conns_.size() <= n) conns_.resize(n + 1);
        return conns_[n];
    }
    detail::async_connection* link_of(node_id n) const noexcept { return n < conns_.size() ? conns_[n].link : nullptr; }
    /// Set up once, and now broken or closing (a link still being set up is not).
    static bool on_its_way_out(const detail::async_connection& link) noexcept {
        return link.state() != detail::async_connection::phase::setting_up && !usable(link);
    }
    static bool usable(const detail::async_connection& link) noexcept {
        const redisAsyncContext* ac = link.context();
        return link.ready() && ac != nullptr && ac->c.err == 0 &&
               (ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) == 0;
    }

    /// Maps node `n` through the policy and starts its connection (DNS on a helper thread if the dial host
    /// is a name). Throws what the mapping throws.
    void dial(node_id n, clock::time_point now) {
        if (closed_ || shutting_down_)
            throw error(error_kind::closed, "the cluster is disconnected: no new connection is made");
        const core_node& node = core_.ensure_mapped(n);
        const endpoint mapped(node.dial_host, node.port, node.tls_name);
        detail::check_mapping(detail::describe_route(node.reported, mapped, detail::configured_seed_number(core_, n)), mapped);
        node_conn& nc = conn(n);
        nc.setup_deadline = now + options_.tls.connect_timeout;
        arm_by(nc.setup_deadline);  // the dial's own timer: whoever dials, it ends by connect_timeout
        nc.addresses.clear();
        nc.next_address = 0;
        const host_kind kind = classify_host(node.dial_host);
        if (kind == host_kind::ipv4 || kind == host_kind::ipv6) {
            nc.addresses.push_back(node.dial_host);
            if (std::optional<error> failed = open_next(n)) throw *failed;
            return;
        }
        nc.resolving = true;
        const std::uint64_t ticket = ++next_dns_ticket_;
        nc.dns_ticket = ticket;
        std::weak_ptr<detail::async_mailbox> mailbox = mailbox_;
        std::string host = node.dial_host;
        try {
            std::thread([mailbox, host, n, ticket, this] {
                detail::dns_answer answer = detail::lookup_blocking(host);
                if (auto box = mailbox.lock())
                    box->post([this, n, ticket, host, answer = std::move(answer)](bool run) mutable {
                        if (run) resolved(n, ticket, host, std::move(answer));
                    });
            }).detach();
        } catch (const std::system_error&) {
            nc.resolving = false;
            throw error(error_kind::connect, "cannot start a DNS lookup of " + detail::quoted(host) + " (no thread available)");
        }
    }

    void resolved(node_id n, std::uint64_t ticket, const std::string& host, detail::dns_answer answer) {
        if (n >= conns_.size() || !conns_[n].resolving || conns_[n].dns_ticket != ticket) return;  // timed out meanwhile
        if (closed_) {
            conns_[n].resolving = false;
            return;
        }
        node_conn& nc = conns_[n];
        nc.resolving = false;
        if (answer.status != 0 || answer.addresses.empty()) {
            node_failed(n, detail::dns_failure(host, answer));
            return;
        }
        nc.addresses = std::move(answer.addresses);
        nc.next_address = 0;
        if (std::optional<error> failed = open_next(n)) node_failed(n, *failed);
    }

    /// Opens a link to the next address of node `n` that can be dialed; the error when none can.
    std::optional<error> open_next(node_id n, std::optional<error> last = std::nullopt) {
        node_conn& nc = conn(n);
        while (nc.next_address < nc.addresses.size() && core_.exists(n)) {
            const core_node& node = core_.node(n);
            detail::async_connection::target t{n, node.reported, endpoint::owning(node.dial_host, node.port, node.tls_name),
                                         nc.addresses[nc.next_address++], options_.user, options_.password,
                                         node.role == node_role::replica,  // a replica serving reads: READONLY
                                         detail::configured_seed_number(core_, n)};
            auto link = std::make_unique<detail::async_connection>(static_cast<detail::async_connection_owner&>(*this), detail::tls_context_access::shared(tls_),
                                                             std::move(t), nc.setup_deadline);
            try {
                link->open(*loop_);
            } catch (const error& e) {
                last = e;
                if (cluster_core::is_reachability_error(e)) continue;
                break;
            }
            nc.link = link.get();
            links_.push_back(std::move(link));
            return std::nullopt;
        }
        if (last) return last;
        return error(error_kind::connect, "no address left to dial for " +
                                              (core_.exists(n) ? to_string(core_.node(n).reported) : std::string("a node")));
    }

    /// Node `n` could not be connected: the calls waiting for it are told (the core decides), and so
    /// are a refresh and connect() waiting for it.
    void node_failed(node_id n, const error& why) {
        if (iterating_) {  // never while pump() walks the queue
            deferred_failures_.emplace_back(n, why);
            pump_again_ = true;
            return;
        }
        node_conn& nc = conn(n);
        nc.link = nullptr;
        nc.resolving = false;
        const auto now = clock::now();
        core_.on_dial_failed(n, why, clock::now());
        report(why);
        iterating_ = true;
        for (auto it = calls_.waiting().begin(); it != calls_.waiting().end();) {
            async_call* c = it->second;
            if (c->waiting_for != n) {
                ++it;
                continue;
            }
            c->waiting_for = no_node;
            if (core_.on_not_sent(c->state, n, why, now) == core_verdict::fail) {
                it = calls_.dequeue(it);
                finish(c, outcome(*c->state.failure));
            } else {
                ++it;
            }
        }
        iterating_ = false;
        auto done = std::exchange(deferred_, {});
        for (auto& [c, o] : done) complete(c, std::move(o));
        if (refresh_ && refresh_->asking() == n) refresh_attempt_failed(why);
        connect_progress(n, &why);
        request_pump();
    }

    // detail::async_connection_owner
    void connection_ready(detail::async_connection& link) override {
        const node_id n = link.node();
        if (!core_.exists(n)) return;
        core_.on_connected(n);
        for (auto& [seq, c] : calls_.waiting())
            if (c->waiting_for == n) c->waiting_for = no_node;
        if (refresh_ && refresh_->asking() == n && !refresh_->sent) send_refresh(link);
        connect_progress(n, nullptr);
        request_pump();
    }
    void connection_failed(detail::async_connection& link, const error& why) override {
        const node_id n = link.node();
        if (n >= conns_.size() || conns_[n].link != &link) return;
        conns_[n].link = nullptr;
        if (shutting_down_ || closed_) return;
        const bool retryable = cluster_core::is_reachability_error(why);
        if (retryable && conns_[n].next_address < conns_[n].addresses.size() && clock::now() < conns_[n].setup_deadline) {
            if (std::optional<error> failed = open_next(n, why)) node_failed(n, *failed);
            return;
        }
        node_failed(n, why);
    }
    void connection_reply(detail::async_connection& link, void* tag, redisReply* raw, bool written) override {
        mailbox_->seen_on_loop_thread();
        reply_ptr reply(raw);
        auto* c = static_cast<async_call*>(tag);
        c->in_flight = false;
        if (c->refresh_attempt == 0 && calls_.came_back(c))
            request_pump();  // every older call of the slot is back: the queue may move
        if (c->refresh_attempt != 0) {
            const std::uint64_t attempt = c->refresh_attempt;
            calls_.release(c);
            refresh_reply(link, attempt, std::move(reply));
            return;
        }
        if (c->finished) {  // ended at its deadline; this late reply is dropped
            calls_.release(c);
            return;
        }
        const node_id n = link.node();
        if (shutting_down_) {
            finish(c, reply ? outcome(std::move(reply))
                            : outcome(written ? error(error_kind::unknown_outcome,
                                                      "the cluster was destroyed while " + command_name_of(*c) +
                                                          " was in flight to " + link.route() + ": it may have run")
                                              : error(error_kind::closed, "the cluster was destroyed before " +
                                                                              command_name_of(*c) + " was written: it did not run")));
            return;
        }
        const auto now = clock::now();
        core_verdict verdict;
        if (reply) {
            verdict = core_.on_reply(c->state, n, *reply, now);
        } else {
            if (conn(n).link == &link) conns_[n].link = nullptr;  // lost: the next send dials afresh
            if (!written) {
                core_.on_disconnected(n);
                verdict = core_.on_not_sent(c->state, n,
                                            error(error_kind::connect, "lost the connection to " + link.route() +
                                                                           " before the command was written: " + link.why_lost()),
                                            now);
            } else {
                verdict = core_.on_lost_after_write(c->state, n, link.why_lost(), now);
            }
        }
        if (verdict == core_verdict::done) {
            finish(c, outcome(std::move(reply)));
        } else if (verdict == core_verdict::fail) {
            finish(c, outcome(*c->state.failure));
        } else if (closed_) {
            finish(c, outcome(error(error_kind::closed, "disconnect() was called before " + command_name_of(*c) +
                                                            " could be sent again: " + c->state.last_problem)));
        } else {
            calls_.hold_behind_calls_out(c->state.slot);
            calls_.enqueue(c);
            request_pump();
        }
    }
    void connection_gone(detail::async_connection& link) override {
        const node_id n = link.node();
        if (n < conns_.size() && conns_[n].link == &link) conns_[n].link = nullptr;
        if (core_.exists(n)) {
            if (link.lost_while_ready())
                core_.on_disconnected(n);
            else if (link.state() != detail::async_connection::phase::failed)
                core_.on_closed(n);
        }
        gone_.push_back(&link);
        if (shutting_down_) return;
        loop_->wake_up();  // the link is deleted there, once hiredis has returned
        maybe_disconnected();
        if (!closed_) request_pump();
    }

    /// Deletes links hiredis is done with (never from inside a hiredis call).
    void collect_gone() {
        if (gone_.empty()) return;
        gone_.clear();
        links_.erase(std::remove_if(links_.begin(), links_.end(),
                                    [](const auto& l) { return l->state() == detail::async_connection::phase::gone; }),
                     links_.end());
    }

    void maybe_disconnected() {
        if (!closed_ || disconnect_waiters_.empty()) return;
        for (const auto& link : links_)
            if (link->state() != detail::async_connection::phase::gone) return;
        for (auto& done : std::exchange(disconnect_waiters_, {})) done();
    }

    // ---- topology -------------------------------------------------------------------------------------

    void start_refresh(clock::time_point now) {
        if (refresh_ || closed_) return;
        refresh_.emplace(core_, no_cluster_shards_, now);
        on_refresh_step(refresh_->machine.start(now));
    }

    /// Does what the machine asks: ask a node (dialing it if needed), or end the refresh.
    void on_refresh_step(detail::topology_refresh::step step) {
        using kind = detail::topology_refresh::step;
        while (refresh_ && step == kind::ask) {
            const node_id n = refresh_->asking();
            const auto now = clock::now();
            refresh_->attempt = ++next_refresh_attempt_;
            refresh_->sent = false;
            refresh_->attempt_deadline = now + options_.tls.connect_timeout + options_.tls.command_timeout;
            arm_by(refresh_->attempt_deadline);
            detail::async_connection* link = link_of(n);
            if (link != nullptr && on_its_way_out(*link)) {
                conns_[n].link = nullptr;
                link = nullptr;
            }
            if (link == nullptr && !conn(n).resolving) {
                try {
                    dial(n, now);
                } catch (const error& e) {  // refused at once (a loopback handshake can finish inside open())
                    core_.on_dial_failed(n, e, clock::now());
                    step = refresh_->machine.on_failure(e, clock::now());
                    if (e.kind() != error_kind::closed) report(e);  // the handler may disconnect(): re-check below
                    if (!refresh_) return;
                    continue;
                }
                if (!refresh_ || refresh_->asking() != n) return;  // the dial's own events moved the refresh on
                link = link_of(n);
            }
            if (link != nullptr && link->ready()) send_refresh(*link);
            return;  // the answer, the link's set-up, or the attempt deadline moves it on
        }
        if (refresh_) end_refresh(step == kind::installed);
    }

    void send_refresh(detail::async_connection& link) {
        async_call* c = calls_.make();
        c->refresh_attempt = refresh_->attempt;
        c->command = std::string(refresh_->machine.query().command());
        if (!link.send(c, c->command, false)) {
            calls_.release(c);
            refresh_attempt_failed(error(error_kind::connect, "the connection to " + link.route() + " closed before the topology could be asked"));
            return;
        }
        c->in_flight = true;
        refresh_->sent = true;
        ++core_.stats().round_trips;
    }

    void refresh_reply(detail::async_connection& link, std::uint64_t attempt, reply_ptr reply) {
        if (!refresh_ || refresh_->attempt != attempt || shutting_down_) return;  // an attempt given up on
        const node_id n = link.node();
        if (!reply) {
            const std::string name = core_.exists(n) ? to_string(core_.node(n).reported) : link.route();
            if (conn(n).link == &link) conns_[n].link = nullptr;
            core_.on_disconnected(n);
            refresh_attempt_failed(error(error_kind::connect, "lost the connection to " + name + " while asking " +
                                                                  refresh_->machine.query().name() + ": " + link.why_lost()));
            return;
        }
        const auto step = refresh_->machine.on_reply(*reply, clock::now());
        if (step == detail::topology_refresh::step::ask && refresh_->asking() == n) {
            refresh_->attempt = ++next_refresh_attempt_;  // CLUSTER SLOTS next, on the same connection
            refresh_->attempt_deadline = clock::now() + options_.tls.command_timeout;
            arm_by(refresh_->attempt_deadline);
            send_refresh(link);
            return;
        }
        on_refresh_step(step);
    }

    void refresh_attempt_failed(const error& e) { on_refresh_step(refresh_->machine.on_failure(e, clock::now())); }

    void end_refresh(bool installed) {
        const std::vector<node_id> forgotten = refresh_->machine.forgotten();
        const std::string failures = refresh_->machine.failures();
        const error first = refresh_->machine.first_error();
        refresh_.reset();  // ended in the core by the machine
        for (node_id gone : forgotten)
            if (detail::async_connection* old = link_of(gone)) {
                conns_[gone].link = nullptr;
                old->close_when_idle();
            }
        if (!installed) {
            if (!connect_waiters_.empty()) {
                connect_masters_.clear();
                if (core_.seed_count() == 1 && !core_.has_topology()) {
                    connect_done(&first);
                } else {
                    const error all(error_kind::connect, (core_.has_topology() ? "no node could be asked for the topology:"
                                                                               : "no seed could be used to discover the cluster:") +
                                                             failures);
                    connect_done(&all);
                }
            }
        } else if (!connect_waiters_.empty() && !closed_) {
            // connect(): dial every master; done when each is up or failed.
            const auto now = clock::now();
            for (node_id n = 0; n < core_.id_limit(); ++n) {
                if (!core_.exists(n) || !core_.node(n).in_topology || core_.node(n).role != node_role::master) continue;
                const detail::async_connection* link = link_of(n);
                if (link != nullptr && link->ready()) continue;
                connect_masters_.push_back(n);
                if (link == nullptr && !conn(n).resolving) {
                    try {
                        dial(n, now);
                    } catch (const error& e) {
                        core_.on_dial_failed(n, e, clock::now());
                        report(e);
                        connect_progress(n, &e);
                    }
                }
            }
            connect_progress(no_node, nullptr);
        }
        request_pump();
    }

    void connect_progress(node_id n, const error* failed) {
        if (connect_waiters_.empty()) return;
        const auto it = std::find(connect_masters_.begin(), connect_masters_.end(), n);
        if (it != connect_masters_.end()) {
            connect_masters_.erase(it);
            if (failed != nullptr && !cluster_core::is_reachability_error(*failed) &&
                !connect_error_)
                connect_error_ = *failed;
        }
        if (connect_masters_.empty() && !refresh_ && core_.has_topology())
            connect_done(connect_error_ ? &*connect_error_ : nullptr);
    }
    void connect_done(const error* e) {
        for (auto& done : std::exchange(connect_waiters_, {})) {
            if (!done) continue;
            try {
                done(e);
            } catch (...) {
                report(error(error_kind::config, "connect()'s callback threw"));
            }
        }
    }

    // ---- the loop -------------------------------------------------------------------------------------

    void on_timer() override {
        mailbox_->seen_on_loop_thread();
        timer_armed_ = false;
        collect_gone();
        const auto now = clock::now();
        expire(now);
        // Look first, act after: acting runs callbacks, which may dial (growing conns_ and links_).
        std::vector<node_id> dns_late;
        std::vector<detail::async_connection*> stalled, setup_late;
        for (node_id n = 0; n < conns_.size(); ++n)
            if (conns_[n].resolving && now >= conns_[n].setup_deadline) dns_late.push_back(n);
        for (const auto& link : links_) {
            if (const auto stall = link->stall_deadline(); stall && now >= *stall) stalled.push_back(link.get());
            if (link->state() == detail::async_connection::phase::setting_up && link->context() != nullptr &&
                now >= link->setup_deadline())
                setup_late.push_back(link.get());
        }
        for (node_id n : dns_late) {
            if (!conns_[n].resolving) continue;
            conns_[n].resolving = false;
            node_failed(n, error(error_kind::timeout, "the DNS lookup of " +
                                                          detail::quoted(core_.exists(n) ? core_.node(n).dial_host : std::string()) +
                                                          " did not finish within connect_timeout"));
        }
        for (detail::async_connection* link : stalled) {
            if (link_of(link->node()) == link) conns_[link->node()].link = nullptr;  // the next command dials afresh
            link->close_stalled();  // its unanswered commands come back as lost after writing
        }
        for (detail::async_connection* link : setup_late)
            link->abort_setup(error(
                error_kind::timeout,
                link->route() + ": the TCP connect, TLS handshake and first round trip did not complete within "
                                "connect_timeout (" + std::to_string(options_.tls.connect_timeout.count()) +
                    " ms); check that the node is up, that the port is its tls-port, and that it is not overloaded."));
        if (refresh_ && now >= refresh_->attempt_deadline)
            refresh_attempt_failed(error(error_kind::timeout, "no answer to the topology request within connect_timeout + command_timeout"));
        pump();
    }
    void on_wakeup() override {
        mailbox_->seen_on_loop_thread();
        collect_gone();
        for (auto& job : mailbox_->take()) job(true);
        if (pump_requested_) {
            pump_requested_ = false;
            pump();
        }
    }

    void arm(clock::time_point at) {
        const auto now = clock::now();
        const auto delay = at <= now ? std::chrono::milliseconds(0)
                                     : std::chrono::ceil<std::chrono::milliseconds>(at - now);
        loop_->arm_timer(std::min(delay, std::chrono::milliseconds(24 * 3600 * 1000)));
        timer_armed_ = true;
        timer_at_ = at;
    }
    /// Makes the timer fire by `at` (one loop timer serves every deadline: on_timer looks at all of them).
    void arm_by(clock::time_point at) {
        if (!shutting_down_ && (!timer_armed_ || at < timer_at_)) arm(at);
    }
    /// Arms the timer for the earliest thing due (it may fire early: on_timer looks and re-arms).
    void rearm() {
        if (shutting_down_) return;
        clock::time_point next = wake_at_;
        if (const auto deadline = calls_.earliest_deadline()) next = std::min(next, *deadline);
        for (const node_conn& nc : conns_)
            if (nc.resolving) next = std::min(next, nc.setup_deadline);
        for (const auto& link : links_) {
            if (link->state() == detail::async_connection::phase::setting_up) next = std::min(next, link->setup_deadline());
            if (const auto stall = link->stall_deadline()) next = std::min(next, *stall);
        }
        if (refresh_) next = std::min(next, refresh_->attempt_deadline);
        if (next == clock::time_point::max()) return;
        if (!timer_armed_ || next < timer_at_) arm(next);
    }

    static std::string command_name_of(const async_call& c) {
        std::string name = std::string(command_name(c.state.command));
        return name.empty() ? std::string("the command") : detail::escaped(name, 40);
    }

    cluster_options options_;
    Policy policy_;
    tls_context tls_;
    cluster_core core_;
    std::unique_ptr<event_loop> loop_;
    std::shared_ptr<detail::async_mailbox> mailbox_;
    std::function<void(const error&)> error_handler_;

    std::vector<std::unique_ptr<detail::async_connection>> links_;  // every link hiredis still knows, and dead ones
    std::vector<detail::async_connection*> gone_;                   // hiredis is done with these
    std::vector<node_conn> conns_;                            // by node_id

    detail::async_calls calls_;  // every call: its queue, its deadline, its slot's counts
    std::vector<std::pair<async_call*, outcome>> deferred_;
    std::bitset<slot_count> held_;
    std::vector<std::pair<node_id, error>> deferred_failures_;
    bool pump_requested_ = false;
    std::uint64_t next_seq_ = 0;
    std::size_t pending_ = 0;
    bool pumping_ = false;
    bool pump_again_ = false;
    bool iterating_ = false;
    clock::time_point wake_at_ = clock::time_point::max();
    bool timer_armed_ = false;
    clock::time_point timer_at_{};

    std::optional<refresh_job> refresh_;
    std::uint64_t next_refresh_attempt_ = 0;
    bool no_cluster_shards_ = false;
    std::uint64_t next_dns_ticket_ = 0;

    std::vector<std::function<void(const error*)>> connect_waiters_;
    std::vector<node_id> connect_masters_;
    std::optional<error> connect_error_;
    std::vector<std::function<void()>> disconnect_waiters_;
    bool closed_ = false;
    bool shutting_down_ = false;
};

/// Named async clusters, one per shipped policy.
using identity_async_cluster = basic_async_cluster<identity>;
using ip_to_hostname_async_cluster = basic_async_cluster<ip_to_hostname>;
using static_table_async_cluster = basic_async_cluster<static_table>;
using env_async_cluster = basic_async_cluster<env>;

}  // namespace addrmap
