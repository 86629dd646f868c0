// addrmap/detail/async_driver_calls.hpp — async_driver's calls: a call started (refused at once, or queued), the queue
// pumped (each call routed by the core's next(): sent, dialed for, waited, failed), dedicated connections, deadlines.
#pragma once

#include <addrmap/detail/async_driver.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace addrmap::detail {

template <class Command>
inline void async_driver::start(int slot, Command command, const call_options& call, async_callback done, bool reserved,
           node_id fixed, const std::shared_ptr<async_lease>& lease) {
    // The call is made first (from the pool: no allocation in the steady state) and held until it is tracked:
    // a refusal gives it back before the callback runs, an exception (out of memory) on its way out.
    call_draft held = make_call(std::move(command));
    async_call* c = held.get();
    const auto refuse = [&](outcome o) {
        if (core_.wants_call_events() && !lease) {  // refused before anything was sent: a call that ended too
            const auto now = clock::now();
            core_.tell_call_ended(operation_name(c->text()).view(), 1, no_node, now, 0, nullptr, o.failure(), now);
        }
        held.release();
        if (done) callbacks_.invoke(done, std::move(o));
    };
    if (lease && lease->ended && !closed_ && !shutting_down_) {
        if (reserved) bound_.unreserve();
        return refuse(outcome(*lease->broken));
    }
    if (closed_ || shutting_down_) {
        if (reserved) bound_.unreserve();
        return refuse(outcome(error(error_kind::closed, "the cluster is disconnected: the command was not sent")));
    }
    if (!reserved && !bound_.reserve()) {
        ++core_.stats().overloaded;
        return refuse(outcome(error(error_kind::overloaded, bound_.total_refusal(named(c->text())))));
    }
    // Keyless: the master it will most likely go to.
    const node_id charge_to = fixed != no_node                    ? fixed
                              : lease && lease->node != no_node ? lease->node
                                                                : core_.owner(slot);
    if (!bound_.charge(charge_to)) {  // refused before anything is sent: a refusal costs little
        bound_.unreserve();
        ++core_.stats().overloaded;
        return refuse(outcome(error(error_kind::overloaded,
                                    bound_.node_refusal(named(c->text()), describe(core_.node(charge_to).reported)))));
    }
    c->charged_to = charge_to;
    const auto now = clock::now();
    const std::string_view name = command_name(c->text());  // read once for the checks below
    try {
        c->state = fixed != no_node ? core_.start_on(fixed, c->text(), call, now)
                   : lease          ? core_.start_vetted(slot, c->text(), call, now)  // async_transaction vetted it
                                    : core_.start(slot, c->text(), name, call, now);
    } catch (const error& e) {  // refused before sending (a bad option, SUBSCRIBE, ...): nothing was sent
        bound_.release(charge_to);
        return refuse(outcome(e));
    } catch (...) {  // out of memory: the call's place in the bound goes back with it
        bound_.release(charge_to);
        throw;
    }
    if (lease) {  // a transaction is told as one call, MULTI to EXEC (async_callbacks::tell_call_ended)
        if (iequals_ascii(name, "MULTI")) lease->in_multi = 1, lease->multi_started = now;
        else if (lease->in_multi > 0) ++lease->in_multi;
    }
    if (!lease && may_hold_connection(name)) {
        const connection_hold h = holds_connection(decode_command(c->text()));
        if (h.blocks) {
            // WAIT stays where its writes went (elsewhere it would count none); the others get their own.
            c->dedicated = !h.own_writes;
            // The server's wait, then command_timeout for the answer; no limit ("0"): the call's deadline.
            c->stall_allowance = h.at_most ? *h.at_most + options_.tls.command_timeout : until(c->state.deadline, now);
        }
    }
    // The caller's word on how long the reply may take: it replaces the estimate. It only lengthens the stall
    // bound of a shared connection (a shorter one would cut the other calls on it); call_options::deadline cuts.
    if (call.reply_timeout) c->stall_allowance = *call.reply_timeout;
    c->callback = std::move(done);
    c->seq = ++next_seq_;
    held.take();  // tracked from here: the deadline structures, then the queue or a connection, hold it
    callbacks_.started();
    calls_.track_deadline(c, call.deadline.has_value());
    timer_.arm_by(c->state.deadline);
    if (lease) {
        c->state.replica_read = false;  // WATCH, MULTI and EXEC go to the slot's master, so do its reads
        c->dedicated = true;  // never counted by the slot's order rule: its connection is the lease's alone
        c->lease = lease;
        c->quiet_loss = !lease_call_counted_;
        if (lease->connection != nullptr && lease->waiting.empty()) return leases_.send(c);
        if (lease->opening || lease->connection != nullptr) return lease->waiting.push_back(c);
        lease->opening = c->opens_lease = true;  // routed as a blocking command is; the others follow it
    }
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

inline void async_driver::pump() {
    if (pumping_ || shutting_down_) {
        pump_again_ = true;
        return;
    }
    pumping_ = true;
    do {
        pump_again_ = false;
        const auto now = clock::now();
        wake_at_ = clock::time_point::max();
        callbacks_.begin_walk();
        calls_.walk(now, [&](async_call* c) { return route(c, now); }, [&](async_call* c) {
            core_.next(c->state, now);  // says the deadline passed
            callbacks_.finish(c, outcome(*c->state.failure));
        });
        callbacks_.end_walk();
        if (closed_) fail_waiting("disconnect() was called");
        for (auto& [n, why] : std::exchange(deferred_failures_, {})) node_failed(n, why);
        leases_.break_deferred();
        run_room_waiters();
    } while (pump_again_);
    pumping_ = false;
    rearm();
}

inline bool async_driver::route(async_call* c, clock::time_point now) {
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
            case core_decision::kind::fail: callbacks_.finish(c, outcome(*c->state.failure)); return true;
            case core_decision::kind::wait: wake_at_ = std::min(wake_at_, d.until); return false;
            case core_decision::kind::refresh:
                refresh_.start(now);
                continue;  // route on the current map meanwhile (next() no longer says refresh)
            case core_decision::kind::send: break;
        }
        bound_.recharge(c->charged_to, d.node);  // counted against the node it goes to (a replica, a redirect)
        c->charged_to = d.node;
        if (c->dedicated) {
            const int routed = route_dedicated(c, d, now);
            if (routed > 0) return true;
            if (routed == 0) return false;
            continue;
        }
        async_connection* connection = nullptr;
        try {
            connection = dialer_.connection_for(d.node, now);
        } catch (const error& e) {
            if (e.kind() != error_kind::closed) callbacks_.report(e);
            if (core_.on_not_sent(c->state, d.node, e, now) == core_verdict::fail) {
                callbacks_.finish(c, outcome(*c->state.failure));
                return true;
            }
            continue;
        }
        if (connection == nullptr || !connection->ready()) {
            c->waiting_for = d.node;
            return false;
        }
        c->waiting_for = no_node;
        if (!c->state.replica_read && calls_.out_on_another_connection(slot, connection) && now < c->state.deadline) {
            // An older call of the slot is still out elsewhere (the old owner, a connection being replaced):
            // sent now, this one could run first. Wait until the older ones are back.
            calls_.hold_for_order(slot);
            wake_at_ = std::min(wake_at_, c->state.deadline);
            return false;
        }
        if (c->stall_allowance) connection->expect_hold(*c->stall_allowance);
        if (send_on(*connection, c, d)) return true;
        if (c->stall_allowance) connection->hold_over();
        connections_.drop(d.node);
    }
    return false;
}

