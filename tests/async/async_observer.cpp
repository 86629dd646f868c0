// tests/async/async_observer.cpp — the async cluster's observer on the wire: a node whose certificate (from the test's
// CA) expires in 5 days is told once per process, with the connection's TLS facts; every call's end is told once,
// with its operation's name, from the loop thread.
#include "async_support.hpp"
#include "hostile_node.hpp"
#include "pubsub_support.hpp"
#include "test_certificates.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace addrmap;

namespace async_observer_test {

struct seen_events {
    std::vector<std::string> expiring;
    std::vector<std::string> opened;
    std::vector<std::string> calls;
    std::thread::id thread;
    std::vector<std::string> gaps;
};

struct recorder {
    std::shared_ptr<seen_events> seen = std::make_shared<seen_events>();
    void operator()(const certificate_expiring_event& e) {
        seen->expiring.push_back(std::to_string(e.certificate.depth) + " " + std::to_string(e.left.count() / 3600));
    }
    void operator()(const connection_opened_event& e) {
        seen->opened.push_back(std::to_string(e.node.port) + " " + e.handshake.protocol + " " + std::string(e.dial_address));
    }
    void operator()(const call_ended_event& e) {
        seen->calls.push_back(std::string(e.operation) + " " + std::to_string(static_cast<int>(e.result)));
        seen->thread = std::this_thread::get_id();
    }
    void operator()(const subscription_gap_event& e) { seen->gaps.push_back(e.gap.channel + " " + e.gap.cause); }
};

using observed_cluster = basic_async_cluster<ip_to_hostname, recorder>;

}  // namespace async_observer_test

BOOST_AUTO_TEST_SUITE(async_observer)

using namespace async_observer_test;

BOOST_AUTO_TEST_CASE(a_certificate_expiring_in_5_days_is_told_once_per_process) {
    const live::issued_certificate soon(5);
    live::hostile_node node("127.0.0.1", soon.cert(), soon.key());
    node.set_shards_reply(node.valid_shards_reply());
    live::libevent_fixture loop;
    recorder first;
    {
        observed_cluster cluster(live::async_options({"localhost:" + std::to_string(node.port())}), loop.binding(),
                                 ip_to_hostname("localhost"), first);
        BOOST_TEST_REQUIRE(live::connect_and_wait(loop, cluster).empty());
    }
    BOOST_TEST_REQUIRE(first.seen->expiring.size() == 1u);
    const std::string& told = first.seen->expiring.front();
    const long hours = std::stol(told.substr(2));
    BOOST_TEST(told.compare(0, 2, "0 ") == 0, told);
    BOOST_TEST((hours >= 5 * 24 - 2 && hours <= 5 * 24), told);
    BOOST_TEST_REQUIRE(!first.seen->opened.empty());
    BOOST_TEST(first.seen->opened.front() == std::to_string(node.port()) + " TLSv1.3 127.0.0.1");

    recorder second;
    observed_cluster again(live::async_options({"localhost:" + std::to_string(node.port())}), loop.binding(),
                           ip_to_hostname("localhost"), second);
    BOOST_TEST_REQUIRE(live::connect_and_wait(loop, again).empty());
    BOOST_TEST(second.seen->expiring.empty());
    BOOST_TEST(!second.seen->opened.empty());
}

// Each call's end once, named as OpenTelemetry names operations (the command, upper-case), on the loop's thread.
BOOST_AUTO_TEST_CASE(every_call_end_is_told_once_with_its_operation) {
    live::libevent_fixture loop;
    recorder r;
    observed_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(), ip_to_hostname("localhost"), r);
    BOOST_TEST_REQUIRE(live::connect_and_wait(loop, cluster).empty());
    int done = 0;
    for (int i = 0; i < 20; ++i) {
        const std::string key = "async-observed:" + std::to_string(i);
        cluster.command(key, [&](outcome) { ++done; }, "set %s %d", key.c_str(), i);
    }
    cluster.command("async-observed:0", [&](outcome) { ++done; }, "LPUSH %s x", "async-observed:0");  // WRONGTYPE
    BOOST_TEST_REQUIRE(loop.run_until([&] { return done == 21; }));
    BOOST_TEST_REQUIRE(r.seen->calls.size() == 21u);  // calls on different nodes end in any order
    BOOST_TEST(std::count(r.seen->calls.begin(), r.seen->calls.end(), "SET 0") == 20);
    BOOST_TEST(std::count(r.seen->calls.begin(), r.seen->calls.end(), "LPUSH 1") == 1);
    BOOST_TEST((r.seen->thread == std::this_thread::get_id()));
}

