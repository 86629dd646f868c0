// addrmap/detail/async_driver.hpp — the engine under basic_async_cluster: calls in, decisions from the cluster_core,
// events between the loop, the connections, the dialer and the refresh; the public class adds the command forms.
//
// Words, one per concept, in this header and detail/async_*.hpp: a *call* is one command from start to callback
// (async_call); a *connection* is one TLS connection to one node (async_connection), which a *dial* starts
// (async_dialer) and the *connection table* keeps (async_connection_table); a *refresh* asks a node for the
// topology (async_refresh asks, topology_refresh decides); a *lease* is a transaction's or context_for_key's
// connection of its own, its calls in order (async_leases). The cluster_core decides every call's fate; this driver
// only moves events between the loop, the connections and those pieces.
#pragma once

#include <addrmap/async_future.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_keys.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/async_answers.hpp>
#include <addrmap/detail/async_callbacks.hpp>
#include <addrmap/detail/async_calls.hpp>
#include <addrmap/detail/async_connect.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/async_connection_table.hpp>
#include <addrmap/detail/async_dialer.hpp>
#include <addrmap/detail/async_lease.hpp>
#include <addrmap/detail/async_leases.hpp>
#include <addrmap/detail/async_loop_timer.hpp>
#include <addrmap/detail/async_refresh.hpp>
#include <addrmap/detail/async_subscription.hpp>
#include <addrmap/detail/blocking_commands.hpp>
#include <addrmap/detail/call_bound.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/node_table.hpp>
#include <addrmap/detail/topology_refresh.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/tls.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// The async cluster's engine (see the top of this file); one per basic_async_cluster, on its loop's thread.
class async_driver final : private loop_events, private async_connection_owner, private async_subscription_host {
public:
    using clock = std::chrono::steady_clock;

    /// `map` is the cluster's policy, bound; `options` were checked by basic_async_cluster.
    async_driver(const cluster_options& options, tls_context tls, std::unique_ptr<event_loop> loop, cluster_core::mapper map)
        : options_(options),
          tls_(std::move(tls)),
          core_(options_, std::move(map)),
          bound_(options_.max_calls, options_.max_calls_per_node),
          loop_(non_null(std::move(loop))),
          mailbox_(std::make_shared<async_mailbox>(loop_.get())),
          timer_(*loop_),
          dialer_(core_, options_, tls_context_access::shared(tls_), *loop_, timer_,
                  static_cast<async_connection_owner&>(*this), connections_, mailbox_,
                  [this](node_id n, const error& why) { node_failed(n, why); }),
          refresh_(core_, options_, calls_, callbacks_, connections_, dialer_, timer_,
                   [this](const async_refresh::end& how) { refresh_ended(how); }) {
        options_.tls = tls_.options();
        if (options_.max_blocking_connections_per_node == 0)
            throw error(error_kind::config, "cluster_options::max_blocking_connections_per_node is 0: every blocking "
                                            "command would be refused (give a bound, e.g. 64)");
        callbacks_.on_finish_with_connection([this](async_call* c, const outcome& o) { call_ended(c, o); });
        loop_->start(static_cast<loop_events&>(*this));
    }

    async_driver(const async_driver&) = delete;
    async_driver& operator=(const async_driver&) = delete;

    /// Where events go (observer.hpp): set once, before any I/O, by basic_async_cluster.
    void set_observer(event_sink sink) noexcept {
        core_.set_observer(sink);
        callbacks_.tell_call_ends_to(core_.wants_call_events() ? &core_ : nullptr);
    }

    ~async_driver() {
        shutting_down_ = true;
        timer_.stop();
        dialer_.stop();
        refresh_.close();
        for (auto& job : mailbox_->close()) job(false);
        bound_.take_all();  // nothing to wait for, and no callback runs from here on
        loop_->stop();
        const error destroyed(error_kind::closed, "the cluster was destroyed before the topology was read");
        connecting_.stop(destroyed);  // connect() and refresh() callbacks run once, as every call's does
        end_topology_waiters(&destroyed);
        for (async_subscription* s : subscriptions_) s->host_gone();  // their connections close with the others
        subscriber_connections_.clear();
        connections_.close_all();  // unanswered commands come back through connection_reply
        fail_waiting("the cluster was destroyed");  // a transaction's first step before the steps behind it
        leases_.end_all("the cluster was destroyed");
        connections_.clear();
    }

