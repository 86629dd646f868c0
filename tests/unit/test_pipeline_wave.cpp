// tests/unit/test_pipeline_wave.cpp — one wave of the blocking pipeline (detail/pipeline_wave.hpp) on canned core
// decisions, without sockets: grouping per node, the per-slot order rules within a wave, and each entry's outcome.
#include <addrmap/detail/pipeline_wave.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

using namespace addrmap;
using addrmap::detail::pipeline_wave;
using addrmap::detail::slot_order;
using clock_type = std::chrono::steady_clock;

namespace {

using addrmap_test::t0;

core_decision send_to(node_id node, bool asking = false) {
    core_decision d;
    d.what = core_decision::kind::send;
    d.node = node;
    d.asking = asking;
    d.reply_by = t0 + std::chrono::seconds(1);
    return d;
}

core_decision wait_until(clock_type::time_point until) {
    core_decision d;
    d.what = core_decision::kind::wait;
    d.until = until;
    return d;
}

/// A pipeline's calls, one per slot given (-1: keyless), and their results.
struct batch {
    std::vector<call_state> calls;
    std::vector<std::optional<outcome>> results;
    slot_order order;
    explicit batch(std::vector<int> slots) : results(slots.size()) {
        for (int slot : slots) {
            call_state c;
            c.slot = slot;
            calls.push_back(c);
        }
    }
};

/// Routes every entry in order as the driver does: held() first, then the decision given for it.
void route_all(pipeline_wave& wave, const std::vector<core_decision>& decisions) {
    for (std::size_t i = 0; i < decisions.size(); ++i)
        if (!wave.held(i)) wave.route(i, decisions[i]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_pipeline_wave)

BOOST_AUTO_TEST_CASE(entries_are_grouped_per_node_in_the_order_added) {
    batch b({5, 6, 7, -1});
    pipeline_wave wave(b.calls, b.results, b.order);
    route_all(wave, {send_to(1), send_to(2, true), send_to(1), send_to(2)});
    BOOST_TEST_REQUIRE(wave.groups().size() == 2u);
    BOOST_TEST(wave.groups()[0].node == 1u);
    BOOST_TEST(wave.groups()[0].entries == (std::vector<std::size_t>{0, 2}));
    BOOST_TEST(wave.groups()[1].node == 2u);
    BOOST_TEST(wave.groups()[1].entries == (std::vector<std::size_t>{1, 3}));
    BOOST_TEST(wave.groups()[1].asking == (std::vector<bool>{true, false}));
    BOOST_TEST(wave.again().empty());
    BOOST_TEST(!wave.idle_until().has_value());  // something was sent: no sleep
}

// A retried SET k 1 must not run after the SET k 2 added behind it: once an entry of a slot waits, the later
// entries of that slot wait with it, without asking the core (whose backoff for them may have ended sooner).
BOOST_AUTO_TEST_CASE(once_an_entry_of_a_slot_waits_the_later_ones_of_that_slot_wait_too) {
    batch b({5, 5, 6});
    pipeline_wave wave(b.calls, b.results, b.order);
    BOOST_TEST(!wave.held(0));
    wave.route(0, wait_until(t0 + std::chrono::milliseconds(8)));
    BOOST_TEST(wave.held(1));   // slot 5 is held
    BOOST_TEST(!wave.held(2));  // other slots are not
    wave.route(2, send_to(1));
    BOOST_TEST(wave.again() == (std::vector<std::size_t>{0, 1}));
}

// Two nodes run their shares of one wave at the same time: an entry whose older entry of the same slot goes to
// another node in this wave (an ASK target, a MOVED's new owner) waits for the next wave, and so do the later ones.
BOOST_AUTO_TEST_CASE(an_entry_whose_slot_is_out_to_another_node_in_this_wave_waits_for_the_next) {
    batch b({5, 5, 5});
    {
        pipeline_wave wave(b.calls, b.results, b.order);
        route_all(wave, {send_to(1), send_to(2), send_to(1)});
        BOOST_TEST_REQUIRE(wave.groups().size() == 1u);
        BOOST_TEST(wave.groups()[0].entries == (std::vector<std::size_t>{0}));
        BOOST_TEST(wave.again() == (std::vector<std::size_t>{1, 2}));
        BOOST_TEST(b.order.has_out(5));
    }
    BOOST_TEST(!b.order.has_out(5));  // every entry counted is back when the wave ends
}

// Mid-move, the importing node can refuse an MSET whose keys are split (TRYAGAIN) and run the SET of the slot written
// behind it on the same connection: an entry whose last answer was ASK or TRYAGAIN travels alone in its slot, even to
// the node the newer entries go to. Other slots, and entries of its slot not yet met by the move, are not held back.
BOOST_AUTO_TEST_CASE(an_entry_of_a_slot_being_moved_travels_alone_in_its_slot) {
    batch b({5, 5, 6, 5});
    b.calls[0].slot_moving = true;  // the MSET: last answered TRYAGAIN (or ASK)
    b.calls[1].slot_moving = true;  // the SET: last answered ASK
    {
        pipeline_wave wave(b.calls, b.results, b.order);
        route_all(wave, {send_to(2, true), send_to(2, true), send_to(2), send_to(2)});
        BOOST_TEST_REQUIRE(wave.groups().size() == 1u);
        BOOST_TEST(wave.groups()[0].entries == (std::vector<std::size_t>{0, 2}));
        BOOST_TEST(wave.again() == (std::vector<std::size_t>{1, 3}));
    }
    // An older plain entry of the slot goes with it; only the newer ones wait.
    batch mixed({5, 5, 5});
    mixed.calls[1].slot_moving = true;
    pipeline_wave next(mixed.calls, mixed.results, mixed.order);
    route_all(next, {send_to(2), send_to(2, true), send_to(2)});
    BOOST_TEST_REQUIRE(next.groups().size() == 1u);
    BOOST_TEST(next.groups()[0].entries == (std::vector<std::size_t>{0, 1}));
    BOOST_TEST(next.again() == (std::vector<std::size_t>{2}));
}

BOOST_AUTO_TEST_CASE(replica_reads_and_keyless_entries_keep_no_order) {
    batch b({5, 5, -1, -1});
    b.calls[1].replica_read = true;
    pipeline_wave wave(b.calls, b.results, b.order);
    route_all(wave, {send_to(1), send_to(2), send_to(1), send_to(2)});
    BOOST_TEST(wave.groups().size() == 2u);
    BOOST_TEST(wave.again().empty());
}

BOOST_AUTO_TEST_CASE(outcomes_follow_the_verdicts_and_again_is_in_the_order_added) {
    batch b({1, 2, 3, 4, 5});
    b.calls[0].failure = error(error_kind::config, "refused before sending");
    b.calls[3].failure = error(error_kind::unknown_outcome, "lost after write");
    pipeline_wave wave(b.calls, b.results, b.order);
    core_decision fail;
    fail.what = core_decision::kind::fail;
    route_all(wave, {fail, send_to(1), send_to(1), send_to(1), send_to(1)});
    wave.settle(core_verdict::retry, 4);
    wave.done(2, addrmap_test::parse_resp("+OK\r\n"));
    wave.settle(core_verdict::done, 2);
    wave.settle(core_verdict::fail, 3);
    wave.settle(core_verdict::retry, 1);
    const auto kind_of = [&](std::size_t i) { return b.results[i]->failure()->kind(); };
    BOOST_TEST_REQUIRE((b.results[0] && b.results[0]->failure()));
    BOOST_TEST((kind_of(0) == error_kind::config));
    BOOST_TEST(!b.results[1].has_value());
    BOOST_TEST((b.results[2] && b.results[2]->ok()));
    BOOST_TEST_REQUIRE((b.results[3] && b.results[3]->failure()));
    BOOST_TEST((kind_of(3) == error_kind::unknown_outcome));
    BOOST_TEST(!b.results[4].has_value());
    BOOST_TEST(wave.again() == (std::vector<std::size_t>{1, 4}));
}

// Entries back off together: with nothing sent, the wave sleeps until the last of them may go, so the next wave
// carries them all instead of one round trip per entry.
BOOST_AUTO_TEST_CASE(with_nothing_sent_the_wave_sleeps_until_the_last_waiting_entry_may_go) {
    batch b({1, 2, 3});
    pipeline_wave wave(b.calls, b.results, b.order);
    core_decision refresh;
    refresh.what = core_decision::kind::refresh;
    route_all(wave, {wait_until(t0 + std::chrono::milliseconds(3)), wait_until(t0 + std::chrono::milliseconds(9)),
                     refresh});
    BOOST_TEST((wave.idle_until() == t0 + std::chrono::milliseconds(9)));
    BOOST_TEST(wave.again() == (std::vector<std::size_t>{0, 1, 2}));
}

// A write cut short: the entries wholly written may have run; the one cut and those after it cannot have.
BOOST_AUTO_TEST_CASE(a_group_knows_which_entries_a_short_write_sent_whole) {
    pipeline_wave::group g;
    g.appended(20, 30);  // ASKING, then the command: ends at 50
    g.appended(0, 25);   // ends at 75
    BOOST_TEST(g.bytes == 75u);
    BOOST_TEST(g.wholly_written(0, 50));
    BOOST_TEST(!g.wholly_written(1, 74));
    BOOST_TEST(!g.wholly_written(0, 49));
}

BOOST_AUTO_TEST_SUITE_END()
