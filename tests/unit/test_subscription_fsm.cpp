// tests/unit/test_subscription_fsm.cpp — a cluster subscriber's rules on canned frames: SSUBSCRIBE one slot at a
// time, confirmations in order, the pushed sunsubscribe, losses and refusals, and every gap reported once. No sockets.
#include <addrmap/detail/subscription_fsm.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using addrmap::error;
using addrmap::error_kind;
using addrmap::key_slot;
using addrmap::detail::frame_verdict;
using addrmap::node_id;
using addrmap::detail::pubsub_family;
using addrmap::detail::pubsub_frame;
using addrmap::detail::pubsub_frame_kind;
using addrmap::detail::pubsub_notice;
using addrmap::detail::pubsub_request;
using addrmap::detail::subscription_fsm;
using addrmap_test::t0;
using std::chrono::milliseconds;

BOOST_AUTO_TEST_SUITE(subscription_fsm_rules)

namespace {

const node_id n1 = 1, n2 = 2;
const char* const name1 = "10.0.0.1:7000";
const char* const name2 = "10.0.0.2:7001";

subscription_fsm make() { return subscription_fsm(milliseconds(10), milliseconds(1000), 7); }

pubsub_frame frame(pubsub_frame_kind kind, pubsub_family family, std::string_view channel, long long count = 1) {
    pubsub_frame f;
    f.kind = kind;
    f.family = family;
    f.channel = channel;
    f.count = count;
    return f;
}
pubsub_frame confirmed(std::string_view channel) {
    return frame(pubsub_frame_kind::subscribed, pubsub_family::sharded, channel);
}
pubsub_frame sunsubscribed(std::string_view channel) {
    return frame(pubsub_frame_kind::unsubscribed, pubsub_family::sharded, channel, 0);
}
pubsub_frame smessage(std::string_view channel) {
    pubsub_frame f = frame(pubsub_frame_kind::message, pubsub_family::sharded, channel);
    f.payload = "m";
    return f;
}
pubsub_frame error_reply(std::string_view text) {
    pubsub_frame f;
    f.kind = pubsub_frame_kind::error_reply;
    f.payload = text;
    return f;
}

/// Subscribes `channels` (sharded), sends every due request to `node` and confirms each channel there.
void subscribe_all(subscription_fsm& fsm, const std::vector<std::string>& channels, node_id node,
                   std::vector<pubsub_notice>& out) {
    fsm.subscribe(pubsub_family::sharded, channels, t0);
    for (const pubsub_request& r : fsm.due(t0)) {
        fsm.sent(r, node);
        for (const std::string& c : r.channels)
            BOOST_TEST((fsm.on_frame(node, name1, confirmed(c), t0, out) == frame_verdict::consumed));
    }
}

std::size_t count_of(const std::vector<pubsub_notice>& out, pubsub_notice::kind what) {
    return static_cast<std::size_t>(
        std::count_if(out.begin(), out.end(), [&](const pubsub_notice& n) { return n.what == what; }));
}

}  // namespace

BOOST_AUTO_TEST_CASE(ssubscribe_requests_never_mix_slots) {
    subscription_fsm fsm = make();
    // {a}x and {a}y share a slot; b and c (almost surely) do not.
    fsm.subscribe(pubsub_family::sharded, {"{a}x", "b", "{a}y", "c", "b"}, t0);
    const std::vector<pubsub_request> due = fsm.due(t0);
    std::set<std::string> seen;
    for (const pubsub_request& r : due) {
        BOOST_TEST(r.subscribe);
        BOOST_TEST_REQUIRE(!r.channels.empty());
        for (const std::string& c : r.channels) {
            BOOST_TEST(static_cast<int>(key_slot(c)) == r.slot, c);
            BOOST_TEST(seen.insert(c).second, c << " asked twice");
        }
    }
    BOOST_TEST(seen.size() == 4u);
    BOOST_TEST(fsm.due(t0).empty());  // handed out once
    const auto with_a = std::find_if(due.begin(), due.end(), [](const pubsub_request& r) { return r.channels.size() == 2; });
    BOOST_TEST((with_a != due.end()));  // {a}x and {a}y in one SSUBSCRIBE
}

