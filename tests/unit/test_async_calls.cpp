// tests/unit/test_async_calls.cpp — the async driver's queue of calls (detail/async_calls.hpp), without a loop: a walk
// routes oldest first and holds a slot once one of its calls stays; a dial's failure reaches the calls waiting for it.
#include "resp_helpers.hpp"

#include <addrmap/detail/async_calls.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace addrmap;
using addrmap::detail::async_call;
using addrmap::detail::async_calls;
using clock_type = std::chrono::steady_clock;

namespace {

using addrmap_test::t0;

/// Queues a call of `slot` with `deadline`, numbered after the ones before it (as start() numbers them).
async_call* queue(async_calls& calls, int slot, clock_type::time_point deadline, std::uint64_t seq, node_id waiting_for = no_node) {
    async_call* c = calls.make(std::string("*1\r\n$4\r\nPING\r\n"));
    c->state.slot = slot;
    c->state.deadline = deadline;
    c->seq = seq;
    c->waiting_for = waiting_for;
    calls.enqueue(c);
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_async_calls)

// Calls of one slot leave in the order they were made: once the oldest stays (backing off, its connection being set
// up), the newer ones of its slot are not routed in that pass; other slots go on.
BOOST_AUTO_TEST_CASE(a_walk_holds_a_slot_once_one_of_its_calls_stays) {
    async_calls calls;
    async_call* first = queue(calls, 1, t0 + std::chrono::seconds(5), 1);
    async_call* second = queue(calls, 1, t0 + std::chrono::seconds(5), 2);
    async_call* other = queue(calls, 2, t0 + std::chrono::seconds(5), 3);
    async_call* keyless = queue(calls, -1, t0 + std::chrono::seconds(5), 4);
    std::vector<async_call*> routed, expired;
    calls.walk(t0, [&](async_call* c) { routed.push_back(c); return c != first && c != keyless; },
               [&](async_call* c) { expired.push_back(c); });
    BOOST_TEST((routed == std::vector<async_call*>{first, other, keyless}));  // `second` was held behind `first`
    BOOST_TEST(expired.empty());
    BOOST_TEST(calls.waiting().size() == 3u);  // first, second and the keyless one stayed
    BOOST_TEST(calls.slot_has_waiting(1));
    BOOST_TEST(!calls.slot_has_waiting(2));
    // The next pass starts afresh: with `first` gone, `second` is routed.
    routed.clear();
    calls.walk(t0, [&](async_call* c) { routed.push_back(c); return true; }, [&](async_call* c) { expired.push_back(c); });
    BOOST_TEST((routed == std::vector<async_call*>{first, second, keyless}));
    BOOST_TEST(calls.waiting().empty());
    for (async_call* c : {first, second, other, keyless}) calls.release(c);
}

BOOST_AUTO_TEST_CASE(a_held_call_past_its_deadline_leaves_through_expired) {
    async_calls calls;
    async_call* first = queue(calls, 7, t0 + std::chrono::seconds(5), 1);
    async_call* late = queue(calls, 7, t0 - std::chrono::milliseconds(1), 2);
    std::vector<async_call*> routed, expired;
    calls.walk(t0, [&](async_call* c) { routed.push_back(c); return false; }, [&](async_call* c) { expired.push_back(c); });
    BOOST_TEST((routed == std::vector<async_call*>{first}));
    BOOST_TEST((expired == std::vector<async_call*>{late}));
    BOOST_TEST(calls.waiting().size() == 1u);
    BOOST_TEST(!late->in_waiting);
    calls.release(first);
    calls.release(late);
}

BOOST_AUTO_TEST_CASE(a_dial_s_end_reaches_only_the_calls_waiting_for_that_node) {
    async_calls calls;
    async_call* on_3 = queue(calls, 1, t0, 1, 3);
    async_call* on_4 = queue(calls, 2, t0, 2, 4);
    async_call* also_on_3 = queue(calls, 3, t0, 3, 3);
    std::vector<async_call*> told;
    calls.stop_waiting_for(3, [&](async_call* c) { told.push_back(c); return c == on_3; });  // on_3 ends, the other stays
    BOOST_TEST((told == std::vector<async_call*>{on_3, also_on_3}));
    BOOST_TEST(on_3->waiting_for == no_node);
    BOOST_TEST(also_on_3->waiting_for == no_node);
    BOOST_TEST(on_4->waiting_for == 4u);
    BOOST_TEST(!on_3->in_waiting);
    BOOST_TEST(calls.waiting().size() == 2u);
    for (async_call* c : {on_3, on_4, also_on_3}) calls.release(c);
}

// Mid-move, a node can refuse a call (TRYAGAIN: its keys are split) and run a newer call of the slot written behind it
// on the same connection. A call whose last answer was ASK or TRYAGAIN travels alone: its slot drains (newer calls
// stay queued) until it is back; an ordinary call out on a connection holds nothing (the common case never waits).
BOOST_AUTO_TEST_CASE(a_call_of_a_slot_being_moved_travels_alone_until_it_is_back) {
    async_calls calls;
    const auto* connection = reinterpret_cast<const detail::async_connection*>(&calls);  // only compared
    async_call* plain = calls.make(std::string("*1\r\n$4\r\nPING\r\n"));
    plain->state.slot = 9;
    calls.sent(plain, connection, 2);
    BOOST_TEST(!calls.draining(9));
    BOOST_TEST(!calls.out_on_another_connection(9, connection));
    calls.came_back(plain);

    async_call* moving = calls.make(std::string("*1\r\n$4\r\nPING\r\n"));
    moving->state.slot = 9;
    moving->state.slot_moving = true;
    calls.sent(moving, connection, 2);
    BOOST_TEST(calls.draining(9));   // a newer call of slot 9 waits, even for this same connection
    BOOST_TEST(!calls.draining(10));
    BOOST_TEST(calls.came_back(moving));  // back: the slot's queue may move again
    BOOST_TEST(!calls.draining(9));

    async_call* replica_read = calls.make(std::string("*1\r\n$4\r\nPING\r\n"));
    replica_read->state.slot = 9;
    replica_read->state.slot_moving = true;
    replica_read->state.replica_read = true;  // reads a replica may serve keep no order
    calls.sent(replica_read, connection, 3);
    BOOST_TEST(!calls.draining(9));
    calls.came_back(replica_read);
    for (async_call* c : {plain, moving, replica_read}) calls.release(c);
}

// A call back in the pool starts its next life as a new one: every mark, its state, callback and lease reset; its
// command's buffer is kept for the next encoding (no allocation), unless it grew past what the pool keeps.
BOOST_AUTO_TEST_CASE(a_pooled_call_is_reused_as_new_keeping_a_small_command_buffer) {
    async_calls calls;
    async_call* c = calls.make(std::string("*1\r\n$4\r\nPING\r\n"));
    c->command.reserve(200);
    const char* buffer = c->command.data();
    c->seq = 7;
    c->in_flight = c->finished = c->dedicated = c->live = true;
    c->sent_to = c->charged_to = 3;
    c->stall_allowance = std::chrono::milliseconds(5);
    c->state.slot = 12;
    c->state.redirect_text = "MOVED 12 127.0.0.1:7001";
    c->state.failure = error(error_kind::timeout, "late");
    c->callback = [](outcome) {};
    c->lease = std::make_shared<addrmap::detail::async_lease>();
    calls.release(c);
    async_call* again = calls.make();
    BOOST_TEST(again == c);  // the pool's
    BOOST_TEST(again->command.empty());
    BOOST_TEST(again->command.data() == buffer);  // the same buffer, not a new allocation
    BOOST_TEST(again->seq == 0u);
    BOOST_TEST(!again->in_flight);
    BOOST_TEST(!again->finished);
    BOOST_TEST(!again->dedicated);
    BOOST_TEST(!again->live);
    BOOST_TEST(again->sent_to == no_node);
    BOOST_TEST(again->charged_to == no_node);
    BOOST_TEST(!again->stall_allowance.has_value());
    BOOST_TEST(again->state.slot == -1);
    BOOST_TEST(again->state.redirect_text.empty());
    BOOST_TEST(!again->state.failure.has_value());
    BOOST_TEST(!again->callback);
    BOOST_TEST(!again->lease);
    // A large command's buffer goes back to the heap with it.
    again->command.assign(async_calls::kept_command_capacity + 1, 'x');
    calls.release(again);
    async_call* third = calls.make();
    BOOST_TEST(third->command.capacity() <= async_calls::kept_command_capacity);
    calls.release(third);
}

// A draft start() never took (the format was refused) goes back to the pool; one taken is the caller's.
BOOST_AUTO_TEST_CASE(a_draft_not_taken_goes_back_to_the_pool) {
    async_calls calls;
    async_call* drafted = nullptr;
    {
        addrmap::detail::call_draft draft(calls);
        draft.bytes() = "*1\r\n$4\r\nPING\r\n";
        BOOST_TEST(draft.text() == "*1\r\n$4\r\nPING\r\n");
        drafted = calls.make();  // another call: the draft's is not in the pool while it lives
        BOOST_TEST(drafted != nullptr);
        calls.release(drafted);
    }
    async_call* reused = calls.make();  // the last released: the draft's, given back by its destructor
    BOOST_TEST(reused->command.empty());
    async_call* next = calls.make();
    BOOST_TEST(next == drafted);
    calls.release(reused);
    calls.release(next);
    addrmap::detail::call_draft taken(calls);
    taken.bytes() = "*1\r\n$4\r\nPING\r\n";
    async_call* mine = taken.take();
    BOOST_TEST(mine->text() == "*1\r\n$4\r\nPING\r\n");
    calls.release(mine);
}

BOOST_AUTO_TEST_SUITE_END()
