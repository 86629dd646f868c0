// tests/command_samples.hpp — one or more valid argv per row of addrmap's command key table, with the keys Redis
// 7.0's COMMAND GETKEYS gives for it: the unit tests check the extraction on them (and on every truncation of
// them), the live test asks the server for each and compares.
#pragma once

#include <addrmap/command_keys.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace samples {

struct command_sample {
    std::vector<std::string> argv;
    std::vector<std::string> keys;  // in COMMAND GETKEYS order
};

inline const std::vector<command_sample>& all() {
    static const std::vector<command_sample> list = {
        // strings
        {{"APPEND", "k", "v"}, {"k"}}, {{"DECR", "k"}, {"k"}}, {{"DECRBY", "k", "1"}, {"k"}}, {{"GET", "k"}, {"k"}},
        {{"GETDEL", "k"}, {"k"}}, {{"GETEX", "k", "EX", "10"}, {"k"}}, {{"GETRANGE", "k", "0", "1"}, {"k"}},
        {{"GETSET", "k", "v"}, {"k"}}, {{"INCR", "k"}, {"k"}}, {{"INCRBY", "k", "1"}, {"k"}},
        {{"INCRBYFLOAT", "k", "1.5"}, {"k"}}, {{"LCS", "a", "b"}, {"a", "b"}}, {{"MGET", "a", "b", "c"}, {"a", "b", "c"}},
        {{"MGET", "a"}, {"a"}}, {{"MSET", "a", "1", "b", "2"}, {"a", "b"}}, {{"MSET", "a", "1"}, {"a"}},
        {{"MSETNX", "a", "1", "b", "2"}, {"a", "b"}}, {{"PSETEX", "k", "100", "v"}, {"k"}}, {{"SET", "k", "v"}, {"k"}},
        {{"set", "k", "v", "NX", "EX", "5"}, {"k"}}, {{"SETEX", "k", "10", "v"}, {"k"}}, {{"SETNX", "k", "v"}, {"k"}},
        {{"SETRANGE", "k", "0", "v"}, {"k"}}, {{"STRLEN", "k"}, {"k"}}, {{"SUBSTR", "k", "0", "1"}, {"k"}},
        // keys
        {{"COPY", "a", "b"}, {"a", "b"}}, {{"DEL", "a", "b"}, {"a", "b"}}, {{"DEL", "a"}, {"a"}}, {{"DUMP", "k"}, {"k"}},
        {{"EXISTS", "a", "b"}, {"a", "b"}}, {{"EXPIRE", "k", "10"}, {"k"}}, {{"EXPIREAT", "k", "10"}, {"k"}},
        {{"EXPIRETIME", "k"}, {"k"}}, {{"PERSIST", "k"}, {"k"}}, {{"PEXPIRE", "k", "10"}, {"k"}},
        {{"PEXPIREAT", "k", "10"}, {"k"}}, {{"PEXPIRETIME", "k"}, {"k"}}, {{"PTTL", "k"}, {"k"}},
        {{"MIGRATE", "h", "6379", "k", "0", "5000"}, {"k"}}, {{"MIGRATE", "h", "6379", "k", "0", "5000", "COPY"}, {"k"}},
        {{"MIGRATE", "h", "6379", "", "0", "5000"}, {""}},  // "" without KEYS: the server names "" the key
        {{"MIGRATE", "h", "6379", "", "0", "5000", "COPY", "REPLACE", "AUTH2", "u", "p", "KEYS", "a", "b"}, {"a", "b"}},
        {{"migrate", "h", "6379", "", "0", "5000", "copy", "keys", "a"}, {"a"}},
        {{"MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "KEYS", "KEYS", "a", "b"}, {"a", "b"}},  // AUTH's password
        {{"MIGRATE", "h", "6379", "", "0", "5000", "AUTH2", "u", "KEYS", "KEYS", "a"}, {"a"}},
        {{"MIGRATE", "h", "6379", "k", "0", "5000", "AUTH", "KEYS", "x"}, {"k"}},
        {{"MIGRATE", "h", "6379", "", "0", "5000", "KEYS", "a", "KEYS", "b"}, {"a", "KEYS", "b"}},
        {{"MIGRATE", "h", "6379", "", "0", "5000", "KEYS"}, {""}},  // KEYS last: not an option
        {{"MIGRATE", "h", "6379", "", "KEYS", "5000", "x"}, {""}},  // KEYS before argv[6]: not an option
        {{"MOVE", "k", "1"}, {"k"}},
        {{"RENAME", "a", "b"}, {"a", "b"}}, {{"RENAMENX", "a", "b"}, {"a", "b"}}, {{"RESTORE", "k", "0", "payload"}, {"k"}},
        {{"RESTORE-ASKING", "k", "0", "payload", "REPLACE"}, {"k"}}, {{"restore-asking", "k", "0", "payload"}, {"k"}},
        {{"SORT", "k"}, {"k"}}, {{"SORT", "k", "BY", "w_*", "LIMIT", "0", "10", "GET", "o_*", "STORE", "dst"}, {"k", "dst"}},
        {{"SORT", "k", "ALPHA", "STORE", "d1", "STORE", "d2"}, {"k", "d2"}}, {{"SORT_RO", "k", "ALPHA"}, {"k"}},
        {{"TOUCH", "a", "b"}, {"a", "b"}}, {{"TTL", "k"}, {"k"}}, {{"TYPE", "k"}, {"k"}}, {{"UNLINK", "a", "b"}, {"a", "b"}},
        {{"WATCH", "a", "b"}, {"a", "b"}}, {{"OBJECT", "ENCODING", "k"}, {"k"}}, {{"object", "freq", "k"}, {"k"}},
        {{"OBJECT", "IDLETIME", "k"}, {"k"}}, {{"OBJECT", "REFCOUNT", "k"}, {"k"}}, {{"MEMORY", "USAGE", "k"}, {"k"}},
        {{"MEMORY", "USAGE", "k", "SAMPLES", "5"}, {"k"}},
        // hashes
        {{"HDEL", "k", "f"}, {"k"}}, {{"HEXISTS", "k", "f"}, {"k"}}, {{"HGET", "k", "f"}, {"k"}}, {{"HGETALL", "k"}, {"k"}},
        {{"HINCRBY", "k", "f", "1"}, {"k"}}, {{"HINCRBYFLOAT", "k", "f", "1.5"}, {"k"}}, {{"HKEYS", "k"}, {"k"}},
        {{"HLEN", "k"}, {"k"}}, {{"HMGET", "k", "f", "g"}, {"k"}}, {{"HMSET", "k", "f", "v"}, {"k"}},
        {{"HRANDFIELD", "k"}, {"k"}}, {{"HSCAN", "k", "0"}, {"k"}}, {{"HSET", "k", "f", "v", "g", "w"}, {"k"}},
        {{"HSETNX", "k", "f", "v"}, {"k"}}, {{"HSTRLEN", "k", "f"}, {"k"}}, {{"HVALS", "k"}, {"k"}},
        // lists
        {{"BLMOVE", "a", "b", "LEFT", "RIGHT", "0"}, {"a", "b"}}, {{"BLMPOP", "0", "2", "a", "b", "LEFT"}, {"a", "b"}},
        {{"BLPOP", "a", "b", "0"}, {"a", "b"}}, {{"BLPOP", "a", "0"}, {"a"}}, {{"BRPOP", "a", "b", "0"}, {"a", "b"}},
        {{"BRPOPLPUSH", "a", "b", "0"}, {"a", "b"}}, {{"LINDEX", "k", "0"}, {"k"}},
        {{"LINSERT", "k", "BEFORE", "p", "v"}, {"k"}}, {{"LLEN", "k"}, {"k"}}, {{"LMOVE", "a", "b", "LEFT", "RIGHT"}, {"a", "b"}},
        {{"LMPOP", "2", "a", "b", "LEFT", "COUNT", "2"}, {"a", "b"}}, {{"LPOP", "k"}, {"k"}}, {{"LPOS", "k", "v"}, {"k"}},
        {{"LPUSH", "k", "v"}, {"k"}}, {{"LPUSHX", "k", "v"}, {"k"}}, {{"LRANGE", "k", "0", "-1"}, {"k"}},
        {{"LREM", "k", "0", "v"}, {"k"}}, {{"LSET", "k", "0", "v"}, {"k"}}, {{"LTRIM", "k", "0", "1"}, {"k"}},
        {{"RPOP", "k"}, {"k"}}, {{"RPOPLPUSH", "a", "b"}, {"a", "b"}}, {{"RPUSH", "k", "v"}, {"k"}},
        {{"RPUSHX", "k", "v"}, {"k"}},
        // sets
        {{"SADD", "k", "m"}, {"k"}}, {{"SCARD", "k"}, {"k"}}, {{"SDIFF", "a", "b"}, {"a", "b"}},
        {{"SDIFFSTORE", "d", "a", "b"}, {"d", "a", "b"}}, {{"SINTER", "a", "b"}, {"a", "b"}},
        {{"SINTERCARD", "2", "a", "b", "LIMIT", "1"}, {"a", "b"}}, {{"SINTERSTORE", "d", "a", "b"}, {"d", "a", "b"}},
        {{"SISMEMBER", "k", "m"}, {"k"}}, {{"SMEMBERS", "k"}, {"k"}}, {{"SMISMEMBER", "k", "m", "n"}, {"k"}},
        {{"SMOVE", "a", "b", "m"}, {"a", "b"}}, {{"SPOP", "k"}, {"k"}}, {{"SRANDMEMBER", "k"}, {"k"}},
        {{"SREM", "k", "m"}, {"k"}}, {{"SSCAN", "k", "0"}, {"k"}}, {{"SUNION", "a", "b"}, {"a", "b"}},
        {{"SUNIONSTORE", "d", "a", "b"}, {"d", "a", "b"}},
        // sorted sets
        {{"BZMPOP", "0", "2", "a", "b", "MIN"}, {"a", "b"}}, {{"BZPOPMAX", "a", "b", "0"}, {"a", "b"}},
        {{"BZPOPMIN", "a", "b", "0"}, {"a", "b"}}, {{"ZADD", "k", "1", "m"}, {"k"}}, {{"ZCARD", "k"}, {"k"}},
        {{"ZCOUNT", "k", "0", "1"}, {"k"}}, {{"ZDIFF", "2", "a", "b"}, {"a", "b"}},
        {{"ZDIFFSTORE", "d", "2", "a", "b"}, {"d", "a", "b"}}, {{"ZINCRBY", "k", "1", "m"}, {"k"}},
        {{"ZINTER", "2", "a", "b", "WITHSCORES"}, {"a", "b"}}, {{"ZINTERCARD", "2", "a", "b"}, {"a", "b"}},
        {{"ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}, {"d", "a", "b"}}, {{"ZLEXCOUNT", "k", "-", "+"}, {"k"}},
        {{"ZMPOP", "2", "a", "b", "MIN"}, {"a", "b"}}, {{"ZMSCORE", "k", "m"}, {"k"}}, {{"ZPOPMAX", "k"}, {"k"}},
        {{"ZPOPMIN", "k"}, {"k"}}, {{"ZRANDMEMBER", "k"}, {"k"}}, {{"ZRANGE", "k", "0", "-1"}, {"k"}},
        {{"ZRANGEBYLEX", "k", "-", "+"}, {"k"}}, {{"ZRANGEBYSCORE", "k", "0", "1"}, {"k"}},
        {{"ZRANGESTORE", "d", "s", "0", "-1"}, {"d", "s"}}, {{"ZRANK", "k", "m"}, {"k"}}, {{"ZREM", "k", "m"}, {"k"}},
        {{"ZREMRANGEBYLEX", "k", "-", "+"}, {"k"}}, {{"ZREMRANGEBYRANK", "k", "0", "1"}, {"k"}},
        {{"ZREMRANGEBYSCORE", "k", "0", "1"}, {"k"}}, {{"ZREVRANGE", "k", "0", "1"}, {"k"}},
        {{"ZREVRANGEBYLEX", "k", "+", "-"}, {"k"}}, {{"ZREVRANGEBYSCORE", "k", "1", "0"}, {"k"}},
        {{"ZREVRANK", "k", "m"}, {"k"}}, {{"ZSCAN", "k", "0"}, {"k"}}, {{"ZSCORE", "k", "m"}, {"k"}},
        {{"ZUNION", "2", "a", "b"}, {"a", "b"}}, {{"ZUNIONSTORE", "d", "2", "a", "b"}, {"d", "a", "b"}},
        // HyperLogLog
        {{"PFADD", "k", "e"}, {"k"}}, {{"PFCOUNT", "a", "b"}, {"a", "b"}}, {{"PFDEBUG", "GETREG", "k"}, {"k"}},
        {{"pfdebug", "todense", "k"}, {"k"}}, {{"PFMERGE", "d", "a", "b"}, {"d", "a", "b"}},
        // bits
        {{"BITCOUNT", "k"}, {"k"}}, {{"BITFIELD", "k", "GET", "u8", "0"}, {"k"}}, {{"BITFIELD_RO", "k", "GET", "u8", "0"}, {"k"}},
        {{"BITOP", "AND", "d", "a", "b"}, {"d", "a", "b"}}, {{"BITOP", "NOT", "d", "a"}, {"d", "a"}},
        {{"BITPOS", "k", "1"}, {"k"}}, {{"GETBIT", "k", "0"}, {"k"}}, {{"SETBIT", "k", "0", "1"}, {"k"}},
        // geo
        {{"GEOADD", "k", "13.36", "38.11", "m"}, {"k"}}, {{"GEODIST", "k", "a", "b"}, {"k"}}, {{"GEOHASH", "k", "m"}, {"k"}},
        {{"GEOPOS", "k", "m"}, {"k"}}, {{"GEORADIUS", "k", "15", "37", "200", "km"}, {"k"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STORE", "d"}, {"k", "d"}},
        {{"GEORADIUSBYMEMBER", "k", "m", "100", "km", "STOREDIST", "d"}, {"k", "d"}},
        // STORE and STOREDIST: the first of each, STORE's key first whatever the order (Redis 7.0's key specs)
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STOREDIST", "c"}, {"k", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STORE", "a", "STOREDIST", "c"}, {"k", "a", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STOREDIST", "c", "STORE", "a"}, {"k", "a", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STORE", "a", "STORE", "b"}, {"k", "a"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STOREDIST", "c", "STOREDIST", "d"}, {"k", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STORE", "a", "STORE", "b", "STOREDIST", "c", "STOREDIST", "d"},
         {"k", "a", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STOREDIST", "c", "STORE", "a", "STOREDIST", "d", "STORE", "b"},
         {"k", "a", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "COUNT", "5", "ASC", "STOREDIST", "c", "STORE", "a"}, {"k", "a", "c"}},
        {{"georadius", "k", "15", "37", "200", "km", "store", "a", "storedist", "c"}, {"k", "a", "c"}},
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STOREDIST", "STORE", "b"}, {"k", "b", "STORE"}},
        {{"GEORADIUS", "k", "15", "37", "200", "STORE", "a", "STORE", "b"}, {"k", "b"}},  // the search starts at argv[6]
        {{"GEORADIUS", "k", "15", "37", "200", "km", "STORE"}, {"k"}},
        {{"GEORADIUSBYMEMBER", "k", "m", "100", "km", "STORE", "a"}, {"k", "a"}},  // ... and at argv[5] here
        {{"GEORADIUSBYMEMBER", "k", "m", "100", "km", "STORE", "a", "STORE", "b", "STOREDIST", "c", "STOREDIST", "d"},
         {"k", "a", "c"}},
        {{"GEORADIUSBYMEMBER", "k", "m", "100", "km", "STOREDIST", "c", "STORE", "a"}, {"k", "a", "c"}},
        {{"GEORADIUSBYMEMBER", "k", "m", "100", "STORE", "a", "STORE", "b"}, {"k", "b"}},
        {{"GEORADIUSBYMEMBER_RO", "k", "m", "100", "km"}, {"k"}}, {{"GEORADIUS_RO", "k", "15", "37", "200", "km"}, {"k"}},
        {{"GEOSEARCH", "k", "FROMMEMBER", "m", "BYRADIUS", "10", "km"}, {"k"}},
        {{"GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "10", "km"}, {"d", "s"}},
        // streams
        {{"XACK", "k", "g", "0-1"}, {"k"}}, {{"XADD", "k", "*", "f", "v"}, {"k"}},
        {{"XAUTOCLAIM", "k", "g", "c", "10", "0"}, {"k"}}, {{"XCLAIM", "k", "g", "c", "10", "0-1"}, {"k"}},
        {{"XDEL", "k", "0-1"}, {"k"}}, {{"XLEN", "k"}, {"k"}}, {{"XPENDING", "k", "g"}, {"k"}},
        {{"XRANGE", "k", "-", "+"}, {"k"}}, {{"XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"}, {"a", "b"}},
        {{"XREAD", "BLOCK", "0", "STREAMS", "a", "$"}, {"a"}},
        {{"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "STREAMS", "a", "b", ">", ">"}, {"a", "b"}},
        {{"XREVRANGE", "k", "+", "-"}, {"k"}}, {{"XSETID", "k", "0-1"}, {"k"}}, {{"XTRIM", "k", "MAXLEN", "10"}, {"k"}},
        {{"XINFO", "CONSUMERS", "k", "g"}, {"k"}}, {{"XINFO", "GROUPS", "k"}, {"k"}}, {{"XINFO", "STREAM", "k"}, {"k"}},
        {{"XGROUP", "CREATE", "k", "g", "$"}, {"k"}}, {{"XGROUP", "CREATECONSUMER", "k", "g", "c"}, {"k"}},
        {{"XGROUP", "DELCONSUMER", "k", "g", "c"}, {"k"}}, {{"XGROUP", "DESTROY", "k", "g"}, {"k"}},
        {{"XGROUP", "SETID", "k", "g", "$"}, {"k"}},
        // scripts and functions
        {{"EVAL", "return 1", "2", "a", "b", "x"}, {"a", "b"}}, {{"EVAL", "return 1", "0"}, {}},
        {{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "2", "a", "b"}, {"a", "b"}},
        {{"EVAL_RO", "return 1", "1", "a"}, {"a"}}, {{"EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "a"}, {"a"}},
        {{"FCALL", "f", "2", "a", "b", "x"}, {"a", "b"}}, {{"FCALL_RO", "f", "1", "a"}, {"a"}},
    };
    return list;
}

/// The table row the extraction reads a sample by (for OBJECT, MEMORY, XINFO, XGROUP: with its subcommand).
inline const addrmap::command_keys_entry* row_of(const command_sample& sample) {
    const bool container = addrmap::detail::is_key_container(sample.argv.at(0));
    return addrmap::find_command_keys(sample.argv[0], container && sample.argv.size() > 1 ? sample.argv[1] : "");
}

/// The rows of the table not among `covered`, named as "GET", "OBJECT ENCODING", comma separated; "" when none.
/// Both suites fail on a row without a sample: a row nobody compared with the server is a row nobody checked.
inline std::string rows_not_in(const std::vector<const addrmap::command_keys_entry*>& covered) {
    std::string missing;
    for (const auto& row : addrmap::command_key_table) {
        bool found = false;
        for (const auto* c : covered) found = found || c == &row;
        if (found) continue;
        // Appended piece by piece: GCC 12 at -O3 reads `", " + std::string(...)` as an overlapping copy (-Wrestrict).
        if (!missing.empty()) missing += ", ";
        missing += row.name;
        if (!row.subcommand.empty()) {
            missing += ' ';
            missing += row.subcommand;
        }
    }
    return missing;
}

}  // namespace samples
