// tests/integration/repeat_table.cpp — the repeat table's rule proved on a live server: for every entry of
// repeatable_writes, in each option form, two runs in a row leave the same DUMP and PEXPIRETIME of every key as one.
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"

#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace addrmap;
using argv_type = std::vector<std::string>;

/// A command and the state it starts from: the setup commands, run after every test key was deleted.
struct repeat_sample {
    std::vector<argv_type> setup;
    argv_type command;
};

/// What a run leaves on one key: its DUMP (nullopt when the key is missing; the TTL is not in it) and
/// its PEXPIRETIME (-2 missing, -1 no expiry, else the absolute time in ms).
struct key_state {
    std::optional<std::string> dump;
    long long expires_at_ms = 0;
    bool operator==(const key_state& other) const { return dump == other.dump && expires_at_ms == other.expires_at_ms; }
};
using node_state = std::vector<key_state>;

using live::text_of;

std::string joined(const argv_type& argv) {
    std::string out;
    for (const auto& arg : argv) out += (out.empty() ? "" : " ") + arg;
    return out;
}

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
    return out;
}

bool is_error(const redisReply* r) { return r->type == REDIS_REPLY_ERROR; }

/// The test keys, all with one hash tag on a slot of one master, and a plain connection to that master: the
/// commands run there exactly as often as the test says (through the cluster client a lost reply could repeat one).
class test_node {
public:
    test_node() {
        ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
        cluster.connect();
        const auto masters = live::masters(cluster);
        if (masters.empty()) throw std::runtime_error("the cluster lists no master with slots");
        tag_ = "{" + live::tag_for_slot(static_cast<std::uint16_t>(masters.front().slots.front().first)) + "}";
        admin_ = std::make_unique<live::admin_connection>(masters.front().reported.port);
        for (const char* name : {"a", "b", "c", "h", "l", "s", "z", "z2", "p", "g", "x"}) keys_.push_back(key(name));
    }

    std::string key(const std::string& name) const { return tag_ + "repeat." + name; }

    /// Deletes every test key, then runs the setup; a setup command the server refuses is a broken test.
    void reset(const std::vector<argv_type>& setup) {
        argv_type del{"DEL"};
        del.insert(del.end(), keys_.begin(), keys_.end());
        must(del);
        for (const auto& argv : setup) must(argv);
    }

    detail::reply_ptr run(const argv_type& argv) { return admin_->run_argv(argv); }

    node_state read() {
        node_state state;
        for (const auto& k : keys_) {
            key_state one;
            const detail::reply_ptr dump = must({"DUMP", k});
            if (dump->type == REDIS_REPLY_STRING) one.dump = text_of(dump.get());
            const detail::reply_ptr at = must({"PEXPIRETIME", k});
            one.expires_at_ms = at->integer;
            state.push_back(std::move(one));
        }
        return state;
    }

    /// The keys where two states differ, for the failure message.
    std::string differences(const node_state& a, const node_state& b) const {
        std::ostringstream out;
        for (std::size_t i = 0; i < keys_.size(); ++i) {
            if (a[i] == b[i]) continue;
            out << "\n  " << keys_[i] << ": DUMP " << (a[i].dump ? hex(*a[i].dump) : "(none)") << " vs "
                << (b[i].dump ? hex(*b[i].dump) : "(none)") << ", PEXPIRETIME " << a[i].expires_at_ms << " vs "
                << b[i].expires_at_ms;
        }
        return out.str();
    }

private:
    detail::reply_ptr must(const argv_type& argv) {
        detail::reply_ptr reply = run(argv);
        if (is_error(reply.get())) throw std::runtime_error("'" + joined(argv) + "' failed: " + text_of(reply.get()));
        return reply;
    }

    std::string tag_;
    std::unique_ptr<live::admin_connection> admin_;
    std::vector<std::string> keys_;
};

/// The state after one run and after two runs in a row, each from the sample's starting state.
struct once_and_twice {
    node_state before, once, twice;
    std::string first_reply_error;  // empty when the first run succeeded
};

