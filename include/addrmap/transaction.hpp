// addrmap/transaction.hpp — MULTI/EXEC (with WATCH) on the one connection that owns a slot, taken from the cluster
// for the transaction's life. Redirects inside a transaction are never followed: it ends, and the caller retries it whole.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/command_keys.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/tls.hpp>

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

namespace detail {

/// The replies that mean "this node does not serve the slot right now" (MOVED, ASK) or "not now" (the refusals
/// of reply_rules.hpp a call is retried after). Outside a transaction the core follows or retries them; inside
/// one they end it. A step that runs a script may have written such text itself: run_now() asks first.
inline bool is_cluster_refusal(const redisReply& reply) noexcept {
    if (reply.type != REDIS_REPLY_ERROR || reply.str == nullptr) return false;
    const std::string_view text(reply.str, reply.len);
    return looks_like_redirect(text) || retries_calls(refusal_of(text));
}

/// The error that ends a transaction whose step met a redirect or refusal. I/O-free, unit-tested.
inline error transaction_moved_error(int slot, std::string_view node, std::string_view step, const redisReply& reply,
                                     bool exec_written) {
    return error(error_kind::topology,
                 "slot " + std::to_string(slot) + " is moving or unavailable: " + std::string(step) + " got " +
                     quoted(std::string_view(reply.str, reply.len), 200) + " from " + std::string(node) +
                     ". Nothing was committed (" +
                     (exec_written ? "the server refused EXEC" : "EXEC was not sent") +
                     "). A transaction never follows a redirect (its WATCHes and queued commands live on this "
                     "connection): retry the whole transaction (after MOVED the cluster already knows the new owner)");
}

/// A command a transaction on `slot` may run or queue, decoded: error{config} for MULTI, EXEC, DISCARD (the
/// transaction sends them), a command that would change the connection's state past the transaction (SUBSCRIBE, ...),
/// or keys outside `slot`. Used by transaction and async_transaction. I/O-free, unit-tested.
inline std::vector<std::string_view> transaction_step(const std::string& cmd, int slot) {
    std::vector<std::string_view> argv = decode_command(cmd);
    for (std::string_view word : {"MULTI", "EXEC", "DISCARD"})
        if (iequals_ascii(argv[0], word))
            throw error(error_kind::config, std::string(word) + " is sent by the transaction itself: queue commands "
                                                                "with queue(), then call exec() or discard()");
    // WATCH and UNWATCH are the transaction's own; the rest of the list would outlive it on the connection.
    if (auto refused = refuse_connection_state_command(cmd, {"WATCH", "UNWATCH"})) throw std::move(*refused);
    const int command_slot_number = command_slot(argv);
    if (command_slot_number >= 0 && command_slot_number != slot) {
        std::string keys;
        for (std::string_view key : command_keys(argv))
            keys += (keys.empty() ? "" : ", ") + quoted(key, 60) + " (slot " + std::to_string(key_slot(key)) + ")";
        throw error(error_kind::config, quoted(argv[0], 40) + " has keys outside the transaction's slot " +
                                            std::to_string(slot) + ": " + keys +
                                            ". Every key of a transaction must be in its slot: give the keys one hash "
                                            "tag ({user1}.a, {user1}.b); nothing was sent");
    }
    return argv;
}

/// The refusal among EXEC's replies (MULTI's, each queued command's, EXEC's) the cluster may learn from, or null. Only
/// the server's own answers teach the map: MULTI's, the QUEUED acknowledgements (when MULTI was accepted; otherwise
/// the queued commands ran on their own and a script's reply is its text) and EXEC's; none when EXEC committed.
inline const redisReply* exec_refusal(const std::vector<reply_ptr>& replies) noexcept {
    if (replies.empty()) return nullptr;
    const redisReply& exec_reply = *replies.back();
    if (exec_reply.type == REDIS_REPLY_ARRAY || exec_reply.type == REDIS_REPLY_NIL) return nullptr;
    const bool multi_accepted = replies.front()->type != REDIS_REPLY_ERROR;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        const bool queued_step = i > 0 && i + 1 < replies.size();
        if (queued_step && !multi_accepted) continue;
        if (is_cluster_refusal(*replies[i])) return replies[i].get();
    }
    return nullptr;
}

