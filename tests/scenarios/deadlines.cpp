// tests/scenarios/deadlines.cpp — a call's deadline against frozen nodes (SIGSTOP), both drivers: GET ends timeout,
// INCR unknown_outcome, at the deadline whatever command_timeout says; GETs over two frozen masters keep the live one.
#include "node_control.hpp"
#include "scenario_drivers.hpp"
#include "stopped_node.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <type_traits>
#include <vector>

using namespace addrmap;

namespace {

using steady = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

using scenario::has;
using scenario::text_of;
using scenario::ms_since;

template <class Driver>
constexpr bool is_blocking = std::is_same_v<Driver, scenario::blocking>;

/// command_timeout longer than any call here may take: a call that ends within several seconds was ended by its
/// deadline, not by the wait for one reply.
cluster_options with_long_command_timeout() {
    cluster_options options = scenario::options();
    options.tls.command_timeout = ms(10000);
    return options;
}

struct timed_outcome {
    outcome result;
    long long elapsed_ms;
};

/// `call` run while the node on `port` is frozen; the node is resumed (and the cluster whole again) before returning.
template <class Call>
timed_outcome while_frozen(std::uint16_t port, Call&& call) {
    live::stopped_node frozen(port);
    const auto start = steady::now();
    outcome result = call();
    const long long elapsed = ms_since(start);
    BOOST_TEST_REQUIRE(frozen.resume(), "the cluster was not whole again after the node on " << port << " resumed");
    return {std::move(result), elapsed};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(deadlines)

// A node frozen while a call is out: a GET (safe to repeat) ends timeout at its deadline, an INCR (written, not known
// safe to repeat) ends unknown_outcome at its deadline and is never sent again, and a cluster-wide deadline does the
// same as a per-call one. Each driver says it in its own words where it learns it differently: the blocking one's
// read times out ("no reply came in time"), the async one's deadline timer fires while the call is on its connection.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_call_ends_at_its_deadline_against_a_node_that_stops_answering, Driver, scenario::drivers) {
    const std::string key = "{deadline-stall}key";
    Driver get_driver(with_long_command_timeout()), incr_driver(with_long_command_timeout());
    cluster_options short_options = with_long_command_timeout();
    short_options.deadline = ms(300);  // the cluster-wide deadline: its calls pass no call_options
    Driver short_driver(short_options);
    scenario::connect_and_set(get_driver, key, "7");
    scenario::connect_and_set(incr_driver, key, "7");
    scenario::connect_and_set(short_driver, key, "7");
    const std::uint16_t owner = live::owner_port(get_driver, key_slot(key));
    BOOST_TEST_REQUIRE(owner != 0);

    call_options short_call;
    short_call.deadline = ms(300);
    const timed_outcome get = while_frozen(owner, [&] { return get_driver.command(key, {"GET", key}, short_call); });
    const timed_outcome incr = while_frozen(owner, [&] { return incr_driver.command(key, {"INCR", key}, short_call); });
    const timed_outcome cluster_wide = while_frozen(owner, [&] { return short_driver.command(key, {"GET", key}); });
    std::cout << Driver::name << ": 300 ms deadlines against a frozen node (command_timeout 10 s): GET ended after "
              << get.elapsed_ms << " ms, INCR after " << incr.elapsed_ms << " ms, GET under the cluster-wide deadline after "
              << cluster_wide.elapsed_ms << " ms\n";
    for (const timed_outcome* t : {&get, &incr, &cluster_wide}) {
        BOOST_TEST_REQUIRE(!t->result.ok(), "a call succeeded against a frozen node: " << scenario::why(t->result));
        BOOST_TEST(t->elapsed_ms >= 250);   // it waited for its deadline, it did not end early
        BOOST_TEST(t->elapsed_ms < 5000);   // and it did not wait for command_timeout (10 s): it did not hang
    }
    for (const timed_outcome* t : {&get, &cluster_wide}) {
        const std::string what = t->result.failure()->what();
        BOOST_TEST((t->result.failure()->kind() == error_kind::timeout), what);
        BOOST_TEST(has(what, "gave up on 'GET'"), what);
        BOOST_TEST(has(what, "at its deadline"), what);
        BOOST_TEST(has(what, "(it may have run: a send was lost after writing; it is safe to repeat)"), what);
        if constexpr (is_blocking<Driver>)
            BOOST_TEST(has(what, "no reply came in time"), what);  // the read's own timeout, set to the deadline
        else
            BOOST_TEST(has(what, "no reply before the deadline"), what);  // the deadline's timer, the call on the wire
    }
    const std::string incr_what = incr.result.failure()->what();
    BOOST_TEST((incr.result.failure()->kind() == error_kind::unknown_outcome), incr_what);
    BOOST_TEST(has(incr_what, "'INCR' was "), incr_what);
    BOOST_TEST(has(incr_what, "it may or may not have run"), incr_what);
    if constexpr (is_blocking<Driver>)
        BOOST_TEST(has(incr_what, "then no reply came in time"), incr_what);
    else
        BOOST_TEST(has(incr_what, "was handed to the connection to"), incr_what);
    BOOST_TEST(incr_driver.stats().unknown_outcomes == 1u);

    // Awake again: the same drivers work, and the INCR ran at most once (it was not sent again). Whether it ran
    // depends on whether the node read it: that is the unknown outcome.
    const outcome value = get_driver.command(key, {"GET", key});
    BOOST_TEST_REQUIRE(value.ok(), scenario::why(value));
    const std::string after_stall = text_of(value);
    std::cout << Driver::name << ": the INCR with the unknown outcome " << (after_stall == "8" ? "ran" : "did not run") << "\n";
    BOOST_TEST_REQUIRE((after_stall == "7" || after_stall == "8"), "the value is " << after_stall);
    const outcome again = incr_driver.command(key, {"INCR", key});
    BOOST_TEST_REQUIRE(again.ok(), scenario::why(again));
    BOOST_TEST_REQUIRE(again->type == REDIS_REPLY_INTEGER);
    BOOST_TEST(again->integer == std::stoll(after_stall) + 1);
    call_options thawed;  // not the cluster-wide 300 ms: a busy machine may need longer to reconnect after the thaw
    thawed.deadline = ms(10000);
    const outcome short_again = short_driver.command(key, {"GET", key}, thawed);
    BOOST_TEST(short_again.ok(), scenario::why(short_again));
}

// Two of three masters frozen while one GET per master is out together (the blocking driver's pipeline, the async
// driver's calls at once): the two end timeout at the deadline; the live master's reply is kept. Two masters of
// three frozen cannot be failed over (no majority votes), so the layout stays as it was.
BOOST_AUTO_TEST_CASE_TEMPLATE(gets_over_two_frozen_masters_end_at_the_deadline_and_the_live_reply_is_kept, Driver,
                              scenario::drivers) {
    Driver driver(with_long_command_timeout());
    driver.connect();
    std::vector<std::vector<std::string>> gets;
    std::vector<std::uint16_t> ports;
    for (const node_info& m : live::masters(driver)) {
        const std::string key = "{" + live::tag_for_slot(static_cast<std::uint16_t>(m.slots.front().first)) + "}deadline-k";
        BOOST_TEST_REQUIRE(driver.command(key, {"SET", key, "live"}).ok());  // each master's connection is up
        gets.push_back({"GET", key});
        ports.push_back(m.reported.port);
    }
    BOOST_TEST_REQUIRE(ports.size() == 3u);
    call_options call;
    call.deadline = ms(1000);
    std::vector<outcome> outcomes;
    long long took = 0;
    {
        live::stopped_nodes frozen({ports[0], ports[1]});
        const auto start = steady::now();
        outcomes = driver.all(gets, call);
        took = ms_since(start);
        BOOST_TEST_REQUIRE(frozen.resume(), "the cluster was not whole again after the two masters resumed");
    }
    std::cout << Driver::name << ": one GET per master, two masters frozen, deadline 1000 ms: ended after " << took << " ms\n";
    BOOST_TEST(took < 6000);  // the deadline ended them, not command_timeout (10 s): it did not hang
    BOOST_TEST(took >= 900);  // the frozen masters' GETs waited for their deadline
    BOOST_TEST_REQUIRE(outcomes.size() == 3u);
    for (std::size_t i = 0; i < 2; ++i) {
        BOOST_TEST_REQUIRE(!outcomes[i].ok(), "a frozen master answered: " << scenario::why(outcomes[i]));
        BOOST_TEST((outcomes[i].failure()->kind() == error_kind::timeout), outcomes[i].failure()->what());  // GET: safe
        BOOST_TEST(has(outcomes[i].failure()->what(), "at its deadline"), outcomes[i].failure()->what());
    }
    BOOST_TEST_REQUIRE(outcomes[2].ok(), scenario::why(outcomes[2]));
    BOOST_TEST(text_of(outcomes[2]) == "live");
    // Both thawed masters answer the same driver again.
    for (std::size_t i = 0; i < 2; ++i) {
        const outcome again = driver.command(gets[i][1], {"GET", gets[i][1]});
        BOOST_TEST_REQUIRE(again.ok(), scenario::why(again));
        BOOST_TEST(text_of(again) == "live");
    }
}

BOOST_AUTO_TEST_SUITE_END()