once_and_twice run_once_and_twice(test_node& node, const repeat_sample& sample,
                                  std::chrono::milliseconds between_runs = std::chrono::milliseconds(0)) {
    once_and_twice out;
    node.reset(sample.setup);
    out.before = node.read();
    const detail::reply_ptr first = node.run(sample.command);
    if (is_error(first.get())) out.first_reply_error = text_of(first.get());
    out.once = node.read();
    node.reset(sample.setup);
    node.run(sample.command);
    if (between_runs.count() > 0) std::this_thread::sleep_for(between_runs);
    node.run(sample.command);
    out.twice = node.read();
    return out;
}

std::string encoded(const argv_type& argv) {
    return detail::format_argv(std::vector<std::string_view>(argv.begin(), argv.end()));
}

/// Absolute times about an hour ahead, fixed for the whole test so every reset builds the same state (a relative
/// TTL in a setup would not); the ms forms sit 250 ms past the second, so a seconds form never equals them.
struct fixed_times {
    long long base_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
    std::string s(long long offset_s) const { return std::to_string(base_s + offset_s); }
    std::string ms(long long offset_s) const { return std::to_string((base_s + offset_s) * 1000 + 250); }
};

/// Samples for every entry of repeatable_writes, in each option form, on starting states where the form
/// does something (and some where it does nothing). Sets of strings stay at 3 members or fewer: such a set is a
/// hash table of 4 buckets, and a SADD that finds it full starts growing it even when the member is already
/// there; the incremental rehash that follows reorders DUMP's bytes, not the members (seen on 7.0 with
/// 'SADD s y w' on {x, y, z}: same 4 members, other order).
std::vector<repeat_sample> write_samples(const test_node& node, const fixed_times& t) {
    const std::string a = node.key("a"), b = node.key("b"), c = node.key("c"), h = node.key("h"), s = node.key("s"),
                      z = node.key("z"), p = node.key("p");
    const std::vector<argv_type> nothing;
    const std::vector<argv_type> string_a{{"SET", a, "hello"}};
    const std::vector<argv_type> string_a_expiring{{"SET", a, "hello", "PXAT", t.ms(0)}};
    const std::vector<argv_type> hash_expiring{{"HSET", h, "f", "1", "g", "2", "x", "3"}, {"PEXPIREAT", h, t.ms(0)}};
    const std::vector<argv_type> members{{"SADD", s, "x", "y"}};
    const std::vector<argv_type> numbers{{"SADD", s, "1", "2", "3"}};  // an integer set: kept sorted
    const std::vector<argv_type> two_numbers{{"SADD", s, "1", "2"}};
    const std::vector<argv_type> zset{{"ZADD", z, "1", "m1", "2", "m2", "3", "m3"}};
    const std::vector<argv_type> zset_expiring{{"ZADD", z, "1", "m1", "2", "m2", "3", "m3"}, {"PEXPIREAT", z, t.ms(0)}};
    const std::vector<argv_type> hll{{"PFADD", p, "a", "b", "c"}};
    const std::vector<argv_type> hll_counted{{"PFADD", p, "a", "b", "c"}, {"PFCOUNT", p}};  // cached count valid
    const std::vector<argv_type> several{{"SET", a, "hello", "PXAT", t.ms(0)}, {"SET", b, "other"},
                                         {"HSET", h, "f", "1"}, {"SADD", s, "x"}};

    std::vector<repeat_sample> out = {
        {several, {"DEL", a, b, c}},
        {nothing, {"DEL", a}},
        {several, {"UNLINK", a, h, c}},
        {hash_expiring, {"HDEL", h, "f", "nope"}},
        {hash_expiring, {"HDEL", h, "f", "g", "x"}},  // the last field: the key goes
        {hash_expiring, {"HMSET", h, "f", "9", "new", "1"}},
        {nothing, {"HMSET", h, "f", "1", "f", "2"}},
        {hash_expiring, {"HSET", h, "f", "9", "new", "1", "f", "10"}},
        {nothing, {"HSET", h, "f", "1"}},
        {several, {"MSET", a, "1", c, "2", a, "3"}},  // clears a's expiry
        {string_a_expiring, {"PERSIST", a}},
        {string_a, {"PERSIST", a}},
        {nothing, {"PFADD", p, "a", "b"}},
        {hll, {"PFADD", p, "c", "d", "e"}},
        {hll_counted, {"PFADD", p, "d"}},  // invalidates the cached count once
        {nothing, {"PFADD", p}},
        {hll, {"PFADD", p}},
        {nothing, {"SADD", s, "x", "y", "x"}},
        {members, {"SADD", s, "y", "w"}},
        {numbers, {"SADD", s, "4", "2"}},
        {two_numbers, {"SADD", s, "w"}},  // turns the integer set into a hash table
        {string_a_expiring, {"SET", a, "v"}},  // clears the expiry
        {nothing, {"SET", a, "12345"}},
        {string_a_expiring, {"SET", a, "v", "EXAT", t.s(600)}},
        {string_a_expiring, {"SET", a, "v", "PXAT", t.ms(600)}},
        {nothing, {"set", a, "v", "pxat", t.ms(-600)}},
        {string_a, {"SET", a, "v", "PXAT", "1"}},  // in the past: the key goes
        {string_a_expiring, {"SET", a, "v", "KEEPTTL"}},
        {string_a, {"SET", a, "v", "KEEPTTL"}},
        {string_a_expiring, {"SETRANGE", a, "2", "XY"}},
        {string_a, {"SETRANGE", a, "10", "tail"}},  // pads with zero bytes
        {nothing, {"SETRANGE", a, "3", "x"}},
        {nothing, {"SETRANGE", a, "0", ""}},
        {members, {"SREM", s, "x", "nope"}},
        {members, {"SREM", s, "x", "y"}},
        {numbers, {"SREM", s, "2"}},
        {nothing, {"ZADD", z, "1", "a"}},
        {zset, {"ZADD", z, "5", "m1", "0", "n"}},
        {zset_expiring, {"ZADD", z, "5", "m1"}},
        {zset, {"ZADD", z, "1", "n", "2", "n"}},
        {zset, {"ZADD", z, "NX", "5", "m1", "4", "n"}},
        {zset, {"ZADD", z, "NX", "CH", "5", "m1", "4", "n"}},
        {zset, {"ZADD", z, "XX", "5", "m1", "4", "n"}},
        {zset, {"ZADD", z, "GT", "5", "m1", "0", "m2", "4", "n"}},
        {zset, {"ZADD", z, "GT", "7", "m1", "6", "m1"}},
        {zset, {"ZADD", z, "LT", "5", "m1", "0", "m2", "4", "n"}},
        {zset, {"ZADD", z, "LT", "0", "m3", "-1", "m3", "0.5", "m3"}},
        {zset, {"ZADD", z, "CH", "5", "m1", "4", "n"}},
        {zset, {"ZADD", z, "GT", "CH", "5", "m1", "0", "m2"}},
        {zset, {"ZADD", z, "XX", "LT", "CH", "5", "m1", "0", "m2", "4", "n"}},
        {zset, {"ZADD", z, "XX", "GT", "5", "m1", "0", "m2"}},
        {zset, {"ZREM", z, "m1", "nope"}},
        {zset, {"ZREM", z, "m1", "m2", "m3"}},
        {zset, {"ZREMRANGEBYSCORE", z, "-inf", "(2"}},
        {zset, {"ZREMRANGEBYSCORE", z, "2", "+inf"}},
        {zset, {"ZREMRANGEBYSCORE", z, "10", "20"}},
    };
    // Absolute expiry, with and without a condition, on a key without expiry and on one expiring at t.ms(0),
    // to a later and to an earlier time; plus a time in the past (the key goes) and a missing key.
    for (const bool seconds : {true, false}) {
        const std::string name = seconds ? "EXPIREAT" : "PEXPIREAT";
        const auto at = [&](long long offset_s) { return seconds ? t.s(offset_s) : t.ms(offset_s); };
        for (const std::string condition : {"", "NX", "XX", "GT", "LT"})
            for (const auto* start : {&string_a, &string_a_expiring})
                for (const long long offset : {600LL, -600LL}) {
                    argv_type command{name, a, at(offset)};
                    if (!condition.empty()) command.push_back(condition);
                    out.push_back({*start, command});
                }
        out.push_back({string_a_expiring, {name, a, "1"}});
        out.push_back({nothing, {name, a, at(600)}});
    }
    return out;
}