BOOST_AUTO_TEST_CASE(confirmation_makes_it_active_and_messages_are_delivered_only_then) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::sharded, {"news"}, t0);
    const auto due = fsm.due(t0);
    BOOST_TEST_REQUIRE(due.size() == 1u);
    fsm.sent(due[0], n1);
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, smessage("news"), t0, out), error);  // before its confirmation: foreign
    BOOST_TEST((fsm.on_frame(n1, name1, confirmed("news"), t0, out) == frame_verdict::consumed));
    BOOST_TEST(fsm.active(pubsub_family::sharded, "news"));
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::subscribed));
    BOOST_TEST((fsm.on_frame(n1, name1, smessage("news"), t0, out) == frame_verdict::deliver));
    // From another node, or for another channel: not asked for there.
    BOOST_CHECK_THROW(fsm.on_frame(n2, name2, smessage("news"), t0, out), error);
    try {
        fsm.on_frame(n1, name1, smessage("other"), t0, out);
        BOOST_FAIL("accepted");
    } catch (const error& e) {
        BOOST_TEST((e.kind() == error_kind::protocol));
        BOOST_TEST(std::string(e.what()).find(name1) != std::string::npos, e.what());
        BOOST_TEST(std::string(e.what()).find("'other'") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(a_confirmation_out_of_order_or_unasked_is_foreign) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::sharded, {"{s}1", "{s}2"}, t0);
    const auto due = fsm.due(t0);
    BOOST_TEST_REQUIRE(due.size() == 1u);
    fsm.sent(due[0], n1);
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, confirmed(due[0].channels[1]), t0, out), error);  // second first
    BOOST_CHECK_THROW(fsm.on_frame(n2, name2, confirmed("{s}1"), t0, out), error);  // nothing asked on n2
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, frame(pubsub_frame_kind::unsubscribed, pubsub_family::classic, "x"), t0, out),
                      error);  // Redis never pushes a classic unsubscribe
    BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(the_pushed_sunsubscribe_opens_a_gap_that_the_next_confirmation_closes) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"news"}, n1, out);
    out.clear();
    const auto pushed_at = t0 + milliseconds(100);
    BOOST_TEST((fsm.on_frame(n1, name1, sunsubscribed("news"), pushed_at, out) == frame_verdict::consumed));
    BOOST_TEST(!fsm.active(pubsub_family::sharded, "news"));
    BOOST_TEST(fsm.take_refresh_wanted());
    BOOST_TEST(!fsm.take_refresh_wanted());
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, smessage("news"), pushed_at, out), error);  // no longer there
    // Asked again at once (the driver waits for the refresh), on the new owner.
    const auto again = fsm.due(pushed_at);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    fsm.sent(again[0], n2);
    const auto back_at = pushed_at + milliseconds(30);
    fsm.on_frame(n2, name2, confirmed("news"), back_at, out);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap));
    BOOST_TEST(out[0].channel == "news");
    BOOST_TEST((out[0].start == pushed_at));
    BOOST_TEST((out[0].end == back_at));
    BOOST_TEST(out[0].cause.find("slot moved") != std::string::npos, out[0].cause);
    BOOST_TEST(out[0].cause.find(name1) != std::string::npos, out[0].cause);
    BOOST_TEST((out[1].what == pubsub_notice::kind::subscribed));
    BOOST_TEST((fsm.on_frame(n2, name2, smessage("news"), back_at, out) == frame_verdict::deliver));
}

// A request the driver could not send yet (its connection is being set up) backs off; once the connection is ready the
// driver says so, and it is due at once — only it, not another one backing off for its own reason.
BOOST_AUTO_TEST_CASE(due_now_ends_the_backoff_of_what_waited_for_a_connection_only) {
    subscription_fsm fsm = make();
    fsm.subscribe(pubsub_family::sharded, {"waits", "refused"}, t0);
    const auto first = fsm.due(t0);
    BOOST_TEST_REQUIRE(first.size() == 2u);
    fsm.not_sent(first[0], t0);
    fsm.not_sent(first[1], t0);
    BOOST_TEST(fsm.due(t0).empty());  // backing off
    fsm.due_now(pubsub_family::sharded, first[0].channels, n1, t0 + milliseconds(1));
    BOOST_TEST((fsm.next_due() == t0 + milliseconds(1)));
    const auto again = fsm.due(t0 + milliseconds(1));
    BOOST_TEST_REQUIRE(again.size() == 1u);
    BOOST_TEST((again[0].channels == first[0].channels));
}

// Redis refuses a whole SUBSCRIBE when the ACL denies one of its channels: each is asked for again on its own, so the
// allowed ones are subscribed and only the denied one is refused.
BOOST_AUTO_TEST_CASE(a_final_refusal_of_several_channels_asks_for_each_alone_and_refuses_only_the_one_denied) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::classic, {"allowed", "denied"}, t0);
    const auto first = fsm.due(t0);
    BOOST_TEST_REQUIRE(first.size() == 1u);
    BOOST_TEST(first[0].channels.size() == 2u);
    fsm.sent(first[0], n1);
    pubsub_frame refusal;
    refusal.kind = pubsub_frame_kind::error_reply;
    refusal.payload = "NOPERM User has no permissions to access the 'denied' channel";
    fsm.on_frame(n1, name1, refusal, t0, out);
    BOOST_TEST(out.empty());  // nobody refused yet: which one it was is not known
    BOOST_TEST_REQUIRE(fsm.next_due().has_value());
    const auto next = std::optional<subscription_fsm::clock::time_point>(t0 + std::chrono::seconds(10));  // both backoffs
    const auto alone = fsm.due(*next);
    BOOST_TEST_REQUIRE(alone.size() == 2u);
    for (const auto& r : alone) {
        BOOST_TEST_REQUIRE(r.channels.size() == 1u);
        fsm.sent(r, n1);
    }
    for (const auto& r : alone) {
        if (r.channels[0] == "allowed") {
            pubsub_frame ok;
            ok.kind = pubsub_frame_kind::subscribed;
            ok.family = pubsub_family::classic;
            ok.channel = "allowed";
            ok.count = 1;
            fsm.on_frame(n1, name1, ok, *next, out);
        } else {
            fsm.on_frame(n1, name1, refusal, *next, out);
        }
    }
    BOOST_TEST(fsm.active(pubsub_family::classic, "allowed"));
    BOOST_TEST(fsm.size() == 1u);
    const bool refused_denied = std::any_of(out.begin(), out.end(), [](const pubsub_notice& n) {
        return n.what == pubsub_notice::kind::refused && n.channel == "denied";
    });
    BOOST_TEST(refused_denied);
}

