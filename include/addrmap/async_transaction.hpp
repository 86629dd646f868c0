// addrmap/async_transaction.hpp — MULTI/EXEC (with WATCH) on the async cluster: every step on one connection of the
// transaction's own to its slot's owner, in order; a redirect ends it (the cluster learns the new owner) and is not followed.
#pragma once

#include <addrmap/async_future.hpp>
#include <addrmap/detail/async_driver.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/error.hpp>
#include <addrmap/transaction.hpp>

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// A transaction on one slot of a basic_async_cluster, from basic_async_cluster::begin_transaction(key). WATCH and
/// reads run on the transaction's own connection (a dedicated one to the slot's owner, as a blocking command gets, so
/// no other call shares its WATCHes); queued commands go with MULTI and EXEC in one write. Every key of every command
/// must be in the transaction's slot (checked before anything is sent). Calls are made on the loop thread; callbacks
/// run there. The cluster must outlive the transaction. Destroying it while open is discard().
///
/// A step that meets MOVED, ASK or a cluster refusal ends the transaction with error{topology} (nothing committed;
/// the cluster has learned from the reply, so a retried transaction goes to the new owner). A connection lost before
/// EXEC was written ends it with error{connect} (nothing committed); after, error{unknown_outcome}.
class async_transaction {
public:
    /// Used by basic_async_cluster::begin_transaction.
    async_transaction(detail::async_driver& driver, int slot, const call_options& step)
        : state_(std::make_shared<state>(driver, slot, step)) {}
    async_transaction(async_transaction&&) noexcept = default;
    async_transaction& operator=(async_transaction&& other) noexcept {
        if (this != &other) {
            discard_quietly();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    async_transaction(const async_transaction&) = delete;
    async_transaction& operator=(const async_transaction&) = delete;
    ~async_transaction() { discard_quietly(); }

    int slot() const noexcept { return state_ ? state_->slot : -1; }
    /// False once exec(), discard() or an error ended it.
    bool active() const noexcept { return state_ && !state_->lease->ended && !state_->exec_sent; }
    std::size_t queued() const noexcept { return state_ ? state_->queued.size() : 0; }

    /// WATCH keys now (before queuing): EXEC then returns nil if another client changed one of them.
    void watch(const std::vector<std::string_view>& keys, async_callback done) {
        std::vector<std::string_view> args{"WATCH"};
        args.insert(args.end(), keys.begin(), keys.end());
        run_now(detail::format_argv(args), std::move(done));
    }
    /// Runs a command now, before EXEC (a read under WATCH); keys from the command itself (command_keys.hpp).
    void command(async_callback done, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        run_now(detail::to_command(raw, format), std::move(done));
    }
    void command_argv(const std::vector<std::string_view>& args, async_callback done) {
        run_now(detail::format_argv(args), std::move(done));
    }

    /// Queues a command for EXEC (nothing is sent yet). Throws error{config} when the transaction has ended or the
    /// command has keys outside its slot (or is MULTI, EXEC, DISCARD, SUBSCRIBE, ...).
    void queue(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        add(detail::to_command(raw, format));
    }
    void queue_argv(const std::vector<std::string_view>& args) { add(detail::format_argv(args)); }

    /// Sends MULTI, the queued commands and EXEC in one write; `done` gets EXEC's reply: an array (committed), nil (a
    /// WATCHed key changed; nothing ran) or an error reply (EXECABORT: nothing ran); or the error (see the class). The
    /// transaction has ended either way.
    void exec(async_callback done) {
        if (!active()) return refuse(std::move(done), "exec()");
        state& s = *state_;
        s.exec_sent = true;
        auto batch = std::make_shared<exec_batch>();
        batch->names.reserve(s.queued.size());
        for (const std::string& cmd : s.queued) batch->names.emplace_back(command_name(cmd));
        batch->replies.resize(s.queued.size() + 2);
        batch->done = std::move(done);
        const std::size_t total = batch->replies.size();
        std::vector<std::string> steps;
        steps.reserve(total);
        steps.push_back(detail::format_argv({"MULTI"}));
        for (std::string& cmd : s.queued) steps.push_back(std::move(cmd));
        steps.push_back(detail::format_argv({"EXEC"}));
        s.queued.clear();
        std::shared_ptr<state> keep = state_;
        for (std::size_t i = 0; i < total; ++i)
            s.driver.start_on_lease(s.lease, std::move(steps[i]), s.step, [keep, batch, i, total](outcome o) {
                batch->replies[i] = std::move(o);
                if (++batch->back == total) settle(*keep, *batch);
            }, i + 1 == total);  // EXEC's loss counts; MULTI's and the queued commands' go with it
    }

    /// Ends the transaction without sending what was queued; WATCHes are dropped (UNWATCH after every step sent, or the
    /// connection closes).
    void discard() {
        if (!state_ || state_->lease->ended || state_->exec_sent) return;
        state& s = *state_;
        s.queued.clear();
        if (!s.watch_sent) return s.driver.end_lease(*s.lease, true);
        std::shared_ptr<state> keep = state_;
        s.exec_sent = true;  // no more steps
        s.driver.start_on_lease(s.lease, detail::format_argv({"UNWATCH"}), s.step, [keep](outcome o) {
            keep->driver.end_lease(*keep->lease, o.ok() && o->type == REDIS_REPLY_STATUS);
        });
    }

private:
    struct state {
        state(detail::async_driver& d, int slot_number, const call_options& step_options)
            : driver(d), slot(slot_number), step(step_options), lease(d.lease(slot_number)) {}
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        /// However the transaction's steps ended, its connection is not held past them (closed: a WATCH may be on it).
        ~state() {
            try {
                driver.end_lease(*lease, false);
            } catch (...) {  // no memory for the message: the lease ends when the cluster closes
            }
        }
        detail::async_driver& driver;
        int slot;
        call_options step;
        std::shared_ptr<detail::async_lease> lease;
        std::vector<std::string> queued;  // RESP, checked
        bool watch_sent = false;  // a WATCH was sent (answered or not): discard() sends UNWATCH behind it
        bool exec_sent = false;
    };
    struct exec_batch {
        std::vector<std::string> names;
        std::vector<std::optional<outcome>> replies;
        std::size_t back = 0;
        async_callback done;
    };

    /// A step on a transaction that has ended: why it ended (an error, disconnect()), or that exec() or discard() did.
    void refuse(async_callback done, const char* what) const {
        if (!done) return;
        if (state_ && state_->lease->broken) return done(outcome(*state_->lease->broken));
        done(outcome(error(error_kind::config, std::string(what) + " on a transaction that has ended (exec(), discard() "
                                                                   "or an error ended it): begin a new one")));
    }
    /// discard() for the destructor and move-assignment: nothing thrown (a step it cannot send closes the connection).
    void discard_quietly() noexcept {
        try {
            discard();
        } catch (...) {
            try {
                if (state_) state_->driver.end_lease(*state_->lease, false);
            } catch (...) {  // as ~state()
            }
        }
    }

    void add(std::string cmd) {
        if (!active())
            throw error(error_kind::config, "queue() on a transaction that has ended (exec(), discard() or an error "
                                            "ended it): begin a new one");
        detail::transaction_step(cmd, state_->slot);
        state_->queued.push_back(std::move(cmd));
    }

    void run_now(std::string cmd, async_callback done) {
        if (!active()) return refuse(std::move(done), "command()");
        state& s = *state_;
        std::vector<std::string_view> argv;
        try {
            argv = detail::transaction_step(cmd, s.slot);
            if (!s.queued.empty())
                throw error(error_kind::config, "command() after queue(): commands run at once only before the first "
                                                "queued one (MULTI goes with EXEC); queue this one too");
        } catch (const error& e) {
            if (done) done(outcome(e));
            return;
        }
        const bool is_watch = detail::iequals_ascii(argv[0], "WATCH");
        if (is_watch) s.watch_sent = true;
        const bool own_errors = detail::writes_its_own_errors(cmd);
        const std::string name = detail::quoted(argv[0], 40);
        std::shared_ptr<state> keep = state_;
        s.driver.start_on_lease(s.lease, std::move(cmd), s.step,
                                [keep, own_errors, name, done = std::move(done)](outcome o) mutable {
            state& st = *keep;
            if (o.ok() && detail::is_cluster_refusal(*o.reply()) && !own_errors) {
                // Its WATCHes are no use now: the connection closes rather than being cleaned up.
                const error moved = detail::transaction_moved_error(st.slot, st.driver.lease_node(*st.lease), name, *o.reply(), false);
                st.driver.learn_from_lease_refusal(*st.lease, *o.reply());
                st.driver.end_lease(*st.lease, false, &moved);  // later steps are told the same
                if (done) done(outcome(moved));
                return;
            }
            if (done) done(std::move(o));
        });
    }

    static void settle(state& s, exec_batch& batch) {
        const error* exec_failure = batch.replies.back()->failure();
        std::optional<outcome> result;
        if (exec_failure != nullptr) {
            // EXEC did not come back: whether it was written says whether the transaction may have committed (the
            // server drops a MULTI its connection lost before EXEC).
            s.driver.end_lease(*s.lease, false);
            if (exec_failure->kind() == error_kind::unknown_outcome)
                result = outcome(error(error_kind::unknown_outcome,
                                       std::string(exec_failure->message()) +
                                           ". The transaction may or may not have committed, so it was not sent again"));
            else  // not written (connect: the server drops an unfinished MULTI), or the cluster closing
                result = std::move(*batch.replies.back());
        } else if (const auto lost = std::find_if(batch.replies.begin(), batch.replies.end(), [](const auto& r) { return !r->ok(); });
                   lost != batch.replies.end()) {
            // EXEC came back but an earlier step did not: not on one ordered connection; said, never guessed.
            s.driver.end_lease(*s.lease, false);
            result = std::move(**lost);
        } else {
            std::vector<reply_ptr> replies;
            replies.reserve(batch.replies.size());
            for (auto& r : batch.replies) replies.push_back(std::move(*r).value());
            if (const redisReply* refusal = detail::exec_refusal(replies)) s.driver.learn_from_lease_refusal(*s.lease, *refusal);
            // EXEC after an accepted MULTI, whatever it answered, dropped the WATCHes: clean. "EXEC without MULTI" (MULTI
            // refused) drops none: the connection closes.
            s.driver.end_lease(*s.lease, replies.front()->type != REDIS_REPLY_ERROR);
            try {
                result = outcome(detail::settle_exec(std::move(replies), batch.names, s.slot, s.driver.lease_node(*s.lease)));
            } catch (const error& e) {
                result = outcome(e);
            }
        }
        if (batch.done) batch.done(std::move(*result));
    }

    std::shared_ptr<state> state_;  // shared with the callbacks of the steps in flight
};

}  // namespace addrmap
