// addrmap/cluster.hpp — basic_cluster<Policy>: the blocking driver of the cluster core, over verified TLS connections.
// It does the I/O the core asks for (dial, write, read, refresh) and reports back; every decision is the core's.
//
// Not thread-safe, like redisContext: use one basic_cluster per thread, or guard it with a mutex.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/command_keys.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/link_setup.hpp>
#include <addrmap/detail/node_table.hpp>
#include <addrmap/detail/pipeline_wave.hpp>
#include <addrmap/detail/resolve.hpp>
#include <addrmap/detail/seed_number.hpp>
#include <addrmap/detail/slot_order.hpp>
#include <addrmap/detail/topology_refresh.hpp>
#include <addrmap/error.hpp>
#include <addrmap/observer.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policy.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/snapshot.hpp>
#include <addrmap/tls.hpp>
#include <addrmap/topology.hpp>
#include <addrmap/transaction.hpp>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace addrmap {

/// A Redis Cluster client whose every node address is resolved through `Policy`.
///
/// Policy: any type with `endpoint map(const node_address&) const`, or a lambda (see policy.hpp);
/// stored by value, reachable through policy(). Connections are verified TLS (chain and name),
/// one per reported node, made on first use and reused. What happens to a command when something
/// fails is decided by the I/O-free cluster_core (see docs/delivery.md).
template <class Policy, class Observer>
class basic_subscriber;

/// Observer: what the cluster tells of what it does (observer.hpp, events.hpp); no_observer, the default, compiles to
/// nothing. Stored by value at a stable address, reachable through observer().
template <class Policy = identity, class Observer = no_observer>
class basic_cluster {
    ADDRMAP_CHECK_POLICY(Policy);
    ADDRMAP_CHECK_OBSERVER(Observer);
    friend class basic_subscriber<Policy, Observer>;  // its own connections, this cluster's map (subscriber.hpp)

public:
    using policy_type = Policy;
    using observer_type = Observer;
    using clock = std::chrono::steady_clock;

    /// Parses the seeds and sets up TLS; throws error{config} for bad options. No I/O: see connect().
    explicit basic_cluster(cluster_options options, Policy policy = Policy{}, Observer observer = Observer{})
        : options_(blocking_options(std::move(options))),
          policy_(std::make_unique<Policy>(std::move(policy))),
          observer_(std::make_unique<Observer>(std::move(observer))),
          tls_(options_.tls),
          core_(options_, bind_policy(policy_.get())) {
        bind_observer();
    }

    /// The same over a shared TLS context (one CA load, one session cache for several clusters):
    /// `options.tls` is replaced by the context's own options.
    basic_cluster(cluster_options options, tls_context tls, Policy policy = Policy{}, Observer observer = Observer{})
        : options_(blocking_options(with_tls(std::move(options), tls.options()))),
          policy_(std::make_unique<Policy>(std::move(policy))),
          observer_(std::make_unique<Observer>(std::move(observer))),
          tls_(std::move(tls)),
          core_(options_, bind_policy(policy_.get())) {
        bind_observer();
    }

    basic_cluster(const basic_cluster&) = delete;
    basic_cluster& operator=(const basic_cluster&) = delete;
    /// Movable: connections, node table and policy move along (the policy lives at a stable address the
    /// core's mapper points to). A moved-from cluster may only be destroyed or assigned to.
    basic_cluster(basic_cluster&&) = default;
    basic_cluster& operator=(basic_cluster&&) = default;

    /// Reads the topology from the first seed that answers, then tries to connect to every master.
    /// Succeeds once a topology is installed: a master that cannot be reached (connect or timeout) is
    /// shown down in nodes() and dialed again when a command needs it; one whose certificate or
    /// mapping fails verification throws that error (it would fail the same way every time). Throws the seed's own error when one
    /// seed is given, else error{connect} listing each seed's failure.
    void connect() {
        core_.label_refresh_requested();
        const auto deadline = core_.deadline_from(clock::now());
        std::string failures;
        if (const std::optional<error> failed = run_refresh(deadline, &failures))
            throw detail::connect_failure(core_, *failed, failures);
        for (node_id n = 0; n < core_.id_limit(); ++n) {
            if (!core_.exists(n) || !core_.node(n).in_topology || core_.node(n).role != node_role::master) continue;
            try {
                link(n, deadline);
            } catch (const error& e) {
                // Unreachable is a state (shown in nodes(), dialed again when needed); a certificate or
                // mapping that does not verify is a configuration error, and it is the caller's now.
                if (!cluster_core::is_reachability_error(e)) throw;
                core_.on_unreachable(n, e, clock::now());
            }
        }
    }

