// tests/async/async_pubsub.cpp — the async subscriber on the live TLS cluster, on every loop: order and unsubscribe; the
// ride through resharding there and back and a killed master (both subscribers, blocking and async, at once); a classic
// subscriber's node killed; hostile frames; a silent node; disconnect() and destruction.
#include "async_support.hpp"
#include "hostile_node.hpp"
#include "pubsub_support.hpp"

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace addrmap;

namespace {

using ms = std::chrono::milliseconds;
using steady = std::chrono::steady_clock;
using loops = boost::mpl::list<live::libevent_fixture, live::libuv_fixture, live::libev_fixture, live::asio_fixture>;
using kind = pubsub_event::kind;
using async_subscriber_type = basic_async_subscriber<ip_to_hostname>;

cluster_options three_seeds() {
    return live::async_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)});
}
ip_to_hostname_cluster blocking_publisher() {
    ip_to_hostname_cluster c(live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)}),
                             ip_to_hostname("localhost"));
    c.connect();
    return c;
}

/// Every event a subscriber reports, in order.
async_subscriber_handlers logging_into(std::vector<pubsub_event>& log) {
    const auto keep = [&log](const pubsub_event& e) { log.push_back(e); };
    return {keep, keep, keep, keep};
}
std::size_t count(const std::vector<pubsub_event>& log, kind what, const std::string& channel = "") {
    return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const pubsub_event& e) {
        return e.what == what && (channel.empty() || e.channel == channel);
    }));
}
std::string describe(const std::vector<pubsub_event>& log) {
    static const char* names[] = {"message", "subscribed", "gap", "ended", "refused"};
    std::string out;
    for (const pubsub_event& e : log)
        out += "\n  " + std::string(names[static_cast<int>(e.what)]) + " " + e.channel + " " + e.payload + " " + e.cause;
    return out;
}

std::string scenario_why(const outcome& o) { return o.ok() ? std::string() : o.failure()->message(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(async_pubsub)

// As the blocking subscriber's test: two shard channels per master, a channel and a pattern, 20 numbered messages on
// each, received once and in order; one connection per master; unsubscribing ends each and the servers hold none.
BOOST_AUTO_TEST_CASE_TEMPLATE(shard_channels_channels_and_patterns_deliver_in_order_and_end_when_asked, Loop, loops) {
    ip_to_hostname_cluster publisher = blocking_publisher();
    const auto masters = live::masters(publisher);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    std::vector<std::string> sharded;
    for (std::size_t i = 0; i < masters.size(); ++i)
        for (const std::string& c : live::channels_of(masters[i], 2, "async-order-" + std::to_string(i) + "-")) sharded.push_back(c);

    Loop loop;
    ip_to_hostname_async_cluster cluster(three_seeds(), loop.binding(), ip_to_hostname("localhost"));
    std::vector<pubsub_event> log;
    async_subscriber_type sub(cluster, logging_into(log));
    sub.ssubscribe(sharded);
    sub.subscribe({"async-order-classic"});
    sub.psubscribe({"async-order-pattern-*"});
    const std::size_t wanted = sharded.size() + 2;
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == wanted; }), describe(log));
    BOOST_TEST(sub.connected_nodes().size() == masters.size());

    constexpr int n = 20;
    for (int i = 0; i < n; ++i) {
        for (const std::string& c : sharded) BOOST_TEST(publisher.command(c, "SPUBLISH %s %d", c.c_str(), i)->integer == 1);
        publisher.command_any("PUBLISH async-order-classic %d", i);
        publisher.command_any("PUBLISH async-order-pattern-x %d", i);
    }
    const std::size_t messages = wanted * n;
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::message) == messages; }), describe(log));
    std::map<std::string, std::vector<int>> received;
    for (const pubsub_event& e : log)
        if (e.what == kind::message) received[e.channel].push_back(std::stoi(e.payload));
    std::vector<int> in_order(n);
    for (int i = 0; i < n; ++i) in_order[static_cast<std::size_t>(i)] = i;
    for (const std::string& c : sharded) BOOST_TEST(received[c] == in_order, c);
    BOOST_TEST(received["async-order-classic"] == in_order);
    BOOST_TEST(received["async-order-pattern-x"] == in_order);

    log.clear();
    sub.sunsubscribe(sharded);
    sub.unsubscribe({"async-order-classic"});
    sub.punsubscribe({"async-order-pattern-*"});
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::ended) == wanted; }), describe(log));
    BOOST_TEST(sub.subscriptions() == 0u);
    BOOST_TEST(count(log, kind::gap) == 0u, describe(log));
    for (const std::string& c : sharded) BOOST_TEST(publisher.command(c, "SPUBLISH %s after", c.c_str())->integer == 0, c);
}