/// What EXEC's replies mean, given the replies to MULTI, each queued command and EXEC (in that order). Returns
/// EXEC's reply (an array: committed; nil: a WATCHed key changed, nothing ran; an error reply such as EXECABORT:
/// nothing ran). Throws error{topology} when MULTI, a queued command or EXEC met a redirect or a cluster refusal
/// (nothing was committed), and error{server} when MULTI itself was refused (the queued commands then ran on their
/// own: the message lists their replies). I/O-free, unit-tested.
inline reply_ptr settle_exec(std::vector<reply_ptr> replies, const std::vector<std::string>& names, int slot,
                             std::string_view node) {
    if (replies.size() != names.size() + 2)
        throw error(error_kind::protocol, "EXEC: expected " + std::to_string(names.size() + 2) + " replies, got " +
                                              std::to_string(replies.size()));
    reply_ptr& exec_reply = replies.back();
    const redisReply& multi_reply = *replies.front();
    if (multi_reply.type == REDIS_REPLY_ERROR && !is_cluster_refusal(multi_reply)) {
        // MULTI refused (an ACL without MULTI, say) while the queued commands travelled with it: they ran on their
        // own, outside any transaction. Their replies are listed, since the caller cannot read them otherwise.
        std::string ran;
        for (std::size_t i = 0; i < names.size() && i < 8; ++i) {
            const redisReply& r = *replies[i + 1];
            ran += "\n  #" + std::to_string(i + 1) + " " + quoted(names[i], 40) + ": " +
                   (r.type == REDIS_REPLY_ERROR || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_STRING
                        ? quoted(std::string_view(r.str, r.len), 80)
                        : r.type == REDIS_REPLY_INTEGER ? std::to_string(r.integer) : std::string("(a reply)"));
        }
        throw error(error_kind::server, std::string(node) + " refused MULTI: " +
                                            quoted(std::string_view(multi_reply.str, multi_reply.len), 200) +
                                            ". The queued commands were sent with it and ran one by one, NOT as a "
                                            "transaction (check the ACL of cluster_options.user); their replies:" + ran);
    }
    const bool committed = exec_reply->type == REDIS_REPLY_ARRAY || exec_reply->type == REDIS_REPLY_NIL;
    if (committed) return std::move(exec_reply);
    if (is_cluster_refusal(*replies.front())) throw transaction_moved_error(slot, node, "MULTI", *replies.front(), true);
    for (std::size_t i = 0; i < names.size(); ++i)
        if (is_cluster_refusal(*replies[i + 1]))
            throw transaction_moved_error(slot, node, "queued command #" + std::to_string(i + 1) + " " + quoted(names[i], 40),
                                          *replies[i + 1], true);
    if (is_cluster_refusal(*exec_reply)) throw transaction_moved_error(slot, node, "EXEC", *exec_reply, true);
    return std::move(exec_reply);
}

}  // namespace detail

/// A transaction on one slot: WATCH and reads run at once on the slot owner's connection, queued commands go
/// with MULTI and EXEC in one write. Obtained from basic_cluster::begin_transaction(key); it holds that
/// connection until it ends (exec(), discard(), an error, or its destruction). It calls back into the cluster that
/// made it, so that cluster must neither be destroyed nor moved while the transaction is open.
/// Every key of every command must be in the transaction's slot (checked before anything is sent).
class transaction {
public:
    using clock = std::chrono::steady_clock;
    /// Takes back a connection in a clean state (no WATCH, no MULTI) when the transaction ends well.
    using give_back_fn = std::function<void(tls_connection&&)>;
    /// Told the reply when a redirect or refusal ended the transaction: the cluster core learns from it what it
    /// learns from any MOVED (the slot's new owner), so a retried transaction goes there. It is not followed.
    using moved_fn = std::function<void(const redisReply&)>;
    /// Told how exec() ended (the commands queued, when it started, EXEC's reply or the error): the cluster's observer
    /// hears of it as one call named MULTI. Empty: nobody listens.
    using ended_fn = std::function<void(std::size_t queued, clock::time_point started, const redisReply* reply,
                                        const error* failure)>;

    /// Used by basic_cluster::begin_transaction; `link` is the verified connection to the slot's owner.
    transaction(tls_connection link, int slot, std::chrono::milliseconds step_deadline, give_back_fn give_back,
                moved_fn on_moved, ended_fn on_ended = {})
        : link_(std::move(link)),
          slot_(slot),
          step_deadline_(step_deadline),
          give_back_(std::move(give_back)),
          on_moved_(std::move(on_moved)),
          on_ended_(std::move(on_ended)),
          node_(to_string(link_->reported())) {}

    transaction(transaction&& other) noexcept
        : link_(std::move(other.link_)),
          slot_(other.slot_),
          step_deadline_(other.step_deadline_),
          give_back_(std::move(other.give_back_)),
          on_moved_(std::move(other.on_moved_)),
          on_ended_(std::move(other.on_ended_)),
          node_(std::move(other.node_)),
          queued_(std::move(other.queued_)),
          watched_(other.watched_) {
        other.link_.reset();  // a moved-from optional stays engaged: the source must not end the transaction
        other.watched_ = false;
    }
    transaction& operator=(transaction&&) = delete;
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    /// Ends the transaction if it is still open: nothing queued is sent; WATCHes are dropped (UNWATCH).
    ~transaction() {
        if (link_) discard_quietly();
    }