    /// printf-style command (hiredis format: %s, %b, ...) routed by `key`.
    reply_ptr command(std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return run_formatted(static_cast<int>(key_slot(key)), raw, format, {});
    }

    /// The same with per-call settings (deadline, whether it may be repeated after it may have run).
    reply_ptr command(const call_options& call, std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return run_formatted(static_cast<int>(key_slot(key)), raw, format, call);
    }

    /// argv command routed by `key`; the first argument is the command name.
    reply_ptr command_argv(std::string_view key, const std::vector<std::string_view>& args,
                           const call_options& call = {}) {
        const std::string cmd = detail::format_argv(args);
        return run(static_cast<int>(key_slot(key)), cmd, call);
    }

    /// A keyless command (PING, INFO, ...) on a live master.
    reply_ptr command_any(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return run_formatted(-1, raw, format, {});
    }

    /// printf-style command routed by its own keys (command_keys.hpp): call("SET %s %s", key, value). Every key
    /// must hash to one slot; no key (EVAL with numkeys 0): any master. error{config}, before anything is sent, for
    /// a command not in the table (use command(key, ...)), malformed arguments, or keys in several slots.
    reply_ptr call(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return run_formatted(std::nullopt, raw, format, {});
    }
    reply_ptr call(const call_options& options, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return run_formatted(std::nullopt, raw, format, options);
    }
    /// argv command routed by its own keys, as call() is.
    reply_ptr call_argv(const std::vector<std::string_view>& args, const call_options& options = {}) {
        const int slot = command_slot(args);
        return run(slot, detail::format_argv(args), options);
    }

    /// A transaction (transaction.hpp) on the master that owns `key`'s slot (a key or a hash tag such as
    /// "{user1}"). It takes that node's connection for its life; other calls meanwhile use a new one.
    transaction begin_transaction(std::string_view key, const call_options& options = {}) {
        const int slot = static_cast<int>(key_slot(key));
        const redisContext* ready = context_for_key(key);  // the core's routing, refresh and connect rules
        const node_id n = core_.owner(slot);
        if (n >= links_.size() || !links_[n] || links_[n]->get() != ready)
            throw error(error_kind::topology, "the owner of slot " + std::to_string(slot) + " changed while its "
                                              "connection was made: begin the transaction again");
        tls_connection link = std::move(*links_[n]);
        links_[n].reset();
        return transaction(std::move(link), slot, options.deadline.value_or(options_.deadline),
                           [this, n](tls_connection&& back) { give_back(n, std::move(back)); },
                           [this, n, slot](const redisReply& moved) {
                               // The core learns from it what it learns from any MOVED for the transaction's own
                               // slot (any other is not the server's answer to it); the call is not followed.
                               try {
                                   const auto r = parse_redirect(std::string_view(moved.str, moved.len));
                                   if (r && r->slot != slot) return;
                               } catch (const error&) {
                                   return;
                               }
                               call_state learn = core_.start(slot, std::string_view(), {}, clock::now());
                               core_.on_reply(learn, n, moved, clock::now());
                           },
                           transaction_observer(n));
    }

    /// A command on the node the cluster reported as `node` (mapped through the policy if new). No
    /// redirect is followed and any reply is returned: the caller chose the node. The delivery rules
    /// hold: a lost connection gives error{unknown_outcome} unless the command may be repeated.
    reply_ptr command_on(const node_address& node, const std::vector<std::string_view>& args,
                         const call_options& call = {}) {
        const std::string cmd = detail::format_argv(args);
        const node_id n = core_.node_for(node, node_role::master, "command_on", no_node);
        call_state c = core_.start_on(n, cmd, call, clock::now());
        return drive(c);
    }

    /// Sends every command, grouped per node: each wave writes to every node first, then reads,
    /// so a wave costs one round trip per node. Commands that were redirected, refused (TRYAGAIN,
    /// ...) or never written go again in the next wave, in the order added. Returns one outcome per
    /// command, in the order added; one command's failure never discards another's reply.
    std::vector<outcome> execute(const pipeline& batch, const call_options& call = {}) {
        const auto now = clock::now();
        std::vector<call_state> calls;
        calls.reserve(batch.entries_.size());
        for (const auto& entry : batch.entries_) {
            call_options per_entry = call;
            if (entry.repeat_policy != repeat::by_table) per_entry.repeat_policy = entry.repeat_policy;
            calls.push_back(core_.start_vetted(entry.slot, batch.command(entry), per_entry, now));  // pipeline::add vetted it
        }
        std::vector<std::optional<outcome>> results(calls.size());
        std::vector<std::size_t> pending(calls.size());
        for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
        while (!pending.empty()) pending = wave(calls, pending, results);
        std::vector<outcome> out;
        out.reserve(results.size());
        for (auto& r : results) out.push_back(std::move(*r));
        if constexpr (observes_v<Observer, call_ended_event>) tell_pipeline_ended(calls, out, now);
        return out;
    }