    // ---- set-up ---------------------------------------------------------------------------------------

    /// Reads the topology from the seeds, then connects to every master; `done` gets nullptr, or the error
    /// (as basic_cluster::connect throws it: a seed's own error when there is one seed, else one listing
    /// each seed's; a master whose certificate or mapping fails verification). Commands need not wait for it.
    void connect(std::function<void(const error*)> done) {
        if (closed_ || shutting_down_) {
            const error e(error_kind::closed, "connect() after disconnect()");
            if (done) done(&e);
            return;
        }
        connecting_.add(std::move(done));
        core_.request_refresh();
        refresh_.start(clock::now());
        rearm();
    }

    /// Reads the topology once more (from the best node, see cluster_core::refresh_candidates), dialing no master;
    /// `done` gets nullptr once a view is installed, or the error listing each node asked (the old map stays). A
    /// refresh already running is joined. After disconnect() `done` runs at once, inside this call.
    void refresh(std::function<void(const error*)> done) {
        if (closed_ || shutting_down_) {
            const error e(error_kind::closed, "refresh() after disconnect()");
            if (done) callbacks_.run_guarded([&] { done(&e); }, "refresh()'s callback");
            return;
        }
        topology_waiters_.push_back(std::move(done));
        core_.request_refresh();
        refresh_.start(clock::now());
        rearm();
    }

    /// Called with every error that concerns no single command: a node whose TLS or AUTH set-up failed
    /// (the commands waiting for it get their own error too), an exception thrown by a callback.
    void on_error(std::function<void(const error&)> handler) { callbacks_.on_error(std::move(handler)); }

    // ---- shutting down --------------------------------------------------------------------------------

    /// Stops taking commands: those not sent yet end with error_kind::closed now, those in flight get their
    /// replies, then every connection closes and `done` runs. Later commands end with error_kind::closed.
    void disconnect(std::function<void()> done = {}) {
        closed_ = true;
        for (async_subscription* s : std::vector<async_subscription*>(subscriptions_)) s->disconnect();
        dialer_.stop();
        if (done) disconnect_waiters_.push_back(std::move(done));
        if (callbacks_.walking())
            pump_again_ = true;  // pump() ends the queued calls after its pass
        else
            fail_waiting("disconnect() was called");
        refresh_.close();  // its answer, if one comes, is dropped; the machine ends the refresh in the core
        connecting_.stop(error(error_kind::closed, "disconnect() was called before connect() finished"));
        const error closing(error_kind::closed, "disconnect() was called before the topology was read");
        end_topology_waiters(&closing);
        leases_.end_all("disconnect() was called");
        // A blocking command's connection closes now (a BLPOP 0 would hold disconnect() for ever), spares too.
        std::vector<async_connection*> blocking;  // closing one answers its call at once, which edits the map
        for (const auto& entry : dedicated_calls_)
            if (!entry.second->lease) blocking.push_back(const_cast<async_connection*>(entry.first));
        for (async_connection* connection : blocking)
            connection->close_because("disconnect() was called while the server waited");
        connections_.close_all_spares();
        connections_.close_all_when_idle();
        if (bound_.has_waiters()) request_pump();  // when_room() callbacks run: there is nothing to wait for
        maybe_disconnected();
    }

    // ---- inspection -----------------------------------------------------------------------------------

    /// The node table, as basic_cluster::nodes() gives it.
    std::vector<node_info> nodes() const {
        return node_table(core_, [this](node_id id) -> std::optional<tls_handshake_info> {
            if (const async_connection* c = connections_.current(id); c != nullptr && c->ready()) return c->handshake();
            return std::nullopt;
        });
    }
    const cluster_stats& stats() const noexcept { return core_.stats(); }
    const cluster_core& core() const noexcept { return core_; }
    /// disconnect() was called or the cluster is being destroyed.
    bool closing() const noexcept { return closed_ || shutting_down_; }
    /// Calls whose callback has not run yet.
    std::size_t pending() const noexcept { return callbacks_.pending(); }

    // ---- calls ----------------------------------------------------------------------------------------

