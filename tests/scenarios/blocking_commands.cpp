// tests/scenarios/blocking_commands.cpp — blocking commands (BLPOP, BLMOVE, XREAD BLOCK) for both drivers, with
// call_options::reply_timeout as a user of either sets it: fed before they wait, they answer at once; on an empty key
// the server waits their timeout and answers nil. (The async cluster's own connections for them: tests/async.)
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

using namespace addrmap;

namespace {
using steady = std::chrono::steady_clock;

call_options waiting_up_to_two_seconds() {
    call_options call;
    call.reply_timeout = std::chrono::milliseconds(2000);
    return call;
}
using scenario::ms_since;
}  // namespace

BOOST_AUTO_TEST_SUITE(blocking_commands)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_blocking_pop_fed_before_it_waits_answers_at_once, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const std::string from = "{blk}.from", to = "{blk}.to";
    driver.call({"DEL", from, to});
    BOOST_TEST_REQUIRE(driver.call({"RPUSH", from, "a", "b"}).ok());
    const outcome popped = driver.call({"BLPOP", from, "1"}, waiting_up_to_two_seconds());
    BOOST_TEST_REQUIRE(popped.ok(), scenario::why(popped));
    BOOST_TEST_REQUIRE(popped->type == REDIS_REPLY_ARRAY);
    BOOST_TEST(std::string(popped->element[1]->str) == "a");
    const outcome moved = driver.call({"BLMOVE", from, to, "LEFT", "RIGHT", "1"}, waiting_up_to_two_seconds());
    BOOST_TEST_REQUIRE(moved.ok(), scenario::why(moved));
    BOOST_TEST(std::string(moved->str, moved->len) == "b");
    const outcome there = driver.call({"LRANGE", to, "0", "-1"});
    BOOST_TEST_REQUIRE(there.ok(), scenario::why(there));
    BOOST_TEST_REQUIRE(there->elements == 1u);
    BOOST_TEST(std::string(there->element[0]->str) == "b");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(on_an_empty_key_the_server_waits_the_timeout_and_answers_nil, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const std::string list = "{blk}.empty", stream = "{blk}.stream";
    driver.call({"DEL", list, stream});
    auto start = steady::now();
    const outcome popped = driver.call({"BLPOP", list, "0.3"}, waiting_up_to_two_seconds());
    const long long pop_ms = ms_since(start);
    BOOST_TEST_REQUIRE(popped.ok(), scenario::why(popped));
    BOOST_TEST(popped->type == REDIS_REPLY_NIL);
    BOOST_TEST(pop_ms >= 250);  // the server's wait, not an error returned early
    start = steady::now();
    const outcome read = driver.call({"XREAD", "BLOCK", "300", "STREAMS", stream, "$"}, waiting_up_to_two_seconds());
    const long long read_ms = ms_since(start);
    BOOST_TEST_REQUIRE(read.ok(), scenario::why(read));
    BOOST_TEST(read->type == REDIS_REPLY_NIL);
    BOOST_TEST(read_ms >= 250);
}

BOOST_AUTO_TEST_SUITE_END()