// The server ended the subscription before it wrote the push, and the push may be read late (a busy thread): the gap
// starts when the connection was last seen with nothing to read, which the driver knows, not when the push was read.
BOOST_AUTO_TEST_CASE(a_pushed_sunsubscribes_gap_starts_when_the_connection_was_last_seen_quiet) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"news"}, n1, out);
    out.clear();
    const auto quiet_at = t0 + milliseconds(40);
    const auto read_at = t0 + milliseconds(100);
    fsm.on_frame(n1, name1, sunsubscribed("news"), read_at, out, quiet_at);
    const auto again = fsm.due(read_at);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    fsm.sent(again[0], n2);
    fsm.on_frame(n2, name2, confirmed("news"), read_at + milliseconds(5), out);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap));
    BOOST_TEST((out[0].start == quiet_at));
    // A quiet time after the read (a clock that went back, a driver's slip) never starts a gap after `now`.
    fsm.on_frame(n2, name2, sunsubscribed("news"), read_at + milliseconds(10), out, read_at + milliseconds(50));
    const auto third = fsm.due(read_at + milliseconds(10));
    BOOST_TEST_REQUIRE(third.size() == 1u);
    fsm.sent(third[0], n1);
    out.clear();
    fsm.on_frame(n1, name1, confirmed("news"), read_at + milliseconds(20), out);
    BOOST_TEST_REQUIRE(!out.empty());
    BOOST_TEST((out[0].start == read_at + milliseconds(10)));
}

BOOST_AUTO_TEST_CASE(a_lost_connection_opens_gaps_retries_with_backoff_and_ends_unsubscribes) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a", "b"}, n1, out);
    out.clear();
    const auto unsub = fsm.unsubscribe(pubsub_family::sharded, {"b"}, t0, out);
    BOOST_TEST_REQUIRE(unsub.size() == 1u);
    BOOST_TEST(!unsub[0].subscribe);
    const auto lost_at = t0 + milliseconds(50);
    fsm.connection_lost(n1, name1, "reset by peer", lost_at, out);
    BOOST_TEST_REQUIRE(out.size() == 1u);  // b ended (its connection, and so its subscription, is gone)
    BOOST_TEST((out[0].what == pubsub_notice::kind::ended));
    BOOST_TEST(out[0].channel == "b");
    BOOST_TEST(fsm.size() == 1u);
    BOOST_TEST(fsm.take_refresh_wanted());
    BOOST_TEST(fsm.due(lost_at).empty());  // a backoff first
    const auto next = fsm.next_due();
    BOOST_TEST_REQUIRE(next.has_value());
    BOOST_TEST((*next > lost_at));
    BOOST_TEST((*next <= lost_at + milliseconds(10)));
    const auto again = fsm.due(*next);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    BOOST_TEST(again[0].channels == std::vector<std::string>{"a"});
    // Could not be sent (no connection yet): later again, the wait doubling.
    fsm.not_sent(again[0], *next);
    const auto later = fsm.next_due();
    BOOST_TEST_REQUIRE(later.has_value());
    BOOST_TEST((*later > *next));
    const auto third = fsm.due(*later);
    BOOST_TEST_REQUIRE(third.size() == 1u);
    fsm.sent(third[0], n2);
    out.clear();
    fsm.on_frame(n2, name2, confirmed("a"), *later, out);
    BOOST_TEST_REQUIRE(count_of(out, pubsub_notice::kind::gap) == 1u);
    BOOST_TEST((out[0].start == lost_at));
    BOOST_TEST((out[0].end == *later));
    BOOST_TEST(out[0].cause.find("reset by peer") != std::string::npos, out[0].cause);
}

BOOST_AUTO_TEST_CASE(an_error_reply_answers_the_oldest_request_on_its_connection) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::sharded, {"{p}1"}, t0);
    const auto first = fsm.due(t0);
    fsm.sent(first.at(0), n1);
    fsm.subscribe(pubsub_family::sharded, {"{q}1"}, t0);
    const auto second = fsm.due(t0);
    fsm.sent(second.at(0), n1);
    // The first is confirmed; the second is redirected: asked again later, after a refresh. No gap: never active.
    fsm.on_frame(n1, name1, confirmed("{p}1"), t0, out);
    fsm.on_frame(n1, name1, error_reply("MOVED 1234 10.0.0.2:7001"), t0, out);
    BOOST_TEST(fsm.active(pubsub_family::sharded, "{p}1"));
    BOOST_TEST(!fsm.active(pubsub_family::sharded, "{q}1"));
    BOOST_TEST(fsm.take_refresh_wanted());
    BOOST_TEST(count_of(out, pubsub_notice::kind::gap) == 0u);
    BOOST_TEST(fsm.next_due().has_value());
    // A refusal for good ends the subscription, with the server's words (escaped).
    fsm.subscribe(pubsub_family::sharded, {"{r}1"}, t0);
    const auto third = fsm.due(t0);
    fsm.sent(third.at(0), n1);
    out.clear();
    fsm.on_frame(n1, name1, error_reply("NOPERM this user has no permissions\x1b[31m"), t0, out);
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::refused));
    BOOST_TEST(out[0].cause.find("NOPERM") != std::string::npos);
    BOOST_TEST(out[0].cause.find('\x1b') == std::string::npos);
    BOOST_TEST(fsm.size() == 2u);
    // An error reply with nothing asked: foreign.
    BOOST_CHECK_THROW(fsm.on_frame(n2, name2, error_reply("ERR x"), t0, out), error);
}