    /// The verified hiredis context that owns `key`'s slot, for code that already speaks hiredis.
    /// Never one with `err` set or closed by the server: an idle connection is checked and reconnected
    /// first. Valid until the next call on this object; do not redisFree it.
    redisContext* context_for_key(std::string_view key) {
        const int slot = static_cast<int>(key_slot(key));
        call_state c = core_.start(slot, std::string_view(), {}, clock::now());
        while (true) {
            const core_decision d = core_.next(c, clock::now());
            switch (d.what) {
                case core_decision::kind::fail:
                    throw error(c.failure->kind(), std::string("no usable connection for key ") + detail::quoted(key) +
                                                       ": " + c.failure->message());
                case core_decision::kind::wait: std::this_thread::sleep_until(d.until); continue;
                case core_decision::kind::refresh: refresh_within(c.deadline); continue;
                case core_decision::kind::send: break;
            }
            try {
                redisContext* context = link(d.node, c.deadline);
                links_[d.node]->set_io_deadline(std::nullopt);  // the caller's own calls: command_timeout only
                return context;
            } catch (const error& e) {
                if (core_.on_not_sent(c, d.node, e, clock::now()) == core_verdict::fail) throw;
            }
        }
    }

    /// Re-reads the topology from the best node (see cluster_core::refresh_candidates); keeps the old
    /// slot map and throws error{topology} listing each node's answer when none gave a usable view.
    void refresh() {
        core_.label_refresh_requested();
        std::string failures;
        if (!refresh_within(core_.deadline_from(clock::now()), &failures))
            throw error(error_kind::topology, "could not refresh the cluster topology from any node:" + failures);
    }

    /// The node table: every node of the topology and the seeds, sorted by reported address.
    std::vector<node_info> nodes() const {
        return detail::node_table(core_, [this](node_id id) -> std::optional<tls_handshake_info> {
            if (id < links_.size() && links_[id]) return links_[id]->handshake();
            return std::nullopt;
        });
    }

    /// The node table, the counters and whether a topology is installed, at once (snapshot.hpp: to_json()).
    topology_snapshot snapshot() const {
        return topology_snapshot{std::chrono::system_clock::now(), core_.has_topology(), nodes(), core_.stats()};
    }

    const Policy& policy() const noexcept { return *policy_; }
    Observer& observer() noexcept { return *observer_; }
    const Observer& observer() const noexcept { return *observer_; }
    const cluster_options& options() const noexcept { return options_; }
    const cluster_stats& stats() const noexcept { return core_.stats(); }
    tls_context& tls() noexcept { return tls_; }
    /// The decisions, for inspection (node table, slot owners); the driver owns the I/O.
    const cluster_core& core() const noexcept { return core_; }

    /// Closes every connection (sessions stay cached for fast, resumed reconnects); the map is kept.
    void disconnect() noexcept {
        for (node_id id = 0; id < links_.size(); ++id)
            if (links_[id]) {
                links_[id].reset();
                core_.on_closed(id);
            }
    }

private:
    static constexpr char asking_command[] = "*1\r\n$6\r\nASKING\r\n";
    static constexpr std::size_t asking_length = sizeof(asking_command) - 1;

    /// What a transaction on node `n` tells of its exec(): one call_ended_event named MULTI (nothing without one).
    transaction::ended_fn transaction_observer(node_id n) {
        if constexpr (!observes_v<Observer, call_ended_event>) {
            (void)n;
            return {};
        } else {
            return [this, n](std::size_t queued, clock::time_point started, const redisReply* reply, const error* failure) {
                core_.tell_call_ended("MULTI", queued + 2, n, started, 1, reply, failure, clock::now());
            };
        }
    }

    void bind_observer() noexcept {
        if constexpr (observes_any_v<Observer>) core_.set_observer(detail::event_sink::bind(observer_.get()));
    }

    static cluster_core::mapper bind_policy(const Policy* policy) {
        return [policy](const node_address& address) { return detail::policy_access::map(*policy, address); };
    }
    static cluster_options with_tls(cluster_options options, const tls_options& tls) {
        options.tls = tls;
        return options;
    }
    /// The options, refused before anything is set up when they hold what only the async cluster honours.
    static cluster_options blocking_options(cluster_options options) {
        if (options.on_async_connect)
            throw error(error_kind::config,
                        "cluster_options::on_async_connect is set, but it runs hiredis async code on the async cluster's "
                        "connections; the blocking cluster runs on_connect (blocking hiredis calls on a redisContext*) "
                        "and on_connect_commands: use one of those, or leave on_async_connect empty");
        return options;
    }

