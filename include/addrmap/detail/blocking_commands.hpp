// addrmap/detail/blocking_commands.hpp — which commands hold their connection while the server waits (BLPOP, BLMOVE,
// XREAD BLOCK, WAIT, ...) and for how long they may: the async cluster gives those a connection of their own. No I/O.
#pragma once

#include <addrmap/address.hpp>  // detail::iequals_ascii

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace addrmap::detail {

/// What a command does to its connection: nothing (the common case), or holds it while the server waits, for at most
/// `at_most` (no value: for ever, the command's timeout is 0, or a timeout the server will refuse).
struct connection_hold {
    bool blocks = false;
    std::optional<std::chrono::milliseconds> at_most;
    /// WAIT and WAITAOF wait for this connection's own earlier writes to be replicated: on another connection they
    /// would wait for nothing, so they stay on the connection the writes went to.
    bool own_writes = false;
};

/// A timeout argument as the server reads it: seconds (BLPOP's "0.5") or milliseconds; none when it is not a
/// non-negative number (the server refuses it, at once) or is 0 (for ever). A fraction of a millisecond counts as a
/// whole one ("0.0001" waits, it is not "for ever").
inline std::optional<std::chrono::milliseconds> parse_block_timeout(std::string_view text, bool in_seconds) {
    std::uint64_t whole = 0, fraction_ms = 0, fraction_scale = 1000;
    bool digits = false, dot = false, below_ms = false;
    for (char c : text) {
        if (c == '.' && in_seconds && !dot) {
            dot = true;
            continue;
        }
        if (c < '0' || c > '9') return std::nullopt;
        digits = true;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (!dot) {
            if (whole > 1000000000000ULL) return std::nullopt;  // beyond any deadline: treated as for ever
            whole = whole * 10 + d;
        } else if (fraction_scale > 1) {
            fraction_scale /= 10;
            fraction_ms += d * fraction_scale;
        } else if (d != 0) {
            below_ms = true;
        }
    }
    if (!digits) return std::nullopt;
    const std::uint64_t ms = in_seconds ? whole * 1000 + fraction_ms + (below_ms ? 1 : 0) : whole;
    if (ms == 0) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
}

/// A cheap look at the name alone: false for every command holds_connection() says holds nothing, except that a
/// true here still needs holds_connection() (XREAD without BLOCK).
inline bool may_hold_connection(std::string_view name) noexcept {
    if (name.empty()) return false;
    const char first = static_cast<char>(name[0] | 0x20);
    if (first != 'b' && first != 'w' && first != 'x') return false;
    for (std::string_view blocking : {"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZMPOP",
                                      "WAIT", "WAITAOF", "XREAD", "XREADGROUP"})
        if (iequals_ascii(name, blocking)) return true;
    return false;
}

/// Whether `argv` (the command name first) holds its connection while the server waits, and for how long at most.
inline connection_hold holds_connection(const std::vector<std::string_view>& argv) {
    connection_hold h;
    if (argv.empty()) return h;
    const std::string_view name = argv[0];
    const auto at = [&](std::size_t i, bool in_seconds) {
        h.blocks = true;
        if (i < argv.size()) h.at_most = parse_block_timeout(argv[i], in_seconds);
        return h;
    };
    for (std::string_view last_is_timeout : {"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "BRPOPLPUSH", "BLMOVE"})
        if (iequals_ascii(name, last_is_timeout)) return at(argv.size() - 1, true);
    for (std::string_view first_is_timeout : {"BLMPOP", "BZMPOP"})
        if (iequals_ascii(name, first_is_timeout)) return at(1, true);
    if (iequals_ascii(name, "WAIT") || iequals_ascii(name, "WAITAOF")) {
        h.own_writes = true;
        return at(iequals_ascii(name, "WAIT") ? 2 : 3, false);
    }
    const bool xread = iequals_ascii(name, "XREAD"), xreadgroup = iequals_ascii(name, "XREADGROUP");
    if (xread || xreadgroup) {
        // Options come before STREAMS (XREADGROUP's GROUP takes two values); BLOCK <ms> makes it wait, the last
        // one given counting, as the server reads them.
        std::optional<std::size_t> block_at;
        for (std::size_t i = 1; i < argv.size(); ++i) {
            if (iequals_ascii(argv[i], "STREAMS")) break;
            if (xreadgroup && iequals_ascii(argv[i], "GROUP")) {
                i += 2;
                continue;
            }
            if (iequals_ascii(argv[i], "COUNT")) {
                ++i;
                continue;
            }
            if (iequals_ascii(argv[i], "BLOCK")) block_at = ++i;
        }
        if (block_at) return at(*block_at, false);
    }
    return h;
}

}  // namespace addrmap::detail
