// addrmap/pipeline.hpp — commands queued to be sent together, one round trip per node per wave, and the
// outcome of each: a reply, or an addrmap::error that says whether the command may have run.
#pragma once

#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/reply_arena.hpp>
#include <addrmap/detail/resp_format.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>

#include <cstdarg>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// A reply owned by the caller; freed with freeReplyObject when it goes out of scope.
using reply_ptr = detail::reply_ptr;

/// What became of one command: its reply (which may be a Redis error reply such as WRONGTYPE), or an
/// addrmap::error. error_kind::unknown_outcome means it may have run; every other kind means it did not
/// (or, for timeout after a lost send, that it is safe to repeat: see docs/delivery.md).
///
/// The replies of a pipeline and of the async cluster's calls are built into blocks shared with the other replies of
/// the same read (no heap object per reply): reply() is a view, valid while this outcome lives; value() hands over a
/// copy made with hiredis's allocator, which freeReplyObject frees like any reply of hiredis's.
class outcome {
public:
    explicit outcome(reply_ptr reply) noexcept : reply_(std::move(reply)) {}
    explicit outcome(detail::arena_reply reply) noexcept : reply_(std::move(reply)) {}
    explicit outcome(detail::held_reply reply) noexcept : reply_(std::move(reply)) {}
    explicit outcome(error failure) : failure_(std::move(failure)) {}

    bool ok() const noexcept { return reply() != nullptr; }
    explicit operator bool() const noexcept { return ok(); }
    /// The reply, or nullptr when the command failed.
    redisReply* reply() const noexcept { return reply_.get(); }
    redisReply* operator->() const noexcept { return reply(); }
    /// The error, or nullptr when a reply came.
    const error* failure() const noexcept { return failure_ ? &*failure_ : nullptr; }
    /// The reply, taken out, as hiredis's own (freeReplyObject frees it); throws the error when there is none, and
    /// std::bad_alloc when the copy cannot be made.
    reply_ptr value() && {
        if (failure_) throw *failure_;
        if (!reply_) return nullptr;
        reply_ptr own = std::move(reply_).to_hiredis();
        if (!own) throw std::bad_alloc();
        return own;
    }

private:
    detail::held_reply reply_;
    std::optional<error> failure_;
};

template <class, class>
class basic_cluster;

/// Commands to send together; execute() returns one outcome per command, in the order added.
class pipeline {
public:
    /// hiredis printf-style format (%s, %b, %d, ...); `key` picks the slot. Throws error{config} for a command
    /// that would change the shared connection's state (SUBSCRIBE, MONITOR, HELLO, ...).
    void add(std::string_view key, const char* format, ...) {
        const std::size_t start = commands_.size();
        va_list ap;
        va_start(ap, format);
        bool encoded = false;
        detail::raw_command raw{};
        try {
            // %s, %b and %% (most commands) are encoded here without allocating; the rest by hiredis.
            encoded = detail::append_resp(commands_, format, ap);
        } catch (...) {
            va_end(ap);
            throw;
        }
        if (!encoded) raw = detail::format_raw(format, ap);
        va_end(ap);
        if (!encoded) {
            detail::check_formatted(raw, format);
            commands_.append(raw.bytes.get(), static_cast<std::size_t>(raw.length));
        }
        push(key, start, repeat::by_table);
    }
    /// One argument per element; the first is the command name; `key` picks the slot. `policy` says
    /// whether this entry may be sent again after it may have run (default: the shipped table).
    void add_argv(std::string_view key, const std::vector<std::string_view>& args, repeat policy = repeat::by_table) {
        if (args.empty()) throw error(error_kind::config, "empty command: argv needs at least the command name");
        const std::size_t start = commands_.size();
        detail::append_resp_argv(commands_, args.begin(), args.end());
        push(key, start, policy);
    }
    std::size_t size() const noexcept { return entries_.size(); }
    /// Entry `i`'s command as it goes on the wire (RESP); throws std::out_of_range past the end.
    std::string_view encoded(std::size_t i) const { return command(entries_.at(i)); }
    bool empty() const noexcept { return entries_.empty(); }
    /// Forgets the entries; the memory stays for the next batch.
    void clear() noexcept {
        entries_.clear();
        commands_.clear();
    }

private:
    template <class, class>
    friend class basic_cluster;
    struct entry {
        int slot;
        std::size_t offset, length;  // the RESP-encoded command in commands_
        repeat repeat_policy;
    };
    std::string_view command(const entry& e) const noexcept {
        return std::string_view(commands_).substr(e.offset, e.length);
    }

    /// The command appended from `start` on becomes an entry, or is taken back when refused.
    void push(std::string_view key, std::size_t start, repeat policy) {
        const std::string_view cmd = std::string_view(commands_).substr(start);
        if (auto refused = detail::refuse_connection_state_command(cmd)) {
            commands_.resize(start);
            throw std::move(*refused);
        }
        try {
            entries_.push_back({static_cast<int>(key_slot(key)), start, cmd.size(), policy});
        } catch (...) {
            commands_.resize(start);
            throw;
        }
    }

    std::vector<entry> entries_;
    std::string commands_;  // every entry's command, back to back: one buffer, reused after clear()
};

}  // namespace addrmap
