// tests/integration/cluster_pubsub.cpp — the blocking subscriber on the live TLS cluster: shard channels, channels and
// patterns delivered in order; resharding there and back and killed masters reported as gaps; hostile frames refused.
#include "hostile_node.hpp"
#include "pubsub_support.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
using addrmap::pubsub_event;
using addrmap::pubsub_family;
using subscriber_type = addrmap::basic_subscriber<addrmap::ip_to_hostname>;
using kind = pubsub_event::kind;
using live::channel_on;
using live::channels_of;
using live::frame;

addrmap::cluster_options three_seeds() {
    return live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
}
subscriber_type make_subscriber() { return subscriber_type(three_seeds(), addrmap::ip_to_hostname("localhost")); }
addrmap::ip_to_hostname_cluster make_publisher() {
    addrmap::ip_to_hostname_cluster c(three_seeds(), addrmap::ip_to_hostname("localhost"));
    c.connect();
    return c;
}

/// Reads events into `log` until `done(log)` or `limit` passed; whether `done` held.
bool pump(subscriber_type& sub, std::vector<pubsub_event>& log, const std::function<bool(const std::vector<pubsub_event>&)>& done,
          ms limit) {
    const auto until = steady::now() + limit;
    while (!done(log)) {
        const auto left = std::chrono::duration_cast<ms>(until - steady::now());
        if (left.count() <= 0) return false;
        if (std::optional<pubsub_event> e = sub.next(std::min(left, ms(200)))) log.push_back(std::move(*e));
    }
    return true;
}
std::size_t count(const std::vector<pubsub_event>& log, kind what, const std::string& channel = "") {
    return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const pubsub_event& e) {
        return e.what == what && (channel.empty() || e.channel == channel);
    }));
}
std::string describe(const pubsub_event& e) {
    static const char* names[] = {"message", "subscribed", "gap", "ended", "refused"};
    return std::string(names[static_cast<int>(e.what)]) + " " + e.channel + " " + e.payload + " " + e.cause;
}
std::string describe(const std::vector<pubsub_event>& log) {
    std::string out;
    for (const pubsub_event& e : log) out += "\n  " + describe(e);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_pubsub)

// Two shard channels per master, one channel and one pattern: each message arrives once, in the order published; the
// sharded ones on their slot's master (one connection per master, the classic node among them); unsubscribing ends
// each, and the servers then hold none.
BOOST_AUTO_TEST_CASE(shard_channels_channels_and_patterns_deliver_in_order_and_end_when_asked) {
    addrmap::ip_to_hostname_cluster publisher = make_publisher();
    const auto masters = live::masters(publisher);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    std::vector<std::string> sharded;
    for (std::size_t i = 0; i < masters.size(); ++i)
        for (const std::string& c : channels_of(masters[i], 2, "order-" + std::to_string(i) + "-")) sharded.push_back(c);

    subscriber_type sub = make_subscriber();
    sub.ssubscribe(sharded);
    sub.subscribe({"order-classic"});
    sub.psubscribe({"order-pattern-*"});
    BOOST_TEST(sub.subscriptions() == sharded.size() + 2);
    std::vector<pubsub_event> log;
    const std::size_t wanted = sharded.size() + 2;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == wanted; }, ms(15000)),
                       describe(log));
    BOOST_TEST(sub.connected_nodes().size() == masters.size());  // one per master; the classic node is one of them
    for (const std::string& c : sharded) BOOST_TEST(sub.active(pubsub_family::sharded, c));

    constexpr int n = 20;
    for (int i = 0; i < n; ++i) {
        for (const std::string& c : sharded) {
            const addrmap::reply_ptr r = publisher.command(c, "SPUBLISH %s %d", c.c_str(), i);
            BOOST_TEST_REQUIRE(r->type == REDIS_REPLY_INTEGER);
            BOOST_TEST(r->integer == 1);  // our one subscriber connection on the owner
        }
        publisher.command_any("PUBLISH order-classic %d", i);
        publisher.command_any("PUBLISH order-pattern-x %d", i);
    }
    const std::size_t messages = (sharded.size() + 2) * n;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::message) == messages; }, ms(15000)),
                       describe(log));
    std::map<std::string, std::vector<int>> received;
    for (const pubsub_event& e : log) {
        if (e.what != kind::message) continue;
        received[e.channel].push_back(std::stoi(e.payload));
        if (e.channel == "order-pattern-x") {
            BOOST_TEST((e.family == pubsub_family::pattern));
            BOOST_TEST(e.pattern == "order-pattern-*");
        }
    }
    std::vector<int> in_order(n);
    for (int i = 0; i < n; ++i) in_order[static_cast<std::size_t>(i)] = i;
    for (const std::string& c : sharded) BOOST_TEST(received[c] == in_order, c);
    BOOST_TEST(received["order-classic"] == in_order);
    BOOST_TEST(received["order-pattern-x"] == in_order);

    log.clear();
    sub.sunsubscribe(sharded);
    sub.unsubscribe({"order-classic"});
    sub.punsubscribe({"order-pattern-*"});
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::ended) == wanted; }, ms(15000)),
                       describe(log));
    BOOST_TEST(sub.subscriptions() == 0u);
    BOOST_TEST(count(log, kind::gap) == 0u, describe(log));
    for (const std::string& c : sharded) {
        const addrmap::reply_ptr r = publisher.command(c, "SPUBLISH %s after", c.c_str());
        BOOST_TEST(r->integer == 0, c);  // the server holds no subscription of ours any more
    }
}

