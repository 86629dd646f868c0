// tests/scenarios/keys.cpp — commands routed by their own keys (call/call_argv, command_keys.hpp) and commands on a
// chosen node (command_on), for both drivers: straight to the owner, and cross-slot commands refused before sending.
#include "admin_connection.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace addrmap;

namespace {
using scenario::has;
}  // namespace

BOOST_AUTO_TEST_SUITE(keys)

BOOST_AUTO_TEST_CASE_TEMPLATE(set_get_mget_route_by_their_own_keys, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    // A key on each master: every command must reach its owner at once (a wrong route would cost a MOVED).
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& master : masters) {
        const std::string tag = "{" + live::tag_for_slot(static_cast<std::uint16_t>(master.slots.front().first)) + "}";
        const std::string a = tag + "keys.a", b = tag + "keys.b";
        outcome set = driver.call({"SET", a, "one"});
        BOOST_TEST_REQUIRE(set.ok());
        BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
        set = driver.call({"SET", b, "two"});
        BOOST_TEST_REQUIRE(set->type == REDIS_REPLY_STATUS);
        const outcome get = driver.call({"GET", a});
        BOOST_TEST_REQUIRE(get->type == REDIS_REPLY_STRING);
        BOOST_TEST(std::string(get->str, get->len) == "one");
        const outcome both = driver.call({"MGET", a, b});
        BOOST_TEST_REQUIRE(both->type == REDIS_REPLY_ARRAY);
        BOOST_TEST_REQUIRE(both->elements == 2u);
        BOOST_TEST(std::string(both->element[1]->str, both->element[1]->len) == "two");
        // The value is on the master that owns the slot: asked there directly.
        const outcome there = driver.command_on(master.reported, {"GET", a});
        BOOST_TEST_REQUIRE(there.ok());
        BOOST_TEST_REQUIRE(there->type == REDIS_REPLY_STRING);
        // Another master answers with the server's MOVED, returned as it is (command_on follows no redirect).
        const node_info& other = masters[(&master - masters.data() + 1) % masters.size()];
        const outcome elsewhere = driver.command_on(other.reported, {"GET", a});
        BOOST_TEST_REQUIRE(elsewhere.ok());
        BOOST_TEST_REQUIRE(elsewhere->type == REDIS_REPLY_ERROR);
        BOOST_TEST(has(std::string(elsewhere->str, elsewhere->len), "MOVED"));
        const outcome gone = driver.call({"DEL", a, b});
        BOOST_TEST(gone->integer == 2);
    }
    BOOST_TEST(driver.stats().moved == 0u);  // the MOVED above was command_on's to return, not the map's to learn
    // EVAL with numkeys 0 has no key: any master runs it.
    const outcome eval = driver.call({"EVAL", "return 41 + 1", "0"});
    BOOST_TEST_REQUIRE(eval->type == REDIS_REPLY_INTEGER);
    BOOST_TEST(eval->integer == 42);
    // EVAL with keys: routed by KEYS[1].
    const outcome keyed = driver.call({"EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "2", "{ev}1", "{ev}2"});
    BOOST_TEST_REQUIRE(keyed->type == REDIS_REPLY_ERROR);  // ARGV[1] is missing: the server's own error, it ran there
    BOOST_TEST(!has(std::string(keyed->str, keyed->len), "MOVED"));
}

// SPUBLISH has no key but goes to its shard channel's owner (where that channel's subscribers are); PUBLISH anywhere.
BOOST_AUTO_TEST_CASE_TEMPLATE(spublish_goes_to_its_shard_channels_owner, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    for (const auto& master : masters) {
        const std::string channel =
            "{" + live::tag_for_slot(static_cast<std::uint16_t>(master.slots.front().first)) + "}keys.news";
        live::admin_connection subscriber(master.reported.port);
        const auto confirmed = subscriber.run_argv({"SSUBSCRIBE", channel});
        BOOST_TEST_REQUIRE(confirmed->type == REDIS_REPLY_ARRAY);
        const outcome sent = driver.call({"SPUBLISH", channel, "hello"});
        BOOST_TEST_REQUIRE(sent.ok());
        BOOST_TEST_REQUIRE(sent->type == REDIS_REPLY_INTEGER);
        BOOST_TEST(sent->integer == 1);  // it reached the subscriber on the owner
    }
    BOOST_TEST(driver.stats().moved == 0u);  // each went straight there
    const outcome published = driver.call({"PUBLISH", "keys.classic", "hello"});
    BOOST_TEST_REQUIRE(published.ok());
    BOOST_TEST(published->type == REDIS_REPLY_INTEGER);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(cross_slot_commands_are_refused_before_sending, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    BOOST_TEST_REQUIRE(driver.call({"SET", "a", "1"}).ok());
    const auto trips = driver.stats().round_trips;
    const auto refused = [&](const scenario::args& a, std::string_view expected) {
        const outcome o = driver.call(a);
        BOOST_TEST_REQUIRE(!o.ok(), "sent: " << a[0]);
        BOOST_TEST((o.failure()->kind() == error_kind::config));
        BOOST_TEST(has(o.failure()->what(), expected), o.failure()->what());
    };
    refused({"MGET", "a", "b"}, "'MGET' has keys in 2 slots: 'a' (slot 15495), 'b' (slot 3300)");
    refused({"DEL", "k1", "k2", "{k}1"}, "'DEL' has keys in 3 slots");
    refused({"PING"}, "pass the routing key yourself");
    refused({"EVAL", "return 1", "2"}, "'EVAL', argument 2: the count says 2 key(s) but only 0");
    BOOST_TEST(driver.stats().round_trips == trips);  // nothing was sent
    // The same keys with one hash tag go together.
    const outcome ok = driver.call({"MSET", "{k}a", "1", "{k}b", "2"});
    BOOST_TEST(ok->type == REDIS_REPLY_STATUS);
}

BOOST_AUTO_TEST_SUITE_END()