inline int async_driver::route_dedicated(async_call* c, const core_decision& d, clock::time_point now) {
    if (c->own != nullptr && c->own->node() != d.node) free_own(c);  // redirected elsewhere
    if (c->own == nullptr) {
        c->own = connections_.take_spare(d.node);
        if (c->own == nullptr && connections_.dedicated_count(d.node) >= options_.max_blocking_connections_per_node) {
            ++core_.stats().overloaded;  // told at once, as the bound on calls tells it: nothing was sent
            callbacks_.finish(c, outcome(error(error_kind::overloaded,
                c->name() + " did not run: " + describe(core_.node(d.node).reported) + " already has " +
                std::to_string(connections_.dedicated_count(d.node)) +
                " connections of its own for blocking commands and transactions "
                "(cluster_options::max_blocking_connections_per_node); "
                "retry when one of them is back, or raise the bound")));
            return 1;
        }
        if (c->own == nullptr) {
            const async_connection* shared = nullptr;
            try {
                shared = dialer_.connection_for(d.node, now);
            } catch (const error& e) {  // the node's own connection: the node's news, as in route()
                if (e.kind() != error_kind::closed) callbacks_.report(e);
                if (core_.on_not_sent(c->state, d.node, e, now) == core_verdict::fail) {
                    callbacks_.finish(c, outcome(*c->state.failure));
                    return 1;
                }
                return -1;
            }
            try {
                if (shared != nullptr && shared->ready()) {
                    c->own = dialer_.dial_dedicated(d.node, now);
                    if (c->own != nullptr) ++core_.stats().blocking_connections_made;
                }
            } catch (const error& e) {
                if (e.kind() != error_kind::closed) callbacks_.report(e);
                own_dial_failed(c, d.node, e, now);
                return -1;  // next() says: its backoff, or its failure
            }
            if (c->own == nullptr) {  // the node's shared connection first: connection_ready routes it again
                c->waiting_for = d.node;
                return 0;
            }
        }
        dedicated_calls_[c->own] = c;
    }
    c->waiting_for = no_node;
    if (!c->own->ready()) return 0;  // connection_ready routes it again
    if (calls_.out_on_another_connection(c->state.slot, c->own) && now < c->state.deadline) {
        calls_.hold_for_order(c->state.slot);  // an older call of its slot is out: it goes after it
        wake_at_ = std::min(wake_at_, c->state.deadline);
        return 0;
    }
    c->own->expect_hold(c->stall_allowance.value_or(options_.tls.command_timeout));
    if (send_on(*c->own, c, d)) {
        if (c->opens_lease) leases_.opened(c);
        return 1;
    }
    free_own(c);
    return -1;
}

inline void async_driver::expire(clock::time_point now) {
    // The calls due are a snapshot: no callback runs and no connection closes (which ends its calls at once)
    // while it is walked, so none of them is freed or reused under it. (Connections are deleted only by
    // collect(), so those to close are still there after the callbacks.)
    std::vector<async_connection*> to_close;
    callbacks_.begin_walk();
    for (async_call* c : calls_.due(now)) {
        if (!c->in_flight || c->finished) continue;
        if (c->lease) {  // a transaction's step: the transaction ends with it (its connection is closed)
            leases_.expired(c);
            continue;
        }
        core_.on_expired_in_flight(c->state, c->sent_to, now);
        // Its own connection is of no use to anyone while the server waits (BLPOP 0 may wait for ever): closed,
        // its loss comes back to the ended call, which frees the call's place.
        if (c->own != nullptr) to_close.push_back(c->own);
        callbacks_.finish(c, outcome(*c->state.failure));
    }
    callbacks_.end_walk();
    for (async_connection* own : to_close) own->close_because("the call's deadline passed while the server waited");
    leases_.close_expired();
}

}  // namespace addrmap::detail