// The scene, for both subscribers at once (one scene, half the time): 30 shard channels over all masters,
// numbered messages on each every 20 ms while 500 slots move to another master and back and then a master is
// SIGKILLed; the blocking subscriber on a thread of its own, the async one on the loop (libevent). For each: every
// message at most once and in order, every one published (answered) and not received inside a reported gap of its
// channel, and in the end every channel active on its new owner (one last message each arrives).
BOOST_AUTO_TEST_CASE(both_subscribers_ride_out_resharding_there_and_back_and_a_killed_master) {
    ip_to_hostname_cluster admin_view = blocking_publisher();
    const auto masters = live::masters(admin_view);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::ride_plan plan = live::plan_ride(masters);
    const std::vector<std::string>& channels = plan.channels;
    // Keyspace events too, from a pattern on every master: numbered keys on each master (none in the slots that move,
    // where two masters' connections would race), the third master the one killed.
    const std::vector<std::string> keys{live::channels_of(masters[0], 2, "ride-ks-a")[1], live::channels_of(masters[1], 1, "ride-ks-b")[0],
                                        live::channels_of(masters[2], 1, "ride-ks-c")[0]};
    const std::string keyspace = "__keyspace@0__:ride-ks-*";
    for (const auto& node : fan_out(admin_view, {"CONFIG", "SET", "notify-keyspace-events", "K$"}, fan_out_to::all_nodes))
        BOOST_TEST_REQUIRE(node.result.ok());
    const auto all_active = [&](const auto& sub) {
        return sub.active(pubsub_family::master_pattern, keyspace) &&
               std::all_of(channels.begin(), channels.end(), [&](const std::string& c) { return sub.active(pubsub_family::sharded, c); });
    };

    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(three_seeds(), loop.binding(), ip_to_hostname("localhost"));
    std::vector<pubsub_event> async_log;
    async_subscriber_type async_sub(cluster, logging_into(async_log));
    async_sub.ssubscribe(channels);
    async_sub.psubscribe_every_master({keyspace});
    basic_subscriber<ip_to_hostname> blocking_sub(
        live::cluster_options({live::seed_by_name(), live::seed_by_name(1), live::seed_by_name(2)}), ip_to_hostname("localhost"));
    blocking_sub.ssubscribe(channels);
    blocking_sub.psubscribe_every_master({keyspace});
    std::vector<pubsub_event> blocking_log;  // the blocking subscriber's thread appends, under blocking_mutex
    std::mutex blocking_mutex;
    std::atomic<bool> blocking_ready{false}, stop_blocking{false};
    std::thread blocking_thread([&] {
        pubsub_event e;
        const auto give_up = steady::now() + ms(240000);
        while (!stop_blocking && steady::now() < give_up) {
            if (blocking_sub.next(e, ms(100))) {
                const std::lock_guard<std::mutex> lock(blocking_mutex);
                blocking_log.push_back(e);
            }
            if (!blocking_ready && all_active(blocking_sub)) blocking_ready = true;
        }
    });
    struct join_on_exit {  // a failed REQUIRE must not leave the thread running
        std::atomic<bool>& stop;
        std::thread& thread;
        ~join_on_exit() {
            stop = true;
            if (thread.joinable()) thread.join();
        }
    } blocking_joined{stop_blocking, blocking_thread};
    BOOST_TEST_REQUIRE(loop.run_until([&] { return all_active(async_sub) && blocking_ready.load(); }, ms(30000)),
                       describe(async_log));

    live::revive_on_exit revive(plan.victim_port);
    std::atomic<bool> stop_publishing{false}, scene_done{false};
    std::string scene_why;
    std::mutex published_mutex;
    std::map<std::string, std::vector<live::published>> sent, written;
    std::thread publisher_thread([&] { live::publish_numbered(channels, stop_publishing, published_mutex, sent); });
    std::thread writer_thread([&] { live::publish_numbered(keys, stop_publishing, published_mutex, written, true); });
    std::thread scene_thread([&] {
        scene_why = live::ride_scene(plan.moving, plan.scene, plan.victim_port, channels.back());
        scene_done = true;
    });
    loop.run_until([&] { return scene_done.load(); }, ms(180000));
    stop_publishing = true;
    publisher_thread.join();
    writer_thread.join();
    scene_thread.join();
    BOOST_TEST_REQUIRE(scene_why.empty(), scene_why);

    BOOST_TEST(loop.run_until([&] { return all_active(async_sub); }), describe(async_log));
    ip_to_hostname_cluster last = blocking_publisher();
    for (const std::string& c : channels) last.command(c, "SPUBLISH %s last", c.c_str());
    for (const std::string& k : keys) last.command(k, "SET %s:last 1 EX 600", k.c_str());
    const auto lasts = [&](const std::vector<pubsub_event>& log) {
        return std::count_if(log.begin(), log.end(), [](const pubsub_event& e) {
            return e.payload == "last" || (e.channel.size() > 5 && e.channel.compare(e.channel.size() - 5, 5, ":last") == 0);
        });
    };
    const std::size_t all_lasts = channels.size() + keys.size();
    BOOST_TEST(loop.run_until([&] { return lasts(async_log) == static_cast<long>(all_lasts); }), describe(async_log));
    // The blocking subscriber's thread reads on until its "last" messages came (bounded).
    const auto until = steady::now() + ms(30000);
    std::size_t blocking_lasts = 0;
    while (blocking_lasts < all_lasts && steady::now() < until) {
        std::this_thread::sleep_for(ms(20));
        const std::lock_guard<std::mutex> lock(blocking_mutex);
        blocking_lasts = static_cast<std::size_t>(lasts(blocking_log));
    }
    stop_blocking = true;
    blocking_thread.join();
    BOOST_TEST(blocking_lasts == all_lasts);
    BOOST_TEST(all_active(blocking_sub));

    for (const auto& [name, log] : {std::pair<const char*, const std::vector<pubsub_event>*>{"blocking", &blocking_log},
                                    std::pair<const char*, const std::vector<pubsub_event>*>{"async", &async_log}}) {
        const live::ride_check check = live::check_ride(channels, *log, sent);
        for (const std::string& defect : check.defects) BOOST_ERROR(name << ": " << defect);
        std::cout << "pubsub ride (" << name << "): " << channels.size() << " channels, " << check.sent << " published, "
                  << check.received << " received, " << check.missed << " missed (all inside gaps), " << check.gaps << " gaps\n";
        BOOST_TEST(check.gaps >= 20u, name);  // the moved channels (twice) and the killed master's: the scene happened
        const live::ride_check ks = live::check_keyspace_ride(keys, *log, written);
        for (const std::string& defect : ks.defects) BOOST_ERROR(name << " (keyspace): " << defect);
        std::cout << "keyspace ride (" << name << "): " << keys.size() << " masters' keys, " << ks.sent << " written, "
                  << ks.received << " events, " << ks.missed << " missed (all inside gaps), " << ks.gaps << " gaps\n";
        BOOST_TEST(ks.gaps >= 1u, name);  // the killed master's, or its successor's
        BOOST_TEST(ks.received > 0u, name);
    }
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
    ip_to_hostname_cluster after = blocking_publisher();
    fan_out(after, {"CONFIG", "SET", "notify-keyspace-events", ""}, fan_out_to::all_nodes);
}