    // ---- connections ----------------------------------------------------------------------------------

    /// The connection to node `n`, made (mapped, resolved, TCP, TLS verified, then AUTH, READONLY, on_connect:
    /// detail/link_setup.hpp) if there is none or the idle one is no longer usable; bounded by `deadline`, which
    /// then bounds every read and write on it until the next call arms its own. Throws what the dial threw.
    redisContext* link(node_id n, clock::time_point deadline) {
        if (n < links_.size() && links_[n]) {
            if (detail::idle_link_usable(*links_[n])) {
                links_[n]->set_io_deadline(deadline);
                links_[n]->set_reply_timeout(std::nullopt);  // command_timeout, unless the call sets its own
                return links_[n]->get();
            }
            links_[n].reset();
            ++core_.stats().stale_reconnects;
            core_.on_found_closed(n, "closed by the server while idle");
        }
        tls_connection fresh = dial(n, deadline);
        if (links_.size() <= n) links_.resize(n + 1);
        links_[n].emplace(std::move(fresh));
        core_.on_connected(n, links_[n]->handshake(), dialed_address_);
        return links_[n]->get();
    }

    /// A new connection to node `n` (mapped, resolved, TCP, TLS verified, then AUTH, READONLY, on_connect: each of
    /// the name's addresses in turn while `deadline` allows), its reads and writes bounded by `deadline`. Throws what
    /// the last try threw. The core is not told: the caller says what the connection is for.
    tls_connection dial(node_id n, clock::time_point deadline);

    /// A transaction's connection, clean again: kept if the node still needs one, else closed.
    void give_back(node_id n, tls_connection&& link) {
        if (!core_.exists(n) || (n < links_.size() && links_[n])) return;
        if (links_.size() <= n) links_.resize(n + 1);
        links_[n].emplace(std::move(link));
    }

    void drop(node_id n) noexcept {
        if (n < links_.size()) links_[n].reset();
    }

    /// Writes what hiredis buffered. Returns how many bytes left for the socket (all, on success).
    static std::size_t flush(redisContext* c, bool& ok) noexcept {
        const std::size_t total = sdslen(c->obuf);
        int done = 0;
        ok = true;
        while (!done)
            if (redisBufferWrite(c, &done) != REDIS_OK) {
                ok = false;
                return total - sdslen(c->obuf);
            }
        return total;
    }

    /// Why a read or write on `c` failed, for messages: a timeout, a close, or hiredis's words.
    std::string why_lost(redisContext* c) const {
        if (c->err == REDIS_ERR_PROTOCOL) return "it sent bytes that are not RESP (" + detail::escaped(c->errstr, 200) + ")";
        if (c->err == REDIS_ERR_IO && (std::strstr(c->errstr, "temporarily unavailable") != nullptr ||
                                       std::strstr(c->errstr, "timed out") != nullptr))
            return "no reply came in time (the call's deadline, or command_timeout " +
                   std::to_string(options_.tls.command_timeout.count()) +
                   " ms for one read; a blocking command needs call_options::reply_timeout)";
        return "the connection was lost (" + detail::escaped(c->errstr[0] != '\0' ? c->errstr : "closed", 200) + ")";
    }

    // ---- calls ----------------------------------------------------------------------------------------

    /// The printf-style forms once their va_list is ended (an exception must not leave it open): error{config} for a
    /// format that could not be encoded, else the command run on `slot` (-1: any master; none: the slot of the
    /// command's own keys, as call() routes).
    reply_ptr run_formatted(std::optional<int> slot, const detail::raw_command& raw, const char* format,
                            const call_options& call) {
        const std::string cmd = detail::to_command(raw, format);
        return run(slot ? *slot : command_slot(detail::decode_command(cmd)), cmd, call);
    }

    reply_ptr run(int slot, const std::string& cmd, const call_options& call) {
        if constexpr (observes_v<Observer, call_ended_event>) {
            const auto started = clock::now();
            std::optional<call_state> c;
            try {
                c.emplace(core_.start(slot, cmd, call, started));
            } catch (const error& e) {  // refused before anything was sent (SUBSCRIBE, a bad option): a call too
                core_.tell_call_ended(detail::operation_name(cmd).view(), 1, no_node, started, 0, nullptr, &e, clock::now());
                throw;
            }
            return drive(*c);
        } else {
            call_state c = core_.start(slot, cmd, call, clock::now());
            return drive(c);
        }
    }