    /// A new call of `command` (RESP as std::string, or a call_draft holding it) for `slot` (-1: keyless), or for node
    /// `fixed` only (command_on: no redirect followed, any reply returned); `reserved`: submit() took its place in
    /// the bound already.
    template <class Command>
    void start(int slot, Command command, const call_options& call, async_callback done, bool reserved = false,
               node_id fixed = no_node, const std::shared_ptr<async_lease>& lease = nullptr);

    /// Any thread: takes the call's place in the bound here (so what waits in the mailbox is bounded too), then
    /// starts it on the loop thread.
    reply_future post_call(int slot, std::string command, const call_options& call) {
        if (!bound_.reserve()) {
            // Counted in stats().overloaded at the loop's next turn, which the first refusal since the last count
            // brings (a wake-up only: a producer spinning on refusals queues nothing).
            if (bound_.refused_off_loop() == 0) mailbox_->wake();
            return ready_future(outcome(error(error_kind::overloaded, bound_.total_refusal(named(command)))));
        }
        return posted_call(mailbox_, [this, slot, command = std::move(command), call](async_callback done) mutable {
            start(slot, std::move(command), call, std::move(done), true);
        });
    }
    /// The command's name for messages ('GET'), or "the command".
    static std::string named(std::string_view command) { return command_label(command); }
    /// A call to be encoded into (call_draft): from the pool, back to it unless start() takes it.
    call_draft draft() { return call_draft(calls_); }

    void wait_for_room(node_id node, std::function<void()> ready) {
        if (!ready) return;
        bound_.when_room(node, std::move(ready));
        request_pump();  // pump() runs it if there is room now
    }
    /// The node the cluster reported as `address` (a new one is added and mapped when first used): command_on's.
    node_id node_for(const node_address& address, std::string_view how) {
        return core_.node_for(address, node_role::master, how, no_node);
    }
    /// Runs the user's `code` on the loop thread, what it throws going to on_error (`what` names it there).
    template <class Code>
    void run_guarded(Code&& code, const char* what) const {
        callbacks_.run_guarded(std::forward<Code>(code), what);
    }
    bool closed() const noexcept { return closed_ || shutting_down_; }

private:
    call_draft make_call(std::string command) { return call_draft(calls_, calls_.make(std::move(command))); }
    static call_draft make_call(call_draft draft) noexcept { return draft; }

    static std::unique_ptr<event_loop> non_null(std::unique_ptr<event_loop> loop) {
        if (!loop) throw error(error_kind::config, "basic_async_cluster: the event loop binding is null");
        return loop;
    }

    // ---- calls ----------------------------------------------------------------------------------------

    /// Ends every queued call with error_kind::closed (disconnect, destruction).
    void fail_waiting(const char* why) {
        while (!calls_.waiting().empty()) {
            async_call* c = calls_.waiting().begin()->second;
            calls_.dequeue(calls_.waiting().begin());
            callbacks_.finish(c, outcome(error(error_kind::closed, std::string(why) + " before " + c->name() + " was sent: it did not run")));
        }
    }
    /// Runs pump() from the loop soon, once for everything that happened in this turn (a read event's
    /// replies), instead of once per reply.
    void request_pump() {
        if (pump_requested_ || shutting_down_) return;
        pump_requested_ = true;
        loop_->wake_up();
    }

    /// Runs the when_room() callbacks whose room has come (all of them once disconnect() was called).
    void run_room_waiters() {
        if (!bound_.has_waiters()) return;
        for (auto& ready : closed_ ? bound_.take_all() : bound_.take_ready())
            callbacks_.run_guarded(ready, "a when_room() callback");
    }

    bool send_on(async_connection& connection, async_call* c, const core_decision& d) {
        if (!connection.send(c, c->text(), d.asking)) return false;
        core_.on_send(c->state);
        ++core_.stats().round_trips;
        calls_.sent(c, &connection, d.node);
        if (connection.in_flight() <= 2)  // it was idle: its stall clock starts now
            if (const auto stall = connection.stall_deadline()) timer_.arm_by(*stall);
        return true;
    }

    /// Calls past their deadline while in flight end now (a late reply is dropped); waiting ones end in pump().
    void expire(clock::time_point now);

    // ---- the queue ------------------------------------------------------------------------------------