BOOST_AUTO_TEST_CASE(unsubscribing_ends_cleanly_and_reports_an_open_gap_once) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a", "b"}, n1, out);
    out.clear();
    const auto lost_at = t0 + milliseconds(5);
    fsm.connection_lost(n1, name1, "closed", lost_at, out);
    // "a" unsubscribed while down (not sent anywhere): ends now, its gap reported ending now.
    const auto unsub_at = lost_at + milliseconds(7);
    BOOST_TEST(fsm.unsubscribe(pubsub_family::sharded, {"a"}, unsub_at, out).empty());
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap));
    BOOST_TEST((out[0].end == unsub_at));
    BOOST_TEST((out[1].what == pubsub_notice::kind::ended));
    // "b" back on n2, then unsubscribed: messages until the confirmation, then ended.
    const auto again = fsm.due(fsm.next_due().value());
    BOOST_TEST_REQUIRE(again.size() == 1u);
    fsm.sent(again[0], n2);
    out.clear();
    fsm.on_frame(n2, name2, confirmed("b"), unsub_at, out);
    const auto unsub = fsm.unsubscribe(pubsub_family::sharded, {"b"}, unsub_at, out);
    BOOST_TEST_REQUIRE(unsub.size() == 1u);
    BOOST_TEST((fsm.on_frame(n2, name2, smessage("b"), unsub_at, out) == frame_verdict::deliver));
    fsm.on_frame(n2, name2, sunsubscribed("b"), unsub_at, out);
    BOOST_TEST(fsm.size() == 0u);
    BOOST_TEST(count_of(out, pubsub_notice::kind::gap) == 1u);  // reported once, at the confirmation
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended) == 1u);
    // A late answer to the same SUNSUBSCRIBE (a push crossed it) is harmless.
    BOOST_TEST((fsm.on_frame(n2, name2, sunsubscribed("b"), unsub_at, out) == frame_verdict::consumed));
}

pubsub_frame pong() { return frame(pubsub_frame_kind::pong, pubsub_family::classic, ""); }

// Seen on Redis 7.0 (helper-45): the user's SUNSUBSCRIBE a crossed a move of a's slot. The wire: the push
// "sunsubscribe a", then -MOVED (the SUNSUBSCRIBE's answer), then the answer to an SSUBSCRIBE written behind it.
BOOST_AUTO_TEST_CASE(an_unsubscribe_crossing_a_slot_move_is_settled_by_the_pong_after_it) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a"}, n1, out);
    const auto unsub = fsm.unsubscribe(pubsub_family::sharded, {"a"}, t0, out);
    BOOST_TEST_REQUIRE(unsub.size() == 1u);
    BOOST_TEST(unsub[0].ping_after);
    fsm.subscribe(pubsub_family::sharded, {"c"}, t0);
    const auto c = fsm.due(t0);
    fsm.sent(c.at(0), n1);
    out.clear();
    fsm.on_frame(n1, name1, sunsubscribed("a"), t0, out);  // the push: a ends
    fsm.on_frame(n1, name1, error_reply("MOVED 15495 127.0.0.2:23802"), t0, out);  // the SUNSUBSCRIBE's answer
    fsm.on_frame(n1, name1, pong(), t0, out);
    fsm.on_frame(n1, name1, confirmed("c"), t0, out);
    BOOST_TEST(fsm.active(pubsub_family::sharded, "c"));
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended) == 1u);
    BOOST_TEST(fsm.size() == 1u);
    // Without the push: the error alone ends it.
    out.clear();
    fsm.unsubscribe(pubsub_family::sharded, {"c"}, t0, out);
    fsm.on_frame(n1, name1, error_reply("CLUSTERDOWN Hash slot not served"), t0, out);
    fsm.on_frame(n1, name1, pong(), t0, out);
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended) == 1u);
    BOOST_TEST(fsm.size() == 0u);
    BOOST_TEST(fsm.take_refresh_wanted());
}

// A stale map sent SSUBSCRIBE x where its slot is not; the user unsubscribed before the MOVED came back.
BOOST_AUTO_TEST_CASE(an_unsubscribe_behind_a_redirected_subscribe_ends_it_once) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::sharded, {"x"}, t0);
    fsm.sent(fsm.due(t0).at(0), n1);
    fsm.unsubscribe(pubsub_family::sharded, {"x"}, t0, out);
    fsm.on_frame(n1, name1, error_reply("MOVED 1 10.0.0.2:7001"), t0, out);  // the SSUBSCRIBE's
    fsm.on_frame(n1, name1, error_reply("MOVED 1 10.0.0.2:7001"), t0, out);  // the SUNSUBSCRIBE's
    fsm.on_frame(n1, name1, pong(), t0, out);
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended) == 1u);
    BOOST_TEST(fsm.size() == 0u);
    BOOST_TEST(!fsm.next_due().has_value());
}

BOOST_AUTO_TEST_CASE(busy_is_not_now_and_a_ping_may_be_answered_with_an_error) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::sharded, {"a"}, t0);
    fsm.sent(fsm.due(t0).at(0), n1);
    fsm.on_frame(n1, name1, error_reply("BUSY Redis is busy running a script."), t0, out);
    BOOST_TEST(out.empty());  // not refused: asked again after a backoff, no refresh needed
    BOOST_TEST(!fsm.take_refresh_wanted());
    const auto next = fsm.next_due();
    BOOST_TEST_REQUIRE(next.has_value());
    fsm.sent(fsm.due(*next).at(0), n1);
    fsm.pinged(n1);  // a health check behind it
    fsm.on_frame(n1, name1, confirmed("a"), *next, out);
    fsm.on_frame(n1, name1, error_reply("BUSY Redis is busy running a script."), *next, out);  // the PING's
    BOOST_TEST(fsm.active(pubsub_family::sharded, "a"));
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, pong(), *next, out), error);  // no PING out now
    // An unsubscribe refused for a reason other than "not served here": the connection is dropped on purpose.
    fsm.unsubscribe(pubsub_family::sharded, {"a"}, *next, out);
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, error_reply("BUSY Redis is busy running a script."), *next, out), error);
}