    /// One call, to the end, told to the observer when it handles call_ended_event.
    reply_ptr drive(call_state& c) {
        if constexpr (!observes_v<Observer, call_ended_event>) {
            return drive_call(c);
        } else {
            try {
                reply_ptr reply = drive_call(c);
                core_.on_call_ended(c, reply.get(), nullptr, clock::now());
                return reply;
            } catch (const error& e) {
                core_.on_call_ended(c, nullptr, &e, clock::now());
                throw;
            }
        }
    }

    /// One call, to the end: the core decides, this does the I/O.
    reply_ptr drive_call(call_state& c);

    /// One wave of a pipeline: route every pending entry, write each node's share, then read them (the wave's
    /// bookkeeping and order rules: detail/pipeline_wave.hpp). Returns the entries to send again, in the order added.
    std::vector<std::size_t> wave(std::vector<call_state>& calls, const std::vector<std::size_t>& pending,
                                  std::vector<std::optional<outcome>>& results);

    // ---- topology -------------------------------------------------------------------------------------

    /// Asks the best nodes in turn until one gives a view the core installs. False (map unchanged)
    /// when none did before `deadline`; each node's answer is appended to `failures` if given.
    bool refresh_within(clock::time_point deadline, std::string* failures = nullptr) {
        return !run_refresh(deadline, failures).has_value();
    }

    /// Runs one refresh (detail/topology_refresh.hpp decides whom to ask, what, and what answers mean; this only
    /// dials, writes and reads). The error that ended it when no view was installed, nullopt when one was.
    std::optional<error> run_refresh(clock::time_point deadline, std::string* failures = nullptr);

    /// One request of the driver's own (CLUSTER SHARDS/SLOTS). A lost connection drops the node's
    /// link and throws error{connect}; bytes that are not RESP throw error{protocol}.
    reply_ptr ask(node_id n, redisContext* c, const char* what) {
        reply_ptr reply(static_cast<redisReply*>(redisCommand(c, what)));
        if (reply) return reply;
        const bool garbled = c->err == REDIS_ERR_PROTOCOL;
        std::string message = (garbled ? "unreadable reply from " : "lost the connection to ") +
                              to_string(core_.node(n).reported) + " while asking " + what + ": " + why_lost(c);
        drop(n);
        core_.on_disconnected(n, message);
        throw error(garbled ? error_kind::protocol : error_kind::connect, message);
    }

    /// A pipeline ended: one call_ended_event named PIPELINE, for the node all its entries went to (none when they
    /// went to several), failed when an entry failed (the first one's kind), an error reply when one was.
    void tell_pipeline_ended(const std::vector<call_state>& calls, const std::vector<outcome>& out,
                             clock::time_point started) const {
        node_id node = calls.empty() ? no_node : calls.front().sent_to;
        unsigned sends = 0;
        const error* failure = nullptr;
        const redisReply* error_reply = nullptr;
        for (std::size_t i = 0; i < calls.size(); ++i) {
            if (calls[i].sent_to != node) node = no_node;
            sends += static_cast<unsigned>(calls[i].sends);
            if (!out[i].ok() && failure == nullptr) failure = out[i].failure();
            if (out[i].ok() && out[i]->type == REDIS_REPLY_ERROR && error_reply == nullptr) error_reply = out[i].reply();
        }
        core_.tell_call_ended("PIPELINE", calls.size(), node, started, sends, failure != nullptr ? nullptr : error_reply,
                              failure, clock::now());
    }

    cluster_options options_;
    std::unique_ptr<Policy> policy_;  // at a stable address: the core's mapper points to it
    std::unique_ptr<Observer> observer_;  // at a stable address: the core's event sink points to it
    std::string dialed_address_;          // the IP the last dial() connected to (for connection_opened_event)
    tls_context tls_;
    cluster_core core_;
    std::vector<std::optional<tls_connection>> links_;  // by node_id
    detail::slot_order wave_order_;  // a pipeline wave's entries per slot and node (empty between waves)
    detail::reply_builder reply_builder_;  // where a pipeline's replies are built
    bool no_cluster_shards_ = false;
};

/// Named clusters, one per shipped policy.
using identity_cluster = basic_cluster<identity>;
using ip_to_hostname_cluster = basic_cluster<ip_to_hostname>;
using static_table_cluster = basic_cluster<static_table>;
using env_cluster = basic_cluster<env>;

}  // namespace addrmap

// basic_cluster's longer I/O members (a dial, a call, a pipeline wave, a refresh).
#include <addrmap/detail/cluster_calls.hpp>
