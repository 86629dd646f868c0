// addrmap/pipeline.hpp — commands queued to be sent together, one round trip per node per wave, and the
// outcome of each: a reply, or an addrmap::error that says whether the command may have run.
#pragma once

#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>

#include <cstdarg>
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
/// (or, for timeout after a lost send, that it is safe to repeat: see the README's delivery table).
class outcome {
public:
    explicit outcome(reply_ptr reply) noexcept : reply_(std::move(reply)) {}
    explicit outcome(error failure) : failure_(std::move(failure)) {}

    bool ok() const noexcept { return reply_ != nullptr; }
    explicit operator bool() const noexcept { return ok(); }
    /// The reply, or nullptr when the command failed.
    redisReply* reply() const noexcept { return reply_.get(); }
    redisReply* operator->() const noexcept { return reply_.get(); }
    /// The error, or nullptr when a reply came.
    const error* failure() const noexcept { return failure_ ? &*failure_ : nullptr; }
    /// The reply, taken out; throws the error when there is none.
    reply_ptr value() && {
        if (failure_) throw *failure_;
        return std::move(reply_);
    }

private:
    reply_ptr reply_;
    std::optional<error> failure_;
};

template <class>
class basic_cluster;

/// Commands to send together; execute() returns one outcome per command, in the order added.
class pipeline {
public:
    /// hiredis printf-style format (%s, %b, %d, ...); `key` picks the slot. Throws error{config} for a command
    /// that would change the shared connection's state (SUBSCRIBE, MONITOR, HELLO, ...).
    void add(std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        std::string cmd = detail::to_command(raw, format);
        if (auto refused = detail::refuse_connection_state_command(cmd)) throw std::move(*refused);
        entries_.push_back({static_cast<int>(key_slot(key)), std::move(cmd), repeat::by_table});
    }
    /// One argument per element; the first is the command name; `key` picks the slot. `policy` says
    /// whether this entry may be sent again after it may have run (default: the shipped table).
    void add_argv(std::string_view key, const std::vector<std::string_view>& args, repeat policy = repeat::by_table) {
        std::string cmd = detail::format_argv(args);
        if (auto refused = detail::refuse_connection_state_command(cmd)) throw std::move(*refused);
        entries_.push_back({static_cast<int>(key_slot(key)), std::move(cmd), policy});
    }
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    void clear() noexcept { entries_.clear(); }

private:
    template <class>
    friend class basic_cluster;
    struct entry {
        int slot;
        std::string command;  // RESP-encoded
        repeat repeat_policy;
    };
    std::vector<entry> entries_;
};

}  // namespace addrmap