// A failover whose old master is cut off but still reachable pushes nothing: the refreshed map is what tells.
BOOST_AUTO_TEST_CASE(a_new_owner_in_the_map_moves_the_subscription_and_opens_a_gap) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a", "b"}, n1, out);
    out.clear();
    const int slot_a = static_cast<int>(key_slot("a"));
    // Delivered, and remembered as the last message's subscription: moved below, it must not be found there again.
    BOOST_TEST((fsm.on_frame(n1, name1, smessage("a"), t0, out) == frame_verdict::deliver));
    BOOST_TEST(fsm.owners_changed([](int) { return n1; }, "nothing moved", t0, t0).empty());  // same owner: nothing
    BOOST_TEST(fsm.owners_changed([](int) { return addrmap::no_node; }, "no owner", t0, t0).empty());
    const auto last_known = t0 + milliseconds(10), changed_at = t0 + milliseconds(20);
    const auto unsub =
        fsm.owners_changed([&](int slot) { return slot == slot_a ? n2 : n1; }, "failover", last_known, changed_at);
    BOOST_TEST_REQUIRE(unsub.size() == 1u);  // SUNSUBSCRIBE a, on the old node
    BOOST_TEST(!unsub[0].subscribe);
    BOOST_TEST(unsub[0].ping_after);
    BOOST_TEST(unsub[0].channels == std::vector<std::string>{"a"});
    BOOST_TEST(!fsm.active(pubsub_family::sharded, "a"));
    BOOST_TEST(fsm.active(pubsub_family::sharded, "b"));
    BOOST_TEST(!fsm.take_refresh_wanted());  // the map was just refreshed
    // The old node may still send a's messages until its unsubscribe is settled: dropped, within the gap.
    BOOST_TEST((fsm.on_frame(n1, name1, smessage("a"), changed_at, out) == frame_verdict::consumed));
    BOOST_TEST((fsm.on_frame(n1, name1, smessage("b"), changed_at, out) == frame_verdict::deliver));
    const auto again = fsm.due(changed_at);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    fsm.sent(again[0], n2);
    // Confirmed on the new owner first: the gap stays open while the old node may still hold the subscription.
    const auto back_at = changed_at + milliseconds(4);
    fsm.on_frame(n2, name2, confirmed("a"), back_at, out);
    BOOST_TEST(count_of(out, pubsub_notice::kind::gap) == 0u);
    BOOST_TEST((fsm.on_frame(n2, name2, smessage("a"), back_at, out) == frame_verdict::deliver));
    BOOST_TEST((fsm.on_frame(n1, name1, smessage("a"), back_at, out) == frame_verdict::consumed));  // within the gap
    const auto settled_at = back_at + milliseconds(40);
    fsm.on_frame(n1, name1, sunsubscribed("a"), settled_at, out);
    fsm.on_frame(n1, name1, pong(), settled_at, out);
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, smessage("a"), settled_at, out), error);  // settled: foreign again
    BOOST_TEST_REQUIRE(count_of(out, pubsub_notice::kind::gap) == 1u);
    const auto gap = std::find_if(out.begin(), out.end(), [](const pubsub_notice& n) { return n.what == pubsub_notice::kind::gap; });
    BOOST_TEST((gap->start == last_known));  // from when the old map was last known right
    BOOST_TEST((gap->end == settled_at));  // to when both the new owner confirmed and the old one let go
    BOOST_TEST(gap->cause.find("failover") != std::string::npos, gap->cause);
}

// helper-46: refreshes during a failover disagreed (n2, n1, n2): two drains of one channel on n1 at once; the first
// settled must not end the second, or n1's later messages would drop a good connection.
BOOST_AUTO_TEST_CASE(two_drains_of_one_channel_on_one_node_are_counted) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a"}, n1, out);
    const auto to_n2 = [](int) { return n2; };
    BOOST_TEST(fsm.owners_changed(to_n2, "refresh 1", t0, t0).size() == 1u);
    fsm.sent(fsm.due(t0).at(0), n2);
    fsm.on_frame(n2, name2, error_reply("MOVED 1 10.0.0.1:7000"), t0, out);  // n2 says: n1 after all
    const auto later = fsm.next_due().value();
    fsm.sent(fsm.due(later).at(0), n1);  // n1's queue: unsub a, ping, sub a
    BOOST_TEST(fsm.owners_changed(to_n2, "refresh 3", later, later).size() == 1u);  // unsub a, ping again
    fsm.on_frame(n1, name1, sunsubscribed("a"), later, out);
    fsm.on_frame(n1, name1, pong(), later, out);  // the first drain settled
    fsm.on_frame(n1, name1, confirmed("a"), later, out);  // the SSUBSCRIBE behind it: n1 holds a again
    BOOST_TEST((fsm.on_frame(n1, name1, smessage("a"), later, out) == frame_verdict::consumed));  // second drain open
    fsm.on_frame(n1, name1, sunsubscribed("a"), later, out);
    fsm.on_frame(n1, name1, pong(), later, out);
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, smessage("a"), later, out), error);
}

