// tests/unit/test_blocking_commands.cpp — which commands hold their connection while the server waits, and for how
// long (detail/blocking_commands.hpp): every blocking family, timeouts in seconds and milliseconds, for ever, refused.
#include <addrmap/detail/blocking_commands.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string_view>
#include <vector>

using addrmap::detail::holds_connection;
using addrmap::detail::parse_block_timeout;

namespace {
/// How long `argv` holds its connection: -1 not at all, 0 for ever, else milliseconds.
long long hold(const std::vector<std::string_view>& argv) {
    const auto h = holds_connection(argv);
    if (!h.blocks) return -1;
    return h.at_most ? h.at_most->count() : 0;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(test_blocking_commands)

BOOST_AUTO_TEST_CASE(every_blocking_family_is_found_with_its_timeout) {
    BOOST_TEST(hold({"BLPOP", "a", "b", "2"}) == 2000);
    BOOST_TEST(hold({"brpop", "a", "0.5"}) == 500);
    BOOST_TEST(hold({"BZPOPMIN", "z", "1.25"}) == 1250);
    BOOST_TEST(hold({"BZPOPMAX", "z", "3"}) == 3000);
    BOOST_TEST(hold({"BRPOPLPUSH", "a", "b", "4"}) == 4000);
    BOOST_TEST(hold({"BLMOVE", "a", "b", "LEFT", "RIGHT", "0.1"}) == 100);
    BOOST_TEST(hold({"BLMPOP", "2", "2", "a", "b", "LEFT", "COUNT", "3"}) == 2000);
    BOOST_TEST(hold({"BZMPOP", "0.25", "1", "z", "MIN"}) == 250);
    BOOST_TEST(hold({"WAIT", "1", "150"}) == 150);
    BOOST_TEST(hold({"WAITAOF", "1", "0", "70"}) == 70);
    BOOST_TEST(hold({"XREAD", "COUNT", "10", "BLOCK", "2000", "STREAMS", "s", "$"}) == 2000);
    BOOST_TEST(hold({"XREADGROUP", "GROUP", "g", "BLOCK", "BLOCK", "900", "STREAMS", "s", ">"}) == 900);  // a consumer named BLOCK
}

BOOST_AUTO_TEST_CASE(wait_and_waitaof_stay_with_the_connection_their_writes_went_to) {
    BOOST_TEST(holds_connection({"WAIT", "1", "100"}).own_writes);
    BOOST_TEST(holds_connection({"waitaof", "1", "0", "100"}).own_writes);
    BOOST_TEST(!holds_connection({"BLPOP", "a", "1"}).own_writes);
}

BOOST_AUTO_TEST_CASE(timeout_zero_and_refused_timeouts_hold_for_ever) {
    BOOST_TEST(hold({"BLPOP", "a", "0"}) == 0);
    BOOST_TEST(hold({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}) == 0);
    BOOST_TEST(hold({"XREAD", "BLOCK", "0", "BLOCK", "300", "STREAMS", "s", "$"}) == 300);  // the last BLOCK counts
    BOOST_TEST(hold({"XREAD", "BLOCK", "300", "BLOCK", "0", "STREAMS", "s", "$"}) == 0);
    BOOST_TEST(hold({"WAIT", "1", "0"}) == 0);
    BOOST_TEST(hold({"BLPOP", "a", "-1"}) == 0);   // the server refuses it at once; no bound is guessed
    BOOST_TEST(hold({"BLPOP", "a", "1e3"}) == 0);
    BOOST_TEST(hold({"WAIT", "1", "0.5"}) == 0);  // milliseconds are whole
    BOOST_TEST(hold({"BLMPOP"}) == 0);            // no timeout at all: still a blocking command
}

BOOST_AUTO_TEST_CASE(other_commands_and_non_blocking_forms_hold_nothing) {
    BOOST_TEST(hold({"LPOP", "a"}) == -1);
    BOOST_TEST(hold({"GET", "BLOCK"}) == -1);
    BOOST_TEST(hold({"XREAD", "COUNT", "5", "STREAMS", "s", "0"}) == -1);
    BOOST_TEST(hold({"XREAD", "STREAMS", "BLOCK", "0"}) == -1);  // after STREAMS, BLOCK is a stream name
    BOOST_TEST(hold({"XREADGROUP", "GROUP", "BLOCK", "c", "STREAMS", "s", ">"}) == -1);  // a group named BLOCK
    BOOST_TEST(hold({}) == -1);
}

BOOST_AUTO_TEST_CASE(timeouts_parse_as_the_server_reads_them) {
    BOOST_TEST(parse_block_timeout("1.5", true).value().count() == 1500);
    // The server rounds up (ceil of the milliseconds): a fraction of one is a whole one, never "for ever".
    BOOST_TEST(parse_block_timeout("0.0015", true).value().count() == 2);
    BOOST_TEST(parse_block_timeout("0.0001", true).value().count() == 1);
    BOOST_TEST(parse_block_timeout("0.0010", true).value().count() == 1);
    BOOST_TEST(parse_block_timeout("250", false).value().count() == 250);
    BOOST_TEST(!parse_block_timeout("", true).has_value());
    BOOST_TEST(!parse_block_timeout(".", true).has_value());
    BOOST_TEST(!parse_block_timeout("99999999999999999999", true).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