    /// Routes every waiting call, oldest first (async_calls::walk keeps each slot's order, also after a redirect or
    /// a retry); then what waited for the pass: the callbacks, disconnect()'s ending of queued calls, dial failures.
    void pump();

    /// One waiting call: true when it left the queue (sent, or ended).
    bool route(async_call* c, clock::time_point now);

    /// A dedicated call's turn (a blocking command, or reply_timeout set): a connection of its own, so the calls behind
    /// it on the node's shared connection never wait for the server's wait. A spare if the node has one, else one
    /// dialed next to the node's current connection (whose DNS answer and address it reuses). 1: sent (or ended);
    /// 0: waits; -1: route again (the core decided after a failed dial).
    int route_dedicated(async_call* c, const core_decision& d, clock::time_point now);
    /// `c` ended (finish(), with `o`): its dedicated connection is freed; a transaction's first call that ended unsent
    /// ends its transaction, with the same error, once its own callback has run (the steps after it, in order).
    void call_ended(async_call* c, const outcome& o) {
        if (c->opens_lease && c->lease->opening && !c->in_flight) {
            leases_.first_call_ended(c, o);
            request_pump();
        }
        free_own(c);
    }
    /// A dial of `c`'s own connection to `node` failed (nothing of `c` was written): the call's news, not the node's
    /// (its shared connection says how the node is; a node at maxclients must not stall its other calls). A node away
    /// is tried again after the call's backoff, within its deadline; any other failure (a certificate) ends it.
    void own_dial_failed(async_call* c, node_id node, const error& why, clock::time_point now) {
        if (cluster_core::is_reachability_error(why))
            core_.on_own_connection_lost(c->state, node, false, why.message(), now);
        else
            c->state.failure = why;
    }
    /// `c` goes elsewhere, or ended, without using its dedicated connection: the connection is freed (a spare once
    /// set up; one still being set up becomes a spare when it is).
    void free_own(async_call* c) {
        async_connection* own = std::exchange(c->own, nullptr);
        if (own == nullptr || c->in_flight) return;  // in flight: its reply (or loss) frees it
        dedicated_calls_.erase(own);
        if (own->ready()) give_back(*own);
    }

    /// A dedicated connection back from its call or lease: a spare (the timer closes the ones beyond spares_per_node
    /// once idle for spare_idle_time).
    void give_back(async_connection& connection) {
        const node_id n = connection.node();
        if (!core_.exists(n) || !core_.node(n).in_topology)  // its node left (its spares were closed then)
            return connection.close_when_idle();
        connections_.give_back(connection);
        timer_.arm_by(clock::now() + async_connection_table::spare_idle_time);
    }

    // ---- transactions: calls on a leased connection (async_transaction decides; async_leases moves them) -

public:
    /// A new lease for a transaction on `slot`: nothing is sent until its first call.
    std::shared_ptr<async_lease> lease(int slot) { return leases_.lease(slot); }
    /// A call on `lease` (async_transaction checked it): sent on the lease's connection after the calls before it;
    /// its reply is the callback's as it is (no redirect followed, nothing sent again).
    /// `counted`: a loss after writing counts in stats().unknown_outcomes (EXEC's does; MULTI's and a queued
    /// command's do not, EXEC's speaks for them).
    void start_on_lease(const std::shared_ptr<async_lease>& lease, std::string command, const call_options& call,
                        async_callback done, bool counted = true) {
        lease_call_counted_ = counted;
        start(lease->slot, std::move(command), call, std::move(done), false, no_node, lease);
        lease_call_counted_ = true;
    }
    /// The transaction is done with `lease` (async_leases::end).
    void end_lease(async_lease& lease, bool reusable, const error* why = nullptr) { leases_.end(lease, reusable, why); }
    /// A refusal a transaction met: the core learns from it (async_leases::learn_from_refusal).
    void learn_from_lease_refusal(const async_lease& lease, const redisReply& reply) { leases_.learn_from_refusal(lease, reply); }
    /// The node a lease's connection goes to, for messages.
    std::string lease_node(const async_lease& lease) const { return leases_.node_of(lease); }

private:
    /// The time left to `deadline` from `now`, at least 1 ms (a stall allowance).
    static std::chrono::milliseconds until(clock::time_point deadline, clock::time_point now) noexcept {
        if (deadline <= now) return std::chrono::milliseconds(1);
        return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    }