// With cluster-allow-pubsubshard-when-down no, an unsubscribe may meet CLUSTERDOWN for the whole cluster: that says
// nothing about the slot, so the subscription may still be on the server: the connection is dropped on purpose.
BOOST_AUTO_TEST_CASE(only_a_slot_not_served_ends_an_unsubscribe_without_its_answer) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a", "b"}, n1, out);
    fsm.unsubscribe(pubsub_family::sharded, {"a"}, t0, out);
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, error_reply("CLUSTERDOWN The cluster is down"), t0, out), error);
    fsm.connection_lost(n1, name1, "dropped", t0, out);
    fsm.unsubscribe(pubsub_family::sharded, {"b"}, t0, out);  // pending after the loss: ends at once
    BOOST_TEST(fsm.size() == 0u);
}

BOOST_AUTO_TEST_CASE(closing_reports_every_open_gap_then_ends_everything) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    subscribe_all(fsm, {"a", "b", "c"}, n1, out);
    fsm.on_frame(n1, name1, sunsubscribed("a"), t0, out);
    out.clear();
    const auto closed_at = t0 + milliseconds(3);
    fsm.close(closed_at, out);
    BOOST_TEST(count_of(out, pubsub_notice::kind::gap) == 1u);
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended) == 3u);
    BOOST_TEST(fsm.size() == 0u);
    BOOST_TEST(!fsm.next_due().has_value());
}

BOOST_AUTO_TEST_CASE(classic_and_pattern_subscriptions_go_together_and_pmessage_matches_its_pattern) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    fsm.subscribe(pubsub_family::classic, {"x", "y"}, t0);
    fsm.subscribe(pubsub_family::pattern, {"__keyspace@0__:*"}, t0);
    const auto due = fsm.due(t0);
    BOOST_TEST_REQUIRE(due.size() == 2u);  // one SUBSCRIBE, one PSUBSCRIBE
    for (const auto& r : due) {
        BOOST_TEST(r.slot == -1);
        fsm.sent(r, n1);
        for (const auto& c : r.channels) fsm.on_frame(n1, name1, frame(pubsub_frame_kind::subscribed, r.family, c), t0, out);
    }
    pubsub_frame pm = frame(pubsub_frame_kind::message, pubsub_family::pattern, "__keyspace@0__:k");
    pm.pattern = "__keyspace@0__:*";
    BOOST_TEST((fsm.on_frame(n1, name1, pm, t0, out) == frame_verdict::deliver));
    pm.pattern = "other*";
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, pm, t0, out), error);
    BOOST_CHECK_THROW(fsm.subscribe(pubsub_family::classic, {""}, t0), error);
    // A driver must answer due() with sent() or not_sent() before anything else.
    fsm.subscribe(pubsub_family::classic, {"z"}, t0);
    const auto z = fsm.due(t0);
    BOOST_TEST_REQUIRE(z.size() == 1u);
    BOOST_CHECK_THROW(fsm.unsubscribe(pubsub_family::classic, {"z"}, t0, out), std::logic_error);
}