// A classic subscriber whose master is killed resubscribes on another node; the gap says it lost the connection.
BOOST_AUTO_TEST_CASE(a_classic_subscriber_whose_node_is_killed_resubscribes_elsewhere_and_reports_the_gap) {
    ip_to_hostname_cluster publisher = blocking_publisher();
    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(three_seeds(), loop.binding(), ip_to_hostname("localhost"));
    std::vector<pubsub_event> log;
    async_subscriber_type sub(cluster, logging_into(log));
    sub.subscribe({"async-classic-ride"});
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 1; }), describe(log));
    const std::vector<node_address> on = sub.connected_nodes();
    BOOST_TEST_REQUIRE(on.size() == 1u);
    const std::uint16_t victim = on.front().port;
    live::revive_on_exit revive(victim);
    BOOST_TEST_REQUIRE(live::kill_node(victim));
    log.clear();
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::gap) == 1 && count(log, kind::subscribed) == 1; }, ms(30000)),
                       describe(log));
    const std::vector<node_address> now_on = sub.connected_nodes();
    BOOST_TEST_REQUIRE(now_on.size() == 1u);
    BOOST_TEST(now_on.front().port != victim);
    for (const pubsub_event& e : log)
        if (e.what == kind::gap) {
            BOOST_TEST(e.cause.find(std::to_string(victim)) != std::string::npos, e.cause);
            BOOST_TEST((e.start <= e.end));
        }
    log.clear();
    bool received = false;
    for (int i = 0; i < 50 && !received; ++i) {
        publisher.command_any("PUBLISH async-classic-ride after-%d", i);
        received = loop.run_until([&] { return count(log, kind::message) >= 1; }, ms(200));
    }
    BOOST_TEST(received, describe(log));
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// As the blocking subscriber's test: under read_from = replica_preferred, shard channels on replicas; the replica killed,
// its channel moves to the master with the gap reported.
BOOST_AUTO_TEST_CASE(shard_channels_under_read_from_go_to_replicas_and_to_the_master_when_the_replica_dies) {
    ip_to_hostname_cluster publisher = blocking_publisher();
    const auto masters = live::masters(publisher);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    std::vector<std::string> channels;
    for (std::size_t i = 0; i < masters.size(); ++i) channels.push_back(live::channels_of(masters[i], 1, "async-replica-ride-")[0]);
    cluster_options options = three_seeds();
    options.read_from = read_preference::replica_preferred;
    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    std::vector<pubsub_event> log;
    async_subscriber_type sub(cluster, logging_into(log));
    sub.ssubscribe(channels);
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == channels.size(); }, ms(15000)), describe(log));
    const std::vector<node_address> on = sub.connected_nodes();
    BOOST_TEST_REQUIRE(on.size() == channels.size());
    const std::uint16_t victim = live::check_on_replicas(on, masters[0].reported.port);
    BOOST_TEST_REQUIRE(victim != 0);
    const auto each_receives = [&](const std::string& payload) {
        log.clear();
        for (const std::string& c : channels) publisher.command(c, "SPUBLISH %s %s", c.c_str(), payload.c_str());
        return loop.run_until([&] { return count(log, kind::message) == channels.size(); }, ms(10000));
    };
    BOOST_TEST_REQUIRE(each_receives("before"), describe(log));

    live::revive_on_exit revive(victim);
    BOOST_TEST_REQUIRE(live::kill_node(victim));
    log.clear();
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::gap, channels[0]) == 1 && count(log, kind::subscribed, channels[0]) == 1; },
                                      ms(30000)),
                       describe(log));
    for (const pubsub_event& e : log)
        if (e.what == kind::gap) BOOST_TEST(e.cause.find(std::to_string(victim)) != std::string::npos, e.cause);
    BOOST_TEST(count(log, kind::gap) == 1u, describe(log));
    bool on_master = false;
    for (const node_address& n : sub.connected_nodes()) on_master = on_master || n.port == masters[0].reported.port;
    BOOST_TEST(on_master);
    BOOST_TEST(each_receives("after"), describe(log));
    BOOST_TEST(revive.now(), "the killed node did not rejoin: the cluster is not healthy");
}

