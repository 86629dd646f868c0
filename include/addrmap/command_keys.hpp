// addrmap/command_keys.hpp — where a command's keys are: a shipped table of key positions (as COMMAND GETKEYS
// gives them) and the one slot a command routes to. I/O-free; never reads past the arguments it is given.
#pragma once

#include <addrmap/address.hpp>  // detail::iequals_ascii
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap {

/// How a command's keys are laid out in its arguments (Redis's key specs, reduced to what the table needs).
enum class key_layout : std::uint8_t {
    range,      ///< argv[first], then every `step`th argument up to `last` (negative: from the end, -1 = the last)
    counted,    ///< `fixed_count` keys from argv[fixed_first], then argv[count_at] says how many keys follow it
    streams,    ///< XREAD / XREADGROUP: after the STREAMS keyword (options skipped), the first half of the rest
    sort,       ///< SORT key [BY p] [LIMIT o c] [GET p ...] [STORE destination]: the key, then the last STORE's
    georadius,  ///< GEORADIUS[BYMEMBER] key ... [STORE k] [STOREDIST k]: the key, the first STORE's, first STOREDIST's
    migrate,    ///< MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH ...] [KEYS k ...]: argv[3], or the KEYS
};

/// One row of the table: a command (and subcommand, for containers such as OBJECT) and where its keys are.
struct command_keys_entry {
    std::string_view name;        ///< upper case
    std::string_view subcommand;  ///< upper case; "" when the command has none
    key_layout layout = key_layout::range;
    int first = 1, last = 1, step = 1;   ///< range
    int count_at = 0;                    ///< counted: the argument that holds the number of keys
    int least = 1;                       ///< counted: the smallest count the command accepts
    int fixed_first = 0, fixed_count = 0;  ///< counted: keys before the count (ZUNIONSTORE's destination)
    int search_from = 0;                 ///< georadius: the first argument searched for STORE / STOREDIST
};

namespace detail {

constexpr command_keys_entry range_keys(std::string_view name, int first = 1, int last = 1, int step = 1) {
    command_keys_entry e{};
    e.name = name, e.layout = key_layout::range, e.first = first, e.last = last, e.step = step;
    return e;
}
constexpr command_keys_entry sub_keys(std::string_view name, std::string_view sub) {
    command_keys_entry e = range_keys(name, 2, 2);
    e.subcommand = sub;
    return e;
}
constexpr command_keys_entry counted_keys(std::string_view name, int count_at, int least, int fixed_count = 0) {
    command_keys_entry e{};
    e.name = name, e.layout = key_layout::counted, e.count_at = count_at, e.least = least;
    e.fixed_first = fixed_count > 0 ? 1 : 0, e.fixed_count = fixed_count;
    return e;
}
constexpr command_keys_entry special_keys(std::string_view name, key_layout layout) {
    command_keys_entry e{};
    e.name = name, e.layout = layout;
    return e;
}
/// `search_from` is the startfrom of Redis's STORE / STOREDIST key specs: after the fixed arguments (6 for
/// GEORADIUS key lon lat radius unit, 5 for GEORADIUSBYMEMBER key member radius unit).
constexpr command_keys_entry georadius_keys(std::string_view name, int search_from) {
    command_keys_entry e = special_keys(name, key_layout::georadius);
    e.search_from = search_from;
    return e;
}

}  // namespace detail

/// The shipped table (Redis 7.0 commands that take keys). A command missing here is refused by the key-less
/// API with a message that says to pass the key; the keyed API (command(key, ...)) takes any command.
inline constexpr command_keys_entry command_key_table[] = {
    // strings
    detail::range_keys("APPEND"), detail::range_keys("DECR"), detail::range_keys("DECRBY"), detail::range_keys("GET"),
    detail::range_keys("GETDEL"), detail::range_keys("GETEX"), detail::range_keys("GETRANGE"),
    detail::range_keys("GETSET"), detail::range_keys("INCR"), detail::range_keys("INCRBY"),
    detail::range_keys("INCRBYFLOAT"), detail::range_keys("LCS", 1, 2), detail::range_keys("MGET", 1, -1),
    detail::range_keys("MSET", 1, -1, 2), detail::range_keys("MSETNX", 1, -1, 2), detail::range_keys("PSETEX"),
    detail::range_keys("SET"), detail::range_keys("SETEX"), detail::range_keys("SETNX"), detail::range_keys("SETRANGE"),
    detail::range_keys("STRLEN"), detail::range_keys("SUBSTR"),
    // keys
    detail::range_keys("COPY", 1, 2), detail::range_keys("DEL", 1, -1), detail::range_keys("DUMP"),
    detail::range_keys("EXISTS", 1, -1), detail::range_keys("EXPIRE"), detail::range_keys("EXPIREAT"),
    detail::range_keys("EXPIRETIME"), detail::special_keys("MIGRATE", key_layout::migrate), detail::range_keys("MOVE"),
    detail::range_keys("PERSIST"), detail::range_keys("PEXPIRE"), detail::range_keys("PEXPIREAT"),
    detail::range_keys("PEXPIRETIME"), detail::range_keys("PTTL"), detail::range_keys("RENAME", 1, 2),
    detail::range_keys("RENAMENX", 1, 2), detail::range_keys("RESTORE"), detail::range_keys("RESTORE-ASKING"),
    detail::special_keys("SORT", key_layout::sort), detail::range_keys("SORT_RO"), detail::range_keys("TOUCH", 1, -1),
    detail::range_keys("TTL"), detail::range_keys("TYPE"), detail::range_keys("UNLINK", 1, -1),
    detail::range_keys("WATCH", 1, -1), detail::sub_keys("OBJECT", "ENCODING"), detail::sub_keys("OBJECT", "FREQ"),
    detail::sub_keys("OBJECT", "IDLETIME"), detail::sub_keys("OBJECT", "REFCOUNT"), detail::sub_keys("MEMORY", "USAGE"),
    // hashes
    detail::range_keys("HDEL"), detail::range_keys("HEXISTS"), detail::range_keys("HGET"), detail::range_keys("HGETALL"),
    detail::range_keys("HINCRBY"), detail::range_keys("HINCRBYFLOAT"), detail::range_keys("HKEYS"),
    detail::range_keys("HLEN"), detail::range_keys("HMGET"), detail::range_keys("HMSET"),
    detail::range_keys("HRANDFIELD"), detail::range_keys("HSCAN"), detail::range_keys("HSET"),
    detail::range_keys("HSETNX"), detail::range_keys("HSTRLEN"), detail::range_keys("HVALS"),
    // lists
    detail::range_keys("BLMOVE", 1, 2), detail::counted_keys("BLMPOP", 2, 1), detail::range_keys("BLPOP", 1, -2),
    detail::range_keys("BRPOP", 1, -2), detail::range_keys("BRPOPLPUSH", 1, 2), detail::range_keys("LINDEX"),
    detail::range_keys("LINSERT"), detail::range_keys("LLEN"), detail::range_keys("LMOVE", 1, 2),
    detail::counted_keys("LMPOP", 1, 1), detail::range_keys("LPOP"), detail::range_keys("LPOS"),
    detail::range_keys("LPUSH"), detail::range_keys("LPUSHX"), detail::range_keys("LRANGE"), detail::range_keys("LREM"),
    detail::range_keys("LSET"), detail::range_keys("LTRIM"), detail::range_keys("RPOP"),
    detail::range_keys("RPOPLPUSH", 1, 2), detail::range_keys("RPUSH"), detail::range_keys("RPUSHX"),
    // sets
    detail::range_keys("SADD"), detail::range_keys("SCARD"), detail::range_keys("SDIFF", 1, -1),
    detail::range_keys("SDIFFSTORE", 1, -1), detail::range_keys("SINTER", 1, -1), detail::counted_keys("SINTERCARD", 1, 1),
    detail::range_keys("SINTERSTORE", 1, -1), detail::range_keys("SISMEMBER"), detail::range_keys("SMEMBERS"),
    detail::range_keys("SMISMEMBER"), detail::range_keys("SMOVE", 1, 2), detail::range_keys("SPOP"),
    detail::range_keys("SRANDMEMBER"), detail::range_keys("SREM"), detail::range_keys("SSCAN"),
    detail::range_keys("SUNION", 1, -1), detail::range_keys("SUNIONSTORE", 1, -1),
    // sorted sets
    detail::counted_keys("BZMPOP", 2, 1), detail::range_keys("BZPOPMAX", 1, -2), detail::range_keys("BZPOPMIN", 1, -2),
    detail::range_keys("ZADD"), detail::range_keys("ZCARD"), detail::range_keys("ZCOUNT"),
    detail::counted_keys("ZDIFF", 1, 1), detail::counted_keys("ZDIFFSTORE", 2, 1, 1), detail::range_keys("ZINCRBY"),
    detail::counted_keys("ZINTER", 1, 1), detail::counted_keys("ZINTERCARD", 1, 1),
    detail::counted_keys("ZINTERSTORE", 2, 1, 1), detail::range_keys("ZLEXCOUNT"), detail::counted_keys("ZMPOP", 1, 1),
    detail::range_keys("ZMSCORE"), detail::range_keys("ZPOPMAX"), detail::range_keys("ZPOPMIN"),
    detail::range_keys("ZRANDMEMBER"), detail::range_keys("ZRANGE"), detail::range_keys("ZRANGEBYLEX"),
    detail::range_keys("ZRANGEBYSCORE"), detail::range_keys("ZRANGESTORE", 1, 2), detail::range_keys("ZRANK"),
    detail::range_keys("ZREM"), detail::range_keys("ZREMRANGEBYLEX"), detail::range_keys("ZREMRANGEBYRANK"),
    detail::range_keys("ZREMRANGEBYSCORE"), detail::range_keys("ZREVRANGE"), detail::range_keys("ZREVRANGEBYLEX"),
    detail::range_keys("ZREVRANGEBYSCORE"), detail::range_keys("ZREVRANK"), detail::range_keys("ZSCAN"),
    detail::range_keys("ZSCORE"), detail::counted_keys("ZUNION", 1, 1), detail::counted_keys("ZUNIONSTORE", 2, 1, 1),
    // HyperLogLog
    detail::range_keys("PFADD"), detail::range_keys("PFCOUNT", 1, -1), detail::range_keys("PFDEBUG", 2, 2),
    detail::range_keys("PFMERGE", 1, -1),
    // bits
    detail::range_keys("BITCOUNT"), detail::range_keys("BITFIELD"), detail::range_keys("BITFIELD_RO"),
    detail::range_keys("BITOP", 2, -1), detail::range_keys("BITPOS"), detail::range_keys("GETBIT"),
    detail::range_keys("SETBIT"),
    // geo
    detail::range_keys("GEOADD"), detail::range_keys("GEODIST"), detail::range_keys("GEOHASH"),
    detail::range_keys("GEOPOS"), detail::georadius_keys("GEORADIUS", 6),
    detail::georadius_keys("GEORADIUSBYMEMBER", 5), detail::range_keys("GEORADIUSBYMEMBER_RO"),
    detail::range_keys("GEORADIUS_RO"), detail::range_keys("GEOSEARCH"), detail::range_keys("GEOSEARCHSTORE", 1, 2),
    // streams
    detail::range_keys("XACK"), detail::range_keys("XADD"), detail::range_keys("XAUTOCLAIM"), detail::range_keys("XCLAIM"),
    detail::range_keys("XDEL"), detail::range_keys("XLEN"), detail::range_keys("XPENDING"), detail::range_keys("XRANGE"),
    detail::special_keys("XREAD", key_layout::streams), detail::special_keys("XREADGROUP", key_layout::streams),
    detail::range_keys("XREVRANGE"), detail::range_keys("XSETID"), detail::range_keys("XTRIM"),
    detail::sub_keys("XINFO", "CONSUMERS"), detail::sub_keys("XINFO", "GROUPS"), detail::sub_keys("XINFO", "STREAM"),
    detail::sub_keys("XGROUP", "CREATE"), detail::sub_keys("XGROUP", "CREATECONSUMER"),
    detail::sub_keys("XGROUP", "DELCONSUMER"), detail::sub_keys("XGROUP", "DESTROY"), detail::sub_keys("XGROUP", "SETID"),
    // scripts and functions: the keys follow numkeys
    detail::counted_keys("EVAL", 2, 0), detail::counted_keys("EVALSHA", 2, 0), detail::counted_keys("EVAL_RO", 2, 0),
    detail::counted_keys("EVALSHA_RO", 2, 0), detail::counted_keys("FCALL", 2, 0), detail::counted_keys("FCALL_RO", 2, 0),
};

namespace detail {

/// True for commands whose table rows are keyed by a subcommand (argv[1]); a unit test checks it against the table.
inline bool is_key_container(std::string_view name) noexcept {
    for (std::string_view container : {"OBJECT", "MEMORY", "XINFO", "XGROUP"})
        if (iequals_ascii(container, name)) return true;
    return false;
}

/// "'OBJECT ENCODING'" / "'GET'": how messages name a command.
inline std::string command_label(const std::string_view* argv, std::size_t argc, bool with_sub) {
    std::string text(argv[0]);
    if (with_sub && argc > 1) text += " " + std::string(argv[1]);
    return quoted(text, 60);
}

/// A count of keys (numkeys): decimal digits only, at most 9 of them; else nothing.
inline bool parse_key_count(std::string_view text, std::size_t& out) noexcept {
    if (text.empty() || text.size() > 9) return false;
    std::size_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::size_t>(c - '0');
    }
    out = value;
    return true;
}

}  // namespace detail