namespace {
const node_id n3 = 3;
const char* const name3 = "10.0.0.3:7002";
std::map<node_id, std::string> masters_of(std::initializer_list<node_id> ids) {
    std::map<node_id, std::string> m;
    for (node_id id : ids) m.emplace(id, "node " + std::to_string(id));
    return m;
}
pubsub_frame psubscribed(std::string_view pattern) { return frame(pubsub_frame_kind::subscribed, pubsub_family::pattern, pattern); }
pubsub_frame pmessage(std::string_view pattern, std::string_view channel) {
    pubsub_frame f = frame(pubsub_frame_kind::message, pubsub_family::pattern, channel);
    f.pattern = pattern;
    return f;
}
/// Sends every due request to the node it names and confirms each pattern there.
void place_due(subscription_fsm& fsm, std::chrono::steady_clock::time_point now, std::vector<pubsub_notice>& out) {
    for (const pubsub_request& r : fsm.due(now)) {
        BOOST_TEST_REQUIRE((r.family == pubsub_family::master_pattern));
        BOOST_TEST_REQUIRE(r.node != addrmap::no_node);
        fsm.sent(r, r.node);
        for (const std::string& p : r.channels) fsm.on_frame(r.node, "n", psubscribed(p), now, out);
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_pattern_on_every_master_is_asked_of_each_master_and_follows_the_set_of_masters) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    const std::string ks = "__keyspace@0__:*";
    fsm.subscribe(pubsub_family::master_pattern, {ks}, t0);
    BOOST_TEST(fsm.wants_any());
    BOOST_TEST(fsm.due(t0).empty());  // no map yet: no master to ask
    BOOST_TEST(fsm.masters_changed(masters_of({n1, n2}), std::nullopt, t0, out).empty());
    const auto due = fsm.due(t0);
    BOOST_TEST_REQUIRE(due.size() == 2u);  // one PSUBSCRIBE per master
    BOOST_TEST(due[0].node == n1);
    BOOST_TEST(due[1].node == n2);
    for (const auto& r : due) {
        fsm.sent(r, r.node);
        fsm.on_frame(r.node, "n", psubscribed(ks), t0, out);
    }
    BOOST_TEST_REQUIRE(out.size() == 2u);  // subscribed on each, no gap: the first map
    BOOST_TEST((out[0].what == pubsub_notice::kind::subscribed && out[0].node == "node 1"));
    BOOST_TEST((out[1].what == pubsub_notice::kind::subscribed && out[1].node == "node 2"));
    BOOST_TEST(fsm.active(pubsub_family::master_pattern, ks));
    BOOST_TEST(fsm.size() == 1u);
    out.clear();

    // Its events come from every master, each delivered as the every-master family; another pattern is foreign.
    pubsub_frame pm = pmessage(ks, "__keyspace@0__:k");
    BOOST_TEST((fsm.on_frame(n2, name2, pm, t0, out) == frame_verdict::deliver));
    BOOST_TEST((pm.family == pubsub_family::master_pattern));
    BOOST_CHECK_THROW(fsm.on_frame(n3, name3, pmessage(ks, "__keyspace@0__:k"), t0, out), error);  // not asked there
    BOOST_CHECK_THROW(fsm.on_frame(n1, name1, pmessage("other*", "x"), t0, out), error);

    // A failover: n2 is a replica now, n3 a master. n2's PUNSUBSCRIBE goes out; n3's events since the map before
    // were not received: a gap from then to its confirmation.
    const auto since = t0 + milliseconds(100), at = t0 + milliseconds(300);
    const auto retired = fsm.masters_changed(masters_of({n1, n3}), since, at, out);
    BOOST_TEST_REQUIRE(retired.size() == 1u);
    BOOST_TEST((retired[0].node == n2 && !retired[0].subscribe && retired[0].family == pubsub_family::master_pattern));
    BOOST_TEST(out.empty());
    BOOST_TEST(!fsm.active(pubsub_family::master_pattern, ks));  // not yet on n3
    const auto confirmed_at = at + milliseconds(5);
    place_due(fsm, confirmed_at, out);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap && out[0].node == "node 3"));
    BOOST_TEST((out[0].start == since && out[0].end == confirmed_at));
    BOOST_TEST(out[0].cause.find("became a master") != std::string::npos);
    BOOST_TEST((out[1].what == pubsub_notice::kind::subscribed && out[1].node == "node 3"));
    BOOST_TEST(fsm.active(pubsub_family::master_pattern, ks));
    out.clear();
    // n2 is a replica now, and a replica repeats its master's events: nothing is taken from it until its PUNSUBSCRIBE
    // is answered; then a gap from the map that demoted it, and the entry ends, saying why.
    BOOST_TEST((fsm.on_frame(n2, name2, pmessage(ks, "__keyspace@0__:k"), at, out) == frame_verdict::consumed));
    const auto answered_at = at + milliseconds(7);
    fsm.on_frame(n2, name2, frame(pubsub_frame_kind::unsubscribed, pubsub_family::pattern, ks, 0), answered_at, out);
    fsm.on_frame(n2, name2, frame(pubsub_frame_kind::pong, pubsub_family::classic, ""), answered_at, out);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap && out[0].node == "node 2"));
    BOOST_TEST((out[0].start == at && out[0].end == answered_at));
    BOOST_TEST((out[1].what == pubsub_notice::kind::ended && out[1].node == "node 2"));
    BOOST_TEST(out[1].cause.find("no longer a master") != std::string::npos);
    BOOST_TEST(fsm.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_master_lost_then_gone_from_the_map_reports_its_gap_and_ends) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    const std::string ks = "__keyevent@0__:*";
    fsm.masters_changed(masters_of({n1, n2}), std::nullopt, t0, out);
    fsm.subscribe(pubsub_family::master_pattern, {ks}, t0);  // the map is known: asked at once
    place_due(fsm, t0, out);
    BOOST_TEST(fsm.active(pubsub_family::master_pattern, ks));
    out.clear();
    const auto lost_at = t0 + milliseconds(50), gone_at = t0 + milliseconds(400);
    fsm.connection_lost(n1, name1, "reset", lost_at, out);
    BOOST_TEST(fsm.take_refresh_wanted());
    BOOST_TEST(out.empty());  // a gap is reported when it ends
    fsm.masters_changed(masters_of({n2}), lost_at, gone_at, out);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap && out[0].node == "node 1"));
    BOOST_TEST((out[0].start == lost_at && out[0].end == gone_at));
    BOOST_TEST((out[1].what == pubsub_notice::kind::ended && out[1].node == "node 1"));
    BOOST_TEST(fsm.due(gone_at + milliseconds(2000)).empty());  // nothing asked of n1 again
    BOOST_TEST(fsm.active(pubsub_family::master_pattern, ks));  // on every master there is
    out.clear();
    // The user's unsubscribe goes to each master it is on.
    const auto requests = fsm.unsubscribe(pubsub_family::master_pattern, {ks}, gone_at, out);
    BOOST_TEST_REQUIRE(requests.size() == 1u);
    BOOST_TEST(requests[0].node == n2);
    BOOST_TEST(fsm.size() == 0u);
    BOOST_TEST(fsm.wants_any());  // until n2 confirms
}

BOOST_AUTO_TEST_CASE(a_pattern_is_either_on_every_master_or_on_the_classic_node) {
    subscription_fsm fsm = make();
    fsm.subscribe(pubsub_family::pattern, {"a*"}, t0);
    fsm.subscribe(pubsub_family::master_pattern, {"b*"}, t0);
    BOOST_CHECK_THROW(fsm.subscribe(pubsub_family::master_pattern, {"a*"}, t0), error);
    BOOST_CHECK_THROW(fsm.subscribe(pubsub_family::pattern, {"b*"}, t0), error);
    BOOST_TEST(fsm.size() == 2u);
}