// A subscriber's gap reaches its cluster's observer too, before on_gap: a node that sends a frame for a channel never
// asked for is dropped, and the subscription's gap is told to both.
BOOST_AUTO_TEST_CASE(a_subscribers_gap_is_told_to_the_observer) {
    const live::hostile_frame_case hc = live::hostile_frame_cases().front();
    live::hostile_node node;
    node.set_shards_reply(node.valid_shards_reply());
    node.set_subscribe_reply(live::hostile_subscribe_reply(hc));
    cluster_options options = live::async_options({"localhost:" + std::to_string(node.port())});
    options.min_backoff = std::chrono::milliseconds(20);
    options.max_backoff = std::chrono::milliseconds(50);
    options.subscriber_max_frame_bytes = live::hostile_max_frame_bytes;
    live::libevent_fixture loop;
    recorder r;
    std::vector<std::string> gaps;
    {
        observed_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"), r);
        async_subscriber_handlers handlers;
        handlers.on_gap = [&](const pubsub_event& e) {
            BOOST_TEST(r.seen->gaps.size() == gaps.size() + 1);  // the observer heard of it first
            gaps.push_back(e.channel + " " + e.cause);
        };
        basic_async_subscriber<ip_to_hostname, recorder> sub(cluster, handlers);
        sub.ssubscribe({"news"});
        BOOST_TEST(loop.run_until([&] { return !gaps.empty(); }, std::chrono::milliseconds(10000)));
    }
    loop.drain();
    BOOST_TEST_REQUIRE(!gaps.empty());
    BOOST_TEST(r.seen->gaps.front() == gaps.front());
    BOOST_TEST(gaps.front().find(hc.must_mention) != std::string::npos, gaps.front());
}

// A transaction is one call named MULTI, as on the blocking cluster: its steps are not told one by one.
BOOST_AUTO_TEST_CASE(a_transaction_is_told_as_one_multi_call) {
    live::libevent_fixture loop;
    recorder r;
    observed_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(), ip_to_hostname("localhost"), r);
    BOOST_TEST_REQUIRE(live::connect_and_wait(loop, cluster).empty());
    r.seen->calls.clear();
    bool done = false;
    {
        async_transaction tx = cluster.begin_transaction("{observed}atx");
        tx.queue("SET %s 1", "{observed}atx");
        tx.queue("INCR %s", "{observed}atx");
        tx.exec([&](outcome o) {
            BOOST_TEST((o.ok() && o->type == REDIS_REPLY_ARRAY));
            done = true;
        });
    }
    BOOST_TEST_REQUIRE(loop.run_until([&] { return done; }));
    BOOST_TEST(r.seen->calls == std::vector<std::string>{"MULTI 0"}, boost::test_tools::per_element());
}

// The async cluster passes its seed to every dial too: its tls_name error names the seed's host and the doctor line.
BOOST_AUTO_TEST_CASE(a_tls_name_error_names_the_seeds_host_and_the_doctor_line) {
    live::libevent_fixture loop;
    const cluster_options options = live::async_options({live::seed_by_name()});
    identity_async_cluster cluster(options, loop.binding());
    const std::string what = live::connect_and_wait(loop, cluster);
    BOOST_TEST(what.find("does not carry the expected IP address 127.0.0.1") != std::string::npos, what);
    BOOST_TEST(what.find("Your seed's host localhost is a name it carries") != std::string::npos, what);
    BOOST_TEST(what.find("addrmap-doctor --seed " + live::seed_by_name() + " --cacert " + options.tls.ca_file +
                         " --policy ip_to_hostname --hostname localhost.") != std::string::npos, what);
}

BOOST_AUTO_TEST_SUITE_END()
