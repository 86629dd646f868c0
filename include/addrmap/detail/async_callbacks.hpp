// addrmap/detail/async_callbacks.hpp — how the async cluster runs the user's code: each call's callback once, never
// while the driver walks its queue (a callback may add to it), and what a callback throws goes to on_error.
#pragma once

#include <addrmap/detail/async_calls.hpp>
#include <addrmap/detail/call_bound.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// The callbacks of calls, the error handler, and the count of calls whose callback has not run (the loop thread); a
/// call's object going back frees its place in the bound.
class async_callbacks {
public:
    async_callbacks(async_calls& calls, call_bound& bound) noexcept : calls_(calls), bound_(bound) {}
    async_callbacks(const async_callbacks&) = delete;
    async_callbacks& operator=(const async_callbacks&) = delete;

    /// basic_async_cluster::on_error's handler.
    void on_error(std::function<void(const error&)> handler) { handler_ = std::move(handler); }
    /// Gives `e` to the error handler, if there is one (a handler that throws has nowhere to report to).
    void report(const error& e) const {
        if (!handler_) return;
        try {
            handler_(e);
        } catch (...) {
        }
    }
    /// Runs `done` with `o`; what it throws is reported.
    void invoke(const async_callback& done, outcome o) const {
        run_guarded([&] { done(std::move(o)); }, "a command's callback");
    }
    /// Runs the user's `code` (`what` names it for the report); what it throws is reported.
    template <class Code>
    void run_guarded(Code&& code, const char* what) const {
        try {
            code();
        } catch (const std::exception& e) {
            report(error(error_kind::config, std::string(what) + " threw: " + escaped(e.what(), 300)));
        } catch (...) {
            report(error(error_kind::config, std::string(what) + " threw a non-standard exception"));
        }
    }

    /// A call started: its callback is owed.
    void started() noexcept { ++pending_; }
    /// Calls whose callback has not run yet.
    std::size_t pending() const noexcept { return pending_; }

    /// Told of every call that ends while it holds a dedicated connection (async_call::own) or opens a transaction's
    /// lease: the driver frees the connection, or ends the lease.
    void on_finish_with_connection(std::function<void(async_call*, const outcome&)> hook) { finish_hook_ = std::move(hook); }

    /// Every call's end is told to `core`'s observer (call_ended_event); null: none wants it (nothing is done).
    void tell_call_ends_to(const cluster_core* core) noexcept { observed_core_ = core; }

    /// Ends `c` with `o`: its callback runs now, or when the current walk ends.
    void finish(async_call* c, outcome o) {
        if ((c->own != nullptr || c->opens_lease) && finish_hook_) finish_hook_(c, o);
        calls_.untrack_deadline(c);
        c->finished = true;
        --pending_;
        if (observed_core_ != nullptr) tell_call_ended(*c, o);
        if (walking_) {
            c->callback_deferred = true;
            deferred_.emplace_back(c, std::move(o));
            return;
        }
        complete(c, std::move(o));
    }

    /// `c`'s end, as the observer hears of it: a transaction's steps as one call named MULTI, at its EXEC's end.
    void tell_call_ended(const async_call& c, const outcome& o) const {
        const auto now = std::chrono::steady_clock::now();
        if (!c.lease) {
            observed_core_->on_call_ended(c.state, o.reply(), o.failure(), now);
        } else if (c.lease->in_multi > 0 && iequals_ascii(command_name(c.state.command), "EXEC")) {
            observed_core_->tell_call_ended("MULTI", c.lease->in_multi, c.lease->node, c.lease->multi_started, 1,
                                            o.reply(), o.failure(), now);
        }
    }

    /// While the driver walks its queue of calls, callbacks wait; end_walk() runs them, in the order they ended.
    void begin_walk() noexcept { walking_ = true; }
    void end_walk() {
        walking_ = false;
        for (auto& [c, o] : std::exchange(deferred_, {})) {
            c->callback_deferred = false;
            complete(c, std::move(o));
        }
    }
    bool walking() const noexcept { return walking_; }

private:
    void complete(async_call* c, outcome o) {
        async_callback done = std::move(c->callback);
        if (!c->in_flight) retire(c);  // one in flight is retired when its reply (or loss) comes
        if (done) invoke(done, std::move(o));
    }

public:
    /// A started call's object goes back (its callback ran, nothing of it is still to come): only now is its place in
    /// the bound free — a call ended at its deadline while still in flight holds its place (and its memory) until
    /// its reply or its connection's loss.
    void retire(async_call* c) noexcept {
        bound_.release(c->charged_to);
        calls_.release(c);
    }
    /// The reply (or loss) of a call that was ended while in flight: retired, unless its callback still waits for the
    /// walk's end (a connection closed inside a walk answers at once), which retires it then.
    void late_reply(async_call* c) noexcept {
        if (!c->callback_deferred) retire(c);
    }

private:

    async_calls& calls_;
    call_bound& bound_;
    const cluster_core* observed_core_ = nullptr;  // set when the observer wants call_ended_event
    std::function<void(const error&)> handler_;
    std::function<void(async_call*, const outcome&)> finish_hook_;
    std::vector<std::pair<async_call*, outcome>> deferred_;
    std::size_t pending_ = 0;
    bool walking_ = false;
};

}  // namespace addrmap::detail