namespace {
std::size_t count_of(const std::vector<pubsub_notice>& out, pubsub_notice::kind what, const std::string& node) {
    return static_cast<std::size_t>(
        std::count_if(out.begin(), out.end(), [&](const pubsub_notice& n) { return n.what == what && n.node == node; }));
}
/// `pattern` on every master of {n1, n2}, confirmed on both.
void on_both(subscription_fsm& fsm, const std::string& pattern, std::vector<pubsub_notice>& out) {
    fsm.masters_changed(masters_of({n1, n2}), std::nullopt, t0, out);
    fsm.subscribe(pubsub_family::master_pattern, {pattern}, t0);
    place_due(fsm, t0, out);
    BOOST_TEST_REQUIRE(fsm.active(pubsub_family::master_pattern, pattern));
    out.clear();
}
}  // namespace

// ACLs are per node: a master that refuses the pattern is not asked again on every map read (with a false gap each
// time) until the user subscribes it again.
BOOST_AUTO_TEST_CASE(a_master_that_refuses_the_pattern_is_not_asked_again_on_every_map) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    const std::string ks = "__keyspace@0__:*";
    fsm.masters_changed(masters_of({n1, n2}), std::nullopt, t0, out);
    fsm.subscribe(pubsub_family::master_pattern, {ks}, t0);
    auto now = t0;
    for (const pubsub_request& r : fsm.due(now)) fsm.sent(r, r.node);
    fsm.on_frame(n1, name1, psubscribed(ks), now, out);
    fsm.on_frame(n2, name2, error_reply("NOPERM this user has no permissions to access one of the channels"), now, out);
    BOOST_TEST(count_of(out, pubsub_notice::kind::refused, "node 2") == 1u);
    for (int refresh = 1; refresh <= 3; ++refresh) {  // the health re-read, the same map
        const auto since = now;
        now += milliseconds(1000);
        fsm.masters_changed(masters_of({n1, n2}), since, now, out);
        BOOST_TEST(fsm.due(now).empty());
    }
    BOOST_TEST(count_of(out, pubsub_notice::kind::refused, "node 2") == 1u);
    BOOST_TEST(count_of(out, pubsub_notice::kind::gap, "node 2") == 0u);
    BOOST_TEST(!fsm.active(pubsub_family::master_pattern, ks));  // not on every master
    fsm.subscribe(pubsub_family::master_pattern, {ks}, now);     // asked again by the user: n2 too
    const auto again = fsm.due(now);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    BOOST_TEST(again[0].node == n2);
}

// A node demoted and a master again before its PUNSUBSCRIBE is answered is asked again, its gap open from the
// demotion to the new confirmation, and never reported ended.
BOOST_AUTO_TEST_CASE(a_master_back_before_its_punsubscribe_is_answered_is_asked_again_with_its_gap_open) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    const std::string ks = "__keyspace@0__:*";
    on_both(fsm, ks, out);
    const auto t1 = t0 + milliseconds(100), t2 = t0 + milliseconds(200), t3 = t0 + milliseconds(210);
    BOOST_TEST(fsm.masters_changed(masters_of({n1}), t0, t1, out).size() == 1u);  // PUNSUBSCRIBE to n2
    BOOST_TEST(fsm.masters_changed(masters_of({n1, n2}), t1, t2, out).empty());   // n2 a master again
    fsm.on_frame(n2, name2, frame(pubsub_frame_kind::unsubscribed, pubsub_family::pattern, ks, 0), t3, out);
    fsm.on_frame(n2, name2, pong(), t3, out);
    BOOST_TEST(out.empty());  // no end: it is wanted there
    const auto t4 = t3 + milliseconds(5);
    place_due(fsm, t4, out);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST((out[0].what == pubsub_notice::kind::gap && out[0].node == "node 2"));
    BOOST_TEST((out[0].start == t1 && out[0].end == t4));
    BOOST_TEST((out[1].what == pubsub_notice::kind::subscribed && out[1].node == "node 2"));
    BOOST_TEST(fsm.active(pubsub_family::master_pattern, ks));
}

// A pattern still being unsubscribed from every master cannot be subscribed as a plain pattern (its answers and
// messages on the shared connection would be taken for the other's); once that is done it can, and nothing leaks.
BOOST_AUTO_TEST_CASE(a_plain_pattern_waits_until_the_every_master_one_is_unsubscribed) {
    subscription_fsm fsm = make();
    std::vector<pubsub_notice> out;
    const std::string ks = "__keyspace@0__:*";
    on_both(fsm, ks, out);
    BOOST_TEST(fsm.unsubscribe(pubsub_family::master_pattern, {ks}, t0, out).size() == 2u);
    BOOST_CHECK_THROW(fsm.subscribe(pubsub_family::pattern, {ks}, t0), error);
    for (const node_id n : {n1, n2}) {
        fsm.on_frame(n, "n", frame(pubsub_frame_kind::unsubscribed, pubsub_family::pattern, ks, 0), t0, out);
        fsm.on_frame(n, "n", pong(), t0, out);
    }
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended, "node 1") == 1u);
    BOOST_TEST(count_of(out, pubsub_notice::kind::ended, "node 2") == 1u);
    BOOST_TEST(!fsm.wants_any());
    fsm.subscribe(pubsub_family::pattern, {ks}, t0);
    const auto due = fsm.due(t0);
    BOOST_TEST_REQUIRE(due.size() == 1u);
    BOOST_TEST((due[0].family == pubsub_family::pattern));
}

BOOST_AUTO_TEST_SUITE_END()