// disconnect() ends every subscription at once (reported), the servers forget them, and the subscriber can start again.
BOOST_AUTO_TEST_CASE(disconnect_ends_every_subscription_and_the_subscriber_can_start_again) {
    addrmap::ip_to_hostname_cluster publisher = make_publisher();
    const std::string c = channel_on(100, "disconnect-");
    subscriber_type sub = make_subscriber();
    sub.ssubscribe({c});
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == 1; }, ms(15000)));
    sub.disconnect();
    log.clear();
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::ended) == 1; }, ms(1000)));
    BOOST_TEST(sub.subscriptions() == 0u);
    BOOST_TEST(sub.connected_nodes().empty());
    // The server closes its side when it reads the close: bounded wait for its count to drop.
    long long left = -1;
    for (int i = 0; i < 100 && left != 0; ++i) {
        left = publisher.command(c, "SPUBLISH %s gone", c.c_str())->integer;
        if (left != 0) std::this_thread::sleep_for(ms(20));
    }
    BOOST_TEST(left == 0);
    sub.ssubscribe({c});
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == 1; }, ms(15000)));
    BOOST_TEST(publisher.command(c, "SPUBLISH %s back", c.c_str())->integer == 1);
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::message) == 1; }, ms(5000)));
    BOOST_TEST(log.back().payload == "back");
}

// The scene (30 shard channels, 500 slots moved there and back, a master SIGKILLed) runs the blocking
// subscriber and the async one at once, in async.async_pubsub: one scene for both drivers.

