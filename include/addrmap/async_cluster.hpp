// addrmap/async_cluster.hpp — basic_async_cluster<Policy>: the cluster core driven from an event loop (libevent,
// libuv, libev, Boost.Asio or any loop with a hiredis adapter): many commands in flight, TLS verified from loop events.
//
// Threads: every member runs on the loop's thread, except the submit*() forms, which any thread may call (the
// command is posted to the loop thread; the future refuses to wait on the loop thread itself).
// The engine (calls, connections, refresh, the bound) is detail::async_driver; this class gives it its command forms.
#pragma once

#include <addrmap/async_future.hpp>
#include <addrmap/async_transaction.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_keys.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/async_driver.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/error.hpp>
#include <addrmap/observer.hpp>
#include <addrmap/event_loop.hpp>
#include <addrmap/fan_out.hpp>
#include <addrmap/leased_context.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policy.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/snapshot.hpp>
#include <addrmap/tls.hpp>

#include <cstdarg>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// What a fan-out gives its callback: every node's outcome (fan_out.hpp), or the reason no node could be chosen
/// (no topology could be read) with an empty list.
using fan_out_callback = std::function<void(const error* failure, std::vector<node_outcome> nodes)>;

/// A Redis Cluster client on an event loop, every node address resolved through `Policy` and every
/// connection verified (chain and name) — the same decisions as basic_cluster, made by the same cluster_core.
///
/// Lifetime: destroy it on the loop thread, before the loop; never from inside one of its own callbacks
/// (call disconnect() there). The destructor ends every pending call's callback first (error_kind::closed,
/// or unknown_outcome for a command that was written); no callback runs after it returns.
///
/// Errors found before anything is sent (a malformed command, keys in several slots, a refused option) reach the
/// call's callback like any other outcome; only a format string hiredis cannot format throws, at the call.
template <class Policy, class Observer>
class basic_async_subscriber;

/// Observer: what the cluster tells of what it does (observer.hpp, events.hpp), on the loop's thread; no_observer, the
/// default, compiles to nothing but one test per call. Stored by value, reachable through observer().
template <class Policy = identity, class Observer = no_observer>
class basic_async_cluster final {
    ADDRMAP_CHECK_POLICY(Policy);
    ADDRMAP_CHECK_OBSERVER(Observer);
    friend class basic_async_subscriber<Policy, Observer>;  // its engine runs on this cluster's driver (async_subscriber.hpp)

public:
    using policy_type = Policy;
    using observer_type = Observer;
    using clock = std::chrono::steady_clock;

    /// Parses the seeds and sets up TLS (throws error{config}); no I/O until connect() or a command.
    basic_async_cluster(const cluster_options& options, std::unique_ptr<event_loop> loop, Policy policy = Policy{},
                        Observer observer = Observer{})
        : basic_async_cluster(options, tls_context(options.tls), std::move(loop), std::move(policy), std::move(observer)) {}

    /// The same over a shared tls_context (one CA load and one session cache for several clusters); its
    /// options replace `options.tls`.
    basic_async_cluster(const cluster_options& options, tls_context tls, std::unique_ptr<event_loop> loop,
                        Policy policy = Policy{}, Observer observer = Observer{})
        : policy_(std::move(policy)),
          observer_(std::move(observer)),
          driver_(async_options(options), std::move(tls), std::move(loop),
                  [this](const node_address& address) { return detail::policy_access::map(policy_, address); }) {
        if constexpr (observes_any_v<Observer>) driver_.set_observer(detail::event_sink::bind(&observer_));
    }

    basic_async_cluster(const basic_async_cluster&) = delete;
    basic_async_cluster& operator=(const basic_async_cluster&) = delete;

    // ---- set-up ---------------------------------------------------------------------------------------

    /// Reads the topology from the seeds, then connects to every master; `done` gets nullptr, or the error
    /// (as basic_cluster::connect throws it: a seed's own error when there is one seed, else one listing
    /// each seed's; a master whose certificate or mapping fails verification). Commands need not wait for it.
    void connect(std::function<void(const error*)> done) { driver_.connect(std::move(done)); }

    /// Reads the topology again (as basic_cluster::refresh(), without blocking): `done` gets nullptr once a view is
    /// installed, or the error listing each node asked (the old map stays). A refresh already running is joined.
    void refresh(std::function<void(const error*)> done) { driver_.refresh(std::move(done)); }

    /// Called with every error that concerns no single command: a node whose TLS or AUTH set-up failed
    /// (the commands waiting for it get their own error too), an exception thrown by a callback.
    void on_error(std::function<void(const error&)> handler) { driver_.on_error(std::move(handler)); }