    // ---- connections ----------------------------------------------------------------------------------

    /// Node `n` could not be connected: the calls waiting for it are told (the core decides), and so
    /// are a refresh and connect() waiting for it.
    void node_failed(node_id n, const error& why);

    // async_connection_owner
    void connection_ready(async_connection& connection) override;
    void connection_failed(async_connection& connection, const error& why) override;
    void connection_reply(async_connection& connection, void* tag, held_reply reply, bool written) override;
    void connection_gone(async_connection& connection) override;

    void maybe_disconnected() {
        if (!closed_ || disconnect_waiters_.empty() || !connections_.all_gone()) return;
        for (auto& done : std::exchange(disconnect_waiters_, {})) done();
    }

    // ---- topology -------------------------------------------------------------------------------------

    void refresh_ended(const async_refresh::end& how) {
        // The refresh() callbacks of this refresh are taken first: one a connect() callback asks for below waits for
        // the refresh it starts, not for this one's result.
        std::vector<std::function<void(const error*)>> waiters = std::exchange(topology_waiters_, {});
        connecting_.refresh_ended(how.installed, how.first, how.failures, !closed_);
        if (how.installed) {
            run_topology_waiters(waiters, nullptr);
        } else {
            const error failed = connect_failure(core_, how.first, how.failures);
            run_topology_waiters(waiters, &failed);
        }
        request_pump();
    }
    /// Runs every refresh() callback once, with `failure` (null: a view was installed).
    void end_topology_waiters(const error* failure) { run_topology_waiters(std::exchange(topology_waiters_, {}), failure); }
    void run_topology_waiters(const std::vector<std::function<void(const error*)>>& waiters, const error* failure) {
        for (const auto& done : waiters)
            if (done) callbacks_.run_guarded([&] { done(failure); }, "a refresh() callback (refresh, fan-out or scan)");
    }

    // ---- the loop -------------------------------------------------------------------------------------

    void on_timer() override {
        mailbox_->seen_on_loop_thread();
        timer_.fired();
        core_.stats().overloaded += bound_.take_refused_off_loop();
        connections_.collect();
        const auto now = clock::now();
        expire(now);
        const auto due = connections_.due(now);  // looked at first: acting runs callbacks, which may dial
        for (node_id n : due.dns_late) dialer_.lookup_timed_out(n);
        for (async_connection* c : due.stalled) connections_.close_stalled(*c);
        for (async_connection* c : due.setup_late) dialer_.setup_timed_out(*c);
        connections_.close_idle_spares(now);  // after the callbacks above: one of them may have taken a spare
        refresh_.timer(now);
        run_subscriptions(now);
        pump();
    }
    void on_wakeup() override {
        mailbox_->seen_on_loop_thread();
        core_.stats().overloaded += bound_.take_refused_off_loop();
        connections_.collect();
        for (auto& job : mailbox_->take()) job(true);
        subscriptions_woken_ = false;
        run_subscriptions(clock::now());
        if (pump_requested_) {
            pump_requested_ = false;
            pump();
        }
    }

    /// Arms the timer for the earliest thing due (it may fire early: on_timer looks and re-arms).
    void rearm() {
        if (shutting_down_) return;
        clock::time_point next = std::min(wake_at_, connections_.earliest_deadline());
        if (const auto deadline = calls_.earliest_deadline()) next = std::min(next, *deadline);
        if (const auto attempt = refresh_.deadline()) next = std::min(next, *attempt);
        if (!subscriptions_.empty()) {  // no clock reading on every rearm of a cluster without subscribers
            const clock::time_point now = clock::now();
            for (const async_subscription* s : subscriptions_) next = std::min(next, s->wake_at(now));
        }
        if (next != clock::time_point::max()) timer_.arm_by(next);
    }

    // ---- subscribers (async_subscription_host) --------------------------------------------------------