// A classic subscriber on a master that is killed: the lost connection opens a gap, it subscribes again on another
// node, the gap is reported (with its cause), and what is published afterwards arrives.
BOOST_AUTO_TEST_CASE(a_classic_subscriber_whose_node_is_killed_resubscribes_elsewhere_and_reports_the_gap) {
    addrmap::ip_to_hostname_cluster publisher = make_publisher();
    subscriber_type sub = make_subscriber();
    sub.subscribe({"classic-ride"});
    sub.psubscribe({"classic-ride-*"});
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == 2; }, ms(15000)));
    const std::vector<addrmap::node_address> on = sub.connected_nodes();
    BOOST_TEST_REQUIRE(on.size() == 1u);
    const std::uint16_t victim = on.front().port;
    live::revive_on_exit revive(victim);
    BOOST_TEST_REQUIRE(live::kill_node(victim));
    log.clear();
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::gap) == 2 && count(l, kind::subscribed) == 2; },
                            ms(30000)),
                       describe(log));
    const std::vector<addrmap::node_address> now_on = sub.connected_nodes();
    BOOST_TEST_REQUIRE(now_on.size() == 1u);
    BOOST_TEST(now_on.front().port != victim);
    for (const pubsub_event& e : log)
        if (e.what == kind::gap) {
            BOOST_TEST(e.cause.find("lost the connection") != std::string::npos, e.cause);
            BOOST_TEST(e.cause.find(std::to_string(victim)) != std::string::npos, e.cause);
            BOOST_TEST((e.start <= e.end));
        }
    log.clear();
    // PUBLISH reaches every node's subscribers through the cluster bus: ask a live node, and wait for delivery.
    bool received = false;
    for (int i = 0; i < 50 && !received; ++i) {
        publisher.command_any("PUBLISH classic-ride after-%d", i);
        received = pump(sub, log, [&](const auto& l) { return count(l, kind::message, "classic-ride") >= 1; }, ms(200));
    }
    BOOST_TEST(received, describe(log));
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// Under read_from = replica_preferred, shard channels are subscribed on a replica of each slot's master and receive
// what is published there; the replica killed, its channel moves to the master with the gap reported, and messages
// arrive again.
BOOST_AUTO_TEST_CASE(shard_channels_under_read_from_go_to_replicas_and_to_the_master_when_the_replica_dies) {
    addrmap::ip_to_hostname_cluster publisher = make_publisher();
    const auto masters = live::masters(publisher);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    std::vector<std::string> channels;
    for (std::size_t i = 0; i < masters.size(); ++i) channels.push_back(channels_of(masters[i], 1, "replica-ride-")[0]);
    addrmap::cluster_options options = three_seeds();
    options.read_from = addrmap::read_preference::replica_preferred;
    subscriber_type sub(options, addrmap::ip_to_hostname("localhost"));
    sub.ssubscribe(channels);
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == channels.size(); }, ms(15000)),
                       describe(log));
    const std::vector<addrmap::node_address> on = sub.connected_nodes();
    BOOST_TEST_REQUIRE(on.size() == channels.size());
    const std::uint16_t victim = live::check_on_replicas(on, masters[0].reported.port);
    BOOST_TEST_REQUIRE(victim != 0);
    const auto each_receives = [&](const std::string& payload) {
        log.clear();
        for (const std::string& c : channels) publisher.command(c, "SPUBLISH %s %s", c.c_str(), payload.c_str());
        return pump(sub, log, [&](const auto& l) { return count(l, kind::message) == channels.size(); }, ms(10000));
    };
    BOOST_TEST_REQUIRE(each_receives("before"), describe(log));

    // The replica of the first channel's master dies: that channel goes to the master.
    live::revive_on_exit revive(victim);
    BOOST_TEST_REQUIRE(live::kill_node(victim));
    log.clear();
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::gap, channels[0]) == 1 &&
                                                                  count(l, kind::subscribed, channels[0]) == 1; },
                            ms(30000)),
                       describe(log));
    for (const pubsub_event& e : log)
        if (e.what == kind::gap) BOOST_TEST(e.cause.find(std::to_string(victim)) != std::string::npos, e.cause);
    BOOST_TEST(count(log, kind::gap) == 1u, describe(log));  // the other channels stayed where they were
    bool on_master = false;
    for (const addrmap::node_address& n : sub.connected_nodes()) on_master = on_master || n.port == masters[0].reported.port;
    BOOST_TEST(on_master);
    BOOST_TEST(each_receives("after"), describe(log));
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// A node that answers SSUBSCRIBE with frames a server never sends a subscriber there: the frame is refused with a message
// naming the node and what came, the connection is dropped (nothing after the frame is delivered), and the time until the
// subscription is confirmed again is a gap with that cause.
BOOST_AUTO_TEST_CASE(foreign_or_malformed_frames_drop_the_connection_and_nothing_after_them_is_delivered) {
    for (const live::hostile_frame_case& hc : live::hostile_frame_cases()) {
        BOOST_TEST_CONTEXT(hc.what) {
            live::hostile_node node;
            node.set_shards_reply(node.valid_shards_reply());
            node.set_subscribe_reply(live::hostile_subscribe_reply(hc));
            addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
            options.min_backoff = ms(20);
            options.max_backoff = ms(50);
            options.subscriber_max_frame_bytes = live::hostile_max_frame_bytes;
            subscriber_type sub(options, addrmap::ip_to_hostname("localhost"));
            sub.ssubscribe({"news"});
            std::vector<pubsub_event> log;
            BOOST_TEST(pump(sub, log, [&](const auto& l) { return count(l, kind::gap) >= 1; }, ms(10000)), describe(log));
            BOOST_TEST(node.subscribe_requests() >= 2);  // dropped, and asked again on a new connection
            live::check_hostile_frame_log(log, hc, node.address());
        }
    }
}