    // ---- commands (loop thread) -----------------------------------------------------------------------

    /// printf-style command (hiredis format) routed by `key`.
    void command(std::string_view key, async_callback done, const char* format, ...) {
        detail::call_draft draft = driver_.draft();  // encoded straight into a pooled call
        va_list ap;
        va_start(ap, format);
        const int status = detail::format_into(draft.bytes(), format, ap);
        va_end(ap);
        start_formatted(static_cast<int>(key_slot(key)), std::move(draft), status, format, {}, std::move(done));
    }
    /// The same with per-call settings (deadline, reply_timeout; whether it may be repeated after it may have run).
    void command(const call_options& call, std::string_view key, async_callback done, const char* format, ...) {
        detail::call_draft draft = driver_.draft();  // encoded straight into a pooled call
        va_list ap;
        va_start(ap, format);
        const int status = detail::format_into(draft.bytes(), format, ap);
        va_end(ap);
        start_formatted(static_cast<int>(key_slot(key)), std::move(draft), status, format, call, std::move(done));
    }
    /// argv command routed by `key`; the first argument is the command name.
    void command_argv(std::string_view key, const std::vector<std::string_view>& args, async_callback done,
                      const call_options& call = {}) {
        driver_.start(static_cast<int>(key_slot(key)), detail::format_argv(args), call, std::move(done));
    }
    /// A keyless command (PING, INFO, ...) on a live master.
    void command_any(async_callback done, const char* format, ...) {
        detail::call_draft draft = driver_.draft();  // encoded straight into a pooled call
        va_list ap;
        va_start(ap, format);
        const int status = detail::format_into(draft.bytes(), format, ap);
        va_end(ap);
        start_formatted(-1, std::move(draft), status, format, {}, std::move(done));
    }

    /// printf-style command routed by its own keys (command_keys.hpp), as basic_cluster::call: every key must hash
    /// to one slot; no key (EVAL with numkeys 0): any master. A command not in the table, malformed arguments or keys
    /// in several slots end with error{config} in `done`, before anything is sent.
    void call(async_callback done, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        start_keyed(detail::to_command(raw, format), {}, std::move(done));
    }
    void call(const call_options& options, async_callback done, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        start_keyed(detail::to_command(raw, format), options, std::move(done));
    }
    /// argv command routed by its own keys, as call() is.
    void call_argv(const std::vector<std::string_view>& args, async_callback done, const call_options& options = {}) {
        start_keyed(detail::format_argv(args), options, std::move(done));
    }

    /// A command on the node the cluster reported as `node` (mapped through the policy if new), as
    /// basic_cluster::command_on: no redirect followed, any reply returned; a lost connection gives
    /// error{unknown_outcome} unless the command may be repeated.
    void command_on(const node_address& node, const std::vector<std::string_view>& args, async_callback done,
                    const call_options& call = {}) {
        node_id n = no_node;
        try {
            n = driver_.node_for(node, "command_on");
        } catch (const error& e) {
            if (done) driver_.run_guarded([&] { done(outcome(e)); }, "a command's callback");
            return;
        }
        driver_.start(-1, detail::format_argv(args), call, std::move(done), false, n);
    }

    /// `args` on every master (or every node), all at once; `done` gets one outcome per node in node-table order,
    /// as fan_out() gives them (fan_out.hpp: the delivery rules, a replica the policy refused, `call.deadline`
    /// per node). Reads the topology first when there is none or the core says one is due (a node failed since).
    /// `done` may run inside this call when the cluster refuses at once (closed, overloaded).
    void fan_out(const std::vector<std::string_view>& args, fan_out_callback done, fan_out_to who = fan_out_to::masters,
                 const call_options& call = {}) {
        if (driver_.core().has_topology() && !driver_.core().refresh_due(clock::now()))
            return fan_out_now(detail::format_argv(args), std::move(done), who, call);
        // No map yet (a first read may be under way: it is joined), or one is due: read it first.
        driver_.refresh([this, command = detail::format_argv(args), done = std::move(done), who, call](const error* e) mutable {
            if (e != nullptr && !driver_.core().has_topology()) {
                if (done) driver_.run_guarded([&] { done(e, {}); }, "a fan-out's callback");
                return;
            }
            fan_out_now(std::move(command), std::move(done), who, call);
        });
    }

