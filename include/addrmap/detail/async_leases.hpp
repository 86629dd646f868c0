// addrmap/detail/async_leases.hpp — the async driver's leased connections: a transaction's (or context_for_key's)
// connection of its own, its calls sent there in order, and what a loss on it tells each step.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/async_answers.hpp>
#include <addrmap/detail/async_callbacks.hpp>
#include <addrmap/detail/async_calls.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/async_lease.hpp>
#include <addrmap/detail/async_loop_timer.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/error.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// Every lease of one async driver, and the moves of their calls: the first call of a lease is routed by the driver
/// (as a blocking command is); from the moment it is written, the lease holds its connection and the calls after it go
/// there, in order, never redirected nor sent again. async_transaction decides what a step means; this moves it and
/// says what a loss means. Loop thread only.
class async_leases {
public:
    using clock = std::chrono::steady_clock;

    /// What the leases need from their driver: give a clean connection back (a spare), and route the waiting calls
    /// again (a refusal taught the core something).
    struct driver_hooks {
        std::function<void(async_connection&)> give_back;
        std::function<void()> request_pump;
    };

    async_leases(cluster_core& core, async_calls& calls, async_callbacks& callbacks, async_loop_timer& timer,
                 std::map<const async_connection*, async_call*>& dedicated_calls, driver_hooks hooks)
        : core_(core), calls_(calls), callbacks_(callbacks), timer_(timer), dedicated_calls_(dedicated_calls),
          hooks_(std::move(hooks)) {}

    async_leases(const async_leases&) = delete;
    async_leases& operator=(const async_leases&) = delete;

    /// A new lease for a transaction on `slot`: nothing is sent until its first call.
    std::shared_ptr<async_lease> lease(int slot) {
        auto l = std::make_shared<async_lease>();
        l->slot = slot;
        leases_.erase(std::remove_if(leases_.begin(), leases_.end(), [](const auto& w) { return w.expired(); }),
                      leases_.end());
        leases_.push_back(l);
        return l;
    }
    /// The transaction is done with `lease`: its connection serves again when `reusable` (no WATCH nor MULTI left on
    /// it) once its calls are back, else it closes.
    /// `why`: what later steps are told (by default, that exec() or discard() ended it).
    void end(async_lease& lease, bool reusable, const error* why = nullptr) {
        if (lease.ended) return;
        lease.ended = true;
        lease.reusable = reusable;
        lease.broken = why != nullptr ? *why
                                      : error(error_kind::config, "the transaction has ended (exec() or discard() ended "
                                                                  "it): begin a new one");
        fail_waiting(lease);
        release(lease);
    }
    /// A refusal a transaction met (MOVED, ASK, TRYAGAIN, ...): the core learns from it what it learns from any, for
    /// the transaction's own slot; the transaction does not follow it.
    void learn_from_refusal(const async_lease& lease, const redisReply& reply) {
        if (lease.node == no_node || !core_.exists(lease.node)) return;
        try {
            const auto r = parse_redirect(std::string_view(reply.str, reply.len));
            if (r && r->slot != lease.slot) return;  // not the server's answer about this slot
            call_state learn = core_.start_vetted(lease.slot, std::string_view(), {}, clock::now());
            core_.on_reply(learn, lease.node, reply, clock::now());
        } catch (const error&) {  // learning is a bonus; the transaction's error is what the caller needs
        }
        hooks_.request_pump();
    }
    /// The node a lease's connection goes to, for messages ("the slot's owner" before its first call was sent).
    std::string node_of(const async_lease& lease) const {
        if (lease.node == no_node || !core_.exists(lease.node)) return "the slot's owner";
        return describe(core_.node(lease.node).reported);
    }