// Foreign or malformed frames drop the connection: nothing after them delivered, the gap names the node and the frame.
BOOST_AUTO_TEST_CASE(foreign_or_malformed_frames_drop_the_connection_and_nothing_after_them_is_delivered) {
    for (const live::hostile_frame_case& hc : live::hostile_frame_cases()) {
        BOOST_TEST_CONTEXT(hc.what) {
            live::hostile_node node;
            node.set_shards_reply(node.valid_shards_reply());
            node.set_subscribe_reply(live::hostile_subscribe_reply(hc));
            cluster_options options = live::async_options({"localhost:" + std::to_string(node.port())});
            options.min_backoff = ms(20);
            options.max_backoff = ms(50);
            options.subscriber_max_frame_bytes = live::hostile_max_frame_bytes;
            live::libevent_fixture loop;
            std::vector<pubsub_event> log;
            {
                ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
                async_subscriber_type sub(cluster, logging_into(log));
                sub.ssubscribe({"news"});
                BOOST_TEST(loop.run_until([&] { return count(log, kind::gap) >= 1; }, ms(10000)), describe(log));
            }
            loop.drain();
            BOOST_TEST(node.subscribe_requests() >= 2);
            live::check_hostile_frame_log(log, hc, node.address());
        }
    }
}

// The master classic channels go to first refuses every connection (its own connection, which theirs waits for,
// fails): they go to the other master, which confirms them, instead of waiting for the dead one.
BOOST_AUTO_TEST_CASE(classic_channels_move_on_from_a_master_that_cannot_be_reached) {
    live::hostile_node node;
    const live::refusing_port dead;
    node.set_shards_reply(live::map_with_a_dead_first_master(node, dead));
    cluster_options options = live::async_options({"localhost:" + std::to_string(node.port())});
    options.min_backoff = ms(20);
    options.max_backoff = ms(50);
    live::libevent_fixture loop;
    std::vector<pubsub_event> log;
    {
        ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
        async_subscriber_type sub(cluster, logging_into(log));
        sub.subscribe({"news"});
        BOOST_TEST(loop.run_until([&] { return count(log, kind::subscribed) == 1; }, ms(10000)), describe(log));
        BOOST_TEST(sub.active(pubsub_family::classic, "news"));
    }
    loop.drain();
    BOOST_TEST(node.subscribe_requests() == 1);
}