    /// A transaction on the slot of `key` (async_transaction.hpp): WATCH, reads, then MULTI..EXEC, all on one
    /// connection of its own to the slot's owner, opened (or taken from the spares) at its first step. `step` applies
    /// to each step (its deadline, default cluster_options::deadline). Nothing is sent until the first step.
    async_transaction begin_transaction(std::string_view key, const call_options& step = {}) {
        return async_transaction(driver_, static_cast<int>(key_slot(key)), step);
    }

    /// A connection of your own to the owner of `key`'s slot, for plain hiredis async code (leased_context.hpp): dialed
    /// as a blocking command's is (or a spare taken; it counts against max_blocking_connections_per_node), verified,
    /// then a PING answered on it, within `call.deadline`. `done` gets it, or the error (with an empty context). The
    /// blocking cluster's context_for_key lends the node's shared connection; here your commands would interleave with
    /// the cluster's calls on it, so each lease gets one of its own.
    void context_for_key(std::string_view key, std::function<void(const error*, leased_context)> done,
                         const call_options& call = {}) {
        const int slot = static_cast<int>(key_slot(key));
        std::shared_ptr<detail::async_lease> lease = driver_.lease(slot);
        lease->for_context = true;
        driver_.start_on_lease(lease, detail::format_argv({"PING"}), call, [this, lease, slot, done = std::move(done)](outcome o) {
            const auto refuse = [&](error_kind kind, const std::string& why) {
                driver_.end_lease(*lease, false);
                const error e(kind, "context_for_key: no connection of your own to the owner of slot " +
                                        std::to_string(slot) + ": " + why);
                if (done) driver_.run_guarded([&] { done(&e, leased_context()); }, "context_for_key's callback");
            };
            if (driver_.closing())  // disconnect() or destruction ended it, whatever the PING's fate says
                return refuse(error_kind::closed, "the cluster is disconnected");
            if (!o.ok()) return refuse(o.failure()->kind(), o.failure()->message());
            if (o->type == REDIS_REPLY_ERROR)  // LOADING, NOAUTH, ...: the node would not take commands
                return refuse(error_kind::server, "PING was answered " + detail::escaped(std::string_view(o->str, o->len), 200));
            if (lease->connection == nullptr || lease->connection->context() == nullptr || lease->node == no_node ||
                !driver_.core().exists(lease->node))
                return refuse(error_kind::connect, "the connection was lost after PING was answered");
            // Yours from here: hiredis frees the replies after your callbacks, as plain hiredis code expects.
            lease->connection->give_replies_to_hiredis(detail::held_reply(std::move(o).value()));  // hiredis's own: no copy
            leased_context context(driver_, lease, driver_.core().node(lease->node).reported);
            if (done) driver_.run_guarded([&] { done(nullptr, std::move(context)); }, "context_for_key's callback");
        }, false);  // PING's loss counts nowhere: nothing of the caller's ran
    }

    // ---- commands (any thread) ------------------------------------------------------------------------

    /// Thread-safe: formats here, runs on the loop thread. See reply_future for waiting.
    reply_future submit(std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return driver_.post_call(static_cast<int>(key_slot(key)), detail::to_command(raw, format), {});
    }
    /// Thread-safe argv form.
    reply_future submit_argv(std::string_view key, const std::vector<std::string_view>& args, const call_options& call = {}) {
        return driver_.post_call(static_cast<int>(key_slot(key)), detail::format_argv(args), call);
    }
    /// Thread-safe call_argv(): the keys are read here (a refusal is the future's at once).
    reply_future submit_call_argv(const std::vector<std::string_view>& args, const call_options& call = {}) {
        int slot = -1;
        try {
            slot = command_slot(args);
        } catch (const error& e) {
            return detail::ready_future(outcome(e));
        }
        return driver_.post_call(slot, detail::format_argv(args), call);
    }

    // ---- shutting down --------------------------------------------------------------------------------

    /// Stops taking commands: those not sent yet end with error_kind::closed now, those in flight get their
    /// replies, then every connection closes and `done` runs. Later commands end with error_kind::closed.
    void disconnect(std::function<void()> done = {}) { driver_.disconnect(std::move(done)); }

    // ---- inspection -----------------------------------------------------------------------------------

    /// The node table, as basic_cluster::nodes() gives it.
    std::vector<node_info> nodes() const { return driver_.nodes(); }
    const cluster_stats& stats() const noexcept { return driver_.stats(); }
    const cluster_core& core() const noexcept { return driver_.core(); }
    /// The node table, the counters and whether a topology is installed, at once (snapshot.hpp: to_json()).
    topology_snapshot snapshot() const {
        return topology_snapshot{std::chrono::system_clock::now(), driver_.core().has_topology(), nodes(), stats()};
    }

