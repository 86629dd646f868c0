// addrmap/command_safety.hpp — which commands may be sent again when a connection dies after they were written, and
// which a replica may serve: the shipped tables, and the per-call options (repeat policy, deadline, reply timeout).
#pragma once

#include <addrmap/address.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace addrmap {

/// Whether a call may be sent again after it may have reached the server without a reply.
/// Redirects (MOVED/ASK) and refusals that did not run the command (TRYAGAIN, CLUSTERDOWN,
/// LOADING, MASTERDOWN), and failures before any byte was written, are retried: the command
/// provably did not run — except for a script or unknown command, which may have written such
/// text itself (detail/reply_rules.hpp). This setting decides the "may have run" case.
enum class repeat {
    by_table,  ///< is_safe_to_repeat(): the shipped table below (the default)
    allowed,   ///< the caller knows repeating is harmless (e.g. an INCR guarded by a unique request id)
    never,     ///< never: report error_kind::unknown_outcome instead, even for a GET
};

/// Per-call settings; the defaults come from cluster_options.
struct call_options {
    /// Overrides cluster_options::deadline for this call (or pipeline) when set.
    std::optional<std::chrono::milliseconds> deadline;
    repeat repeat_policy = repeat::by_table;
    /// Replaces tls_options::command_timeout as the limit on each wait for this call's reply bytes, for
    /// commands that block on the server (`BLPOP key 3`: give it more than 3 s). The deadline still bounds
    /// the whole call. Must be > 0 when set.
    std::optional<std::chrono::milliseconds> reply_timeout;
};

namespace detail {

/// Splits a RESP array of bulk strings (what hiredis formats) into its elements. Anything else
/// yields false; the library only inspects commands it encoded itself, so this is not a parser
/// of untrusted input.
class resp_args {
public:
    explicit resp_args(std::string_view encoded) noexcept : rest_(encoded) {
        if (rest_.empty() || rest_.front() != '*') return;
        rest_.remove_prefix(1);
        std::size_t n = 0;
        if (!number(n)) return;
        remaining_ = n;
        ok_ = true;
    }

    std::size_t size() const noexcept { return remaining_; }
    /// False once the input was not a well-formed command.
    bool well_formed() const noexcept { return ok_; }
    /// What follows the arguments read so far (after the last one: the next command, if any).
    std::string_view rest() const noexcept { return rest_; }

    /// The next argument, or nullopt at the end or on malformed input.
    std::optional<std::string_view> next() noexcept {
        if (!ok_ || remaining_ == 0 || rest_.empty() || rest_.front() != '$') return std::nullopt;
        rest_.remove_prefix(1);
        std::size_t len = 0;
        if (!number(len) || rest_.size() < len + 2) return ok_ = false, std::nullopt;
        const std::string_view arg = rest_.substr(0, len);
        rest_.remove_prefix(len + 2);
        --remaining_;
        return arg;
    }

private:
    /// 1 to 12 digits, then CRLF (one walk: this runs for every call's name).
    bool number(std::size_t& out) noexcept {
        std::size_t value = 0, end = 0;
        for (; end < rest_.size() && end <= 12 && rest_[end] != '\r'; ++end) {
            const char c = rest_[end];
            if (c < '0' || c > '9') return false;
            value = value * 10 + static_cast<std::size_t>(c - '0');
        }
        if (end == 0 || end > 12 || end + 1 >= rest_.size() || rest_[end] != '\r' || rest_[end + 1] != '\n') return false;
        rest_.remove_prefix(end + 2);
        out = value;
        return true;
    }