/// The forms left out of the table, each on a state where a second run changes more than the first.
std::vector<repeat_sample> refused_samples(const test_node& node) {
    const std::string a = node.key("a"), z = node.key("z");
    const std::vector<argv_type> string_a{{"SET", a, "hello"}};
    const std::vector<argv_type> zset{{"ZADD", z, "1", "m1", "2", "m2", "3", "m3"}};
    return {
        {string_a, {"EXPIRE", a, "100"}},         {string_a, {"PEXPIRE", a, "100000"}},
        {{}, {"SETEX", a, "100", "v"}},           {{}, {"PSETEX", a, "100000", "v"}},
        {{}, {"SET", a, "v", "EX", "100"}},       {{}, {"SET", a, "v", "PX", "100000"}},
        {zset, {"ZREMRANGEBYRANK", z, "0", "0"}},
    };
}

/// A sample of every command in the read table, all on one starting state holding each data type.
std::vector<repeat_sample> read_samples(const test_node& node, const fixed_times& t) {
    const std::string a = node.key("a"), b = node.key("b"), h = node.key("h"), l = node.key("l"), s = node.key("s"),
                      z = node.key("z"), z2 = node.key("z2"), p = node.key("p"), g = node.key("g"), x = node.key("x");
    const std::vector<argv_type> all{{"SET", a, "hello world", "PXAT", t.ms(0)},
                                     {"SET", b, "hallo welt"},
                                     {"HSET", h, "f", "1", "g", "22"},
                                     {"RPUSH", l, "3", "1", "2"},
                                     {"SADD", s, "x", "y"},
                                     {"ZADD", z, "1", "m1", "2", "m2", "3", "m3"},
                                     {"ZADD", z2, "2", "m2", "4", "m4"},
                                     {"PFADD", p, "a", "b", "c"},
                                     {"GEOADD", g, "13.361389", "38.115556", "p1", "15.087269", "37.502669", "p2"},
                                     {"XADD", x, "1-1", "f", "v"},
                                     {"XADD", x, "2-1", "f", "w"}};
    const std::vector<argv_type> commands = {
        {"BITCOUNT", a}, {"BITPOS", a, "1"}, {"DBSIZE"}, {"DUMP", a}, {"ECHO", "hi"}, {"EXISTS", a, b},
        {"EXPIRETIME", a}, {"GEODIST", g, "p1", "p2"}, {"GEOHASH", g, "p1"}, {"GEOPOS", g, "p1"},
        {"GEOSEARCH", g, "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"}, {"GET", a}, {"GETBIT", a, "3"},
        {"GETRANGE", a, "0", "4"}, {"HEXISTS", h, "f"}, {"HGET", h, "f"}, {"HGETALL", h}, {"HKEYS", h}, {"HLEN", h},
        {"HMGET", h, "f", "g"}, {"HRANDFIELD", h, "2"}, {"HSCAN", h, "0"}, {"HSTRLEN", h, "g"}, {"HVALS", h},
        {"INFO", "keyspace"}, {"KEYS", node.key("*")}, {"LASTSAVE"}, {"LCS", a, b}, {"LINDEX", l, "0"}, {"LLEN", l},
        {"LPOS", l, "2"}, {"LRANGE", l, "0", "-1"}, {"MGET", a, b}, {"OBJECT", "ENCODING", a}, {"PEXPIRETIME", a},
        {"PFCOUNT", p}, {"PING"}, {"PTTL", a}, {"RANDOMKEY"}, {"SCAN", "0"}, {"SCARD", s}, {"SDIFF", s, s},
        {"SINTER", s, s}, {"SINTERCARD", "1", s}, {"SISMEMBER", s, "x"}, {"SMEMBERS", s}, {"SMISMEMBER", s, "x", "q"},
        {"SORT_RO", l}, {"SRANDMEMBER", s, "2"}, {"SSCAN", s, "0"}, {"STRLEN", a}, {"SUBSTR", a, "0", "3"},
        {"SUNION", s, s}, {"TIME"}, {"TOUCH", a, b}, {"TTL", a}, {"TYPE", a}, {"XLEN", x}, {"XRANGE", x, "-", "+"},
        {"XREVRANGE", x, "+", "-"}, {"ZCARD", z}, {"ZCOUNT", z, "0", "10"}, {"ZDIFF", "2", z, z2},
        {"ZINTER", "2", z, z2}, {"ZINTERCARD", "2", z, z2}, {"ZLEXCOUNT", z, "-", "+"}, {"ZMSCORE", z, "m1", "q"},
        {"ZRANDMEMBER", z, "2"}, {"ZRANGE", z, "0", "-1", "WITHSCORES"}, {"ZRANGEBYLEX", z, "-", "+"},
        {"ZRANGEBYSCORE", z, "-inf", "+inf"}, {"ZRANK", z, "m2"}, {"ZREVRANGE", z, "0", "-1"}, {"ZREVRANK", z, "m2"},
        {"ZSCORE", z, "m2"}, {"ZUNION", "2", z, z2},
    };
    std::vector<repeat_sample> out;
    for (const auto& command : commands) out.push_back({all, command});
    return out;
}