    const Policy& policy() const noexcept { return policy_; }
    Observer& observer() noexcept { return observer_; }
    const Observer& observer() const noexcept { return observer_; }
    /// Calls whose callback has not run yet.
    std::size_t pending() const noexcept { return driver_.pending(); }

    // ---- the bound on calls held (cluster_options::max_calls, max_calls_per_node) ---------------------

    /// Runs `ready` once, on the loop thread and never inside this call, when at most three quarters of max_calls is
    /// held (at the loop's next turn if that is so now): room for a burst. After disconnect() it runs at once (the
    /// calls it makes end with error_kind::closed); the destructor drops it unrun.
    void when_room(std::function<void()> ready) { driver_.wait_for_room(no_node, std::move(ready)); }
    /// The same, and also at most three quarters of max_calls_per_node held for the node serving `key` now.
    void when_room(std::string_view key, std::function<void()> ready) {
        driver_.wait_for_room(driver_.core().owner(static_cast<int>(key_slot(key))), std::move(ready));
    }

private:
    /// The options, refused before anything is set up when they hold what an async cluster cannot honour.
    static const cluster_options& async_options(const cluster_options& options) {
        if (options.on_connect)
            throw error(error_kind::config,
                        "cluster_options::on_connect is set, but it runs blocking hiredis calls on a redisContext* and the "
                        "async cluster's connections belong to the loop: give the commands as on_connect_commands "
                        "(both drivers run those) or write them in on_async_connect (hiredis async calls), or leave "
                        "on_connect empty");
        return options;
    }

    /// command() and command_any() once their va_list is ended (an exception must not leave it open): error{config}
    /// for a format that could not be encoded (`status` as format_into returns it), else the call in `draft` started.
    void start_formatted(int slot, detail::call_draft draft, int status, const char* format, const call_options& call,
                         async_callback done) {
        detail::check_formatted(status, format);
        driver_.start(slot, std::move(draft), call, std::move(done));
    }

    /// call()/call_argv(): the slot from the command's own keys, or error{config} in `done`.
    void start_keyed(std::string command, const call_options& options, async_callback done) {
        int slot = -1;
        try {
            slot = command_slot(detail::decode_command(command));
        } catch (const error& e) {
            if (done) driver_.run_guarded([&] { done(outcome(e)); }, "a command's callback");
            return;
        }
        driver_.start(slot, std::move(command), options, std::move(done));
    }

    /// The fan-out on the installed map: one fixed-node call per node, all at once, collected in table order.
    void fan_out_now(std::string command, fan_out_callback done, fan_out_to who, const call_options& call) {
        struct collected {
            std::vector<node_outcome> nodes;
            std::size_t left = 0;
            fan_out_callback done;
        };
        auto all = std::make_shared<collected>();
        all->done = std::move(done);
        const std::vector<node_id> ids = fan_out_nodes(driver_.core(), who);
        if (ids.empty() && !driver_.core().has_topology()) {
            const error none(error_kind::topology, "fan_out: no topology is known (the refresh it waited for read none)");
            if (all->done) driver_.run_guarded([&] { all->done(&none, {}); }, "a fan-out's callback");
            return;
        }
        all->nodes.reserve(ids.size());
        all->left = ids.size() + 1;  // one more, dropped below, so no reply can end it while it is being started
        auto one_done = [this, all] {
            if (--all->left != 0 || !all->done) return;
            driver_.run_guarded([&] { all->done(nullptr, std::move(all->nodes)); }, "a fan-out's callback");
        };
        for (node_id id : ids) {
            const core_node& n = driver_.core().node(id);
            all->nodes.push_back({n.reported, n.role, outcome(error(error_kind::closed, "not answered"))});
            const std::size_t at = all->nodes.size() - 1;
            if (std::optional<error> refused = fan_out_refusal(n)) {
                all->nodes[at].result = outcome(std::move(*refused));
                one_done();
                continue;
            }
            driver_.start(-1, command, call, [all, at, one_done](outcome o) {
                all->nodes[at].result = std::move(o);
                one_done();
            }, false, id);
        }
        one_done();
    }

    Policy policy_;
    Observer observer_;            // before driver_: its destructor ends calls, which the observer hears of
    detail::async_driver driver_;  // after policy_: its core maps through it
};

/// Named async clusters, one per shipped policy.
using identity_async_cluster = basic_async_cluster<identity>;
using ip_to_hostname_async_cluster = basic_async_cluster<ip_to_hostname>;
using static_table_async_cluster = basic_async_cluster<static_table>;
using env_async_cluster = basic_async_cluster<env>;

}  // namespace addrmap