// The master classic channels go to first refuses every connection: they go to the other master, which confirms them.
BOOST_AUTO_TEST_CASE(classic_channels_move_on_from_a_master_that_cannot_be_reached) {
    live::hostile_node node;
    const live::refusing_port dead;
    node.set_shards_reply(live::map_with_a_dead_first_master(node, dead));
    addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.min_backoff = ms(20);
    options.max_backoff = ms(50);
    subscriber_type sub(options, addrmap::ip_to_hostname("localhost"));
    sub.subscribe({"news"});
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == 1; }, ms(10000)), describe(log));
    BOOST_TEST(sub.active(pubsub_family::classic, "news"));
    BOOST_TEST(node.subscribe_requests() == 1);
}

// An on_connect hook that reads its answer and then looks for more (hiredis begins a reply with nothing to read): the
// subscriber's frames are still built as its own, and a message comes through.
BOOST_AUTO_TEST_CASE(an_on_connect_hook_that_looked_for_more_replies_leaves_frames_readable) {
    live::hostile_node node;
    node.set_shards_reply(node.valid_shards_reply());
    node.set_subscribe_reply(frame({"ssubscribe", "news"}, "1") + frame({"smessage", "news", "hello"}));
    addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    std::atomic<int> hooked{0};
    options.on_connect = [&hooked](redisContext* c, const addrmap::node_info&) {
        redisReply* r = static_cast<redisReply*>(redisCommand(c, "SET hooked yes"));
        BOOST_TEST_REQUIRE(r != nullptr);
        freeReplyObject(r);
        void* more = nullptr;  // nothing else waiting: this leaves hiredis's reader with a reply begun
        BOOST_TEST_REQUIRE(redisGetReplyFromReader(c, &more) == REDIS_OK);
        BOOST_TEST(more == nullptr);
        ++hooked;
    };
    subscriber_type sub(options, addrmap::ip_to_hostname("localhost"));
    sub.ssubscribe({"news"});
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::message) == 1; }, ms(10000)), describe(log));
    BOOST_TEST(hooked.load() >= 1);
    for (const pubsub_event& e : log)
        if (e.what == kind::message) BOOST_TEST(e.payload == "hello");
}