/// The table's row for a command (and its subcommand, for OBJECT, MEMORY, XINFO, XGROUP), or nullptr.
inline const command_keys_entry* find_command_keys(std::string_view name, std::string_view subcommand = {}) noexcept {
    for (const command_keys_entry& e : command_key_table) {
        if (e.name.size() != name.size() || !detail::iequals_ascii(e.name, name)) continue;
        if (e.subcommand.empty() || detail::iequals_ascii(e.subcommand, subcommand)) return &e;
    }
    return nullptr;
}

namespace detail {

/// Calls `on_key(position)` for each key of the command, in COMMAND GETKEYS order; no allocation unless it throws.
template <class OnKey>
void for_each_key_position(const std::string_view* argv, std::size_t argc, OnKey on_key) {
    if (argc == 0 || argv == nullptr) throw error(error_kind::config, "empty command: argv needs at least the command name");
    const bool container = detail::is_key_container(argv[0]);
    if (container && argc < 2)
        throw error(error_kind::config, detail::command_label(argv, argc, false) +
                                            " needs a subcommand at argument 1 to know where its key is");
    const command_keys_entry* entry = find_command_keys(argv[0], container ? argv[1] : std::string_view());
    const auto label = [&] { return detail::command_label(argv, argc, container); };
    if (entry == nullptr)
        throw error(error_kind::config, label() + " is not in addrmap's table of command keys (command_keys.hpp), so its "
                                                "slot cannot be found from its arguments: pass the routing key "
                                                "yourself (command(key, ...), command_argv(key, ...))");
    const auto malformed = [&](std::size_t position, const std::string& what) {
        return error(error_kind::config, label() + ", argument " + std::to_string(position) + ": " + what + " (the command has " +
                                             std::to_string(argc) + " argument(s) with its name)");
    };
    switch (entry->layout) {
        case key_layout::range: {
            const auto first = static_cast<std::size_t>(entry->first);
            if (first >= argc) throw malformed(first, "a key is expected here");
            // last < 0 counts from the end: -1 is the last argument, -2 the one before it (BLPOP's timeout).
            const long long last = entry->last >= 0 ? entry->last : static_cast<long long>(argc) + entry->last;
            if (last >= static_cast<long long>(argc)) throw malformed(static_cast<std::size_t>(last), "a key is expected here");
            if (last < static_cast<long long>(first))
                throw malformed(first, "a key is expected here, followed by " + std::to_string(-entry->last - 1) +
                                           " more argument(s)");
            const auto step = static_cast<std::size_t>(entry->step);
            if (step > 1 && (static_cast<std::size_t>(last) - first + 1) % step != 0)
                throw malformed(static_cast<std::size_t>(last), "each key needs " + std::to_string(step - 1) +
                                                                    " value(s) after it (key value pairs)");
            for (std::size_t i = first; i <= static_cast<std::size_t>(last); i += step) on_key(i);
            break;
        }
        case key_layout::counted: {
            const auto at = static_cast<std::size_t>(entry->count_at);
            if (at >= argc) throw malformed(at, "the number of keys is expected here");
            std::size_t count = 0;
            if (!detail::parse_key_count(argv[at], count))
                throw malformed(at, "the number of keys must be a count (0-999999999), got " + detail::quoted(argv[at], 40));
            if (count < static_cast<std::size_t>(entry->least))
                throw malformed(at, "at least " + std::to_string(entry->least) + " key(s) needed, the count says " +
                                        std::to_string(count));
            if (count > argc - at - 1)
                throw malformed(at, "the count says " + std::to_string(count) + " key(s) but only " +
                                        std::to_string(argc - at - 1) + " argument(s) follow it");
            for (int k = 0; k < entry->fixed_count; ++k) on_key(static_cast<std::size_t>(entry->fixed_first + k));
            for (std::size_t k = 1; k <= count; ++k) on_key(at + k);
            break;
        }
        case key_layout::streams: {
            // As Redis reads it: options before STREAMS are skipped with their arguments; anything else ends the search.
            std::size_t streams_at = 0;
            for (std::size_t i = 1; i < argc; ++i) {
                const std::string_view arg = argv[i];
                if (detail::iequals_ascii(arg, "BLOCK") || detail::iequals_ascii(arg, "COUNT")) {
                    ++i;
                } else if (detail::iequals_ascii(arg, "GROUP")) {
                    i += 2;
                } else if (detail::iequals_ascii(arg, "NOACK")) {
                } else if (detail::iequals_ascii(arg, "STREAMS")) {
                    streams_at = i;
                    break;
                } else {
                    break;
                }
            }
            if (streams_at == 0) throw malformed(1, "no STREAMS keyword found after the options");
            const std::size_t rest = argc - streams_at - 1;
            if (rest == 0 || rest % 2 != 0)
                throw malformed(streams_at, "STREAMS needs as many IDs as keys after it, got " + std::to_string(rest) +
                                                " argument(s)");
            for (std::size_t k = 1; k <= rest / 2; ++k) on_key(streams_at + k);
            break;
        }
        case key_layout::sort: {
            if (argc < 2) throw malformed(1, "a key is expected here");
            on_key(1);
            std::size_t store = 0;
            for (std::size_t i = 2; i < argc; ++i) {
                const std::string_view arg = argv[i];
                if (detail::iequals_ascii(arg, "LIMIT")) i += 2;
                else if (detail::iequals_ascii(arg, "GET") || detail::iequals_ascii(arg, "BY")) i += 1;
                else if (detail::iequals_ascii(arg, "STORE") && i + 1 < argc) store = i + 1;  // the last STORE counts
            }
            if (store != 0) on_key(store);
            break;
        }
        case key_layout::georadius: {
            // Redis 7.0 answers from the key specs, one per keyword: each finds its keyword's first occurrence from
            // search_from on (the last argument excluded: a key must follow), wherever the other keyword stands.
            // STORE's key comes first even when STOREDIST is written first; a later STORE(DIST) names no key.
            if (argc < 2) throw malformed(1, "a key is expected here");
            on_key(1);
            std::size_t store = 0, storedist = 0;
            for (std::size_t i = static_cast<std::size_t>(entry->search_from); i + 1 < argc; ++i) {
                if (store == 0 && detail::iequals_ascii(argv[i], "STORE")) store = i + 1;
                else if (storedist == 0 && detail::iequals_ascii(argv[i], "STOREDIST")) storedist = i + 1;
            }
            if (store != 0) on_key(store);
            if (storedist != 0) on_key(storedist);
            break;
        }
        case key_layout::migrate: {
            // Redis 7.0 in two steps. Its key specs look for KEYS from the second-to-last argument back to argv[1];
            // with none, the key is argv[3] ("" included). With one, they give up and migrateGetKeys reads from
            // argv[6] on, skipping AUTH's and AUTH2's arguments, to the first KEYS: the keys are all that follow
            // it, when argv[3] is "". (No KEYS there: argv[3] again. argv[3] not "": the server refuses.)
            if (argc < 4) throw malformed(3, "a key, or \"\" before the KEYS option, is expected here");
            bool keys_word = false;
            for (std::size_t i = 1; i + 1 < argc && !keys_word; ++i) keys_word = detail::iequals_ascii(argv[i], "KEYS");
            std::size_t keys_at = 0;
            for (std::size_t i = 6; keys_word && i < argc; ++i) {
                if (detail::iequals_ascii(argv[i], "KEYS")) {
                    keys_at = i;
                    break;
                }
                if (detail::iequals_ascii(argv[i], "AUTH")) i += 1;
                else if (detail::iequals_ascii(argv[i], "AUTH2")) i += 2;
            }
            if (keys_at == 0) {
                on_key(3);
                break;
            }
            if (!argv[3].empty()) throw malformed(3, "with the KEYS option the key argument must be \"\"");
            if (keys_at + 1 >= argc) throw malformed(keys_at, "KEYS needs at least one key after it");
            for (std::size_t i = keys_at + 1; i < argc; ++i) on_key(i);
            break;
        }
    }
}

}  // namespace detail