// A node that stops answering PING is dropped after command_timeout; the gap says so once it answers again.
BOOST_AUTO_TEST_CASE(a_node_that_stops_answering_is_found_by_its_health_ping_and_the_gap_reported) {
    live::hostile_node node;
    node.set_shards_reply(node.valid_shards_reply());
    node.set_subscribe_reply(live::frame({"ssubscribe", "news"}, "1"));
    cluster_options options = live::async_options({"localhost:" + std::to_string(node.port())});
    options.subscriber_health_interval = ms(100);
    options.tls.command_timeout = ms(300);
    live::libevent_fixture loop;
    std::vector<pubsub_event> log;
    {
        ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
        async_subscriber_type sub(cluster, logging_into(log));
        sub.ssubscribe({"news"});
        BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 1; }, ms(10000)), describe(log));
        BOOST_TEST(!loop.run_until([&] { return count(log, kind::gap) > 0; }, ms(600)), describe(log));
        node.set_ping_silent(true);
        BOOST_TEST_REQUIRE(loop.run_until([&] { return !sub.active(pubsub_family::sharded, "news"); }, ms(10000)), describe(log));
        node.set_ping_silent(false);
        BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::gap) == 1; }, ms(10000)), describe(log));
    }
    loop.drain();
    for (const pubsub_event& e : log)
        if (e.what == kind::gap) {
            BOOST_TEST(e.cause.find("did not answer a PING") != std::string::npos, e.cause);
            // From the last frame it brought (the answer to the PING before the first unanswered one, which was
            // sent after it), not from when the client knew (command_timeout after that PING).
            const auto unanswered = node.first_unanswered_ping();
            BOOST_TEST_REQUIRE(unanswered.has_value());
            BOOST_TEST((e.start <= *unanswered));
        }
}

// disconnect() ends every subscription (reported); the server forgets them; the subscriber starts again; destroying it
// closes its connections without a callback; the cluster's disconnect() ends a subscriber's subscriptions too.
BOOST_AUTO_TEST_CASE(disconnect_and_destruction_end_subscriptions_cleanly) {
    ip_to_hostname_cluster publisher = blocking_publisher();
    const std::string c = live::channel_on(100, "async-disconnect-");
    const auto holders = [&] { return publisher.command(c, "SPUBLISH %s probe", c.c_str())->integer; };
    live::libevent_fixture loop;
    std::vector<pubsub_event> log;
    ip_to_hostname_async_cluster cluster(three_seeds(), loop.binding(), ip_to_hostname("localhost"));
    {
        async_subscriber_type sub(cluster, logging_into(log));
        sub.ssubscribe({c});
        BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 1; }), describe(log));
        sub.disconnect();
        BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::ended) == 1; }), describe(log));
        BOOST_TEST(sub.subscriptions() == 0u);
        BOOST_TEST(loop.run_until([&] { return holders() == 0; }, ms(5000)));
        sub.ssubscribe({c});
        BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 2; }), describe(log));
        BOOST_TEST(holders() == 1);
        log.clear();
    }  // destroyed with the subscription out
    BOOST_TEST(loop.run_until([&] { return holders() == 0; }, ms(5000)));
    BOOST_TEST(log.empty(), describe(log));  // no callback after destruction

    async_subscriber_type sub(cluster, logging_into(log));
    sub.ssubscribe({c});
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 1; }), describe(log));
    bool disconnected = false;
    cluster.disconnect([&] { disconnected = true; });
    BOOST_TEST(loop.run_until([&] { return disconnected && count(log, kind::ended) == 1; }), describe(log));
    BOOST_TEST(loop.run_until([&] { return holders() == 0; }, ms(5000)));
}

