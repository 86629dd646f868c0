// tests/unit/test_command_safety.cpp — the repeat table (command_safety.hpp) decision by decision: which commands,
// and which option forms of SET and ZADD, may be sent again after a lost reply. The live proof is repeat_table.cpp.
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>

#include <boost/test/unit_test.hpp>

#include <string_view>
#include <vector>

using namespace addrmap;

namespace {

bool safe(std::vector<std::string_view> argv) { return is_safe_to_repeat(detail::format_argv(argv)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(test_command_safety)

BOOST_AUTO_TEST_CASE(reads_are_safe) {
    BOOST_TEST(safe({"GET", "k"}));
    BOOST_TEST(safe({"get", "k"}));
    BOOST_TEST(safe({"PEXPIRETIME", "k"}));
    BOOST_TEST(safe({"DUMP", "k"}));
}

BOOST_AUTO_TEST_CASE(set_is_safe_with_absolute_or_kept_expiry_only) {
    BOOST_TEST(safe({"SET", "k", "v"}));
    BOOST_TEST(safe({"SET", "k", "v", "EXAT", "1900000000"}));
    BOOST_TEST(safe({"SET", "k", "v", "PXAT", "1900000000000"}));
    BOOST_TEST(safe({"set", "k", "v", "pxat", "1900000000000"}));
    BOOST_TEST(safe({"SET", "k", "v", "KEEPTTL"}));
    // The value is not an option.
    BOOST_TEST(safe({"SET", "k", "EX"}));
    BOOST_TEST(safe({"SET", "k", "NX", "PXAT", "1900000000000"}));
    // Relative TTLs: a second run starts the TTL again, so the key expires later.
    BOOST_TEST(!safe({"SET", "k", "v", "EX", "10"}));
    BOOST_TEST(!safe({"SET", "k", "v", "ex", "10"}));
    BOOST_TEST(!safe({"SET", "k", "v", "PX", "10000"}));
    BOOST_TEST(!safe({"SET", "k", "v", "px", "10000"}));
    BOOST_TEST(!safe({"SET", "k", "NX", "EX", "10"}));  // "NX" is the value, EX still counts
    // Replies that depend on the state before the first run.
    BOOST_TEST(!safe({"SET", "k", "v", "NX"}));
    BOOST_TEST(!safe({"SET", "k", "v", "XX"}));
    BOOST_TEST(!safe({"SET", "k", "v", "get"}));
    BOOST_TEST(!safe({"SET", "k", "v", "XX", "PXAT", "1900000000000"}));
    BOOST_TEST(!safe({"SET", "k", "v", "EXAT", "1900000000", "GET"}));
    BOOST_TEST(!safe({"SET", "k", "v", "KEEPTTL", "NX"}));
    // Too short to be a SET the server would run.
    BOOST_TEST(!safe({"SET", "k"}));
}

BOOST_AUTO_TEST_CASE(relative_ttls_and_rank_removal_are_not_repeated) {
    BOOST_TEST(!safe({"EXPIRE", "k", "10"}));
    BOOST_TEST(!safe({"EXPIRE", "k", "10", "GT"}));
    BOOST_TEST(!safe({"pexpire", "k", "10000"}));
    BOOST_TEST(!safe({"SETEX", "k", "10", "v"}));
    BOOST_TEST(!safe({"PSETEX", "k", "10000", "v"}));
    BOOST_TEST(!safe({"ZREMRANGEBYRANK", "z", "0", "0"}));
    for (std::string_view removed : {"EXPIRE", "PEXPIRE", "SETEX", "PSETEX", "ZREMRANGEBYRANK"})
        BOOST_TEST(!detail::in_table(removed, detail::repeatable_writes), removed);
    // The per-call override still lets a caller who knows better repeat them.
    BOOST_TEST(may_repeat(detail::format_argv({"EXPIRE", "k", "10"}), repeat::allowed));
    BOOST_TEST(!may_repeat(detail::format_argv({"EXPIRE", "k", "10"}), repeat::by_table));
    BOOST_TEST(!may_repeat(detail::format_argv({"GET", "k"}), repeat::never));
}

BOOST_AUTO_TEST_CASE(absolute_expiry_is_safe_with_every_condition) {
    for (std::string_view name : {"EXPIREAT", "PEXPIREAT"}) {
        BOOST_TEST(safe({name, "k", "1900000000"}), name);
        for (std::string_view condition : {"NX", "XX", "GT", "LT"})
            BOOST_TEST(safe({name, "k", "1900000000", condition}), name << ' ' << condition);
    }
    BOOST_TEST(safe({"PERSIST", "k"}));
}

BOOST_AUTO_TEST_CASE(zadd_is_safe_with_every_option_but_incr) {
    BOOST_TEST(safe({"ZADD", "z", "1", "m"}));
    for (std::string_view option : {"NX", "XX", "GT", "LT", "CH", "gt"})
        BOOST_TEST(safe({"ZADD", "z", option, "1", "m"}), option);
    BOOST_TEST(safe({"ZADD", "z", "XX", "GT", "CH", "1", "m", "2", "n"}));
    BOOST_TEST(!safe({"ZADD", "z", "INCR", "1", "m"}));
    BOOST_TEST(!safe({"ZADD", "z", "GT", "incr", "1", "m"}));
    BOOST_TEST(safe({"ZREM", "z", "m"}));
    BOOST_TEST(safe({"ZREMRANGEBYSCORE", "z", "-inf", "(2"}));
}

BOOST_AUTO_TEST_CASE(the_other_writes_in_the_table) {
    BOOST_TEST(safe({"DEL", "a", "b"}));
    BOOST_TEST(safe({"UNLINK", "a", "b"}));
    BOOST_TEST(safe({"MSET", "a", "1", "b", "2"}));
    BOOST_TEST(safe({"SETRANGE", "k", "3", "xyz"}));
    BOOST_TEST(safe({"HSET", "h", "f", "v"}));
    BOOST_TEST(safe({"HMSET", "h", "f", "v"}));
    BOOST_TEST(safe({"HDEL", "h", "f"}));
    BOOST_TEST(safe({"SADD", "s", "m"}));
    BOOST_TEST(safe({"SREM", "s", "m"}));
    BOOST_TEST(safe({"PFADD", "p", "a", "b"}));
}

BOOST_AUTO_TEST_CASE(counting_appending_popping_and_scripts_are_not) {
    for (std::string_view unsafe : {"INCR", "INCRBY", "DECR", "APPEND", "LPUSH", "RPUSH", "LPOP", "XADD", "EVAL",
                                    "EVALSHA", "FCALL", "MULTI", "EXEC", "GETSET", "GETDEL", "HINCRBY", "SPOP",
                                    "PUBLISH", "SETNX", "RENAME", "LMOVE", "BLPOP", "GETEX", "ZREMRANGEBYLEX", ""})
        BOOST_TEST(!safe({unsafe, "k", "1"}), unsafe);
    BOOST_TEST(command_name(detail::format_argv({"hset", "h", "f", "v"})) == "hset");
    BOOST_TEST(!is_safe_to_repeat("not resp"));
    BOOST_TEST(!is_safe_to_repeat("*1\r\n$3\r\nGE"));
}

BOOST_AUTO_TEST_SUITE_END()