/// The positions of a command's keys in argv (argv[0] is the command name), in the order COMMAND GETKEYS lists
/// them. Reads argv[0..argc) only. Throws error{config} for an empty command, a command not in the table (pass
/// the key yourself), and a command whose arguments do not hold the keys its layout says (with the position).
inline std::vector<std::size_t> key_positions(const std::string_view* argv, std::size_t argc) {
    std::vector<std::size_t> keys;
    detail::for_each_key_position(argv, argc, [&](std::size_t i) { keys.push_back(i); });
    return keys;
}

inline std::vector<std::size_t> key_positions(const std::vector<std::string_view>& argv) {
    return key_positions(argv.data(), argv.size());
}

namespace detail {

/// True unless the table says the RESP-encoded command has at most one key. Mid-move, a node refuses a command whose
/// keys are split (TRYAGAIN) while it runs a single-key one: such a command travels alone in its slot
/// (call_state::slot_moving). Unknown commands, module commands and bad input count as several keys.
inline bool may_have_several_keys(std::string_view encoded) {
    std::vector<std::string_view> argv;
    resp_args args(encoded);
    while (const auto arg = args.next()) argv.push_back(*arg);
    if (argv.empty()) return true;
    std::size_t keys = 0;
    try {
        for_each_key_position(argv.data(), argv.size(), [&](std::size_t) { ++keys; });
    } catch (const error&) {
        return true;
    }
    return keys > 1;
}

}  // namespace detail