    int slot() const noexcept { return slot_; }
    /// The node the transaction runs on, as the cluster reported it.
    const std::string& node() const noexcept { return node_; }
    /// False once exec(), discard() or an error ended it.
    bool active() const noexcept { return link_.has_value(); }
    std::size_t queued() const noexcept { return queued_.size(); }

    /// WATCH keys now (before queuing): EXEC then returns nil if another client changed one of them.
    void watch(const std::vector<std::string_view>& keys) {
        std::vector<std::string_view> args{"WATCH"};
        args.insert(args.end(), keys.begin(), keys.end());
        run_now(detail::format_argv(args));
    }

    /// Runs a command now, before EXEC (a read under WATCH); keys from the command itself (command_keys.hpp).
    reply_ptr command(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        return run_now(detail::to_command(raw, format));
    }
    reply_ptr command_argv(const std::vector<std::string_view>& args) { return run_now(detail::format_argv(args)); }

    /// Queues a command for EXEC (nothing is sent yet); its keys must be in the transaction's slot.
    void queue(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        add(detail::to_command(raw, format));
    }
    void queue_argv(const std::vector<std::string_view>& args) { add(detail::format_argv(args)); }

    /// Sends MULTI, the queued commands and EXEC in one write, and returns EXEC's reply: an array (one reply per
    /// queued command: committed), nil (REDIS_REPLY_NIL: a WATCHed key changed; nothing ran), or an error reply
    /// (EXECABORT: a queued command was refused; nothing ran). Throws error{topology} when a redirect or cluster
    /// refusal met the transaction (nothing committed: retry it whole), error{connect} when the connection was lost
    /// before EXEC was written (nothing committed), error{unknown_outcome} when it was lost after (it may have
    /// committed; never sent again). The transaction has ended either way.
    reply_ptr exec() {
        if (!on_ended_) return exec_once();
        const clock::time_point started = clock::now();
        const std::size_t queued = queued_.size();
        const ended_fn told = on_ended_;  // exec_once() may end the transaction
        try {
            reply_ptr reply = exec_once();
            told(queued, started, reply.get(), nullptr);
            return reply;
        } catch (const error& e) {
            told(queued, started, nullptr, &e);
            throw;
        }
    }

private:
    reply_ptr exec_once() {
        open_or_throw("exec()");
        redisContext* c = link_->get();
        link_->set_io_deadline(clock::now() + step_deadline_);
        std::string batch = multi_command;
        for (const std::string& cmd : queued_) batch += cmd;
        batch.append(exec_command);
        redisAppendFormattedCommand(c, batch.data(), batch.size());
        if (!flush(c)) {
            const std::string why = why_lost(c);
            end_broken();
            throw error(error_kind::connect, "the connection to " + node_ + " was lost before EXEC was written (" + why +
                                                 "): nothing was committed (the server drops an unfinished MULTI); retry "
                                                 "the whole transaction");
        }
        std::vector<reply_ptr> replies;
        for (std::size_t i = 0; i < queued_.size() + 2; ++i) {
            void* raw = nullptr;
            if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
                const std::string why = why_lost(c);
                end_broken();
                throw error(error_kind::unknown_outcome,
                            "EXEC was written to " + node_ + ", then " + why +
                                ": the transaction may or may not have committed, so it was not sent again");
            }
            replies.emplace_back(static_cast<redisReply*>(raw));
        }
        std::vector<std::string> names;
        for (const std::string& cmd : queued_) names.emplace_back(command_name(cmd));
        queued_.clear();
        if (const redisReply* refusal = detail::exec_refusal(replies)) tell_moved(*refusal);
        // EXEC after an accepted MULTI, whatever it answered, dropped the WATCHes: the connection is clean. "EXEC
        // without MULTI" (MULTI refused) drops none: closed.
        if (replies.front()->type != REDIS_REPLY_ERROR)
            end_clean();
        else
            end_broken();
        return detail::settle_exec(std::move(replies), names, slot_, node_);
    }

public:

    /// Ends the transaction without sending what was queued; WATCHes are dropped (UNWATCH). MULTI was never sent
    /// (it goes with EXEC), so there is nothing to DISCARD on the server.
    void discard() {
        open_or_throw("discard()");
        discard_quietly();
    }