    /// Runs every subscription that asked to run or whose time came (each may end others' connections: a copy).
    void run_subscriptions(clock::time_point now) {
        if (shutting_down_ || subscriptions_.empty()) return;
        for (async_subscription* s : std::vector<async_subscription*>(subscriptions_)) {
            if (std::find(subscriptions_.begin(), subscriptions_.end(), s) == subscriptions_.end()) continue;  // gone
            if (s->wants_run() || s->wake_at(now) <= now) s->run();
        }
        rearm();
    }
    const cluster_core& subscription_core() const override { return core_; }
    async_connection* open_subscriber_connection(node_id n, async_subscription& owner, clock::time_point now) override {
        if (closed_ || shutting_down_) throw error(error_kind::closed, "the cluster was disconnected");
        const async_connection* shared = dialer_.connection_for(n, now);  // its DNS answer and address are reused
        if (shared == nullptr || !shared->ready()) return nullptr;          // connection_ready() tells the owner
        async_connection* c = dialer_.dial_dedicated(n, now, true);
        if (c != nullptr) subscriber_connections_[c] = &owner;
        rearm();  // its set-up deadline
        return c;
    }
    void forget_subscriber_connection(const async_connection& c) override { subscriber_connections_.erase(&c); }
    /// A subscriber's own dial failed: reported (its node's state is its shared connection's to tell, as for a
    /// blocking call's own connection). Called from the subscription's run(), outside its internals.
    void report_subscriber_failure(const error& why) override {
        if (why.kind() == error_kind::closed || closed_ || shutting_down_) return;
        callbacks_.report(why);
    }
    void refresh_for(async_subscription& owner) override {
        refresh([&owner, alive = owner.alive_token()](const error* failed) {
            if (*alive) owner.refreshed(failed == nullptr);
        });
    }
    void wake(async_subscription&) override {
        if (shutting_down_ || subscriptions_woken_) return;
        subscriptions_woken_ = true;  // its own flag: a wake during a pass (a callback's unsubscribe) asks for another
        loop_->wake_up();
    }
    void subscriber_callback_threw(const char* what) override {
        callbacks_.run_guarded([] { throw; }, what);
    }

public:
    /// A subscriber's engine joins (async_subscriber.hpp) / leaves this driver.
    async_subscription_host& subscription_host() noexcept { return *this; }
    const cluster_options& options() const noexcept { return options_; }
    void add_subscription(async_subscription* s) { subscriptions_.push_back(s); }
    void remove_subscription(async_subscription* s) noexcept {
        subscriptions_.erase(std::remove(subscriptions_.begin(), subscriptions_.end(), s), subscriptions_.end());
    }

private:

    cluster_options options_;
    tls_context tls_;
    cluster_core core_;
    call_bound bound_;  // how many calls may be held (max_calls, max_calls_per_node)
    std::unique_ptr<event_loop> loop_;
    std::shared_ptr<async_mailbox> mailbox_;
    async_loop_timer timer_;
    async_calls calls_;          // every call: its queue, its deadline, its slot's counts
    async_callbacks callbacks_{calls_, bound_};
    async_connection_table connections_;
    async_dialer dialer_;
    async_refresh refresh_;
    async_connect connecting_{core_, connections_, dialer_, callbacks_};

    std::vector<std::pair<node_id, error>> deferred_failures_;
    bool pump_requested_ = false;
    std::uint64_t next_seq_ = 0;
    bool pumping_ = false;
    bool pump_again_ = false;
    clock::time_point wake_at_ = clock::time_point::max();
    std::vector<std::function<void()>> disconnect_waiters_;
    std::vector<std::function<void(const error*)>> topology_waiters_;  // refresh()'s callbacks
    std::map<const async_connection*, async_call*> dedicated_calls_;   // dedicated connections reserved by a call
    async_leases leases_{core_, calls_, callbacks_, timer_, dedicated_calls_,
                         {[this](async_connection& c) { give_back(c); }, [this] { request_pump(); }}};
    bool lease_call_counted_ = true;                                   // start_on_lease()'s `counted`, for start()
    std::vector<async_subscription*> subscriptions_;                    // the subscribers on this cluster
    bool subscriptions_woken_ = false;                                  // a wake-up for them is on its way
    std::map<const async_connection*, async_subscription*> subscriber_connections_;  // their connections
    bool closed_ = false;
    bool shutting_down_ = false;
};

}  // namespace addrmap::detail

// The longer members, by concern: the calls and their queue, and the connections' events.
#include <addrmap/detail/async_driver_calls.hpp>
#include <addrmap/detail/async_driver_connections.hpp>
