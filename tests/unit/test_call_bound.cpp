// tests/unit/test_call_bound.cpp — the async cluster's bound on calls held (detail/call_bound.hpp), without a loop:
// the total and each node's share are refused past their bound, freed places come back, waiters are told at 3/4.
#include <addrmap/detail/call_bound.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

using namespace addrmap;
using addrmap::detail::call_bound;

BOOST_AUTO_TEST_SUITE(test_call_bound)

BOOST_AUTO_TEST_CASE(a_zero_bound_is_refused_at_construction_naming_the_option) {
    try {
        call_bound bound(0, 10);
        BOOST_FAIL("a zero max_calls was accepted");
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::config);
        BOOST_TEST(std::string(e.what()).find("max_calls is 0") != std::string::npos, e.what());
    }
    try {
        call_bound bound(10, 0);
        BOOST_FAIL("a zero max_calls_per_node was accepted");
    } catch (const error& e) {
        BOOST_TEST(std::string(e.what()).find("max_calls_per_node is 0") != std::string::npos, e.what());
    }
    call_bound clamped(4, 100);
    BOOST_TEST(clamped.max_per_node() == 4u);
}

BOOST_AUTO_TEST_CASE(the_total_is_refused_past_its_bound_and_a_freed_place_comes_back) {
    call_bound bound(3, 3);
    BOOST_TEST(bound.reserve());
    BOOST_TEST(bound.reserve());
    BOOST_TEST(bound.reserve());
    BOOST_TEST(!bound.reserve());
    BOOST_TEST(bound.held() == 3u);
    bound.release(no_node);
    BOOST_TEST(bound.held() == 2u);
    BOOST_TEST(bound.reserve());
    BOOST_TEST(!bound.reserve());
}

// One stalled node fills its own share; calls for another node still come in (the total has room).
BOOST_AUTO_TEST_CASE(one_node_cannot_take_the_whole_total) {
    call_bound bound(10, 4);
    for (int i = 0; i < 4; ++i) {
        BOOST_TEST_REQUIRE(bound.reserve());
        BOOST_TEST_REQUIRE(bound.charge(7));
    }
    BOOST_TEST_REQUIRE(bound.reserve());
    BOOST_TEST(!bound.charge(7));  // node 7 is full: the caller gives the place back
    bound.unreserve();
    BOOST_TEST(bound.held() == 4u);
    BOOST_TEST(bound.held_for(7) == 4u);
    BOOST_TEST_REQUIRE(bound.reserve());
    BOOST_TEST(bound.charge(2));
    BOOST_TEST(bound.held_for(2) == 1u);
    bound.release(7);
    BOOST_TEST(bound.held_for(7) == 3u);
    BOOST_TEST_REQUIRE(bound.reserve());
    BOOST_TEST(bound.charge(7));
}

BOOST_AUTO_TEST_CASE(the_refusals_name_the_bound_the_option_and_the_node) {
    call_bound bound(100, 20);
    const std::string total = bound.total_refusal("SET");
    BOOST_TEST(total.find("100 calls (cluster_options::max_calls)") != std::string::npos, total);
    BOOST_TEST(total.find("SET was not sent, it did not run") != std::string::npos, total);
    const std::string node = bound.node_refusal("INCR", "10.0.0.5:8501");
    BOOST_TEST(node.find("20 calls for node 10.0.0.5:8501 (cluster_options::max_calls_per_node") != std::string::npos, node);
    BOOST_TEST(node.find("when_room") != std::string::npos, node);
}

// Waiters are told once at most three quarters is held (room for a burst), each once, in the order they came; a
// waiter for a node also waits for that node's share.
BOOST_AUTO_TEST_CASE(waiters_are_told_at_three_quarters_each_once) {
    call_bound bound(8, 4);
    for (int i = 0; i < 8; ++i) {
        BOOST_TEST_REQUIRE(bound.reserve());
        BOOST_TEST_REQUIRE(bound.charge(i < 4 ? 1 : 2));
    }
    std::vector<std::string> told;
    bound.when_room(no_node, [&] { told.push_back("any"); });
    bound.when_room(1, [&] { told.push_back("node1"); });
    BOOST_TEST(bound.has_waiters());
    bound.release(2);  // 7 held: above 6
    for (auto& f : bound.take_ready()) f();
    BOOST_TEST(told.empty());
    bound.release(2);  // 6 held (3/4 of 8); node 1 still holds 4 of 4
    for (auto& f : bound.take_ready()) f();
    BOOST_TEST(told == std::vector<std::string>{"any"});
    bound.release(1);  // node 1: 3 of 4 (3/4)
    for (auto& f : bound.take_ready()) f();
    BOOST_TEST((told == std::vector<std::string>{"any", "node1"}));
    BOOST_TEST(!bound.has_waiters());
    for (auto& f : bound.take_ready()) f();
    BOOST_TEST(told.size() == 2u);
}

// A bound under 4 has its low-water mark below it: a full bound is never "room".
BOOST_AUTO_TEST_CASE(a_tiny_bound_tells_no_waiter_while_full) {
    call_bound bound(2, 1);
    BOOST_TEST_REQUIRE(bound.reserve());
    BOOST_TEST_REQUIRE(bound.charge(3));
    BOOST_TEST_REQUIRE(bound.reserve());
    BOOST_TEST_REQUIRE(bound.charge(4));
    bool any = false, node = false;
    bound.when_room(no_node, [&] { any = true; });
    bound.when_room(3, [&] { node = true; });
    for (auto& f : bound.take_ready()) f();
    BOOST_TEST(!any);
    BOOST_TEST(!node);
    bound.release(3);
    for (auto& f : bound.take_ready()) f();
    BOOST_TEST(any);
    BOOST_TEST(node);
}

// A call routed elsewhere than the node it was charged to (a replica, a redirect) moves its count there.
BOOST_AUTO_TEST_CASE(a_recharged_call_counts_against_the_node_it_goes_to) {
    call_bound bound(10, 2);
    BOOST_TEST_REQUIRE(bound.reserve());
    BOOST_TEST_REQUIRE(bound.charge(1));
    bound.recharge(1, 5);
    BOOST_TEST(bound.held_for(1) == 0u);
    BOOST_TEST(bound.held_for(5) == 1u);
    bound.recharge(5, no_node);
    BOOST_TEST(bound.held_for(5) == 0u);
    BOOST_TEST(bound.held() == 1u);
    bound.release(no_node);
    BOOST_TEST(bound.held() == 0u);
}

// submit() reserves from many threads at once: never more places than the bound.
BOOST_AUTO_TEST_CASE(reservations_from_many_threads_never_pass_the_bound) {
    call_bound bound(1000, 1000);
    std::vector<std::thread> threads;
    std::vector<int> got(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 1000; ++i) {
                if (bound.reserve())
                    ++got[static_cast<std::size_t>(t)];
                else
                    bound.refused_off_loop();  // as submit() counts its refusals, off the loop thread
            }
        });
    for (auto& th : threads) th.join();
    BOOST_TEST(got[0] + got[1] + got[2] + got[3] == 1000);
    BOOST_TEST(bound.held() == 1000u);
    // Every refusal is counted once, and taken once by the loop thread (into stats().overloaded).
    BOOST_TEST(bound.take_refused_off_loop() == 3000u);
    BOOST_TEST(bound.take_refused_off_loop() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