private:
    static constexpr char multi_command[] = "*1\r\n$5\r\nMULTI\r\n";
    static constexpr char exec_command[] = "*1\r\n$4\r\nEXEC\r\n";
    static constexpr char unwatch_command[] = "*1\r\n$7\r\nUNWATCH\r\n";

    void open_or_throw(const char* what) const {
        if (!link_)
            throw error(error_kind::config, std::string(what) + " on a transaction that has ended (exec(), discard() or "
                                                                "an error ended it): begin a new one");
    }

    /// Error{config} unless every key of `cmd` is in the transaction's slot (a command without keys is fine).
    std::vector<std::string_view> checked(const std::string& cmd) const { return detail::transaction_step(cmd, slot_); }

    void add(std::string cmd) {
        open_or_throw("queue()");
        checked(cmd);
        queued_.push_back(std::move(cmd));
    }

    reply_ptr run_now(const std::string& cmd) {
        open_or_throw("command()");
        const std::vector<std::string_view> argv = checked(cmd);
        if (!queued_.empty())
            throw error(error_kind::config, "command() after queue(): commands run at once only before the first queued "
                                            "one (MULTI goes with EXEC); queue this one too");
        const std::string name(argv[0]);
        redisContext* c = link_->get();
        link_->set_io_deadline(clock::now() + step_deadline_);
        redisAppendFormattedCommand(c, cmd.data(), cmd.size());
        const bool written = flush(c);
        void* raw = nullptr;
        if (!written || redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
            const std::string why = why_lost(c);
            end_broken();
            const bool harmless = detail::iequals_ascii(name, "WATCH") || detail::in_table(name, detail::read_only_commands);
            if (!written || harmless)
                throw error(error_kind::connect, "the connection to " + node_ + " was lost at " + detail::quoted(name, 40) +
                                                     " (" + why + "): the transaction ended, its WATCHes are gone and "
                                                     "nothing was committed; retry the whole transaction");
            throw error(error_kind::unknown_outcome, detail::quoted(name, 40) + " was written to " + node_ + ", then " +
                                                         why + ": it may or may not have run; the transaction ended");
        }
        reply_ptr reply(static_cast<redisReply*>(raw));
        if (detail::is_cluster_refusal(*reply) && !detail::writes_its_own_errors(cmd)) {
            end_broken();  // the WATCHes it holds are no use: close rather than clean up
            tell_moved(*reply);
            throw detail::transaction_moved_error(slot_, node_, detail::quoted(name, 40), *reply, false);
        }
        if (detail::iequals_ascii(name, "WATCH") && reply->type != REDIS_REPLY_ERROR) watched_ = true;
        return reply;
    }

    void tell_moved(const redisReply& reply) noexcept {
        if (!on_moved_) return;
        try {
            on_moved_(reply);
        } catch (...) {  // learning the new owner is a bonus; the transaction's error is what the caller needs
        }
    }

    void discard_quietly() noexcept {
        queued_.clear();
        if (!watched_) return end_clean();
        redisContext* c = link_->get();
        link_->set_io_deadline(clock::now() + step_deadline_);
        redisAppendFormattedCommand(c, unwatch_command, sizeof(unwatch_command) - 1);
        void* raw = nullptr;
        if (flush(c) && redisGetReply(c, &raw) == REDIS_OK && raw != nullptr) {
            reply_ptr reply(static_cast<redisReply*>(raw));
            if (reply->type == REDIS_REPLY_STATUS) return end_clean();
        }
        end_broken();
    }

    /// The connection is clean (no WATCH, no MULTI): the cluster may use it again.
    void end_clean() noexcept {
        watched_ = false;
        if (!link_) return;
        tls_connection link = std::move(*link_);
        link_.reset();
        link.set_io_deadline(std::nullopt);
        if (give_back_) {
            try {
                give_back_(std::move(link));
            } catch (...) {  // the connection is closed instead: nothing is lost but a handshake
            }
        }
    }

    /// The connection is lost or holds state nobody wants: closed here.
    void end_broken() noexcept {
        watched_ = false;
        queued_.clear();
        link_.reset();
    }

    static bool flush(redisContext* c) noexcept {
        int done = 0;
        while (!done)
            if (redisBufferWrite(c, &done) != REDIS_OK) return false;
        return true;
    }

    static std::string why_lost(const redisContext* c) {
        return c->err != 0 ? "the connection failed (" + detail::escaped(c->errstr, 200) + ")"
                           : std::string("the connection was closed");
    }

    std::optional<tls_connection> link_;
    int slot_;
    std::chrono::milliseconds step_deadline_;
    give_back_fn give_back_;
    moved_fn on_moved_;
    ended_fn on_ended_;
    std::string node_;
    std::vector<std::string> queued_;  // RESP-encoded, checked
    bool watched_ = false;
};

}  // namespace addrmap