/// The keys themselves (views into argv), in COMMAND GETKEYS order. Throws as key_positions() does.
inline std::vector<std::string_view> command_keys(const std::vector<std::string_view>& argv) {
    std::vector<std::string_view> keys;
    for (std::size_t i : key_positions(argv)) keys.push_back(argv[i]);
    return keys;
}

namespace detail {

/// error{config} for keys in more than one slot: names the slots and the keys (escaped, cut), and what to do.
inline error cross_slot_error(std::string_view what, const std::vector<std::string_view>& keys) {
    std::vector<std::uint16_t> slots;
    std::string listed;
    std::size_t shown = 0;
    for (std::string_view key : keys) {
        const std::uint16_t slot = key_slot(key);
        bool seen = false;
        for (std::uint16_t s : slots) seen = seen || s == slot;
        if (!seen) slots.push_back(slot);
        if (shown < 8) {
            listed += (shown == 0 ? "" : ", ") + quoted(key, 60) + " (slot " + std::to_string(slot) + ")";
            ++shown;
        }
    }
    if (keys.size() > shown) listed += ", and " + std::to_string(keys.size() - shown) + " more";
    return error(error_kind::config,
                 std::string(what) + " has keys in " + std::to_string(slots.size()) + " slots: " + listed +
                     ". A cluster runs a multi-key command only when every key is in one slot: give the keys one hash "
                     "tag ({user1}.name, {user1}.mail), or send one command per slot");
}

/// The one slot of `keys`, or -1 when there are none; error{config} (cross_slot_error) when they differ.
inline int one_slot(std::string_view what, const std::vector<std::string_view>& keys) {
    if (keys.empty()) return -1;
    const std::uint16_t slot = key_slot(keys.front());
    for (std::string_view key : keys)
        if (key_slot(key) != slot) throw cross_slot_error(what, keys);
    return slot;
}

/// A RESP array of bulk strings (what hiredis formats) as argument views into `encoded`; error{config} if it is not one.
inline std::vector<std::string_view> decode_command(std::string_view encoded) {
    resp_args args(encoded);
    std::vector<std::string_view> out;
    const std::size_t n = args.size();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto arg = args.next();
        if (!arg) throw error(error_kind::config, "the formatted command is not a RESP array of bulk strings");
        out.push_back(*arg);
    }
    if (out.empty()) throw error(error_kind::config, "empty command: argv needs at least the command name");
    return out;
}

}  // namespace detail