// A node that stops answering (hung, or cut off: no close ever comes): the health PING goes unanswered, the connection
// is dropped after command_timeout, and the subscription's gap (saying so) is reported once it is confirmed again.
BOOST_AUTO_TEST_CASE(a_node_that_stops_answering_is_found_by_its_health_ping_and_the_gap_reported) {
    live::hostile_node node;
    node.set_shards_reply(node.valid_shards_reply());
    node.set_subscribe_reply(frame({"ssubscribe", "news"}, "1"));
    addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.subscriber_health_interval = ms(100);
    options.tls.command_timeout = ms(300);
    subscriber_type sub(options, addrmap::ip_to_hostname("localhost"));
    sub.ssubscribe({"news"});
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == 1; }, ms(10000)));
    // Answered PINGs keep it: nothing happens for a few health intervals.
    BOOST_TEST(!pump(sub, log, [&](const auto& l) { return count(l, kind::gap) > 0; }, ms(600)), describe(log));
    BOOST_TEST(sub.active(pubsub_family::sharded, "news"));
    node.set_ping_silent(true);
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto&) { return !sub.active(pubsub_family::sharded, "news"); }, ms(10000)),
                       describe(log));
    // The gap ends when the subscription is confirmed again: the node answers again (a dial ends with a PING too).
    node.set_ping_silent(false);
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::gap) == 1; }, ms(10000)), describe(log));
    for (const pubsub_event& e : log)
        if (e.what == kind::gap) {
            BOOST_TEST(e.cause.find("did not answer a PING") != std::string::npos, e.cause);
            // From the last frame it brought (the answer to the PING before the first unanswered one, which was
            // sent after it), not from when the client knew (command_timeout after that PING).
            const auto unanswered = node.first_unanswered_ping();
            BOOST_TEST_REQUIRE(unanswered.has_value());
            BOOST_TEST((e.start <= *unanswered));
            BOOST_TEST(e.cause.find(node.address()) != std::string::npos, e.cause);
        }
    BOOST_TEST(node.subscribe_requests() >= 2);
}

// Redis refuses a whole SUBSCRIBE when its ACL denies one channel: the subscriber asks for each alone, so the allowed
// channel is subscribed and only the denied one is refused, with the server's words.
BOOST_AUTO_TEST_CASE(one_denied_channel_is_refused_alone_and_the_others_are_subscribed) {
    live::hostile_node node;
    node.set_shards_reply(node.valid_shards_reply());
    node.set_denied_channel("denied");
    addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.min_backoff = ms(20);
    options.max_backoff = ms(50);
    subscriber_type sub(options, addrmap::ip_to_hostname("localhost"));
    sub.subscribe({"allowed", "denied"});
    std::vector<pubsub_event> log;
    BOOST_TEST_REQUIRE(pump(sub, log, [&](const auto& l) { return count(l, kind::subscribed) == 1 && count(l, kind::refused) == 1; },
                            ms(10000)),
                       describe(log));
    BOOST_TEST(sub.active(pubsub_family::classic, "allowed"));
    BOOST_TEST(sub.subscriptions() == 1u);
    for (const pubsub_event& e : log)
        if (e.what == kind::refused) {
            BOOST_TEST(e.channel == "denied");
            BOOST_TEST(e.cause.find("NOPERM") != std::string::npos, e.cause);
        }
}

// next(0) never waits, yet it reads: a loop of next(0) gets the confirmation and the messages.
BOOST_AUTO_TEST_CASE(a_loop_of_next_0_reads_what_comes) {
    addrmap::ip_to_hostname_cluster publisher = make_publisher();
    const std::string c = channel_on(200, "zero-wait-");
    subscriber_type sub = make_subscriber();
    sub.ssubscribe({c});
    std::vector<pubsub_event> log;
    const auto spin = [&](const std::function<bool()>& done) {
        const auto until = steady::now() + ms(15000);
        while (!done() && steady::now() < until) {
            if (std::optional<pubsub_event> e = sub.next(ms(0))) log.push_back(std::move(*e));
            std::this_thread::sleep_for(ms(1));
        }
        return done();
    };
    BOOST_TEST_REQUIRE(spin([&] { return count(log, kind::subscribed) == 1; }), describe(log));
    for (int i = 0; i < 5; ++i) publisher.command(c, "SPUBLISH %s %d", c.c_str(), i);
    BOOST_TEST(spin([&] { return count(log, kind::message) == 5; }), describe(log));
}

BOOST_AUTO_TEST_SUITE_END()