// A callback that unsubscribes (or subscribes) wakes the subscriber again: what it asks and what comes next are not held
// back until some timer (the health PING is off here, so nothing else would wake it).
BOOST_AUTO_TEST_CASE(a_callback_that_unsubscribes_is_followed_at_once) {
    ip_to_hostname_cluster publisher = blocking_publisher();
    const std::string a = live::channel_on(300, "wake-a-"), b = live::channel_on(301, "wake-b-");
    live::libevent_fixture loop;
    cluster_options options = three_seeds();
    options.subscriber_health_interval = ms(0);
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    std::vector<pubsub_event> log;
    async_subscriber_handlers handlers = logging_into(log);
    async_subscriber_type* self = nullptr;
    handlers.on_message = [&](const pubsub_event& e) {
        log.push_back(e);
        if (e.channel == a) self->sunsubscribe({a});
    };
    async_subscriber_type sub(cluster, handlers);
    self = &sub;
    sub.ssubscribe({a, b});
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 2; }), describe(log));
    publisher.command(a, "SPUBLISH %s first", a.c_str());
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::message, a) == 1; }), describe(log));
    publisher.command(b, "SPUBLISH %s second", b.c_str());
    BOOST_TEST(loop.run_until([&] { return count(log, kind::ended, a) == 1 && count(log, kind::message, b) == 1; }, ms(2000)),
               describe(log));
}

// on_async_connect runs plain hiredis code on the cluster's connections; a subscriber's connection skips it (its replies
// would be read as the subscriber's) and is subscribed all the same. Subscriber connections are not counted against
// max_blocking_connections_per_node: a BLPOP still gets one of its own.
BOOST_AUTO_TEST_CASE(subscriber_connections_skip_on_async_connect_and_leave_the_blocking_bound_alone) {
    const std::string c = live::channel_on(400, "hooks-");
    live::libevent_fixture loop;
    cluster_options options = three_seeds();
    int hooks = 0;
    options.on_async_connect = [&](redisAsyncContext* ac, const node_info&) {
        ++hooks;
        redisAsyncCommand(ac, nullptr, nullptr, "CLIENT SETNAME addrmap-hooked");
    };
    options.max_blocking_connections_per_node = 1;
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    std::vector<pubsub_event> log;
    async_subscriber_type sub(cluster, logging_into(log));
    sub.ssubscribe({c});
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 1; }), describe(log));
    BOOST_TEST(hooks >= 1);  // the cluster's own connection ran it
    std::optional<outcome> popped;
    cluster.command_argv(c, {"BLPOP", c + ":list", "0.1"}, [&](outcome o) { popped = std::move(o); });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return popped.has_value(); }));
    BOOST_TEST(popped->ok(), scenario_why(*popped));
}

// The cluster destroyed before its subscriber (against the rule): the subscriber's destructor touches nothing of it.
BOOST_AUTO_TEST_CASE(a_subscriber_outliving_its_cluster_is_destroyed_safely) {
    live::libevent_fixture loop;
    std::vector<pubsub_event> log;
    auto cluster = std::make_unique<ip_to_hostname_async_cluster>(three_seeds(), loop.binding(), ip_to_hostname("localhost"));
    auto sub = std::make_unique<async_subscriber_type>(*cluster, logging_into(log));
    sub->ssubscribe({live::channel_on(500, "outlive-")});
    BOOST_TEST_REQUIRE(loop.run_until([&] { return count(log, kind::subscribed) == 1; }), describe(log));
    cluster.reset();
    loop.drain();
    sub.reset();  // ASan would report a use of the freed driver here
    BOOST_TEST(count(log, kind::subscribed) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