template <std::size_t N>
std::size_t uncovered(const std::string_view (&table)[N], const std::vector<repeat_sample>& samples,
                      std::string& names) {
    std::size_t missing = 0;
    for (std::string_view entry : table) {
        bool found = false;
        for (const auto& sample : samples) found = found || detail::iequals_ascii(sample.command.front(), entry);
        if (!found) ++missing, names += " " + std::string(entry);
    }
    return missing;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(repeat_table)

BOOST_AUTO_TEST_CASE(a_second_run_of_every_repeatable_form_leaves_what_one_run_leaves) {
    test_node node;
    const fixed_times times;
    const auto writes = write_samples(node, times);
    const auto refused = refused_samples(node);
    const auto reads = read_samples(node, times);

    // Adding a table entry without a sample here fails: the table holds only what is proved.
    std::string names;
    BOOST_TEST(uncovered(detail::repeatable_writes, writes, names) == 0u, "writes without a sample:" << names);
    names.clear();
    BOOST_TEST(uncovered(detail::read_only_commands, reads, names) == 0u, "reads without a sample:" << names);

    std::size_t compared = 0;
    for (const auto& sample : writes) {
        BOOST_TEST_CONTEXT(joined(sample.command)) {
            BOOST_TEST(is_safe_to_repeat(encoded(sample.command)));
            const once_and_twice result = run_once_and_twice(node, sample);
            BOOST_TEST(result.first_reply_error.empty(), result.first_reply_error);
            BOOST_TEST((result.once == result.twice),
                       "two runs left more than one:" << node.differences(result.once, result.twice));
            ++compared;
        }
    }
    // The comparison can fail: each refused form, its runs as far apart as a reconnect puts them, differs.
    std::size_t refused_differed = 0;
    for (const auto& sample : refused) {
        BOOST_TEST_CONTEXT(joined(sample.command)) {
            BOOST_TEST(!is_safe_to_repeat(encoded(sample.command)));
            const once_and_twice result = run_once_and_twice(node, sample, std::chrono::milliseconds(5));
            BOOST_TEST(result.first_reply_error.empty(), result.first_reply_error);
            BOOST_TEST(!(result.once == result.twice), "a second run left what one run leaves");
            if (!(result.once == result.twice)) ++refused_differed;
        }
    }
    // Reads: a second run changes nothing either, and neither does the first, but for PFCOUNT, which stores the
    // count it computed in the HyperLogLog's header (a cache no command shows; the second run leaves it as is).
    std::size_t reads_compared = 0;
    for (const auto& sample : reads) {
        BOOST_TEST_CONTEXT(joined(sample.command)) {
            const argv_type& command = sample.command;
            BOOST_TEST(is_safe_to_repeat(encoded(command)));
            BOOST_TEST(is_read_only_command(encoded(command)));
            const once_and_twice result = run_once_and_twice(node, sample);
            BOOST_TEST(result.first_reply_error.empty(), result.first_reply_error);
            BOOST_TEST((result.once == result.twice),
                       "two runs left more than one:" << node.differences(result.once, result.twice));
            if (!detail::iequals_ascii(command.front(), "PFCOUNT"))
                BOOST_TEST((result.before == result.once),
                           "a read changed:" << node.differences(result.before, result.once));
            ++reads_compared;
        }
    }
    node.reset({});
    std::cout << "repeat_table: " << compared << " write samples (" << std::size(detail::repeatable_writes)
              << " table entries) and " << reads_compared << " read samples (" << std::size(detail::read_only_commands)
              << " read commands): two runs left the same DUMP and PEXPIRETIME as one; " << refused_differed << " of "
              << refused.size() << " refused forms left a different one\n";
}

BOOST_AUTO_TEST_SUITE_END()