    /// The lease's first call was written on its own connection: the lease holds it, and the calls that waited go.
    void opened(async_call* c) {
        async_lease& lease = *c->lease;
        lease.opening = false;
        lease.connection = c->own;
        lease.node = c->own->node();
        ++lease.out;
        leased_[lease.connection] = c->lease;
        dedicated_calls_.erase(lease.connection);  // the lease holds it from now on, not its first call
        while (!lease.waiting.empty() && lease.connection != nullptr) {
            async_call* next = lease.waiting.front();
            lease.waiting.pop_front();
            send(next);
        }
        fail_waiting(lease);  // the connection broke while they went
    }
    /// A later call of its lease, on the lease's connection (the driver found it held, with no call waiting before it).
    void send(async_call* c) {
        async_lease& lease = *c->lease;
        async_connection* connection = lease.connection;
        if (connection == nullptr || !connection->ready() || !connection->send(c, c->text(), false)) {
            const error lost(error_kind::connect, "the transaction's connection to " + node_of(lease) + " was lost before " +
                                                      c->name() + " was written: nothing was committed; retry the whole "
                                                      "transaction");
            const std::shared_ptr<async_lease> keep = c->lease;
            callbacks_.finish(c, outcome(lost));  // its own callback first, then the steps after it
            break_lease(*keep, lost, "the transaction's connection failed");
            return;
        }
        c->state.sent_to = lease.node;  // not routed by the core: the lease's node (counters, events)
        core_.on_send(c->state);
        ++core_.stats().round_trips;
        calls_.sent(c, connection, lease.node);
        ++lease.out;
        if (iequals_ascii(command_name(c->text()), "EXEC")) lease.exec_written = true;
        if (connection->in_flight() <= 2)
            if (const auto stall = connection->stall_deadline()) timer_.arm_by(*stall);
    }
    /// A reply (or loss) of a lease's call: the transaction's to read. `shutting_down`: the cluster is being destroyed.
    void reply(async_connection& connection, async_call* c, held_reply reply, bool written, bool shutting_down) {
        std::shared_ptr<async_lease> lease = c->lease;
        if (lease->out > 0) --lease->out;
        if (c->opens_lease) {
            dedicated_calls_.erase(&connection);
            c->own = nullptr;
        }
        if (c->finished) {
            callbacks_.late_reply(c);
        } else if (shutting_down) {
            callbacks_.finish(c, ending_when_destroyed(*c, connection, std::move(reply), written));
        } else if (!reply) {
            const error lost = loss(*c, written, connection.why_lost(), false);
            mark_ended(*lease, lost);
            callbacks_.finish(c, outcome(lost));  // its own callback first, then the steps after it
            break_lease(*lease, lost, "an earlier step of the transaction lost its connection");
        } else {
            callbacks_.finish(c, outcome(std::move(reply)));
        }
        release(*lease);
    }
    /// A lease's call written and not back at its deadline: the transaction ends with it (its connection is closed
    /// by close_expired(), once the walk over the due calls is over).
    void expired(async_call* c) {
        error lost = loss(*c, true, "no reply before the step's deadline", true);
        mark_ended(*c->lease, lost);  // no step is taken from now on
        expired_.push_back(c->lease);
        callbacks_.finish(c, outcome(std::move(lost)));
    }
    void close_expired() {
        for (const auto& lease : std::exchange(expired_, {})) break_lease(*lease, *lease->broken, "a step's deadline passed");
    }
    /// A lease's first call ended before it was written (`o`): the lease ends with the same error, once the call's own
    /// callback has run (break_deferred(), from the driver's next pass: the steps after it, in order).
    void first_call_ended(async_call* c, const outcome& o) {
        c->lease->opening = false;
        c->lease->ended = true;  // no step is taken from now on
        c->lease->broken = o.ok() ? error(error_kind::closed, "the transaction's first step ended") : *o.failure();
        to_break_.push_back(c->lease);
    }
    void break_deferred() {
        for (const auto& lease : std::exchange(to_break_, {})) break_lease(*lease, *lease->broken, "the transaction ended");
    }
    /// A dedicated connection went away: the lease holding it (if any) ends, its waiting steps told why.
    void connection_gone(const async_connection& connection) {
        const auto it = leased_.find(&connection);
        if (it == leased_.end()) return;
        const std::shared_ptr<async_lease> lease = it->second;
        leased_.erase(it);
        lease->connection = nullptr;
        break_lease(*lease,
                    error(error_kind::connect, "the transaction's connection to " + node_of(*lease) + " was lost (" +
                                                   connection.why_lost() + ") while no step was out: nothing was "
                                                   "committed; retry the whole transaction"),
                    "");
    }
    /// disconnect() or destruction: every open lease ends, its steps not sent yet with `why`; the steps out get their
    /// replies (the connection closes once they are back; destruction closes it anyway). A context_for_key lease's
    /// connection closes at once.
    void end_all(const char* why) {
        for (const auto& weak : std::exchange(leases_, {})) {
            const auto lease = weak.lock();
            if (!lease) continue;
            mark_ended(*lease, error(error_kind::closed, std::string(why) + ": the transaction ended"));
            lease->reusable = false;
            fail_waiting(*lease);
            if (async_connection* connection = std::exchange(lease->connection, nullptr)) {
                leased_.erase(connection);
                if (lease->for_context)
                    connection->close_because(why);  // the caller's BLPOP 0 would hold disconnect() for ever
                else
                    connection->close_when_idle();
            }
        }
    }

private:
    /// What a lease's call lost with its connection (or its deadline, `deadline`) tells: nothing ran (connect, or
    /// timeout) when it was not written or only watched or read; else it may have run (unknown_outcome, counted unless
    /// quiet_loss).
    error loss(const async_call& c, bool written, const std::string& why, bool deadline) {
        if (c.lease->for_context)  // its PING: nothing of the caller's ran
            return error(deadline ? error_kind::timeout : error_kind::connect,
                         "PING on " + node_of(*c.lease) + " ended (" + why + ")");
        const std::string_view name = command_name(c.text());
        const bool harmless = iequals_ascii(name, "WATCH") || iequals_ascii(name, "UNWATCH") ||
                              in_table(name, read_only_commands);
        const std::string node = node_of(*c.lease);
        if ((!written || harmless) && c.lease->exec_written)  // EXEC went behind it: only exec()'s outcome can tell
            return error(deadline ? error_kind::timeout : error_kind::connect,
                         "the transaction's step " + c.name() + " on " + node + " ended (" + why +
                             "); the transaction ended with EXEC already written: exec()'s outcome says whether it "
                             "committed");
        if (!written || harmless)
            return error(deadline ? error_kind::timeout : error_kind::connect,
                         "the transaction's step " + c.name() + " on " + node + " ended (" + why +
                             "): the transaction ended, its WATCHes are gone and nothing was committed; retry the "
                             "whole transaction");
        if (!c.quiet_loss) ++core_.stats().unknown_outcomes;
        return error(error_kind::unknown_outcome, c.name() + " was written to " + node + ", then " + why +
                                                      ": it may or may not have run; the transaction ended");
    }
    /// The lease can go on no more (`why`): its waiting calls end with `why`, its connection closes now (the steps out
    /// on it are told `close_reason`: a neutral fact, never advice meant for another step).
    void break_lease(async_lease& lease, const error& why, const char* close_reason) {
        mark_ended(lease, why);
        lease.reusable = false;
        fail_waiting(lease);
        if (async_connection* connection = std::exchange(lease.connection, nullptr)) {
            leased_.erase(connection);
            connection->close_because(close_reason);
        }
    }
    /// The first reason a lease ended is the one its later steps are told.
    static void mark_ended(async_lease& lease, const error& why) {
        if (lease.ended) return;
        lease.ended = true;
        lease.broken = why;
    }
    void fail_waiting(async_lease& lease) {
        if (!lease.ended) return;
        while (!lease.waiting.empty()) {
            async_call* c = lease.waiting.front();
            lease.waiting.pop_front();
            callbacks_.finish(c, outcome(*lease.broken));
        }
    }
    /// An ended lease whose calls are all back gives its connection back (a spare), or closes it.
    void release(async_lease& lease) {
        if (!lease.ended || lease.out > 0 || lease.connection == nullptr) return;
        async_connection* connection = std::exchange(lease.connection, nullptr);
        leased_.erase(connection);
        if (lease.reusable && connection->in_flight() == 0)
            hooks_.give_back(*connection);
        else
            connection->close_when_idle();
    }

    cluster_core& core_;
    async_calls& calls_;
    async_callbacks& callbacks_;
    async_loop_timer& timer_;
    std::map<const async_connection*, async_call*>& dedicated_calls_;  // the driver's: a lease takes its first call's
    driver_hooks hooks_;
    std::map<const async_connection*, std::shared_ptr<async_lease>> leased_;  // dedicated connections a lease holds
    std::vector<std::shared_ptr<async_lease>> to_break_;  // first calls that ended unsent (first_call_ended)
    std::vector<std::shared_ptr<async_lease>> expired_;   // steps past their deadline (expired)
    std::vector<std::weak_ptr<async_lease>> leases_;      // every lease, for disconnect()
};

}  // namespace addrmap::detail