namespace detail {

/// Publishing has no key (COMMAND GETKEYS says so) but a route: SPUBLISH goes to its shard channel's slot (hash tags
/// count), PUBLISH to any master (a cluster passes it to every node). None for any other command.
inline std::optional<int> publish_slot(const std::vector<std::string_view>& argv) {
    if (argv.empty()) return std::nullopt;
    if (iequals_ascii(argv[0], "SPUBLISH")) return argv.size() >= 2 ? static_cast<int>(key_slot(argv[1])) : -1;
    if (iequals_ascii(argv[0], "PUBLISH")) return -1;
    return std::nullopt;
}

}  // namespace detail

/// The slot a command routes to, found from its own arguments: every key must hash to one slot (hash tags
/// keep keys together). -1 when the command has no key in this call (EVAL with numkeys 0): any master serves
/// it. SPUBLISH routes by its shard channel, PUBLISH anywhere. Throws error{config}: not in the table, malformed
/// (with the position), or keys in several slots.
inline int command_slot(const std::vector<std::string_view>& argv) {
    if (const std::optional<int> published = detail::publish_slot(argv)) return *published;
    int slot = -1;
    bool mixed = false;
    detail::for_each_key_position(argv.data(), argv.size(), [&](std::size_t i) {
        const int here = key_slot(argv[i]);
        if (slot >= 0 && here != slot) mixed = true;
        slot = here;
    });
    if (!mixed) return slot;
    const bool container = detail::is_key_container(argv[0]);
    return detail::one_slot(detail::command_label(argv.data(), argv.size(), container), command_keys(argv));
}

}  // namespace addrmap
