// addrmap/detail/reply_rules.hpp — what a Redis error reply means for a call: a redirect to follow, a refusal
// the server sent without running the command, or the caller's own reply. One word list for every user.
#pragma once

#include <addrmap/address.hpp>  // detail::iequals_ascii
#include <addrmap/command_keys.hpp>
#include <addrmap/command_safety.hpp>

#include <cstdint>
#include <string_view>

namespace addrmap::detail {

/// The error replies by which a node says "not now" without running the command.
enum class refusal : std::uint8_t {
    none,
    tryagain,     ///< a multi-key command while its slot migrates
    clusterdown,  ///< the cluster lost slots or a majority
    loading,      ///< the node is loading its data set
    masterdown,   ///< a replica lost its master (replica-serve-stale-data no)
    busy,         ///< a script or function runs too long; only a topology refresh moves on for it
    noauth,       ///< not authenticated; only a topology refresh moves on for it
};

struct refusal_word {
    std::string_view word;
    refusal kind;
    bool retries_calls;  ///< a call that met it is sent again (within its deadline); else the reply is the caller's
    bool asks_refresh;   ///< the map may be stale (the cluster changed): a refresh is wanted
};

/// The one list. A call meets BUSY or NOAUTH only where retrying would meet them again or hide a caller's
/// mistake, so those end the call with the reply; a refresh just asks another node. TRYAGAIN (a slot migrating)
/// says nothing the map would show.
inline constexpr refusal_word refusal_words[] = {
    {"TRYAGAIN", refusal::tryagain, true, false}, {"CLUSTERDOWN", refusal::clusterdown, true, true},
    {"LOADING", refusal::loading, true, true},    {"MASTERDOWN", refusal::masterdown, true, true},
    {"BUSY", refusal::busy, false, false},        {"NOAUTH", refusal::noauth, false, false},
};

/// The refusal an error reply's text starts with (the word, then a space or the end), or refusal::none.
inline refusal refusal_of(std::string_view text) noexcept {
    for (const refusal_word& w : refusal_words)
        if (text.substr(0, w.word.size()) == w.word && (text.size() == w.word.size() || text[w.word.size()] == ' '))
            return w.kind;
    return refusal::none;
}

/// The list's row for `r`, or nullptr (refusal::none).
inline const refusal_word* refusal_row(refusal r) noexcept {
    for (const refusal_word& w : refusal_words)
        if (w.kind == r) return &w;
    return nullptr;
}
/// True for the refusals a call is sent again after (TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN).
inline bool retries_calls(refusal r) noexcept { return refusal_row(r) != nullptr && refusal_row(r)->retries_calls; }
/// True for the refusals after which the map is read again (CLUSTERDOWN, LOADING, MASTERDOWN).
inline bool asks_refresh(refusal r) noexcept { return refusal_row(r) != nullptr && refusal_row(r)->asks_refresh; }

/// True when the text is shaped like a redirect ("MOVED ..." or "ASK ..."), well formed or not.
inline bool looks_like_redirect(std::string_view text) noexcept {
    const auto is = [&](std::string_view word) {
        return text.substr(0, word.size()) == word && (text.size() == word.size() || text[word.size()] == ' ');
    };
    return is("MOVED") || is("ASK");
}

/// Commands that run the caller's code, whose error replies carry whatever text that code chose.
inline constexpr std::string_view script_commands[] = {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"};

/// Keyless commands of Redis itself that write no caller-chosen error text (keyed ones are in the key table).
inline constexpr std::string_view known_keyless_commands[] = {
    "ACL",      "BGREWRITEAOF", "BGSAVE",  "CLIENT",   "CLUSTER",  "COMMAND",  "CONFIG",   "DBSIZE",  "DEBUG",
    "ECHO",     "FAILOVER",     "FLUSHALL", "FLUSHDB", "FUNCTION", "INFO",     "KEYS",     "LASTSAVE", "LATENCY",
    "LOLWUT",   "MEMORY",       "MODULE",  "PING",     "PUBLISH",  "PUBSUB",   "RANDOMKEY", "REPLICAOF", "ROLE",
    "SAVE",     "SCAN",         "SCRIPT",  "SHUTDOWN", "SLAVEOF",  "SLOWLOG",  "SWAPDB",   "TIME",    "WAIT",
    "WAITAOF",  "SPUBLISH",     "MIGRATE", "PFDEBUG",  "PFSELFTEST", "RESTORE-ASKING", "OBJECT", "XINFO", "XGROUP",
};

/// True when the key table has a row for the command, under any subcommand (XINFO, XGROUP: rows per subcommand).
inline bool in_key_table(std::string_view name) noexcept {
    for (const command_keys_entry& e : command_key_table)
        if (e.name.size() == name.size() && iequals_ascii(e.name, name)) return true;
    return false;
}

/// True when the command could have written an error reply's text itself: a script or function, or a
/// command this library does not know (a module's, or a newer server's). For those a "TRYAGAIN ..." or
/// "MOVED ..." reply proves nothing about whether the command ran.
inline bool writes_its_own_errors(std::string_view encoded) noexcept {
    const std::string_view name = command_name(encoded);
    if (name.empty()) return false;  // the library's own probes (no command text)
    if (in_table(name, script_commands)) return true;
    if (in_key_table(name)) return false;
    return !in_table(name, read_only_commands) && !in_table(name, repeatable_writes) &&
           !in_table(name, known_keyless_commands);
}

/// What an error reply to a call means.
enum class error_reply_meaning : std::uint8_t {
    reply,     ///< the caller's reply (WRONGTYPE, a script's error, ...)
    redirect,  ///< MOVED / ASK from the cluster: parse it and follow it
    refused,   ///< a refusal the server sent without running the command: send again later
};

/// The one classification, for both drivers and transactions. A refusal or redirect is believed only when
/// the server itself must have sent it: a command that writes its own errors (scripts, unknown commands) and
/// may not be repeated gets "TRYAGAIN ..." and its kin as its reply, since the script may have run and chosen
/// that text; a redirect to it is followed only when well formed and for the command's own slot, and then only
/// once, to its target (the core: `redirect_slot_must_match`, cluster_core::follow_unconfirmed). A caller that
/// allows repeats (repeat::allowed) or a command in the repeat table loses nothing by a needless retry, so for
/// them every refusal is believed.
inline error_reply_meaning meaning_of_error(std::string_view text, std::string_view encoded, repeat policy) noexcept {
    const bool redirect_shape = looks_like_redirect(text);
    const refusal r = redirect_shape ? refusal::none : refusal_of(text);
    if (!redirect_shape && !retries_calls(r)) return error_reply_meaning::reply;
    if (redirect_shape) return error_reply_meaning::redirect;
    if (writes_its_own_errors(encoded) && !may_repeat(encoded, policy)) return error_reply_meaning::reply;
    return error_reply_meaning::refused;
}

/// True when a redirect for this command must be well formed and name the command's own slot to be followed
/// (else it is the caller's reply): the command may have written it itself.
inline bool redirect_slot_must_match(std::string_view encoded) noexcept { return writes_its_own_errors(encoded); }

}  // namespace addrmap::detail
