// addrmap/detail/async_driver_connections.hpp — async_driver's answers to its connections' events: set up (the core
// hears, waiting calls go), failed, a reply (or a loss) for a call, gone; and a node that could not be dialed.
#pragma once

#include <addrmap/detail/async_driver.hpp>

#include <string>
#include <utility>

namespace addrmap::detail {

inline void async_driver::node_failed(node_id n, const error& why) {
    if (callbacks_.walking()) {  // never while pump() walks the queue
        deferred_failures_.emplace_back(n, why);
        pump_again_ = true;
        return;
    }
    connections_.reset(n);
    connections_.close_spares(n);
    const auto now = clock::now();
    core_.on_dial_failed(n, why, clock::now());
    callbacks_.report(why);
    callbacks_.begin_walk();
    calls_.stop_waiting_for(n, [&](async_call* c) {
        if (core_.on_not_sent(c->state, n, why, now) != core_verdict::fail) return false;
        callbacks_.finish(c, outcome(*c->state.failure));
        return true;
    });
    callbacks_.end_walk();
    refresh_.node_failed(n, why);
    connecting_.node_done(n, &why, refresh_.running());
    for (async_subscription* s : subscriptions_) s->node_failed(n);
    request_pump();
}

inline void async_driver::connection_ready(async_connection& connection) {
    if (const auto it = subscriber_connections_.find(&connection); it != subscriber_connections_.end()) {
        if (connection.handshake() && core_.exists(connection.node()))
            core_.tell_connection_opened(connection.node(), *connection.handshake(), connection.tcp_address());
        it->second->connection_ready(connection);
        return;
    }
    if (connection.dedicated()) {
        if (dedicated_calls_.count(&connection) == 0) give_back(connection);  // its call ended
        request_pump();  // its call goes now
        return;
    }
    const node_id n = connection.node();
    if (!core_.exists(n)) return;
    if (connection.handshake())
        core_.on_connected(n, *connection.handshake(), connection.tcp_address());
    else
        core_.on_connected(n);
    calls_.stop_waiting_for(n, [](async_call*) { return false; });  // pump() routes them
    refresh_.connection_ready(connection);
    connecting_.node_done(n, nullptr, refresh_.running());
    for (async_subscription* s : subscriptions_) s->node_ready(n);
    request_pump();
}

inline void async_driver::connection_failed(async_connection& connection, const error& why) {
    if (const auto it = subscriber_connections_.find(&connection); it != subscriber_connections_.end()) {
        async_subscription* s = it->second;
        subscriber_connections_.erase(it);
        s->connection_failed(connection, why);  // it reports the failure from its next run(), outside hiredis
        return;
    }
    if (connection.dedicated()) {
        if (const auto it = dedicated_calls_.find(&connection); it != dedicated_calls_.end()) {
            async_call* c = it->second;
            dedicated_calls_.erase(it);
            c->own = nullptr;
            own_dial_failed(c, connection.node(), why, clock::now());
        }
        if (shutting_down_) return;
        if (!closed_) callbacks_.report(why);  // after disconnect(), a dial it cut short is no news
        request_pump();
        return;
    }
    if (connections_.current(connection.node()) != &connection) return;
    connections_.drop(connection);
    dialer_.setup_failed(connection.node(), why);  // the next address, or node_failed
}

inline void async_driver::connection_reply(async_connection& connection, void* tag, held_reply reply, bool written) {
    mailbox_->seen_on_loop_thread();
    auto* c = static_cast<async_call*>(tag);
    c->in_flight = false;
    if (c->lease) return leases_.reply(connection, c, std::move(reply), written, shutting_down_);
    if (c->stall_allowance && !connection.dedicated()) connection.hold_over();  // command_timeout again, if last
    if (connection.dedicated()) {  // its call is back: the connection waits for the next one (or closes)
        dedicated_calls_.erase(&connection);
        c->own = nullptr;
        if (reply)
            give_back(connection);  // closes it if its node left the topology
        else
            connection.close_when_idle();  // lost
    }
    if (c->refresh_attempt == 0 && calls_.came_back(c))
        request_pump();  // every older call of the slot is back: the queue may move
    if (c->refresh_attempt != 0) {
        const std::uint64_t attempt = c->refresh_attempt;
        calls_.release(c);
        refresh_.reply(connection, attempt, std::move(reply));
        return;
    }
    if (c->finished) {  // ended at its deadline; this late reply is dropped
        callbacks_.late_reply(c);
        return;
    }
    if (shutting_down_) {
        callbacks_.finish(c, ending_when_destroyed(*c, connection, std::move(reply), written));
        return;
    }
    if (!reply) connections_.drop(connection);  // lost: the next send dials afresh
    const core_verdict verdict =
        !reply && connection.dedicated()
            ? core_.on_own_connection_lost(c->state, connection.node(), written, connection.why_lost(), clock::now())
            : verdict_on_answer(core_, *c, connection, reply.get(), written);
    if (verdict == core_verdict::done) {
        callbacks_.finish(c, outcome(std::move(reply)));
        if (bound_.has_waiters()) request_pump();  // room may have come
    } else if (verdict == core_verdict::fail) {
        callbacks_.finish(c, outcome(*c->state.failure));
        if (bound_.has_waiters()) request_pump();
    } else if (closed_) {
        callbacks_.finish(c, outcome(error(error_kind::closed, "disconnect() was called before " + c->name() +
                                                                   " could be sent again: " + c->state.last_problem)));
    } else {
        calls_.hold_behind_calls_out(c->state.slot);
        calls_.enqueue(c);
        request_pump();
    }
}

inline void async_driver::connection_gone(async_connection& connection) {
    const node_id n = connection.node();
    connections_.gone(connection);  // deleted by collect(), once hiredis has returned
    if (const auto it = subscriber_connections_.find(&connection); it != subscriber_connections_.end()) {
        async_subscription* s = it->second;
        subscriber_connections_.erase(it);
        s->connection_gone(connection);
        if (shutting_down_) return;
        maybe_disconnected();
        return;
    }
    if (connection.dedicated()) {  // a call's own: the node's state is its shared connection's to tell
        leases_.connection_gone(connection);
        if (const auto it = dedicated_calls_.find(&connection); it != dedicated_calls_.end()) {
            it->second->own = nullptr;  // reserved, not sent yet: routed again
            dedicated_calls_.erase(it);
        }
        if (shutting_down_) return;
        maybe_disconnected();
        if (!closed_) request_pump();
        return;
    }
    if (core_.exists(n)) {
        if (connection.lost_while_ready())
            core_.on_disconnected(n, connection.why_lost());
        else if (connection.state() != async_connection::phase::failed)
            core_.on_closed(n);
    }
    if (shutting_down_) return;
    loop_->wake_up();
    maybe_disconnected();
    if (!closed_) request_pump();
}

}  // namespace addrmap::detail