    std::string_view rest_;
    std::size_t remaining_ = 0;
    bool ok_ = false;
};

/// Commands that leave data unchanged, so running them twice is the same as once.
inline constexpr std::string_view read_only_commands[] = {
    "BITCOUNT", "BITPOS",   "DBSIZE",      "DUMP",         "ECHO",       "EXISTS",     "EXPIRETIME", "GEODIST",
    "GEOHASH",  "GEOPOS",   "GEOSEARCH",   "GET",          "GETBIT",     "GETRANGE",   "HEXISTS",    "HGET",
    "HGETALL",  "HKEYS",    "HLEN",        "HMGET",        "HRANDFIELD", "HSCAN",      "HSTRLEN",    "HVALS",
    "INFO",     "KEYS",     "LASTSAVE",    "LCS",          "LINDEX",     "LLEN",       "LPOS",       "LRANGE",
    "MGET",     "OBJECT",   "PEXPIRETIME", "PFCOUNT",      "PING",       "PTTL",       "RANDOMKEY",  "SCAN",
    "SCARD",    "SDIFF",    "SINTER",      "SINTERCARD",   "SISMEMBER",  "SMEMBERS",   "SMISMEMBER", "SORT_RO",
    "SRANDMEMBER", "SSCAN", "STRLEN",      "SUBSTR",       "SUNION",     "TIME",       "TOUCH",      "TTL",
    "TYPE",     "XLEN",     "XRANGE",      "XREVRANGE",    "ZCARD",      "ZCOUNT",     "ZDIFF",      "ZINTER",
    "ZINTERCARD", "ZLEXCOUNT", "ZMSCORE",  "ZRANDMEMBER",  "ZRANGE",     "ZRANGEBYLEX", "ZRANGEBYSCORE", "ZRANK",
    "ZREVRANGE", "ZREVRANK", "ZSCORE",     "ZUNION",
};

/// Writes whose second run, right after the first, leaves exactly the state one run leaves: the same
/// values, members, scores and expiry times (the *reply* to the second run can differ: DEL then counts 0
/// keys). tests/integration/repeat_table.cpp proves every entry, in each option form, on a live server.
/// Left out on purpose: relative TTLs (EXPIRE, PEXPIRE, SETEX, PSETEX; SET with EX/PX is refused below),
/// since a second run starts the TTL again and the key expires later; and ZREMRANGEBYRANK, since the
/// members that move into the rank range are removed by the second run.
/// SET is refused with NX, XX, GET, EX or PX, ZADD with INCR (checked in is_safe_to_repeat).
inline constexpr std::string_view repeatable_writes[] = {
    "DEL",   "EXPIREAT", "HDEL", "HMSET", "HSET",     "MSET", "PERSIST", "PEXPIREAT", "PFADD",
    "SADD",  "SET",      "SETRANGE", "SREM", "UNLINK", "ZADD", "ZREM",   "ZREMRANGEBYSCORE",
};

template <std::size_t N>
bool in_table(std::string_view name, const std::string_view (&table)[N]) noexcept {
    return std::any_of(table, table + N, [&](std::string_view entry) { return iequals_ascii(entry, name); });
}

}  // namespace detail

/// The command name of a RESP-encoded command ("" if it is not one).
inline std::string_view command_name(std::string_view encoded) noexcept {
    detail::resp_args args(encoded);
    return args.next().value_or(std::string_view{});
}

/// True when the shipped table says `encoded` (a RESP-encoded command) may run twice without
/// harm: a second run right after the first leaves exactly what one run leaves. Reads are safe. Of the
/// writes, only those that set or remove state to values and absolute times given in the command: SET
/// (plain, EXAT, PXAT, KEEPTTL), MSET, SETRANGE, DEL/UNLINK, EXPIREAT/PEXPIREAT (with any of NX, XX, GT,
/// LT), PERSIST, HSET/HMSET/HDEL, SADD/SREM, ZADD (any options but INCR), ZREM, ZREMRANGEBYSCORE, PFADD.
/// Refused: SET with EX or PX, EXPIRE, PEXPIRE, SETEX and PSETEX, whose TTL counts from when the command
/// runs, so a second run moves the expiry later (prefer EXPIREAT/PEXPIREAT and SET ... EXAT/PXAT when
/// a lost reply should be re-sent); SET with NX, XX or GET, whose reply depends on the state before;
/// ZREMRANGEBYRANK, which removes further members when run again; and everything that counts, appends,
/// pops or runs code (INCR, APPEND, LPUSH, LPOP, XADD, EVAL, FCALL, MULTI, ...).
inline bool is_safe_to_repeat(std::string_view encoded) noexcept {
    detail::resp_args args(encoded);
    const auto name = args.next();
    if (!name) return false;
    using detail::iequals_ascii;
    if (detail::in_table(*name, detail::read_only_commands)) return true;
    if (!detail::in_table(*name, detail::repeatable_writes)) return false;
    const bool is_set = iequals_ascii(*name, "SET");
    const bool is_zadd = iequals_ascii(*name, "ZADD");
    if (!is_set && !is_zadd) return true;
    // SET key value [options]: NX/XX/GET make the reply depend on the state before, EX/PX make the TTL
    // depend on when it runs (EXAT/PXAT/KEEPTTL do not). ZADD INCR counts. An option's own argument
    // (EXAT's time) is a number, so it never reads as one of these names.
    for (std::size_t skip = is_set ? 2 : 1; skip > 0; --skip)
        if (!args.next()) return false;
    while (auto option = args.next()) {
        if (is_set && (iequals_ascii(*option, "NX") || iequals_ascii(*option, "XX") || iequals_ascii(*option, "GET") ||
                       iequals_ascii(*option, "EX") || iequals_ascii(*option, "PX")))
            return false;
        if (is_zadd && iequals_ascii(*option, "INCR")) return false;
    }
    return true;
}

/// True when `encoded` (a RESP-encoded command) only reads, by the shipped read table: such a
/// keyed command may be served by a replica (cluster_options::read_from). Everything else,
/// including every write and every script, goes to the master.
inline bool is_read_only_command(std::string_view encoded) noexcept {
    return detail::in_table(command_name(encoded), detail::read_only_commands);
}

/// The decision for one call: the override, or the table.
inline bool may_repeat(std::string_view encoded, repeat policy) noexcept {
    switch (policy) {
        case repeat::allowed: return true;
        case repeat::never: return false;
        case repeat::by_table: break;
    }
    return is_safe_to_repeat(encoded);
}

}  // namespace addrmap
