// tests/unit/test_slot_order.cpp — the per-slot order rule both drivers keep (detail/slot_order.hpp), fed events
// without sockets: a call of a slot waits while an older call of it is out on another channel.
#include <addrmap/detail/slot_order.hpp>

#include <boost/test/unit_test.hpp>

using addrmap::detail::slot_order;

BOOST_AUTO_TEST_SUITE(test_slot_order)

// What was seen (async): SET k 1 out to the old owner X, a refresh moved the slot, SET k 2 went straight to the
// new owner Y and ran first. With the rule, SET k 2 waits until SET k 1 is back.
BOOST_AUTO_TEST_CASE(a_call_waits_while_an_older_call_of_its_slot_is_out_on_another_channel) {
    slot_order order;
    const slot_order::channel x = 1, y = 2;
    BOOST_TEST(!order.must_wait(3300, y));  // nothing out: no memory taken, no wait
    order.out(3300, x);                     // SET k 1 to the old owner
    BOOST_TEST(order.must_wait(3300, y));   // SET k 2 to the new owner: waits
    BOOST_TEST(!order.must_wait(3300, x));  // on the same stream it may follow at once
    BOOST_TEST(!order.must_wait(3301, y));  // other slots are not held
    BOOST_TEST(!order.must_wait(-1, y));    // keyless calls have no order
    order.back(3300);                       // SET k 1 answered (MOVED, or its reply, or lost)
    BOOST_TEST(!order.must_wait(3300, y));
}

BOOST_AUTO_TEST_CASE(calls_out_on_two_channels_hold_every_channel_until_all_are_back) {
    slot_order order;
    order.out(7, 1);
    order.out(7, 1);
    BOOST_TEST(!order.must_wait(7, 1));
    order.back(7);
    order.out(7, 2);  // only possible when the caller did not ask first; then nobody may go until both are back
    BOOST_TEST(order.must_wait(7, 1));
    BOOST_TEST(order.must_wait(7, 2));
    order.back(7);
    BOOST_TEST(order.must_wait(7, 2));
    order.back(7);
    BOOST_TEST(!order.must_wait(7, 2));
    order.back(7);  // an extra back() (a late reply after a reset) never underflows
    BOOST_TEST(!order.must_wait(7, 3));
}

BOOST_AUTO_TEST_SUITE_END()
