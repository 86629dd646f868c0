// tests/integration/cluster_observer.cpp — the blocking cluster's observer on the wire: a node whose certificate (from
// the test's CA) expires in 5 days is told once per process, the fixture's year-long ones never; connection facts,
// snapshot() and to_json() from a live connection; a transaction told as one MULTI call.
#include "hostile_node.hpp"
#include "live_env.hpp"
#include "pubsub_support.hpp"
#include "test_certificates.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace addrmap;

namespace cluster_observer_test {

struct seen_events {
    std::vector<std::string> expiring;  ///< "depth names days-left"
    std::vector<std::string> opened;    ///< "port protocol dial_address"
    std::vector<std::string> calls;     ///< "operation batch result"
    std::vector<std::string> gaps;      ///< "channel cause"
};

struct recorder {
    std::shared_ptr<seen_events> seen = std::make_shared<seen_events>();
    void operator()(const certificate_expiring_event& e) {
        std::string names;
        for (const std::string& n : e.certificate.names) names += n + ";";
        seen->expiring.push_back(std::to_string(e.certificate.depth) + " " + names + " " +
                                 std::to_string(e.left.count() / 3600));
    }
    void operator()(const connection_opened_event& e) {
        seen->opened.push_back(std::to_string(e.node.port) + " " + e.handshake.protocol + " " + std::string(e.dial_address));
    }
    void operator()(const call_ended_event& e) {
        seen->calls.push_back(std::string(e.operation) + " " + std::to_string(e.batch_size) + " " +
                              std::to_string(static_cast<int>(e.result)));
    }
    void operator()(const subscription_gap_event& e) { seen->gaps.push_back(e.gap.channel + " " + e.gap.cause); }
};

using observed_cluster = basic_cluster<ip_to_hostname, recorder>;

/// Options for a cluster whose seed is the hostile node (it answers CLUSTER SHARDS with itself owning every slot).
cluster_options hostile_seed(const live::hostile_node& node) {
    return live::cluster_options({"localhost:" + std::to_string(node.port())});
}

}  // namespace cluster_observer_test

BOOST_AUTO_TEST_SUITE(cluster_observer)

using namespace cluster_observer_test;

BOOST_AUTO_TEST_CASE(a_certificate_expiring_in_5_days_is_told_once_per_process) {
    const live::issued_certificate soon(5);
    live::hostile_node node("127.0.0.1", soon.cert(), soon.key());
    node.set_shards_reply(node.valid_shards_reply());
    recorder first;
    {
        observed_cluster cluster(hostile_seed(node), ip_to_hostname("localhost"), first);
        cluster.connect();
        cluster.disconnect();
        cluster.connect();  // a second connection to the same node: the same certificate, not told again
    }
    BOOST_TEST_REQUIRE(first.seen->expiring.size() == 1u);
    const std::string& told = first.seen->expiring.front();
    BOOST_TEST(told.compare(0, 2, "0 ") == 0, told);  // the node's own certificate
    BOOST_TEST(told.find("DNS:localhost;") != std::string::npos, told);
    const long hours = std::stol(told.substr(told.rfind(' ') + 1));
    BOOST_TEST((hours >= 5 * 24 - 2 && hours <= 5 * 24), told);
    BOOST_TEST(first.seen->opened.size() >= 2u);

    // Another cluster in this process, to the same node: nothing new to tell.
    recorder second;
    observed_cluster again(hostile_seed(node), ip_to_hostname("localhost"), second);
    again.connect();
    BOOST_TEST(second.seen->expiring.empty());
    BOOST_TEST(!second.seen->opened.empty());
}

// The fixture's certificates are valid for a year (scripts/cluster renews them 15 days before they end): none is told,
// with the default 14-day warning, on any node; a warning of two years tells the node's and the CA's, each once.
BOOST_AUTO_TEST_CASE(year_long_certificates_are_not_told_and_a_longer_warning_tells_each_once) {
    recorder quiet;
    observed_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"), quiet);
    cluster.connect();
    BOOST_TEST(quiet.seen->expiring.empty());
    BOOST_TEST(quiet.seen->opened.size() >= 3u);  // every master
    for (const std::string& o : quiet.seen->opened) BOOST_TEST(o.find(" TLSv1.") != std::string::npos, o);
    for (const std::string& o : quiet.seen->opened) BOOST_TEST(o.find(" 127.0.0.1") != std::string::npos, o);

    cluster_options long_warning = live::cluster_options({live::seed_by_name()});
    long_warning.tls.expiry_warning = std::chrono::hours(24 * 800);
    recorder told;
    observed_cluster warned(long_warning, ip_to_hostname("localhost"), told);
    warned.connect();
    // Every node presents the fixture's one server.crt, issued by its one CA: two certificates, each told once.
    BOOST_TEST(told.seen->expiring.size() == 2u);
    bool leaf = false, ca = false;
    for (const std::string& t : told.seen->expiring) {
        leaf = leaf || t.compare(0, 2, "0 ") == 0;
        ca = ca || (t.compare(0, 2, "1 ") == 0 && t.find("CN=addrmap test CA;") != std::string::npos);
    }
    BOOST_TEST(leaf);
    BOOST_TEST(ca);
}

// What a health endpoint shows: every node with its mapping, state, certificate date and counters, as JSON.
BOOST_AUTO_TEST_CASE(a_snapshot_shows_each_node_its_counters_and_its_certificate_date) {
    recorder r;
    observed_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"), r);
    cluster.connect();
    for (int i = 0; i < 30; ++i) {
        const std::string key = "snapshot:" + std::to_string(i);
        cluster.command(key, "SET %s x", key.c_str());
    }
    const topology_snapshot s = cluster.snapshot();
    BOOST_TEST(s.has_topology);
    std::uint64_t sends = 0;
    std::size_t masters = 0;
    for (const node_info& n : s.nodes) {
        sends += n.counters.sends;
        if (n.role != node_role::master) continue;
        ++masters;
        BOOST_TEST(n.connected);
        BOOST_TEST(n.counters.connections_made >= 1u);
        BOOST_TEST_REQUIRE(n.handshake.has_value());
        BOOST_TEST_REQUIRE(!n.handshake->chain.empty());
        BOOST_TEST((n.handshake->chain.front().not_after > std::chrono::system_clock::now() + std::chrono::hours(24 * 15)));
    }
    BOOST_TEST(masters == 3u);
    BOOST_TEST(sends == 30u);  // every SET, counted on the node it went to
    const std::string json = to_json(s);
    BOOST_TEST(json.find("\"has_topology\":true") != std::string::npos, json);
    BOOST_TEST(json.find("\"tls_name\":\"localhost\"") != std::string::npos, json);
    BOOST_TEST(json.find("\"not_after\":") != std::string::npos, json);
    BOOST_TEST(json.find("\"counters\":{\"sends\":") != std::string::npos, json);
}

// A transaction is one call named MULTI (its EXEC's reply decides the result); a pipeline is one named PIPELINE.
BOOST_AUTO_TEST_CASE(transactions_and_pipelines_are_told_as_one_call_each) {
    recorder r;
    observed_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"), r);
    cluster.connect();
    r.seen->calls.clear();
    {
        transaction tx = cluster.begin_transaction("{observed}tx");
        tx.queue("SET %s 1", "{observed}tx");
        tx.queue("INCR %s", "{observed}tx");
        const reply_ptr exec = tx.exec();
        BOOST_TEST(exec->type == REDIS_REPLY_ARRAY);
    }
    pipeline batch;
    batch.add("{observed}a", "SET %s 1", "{observed}a");
    batch.add("{observed}b", "GET %s", "{observed}b");
    batch.add("{observed}c", "LPUSH %s 1", "{observed}a");  // WRONGTYPE: an error reply in the batch
    cluster.execute(batch);
    const std::vector<std::string> want = {"MULTI 4 0", "PIPELINE 3 1"};
    BOOST_TEST(r.seen->calls == want, boost::test_tools::per_element());
}

// A subscriber's gap reaches its cluster's observer too, the same event next() gives: a node that sends a frame for a
// channel never asked for is dropped, and the subscription's gap is told to both.
BOOST_AUTO_TEST_CASE(a_subscribers_gap_is_told_to_the_observer) {
    const live::hostile_frame_case hc = live::hostile_frame_cases().front();
    live::hostile_node node;
    node.set_shards_reply(node.valid_shards_reply());
    node.set_subscribe_reply(live::hostile_subscribe_reply(hc));
    cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.min_backoff = std::chrono::milliseconds(20);
    options.max_backoff = std::chrono::milliseconds(50);
    options.subscriber_max_frame_bytes = live::hostile_max_frame_bytes;
    recorder r;
    basic_subscriber<ip_to_hostname, recorder> sub(options, ip_to_hostname("localhost"), r);
    sub.ssubscribe({"news"});
    std::vector<std::string> gaps;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (gaps.empty() && std::chrono::steady_clock::now() < until) {
        pubsub_event e;
        if (sub.next(e, std::chrono::milliseconds(100)) && e.what == pubsub_event::kind::gap)
            gaps.push_back(e.channel + " " + e.cause);
    }
    BOOST_TEST_REQUIRE(gaps.size() == 1u);
    BOOST_TEST_REQUIRE(!r.seen->gaps.empty());
    BOOST_TEST(r.seen->gaps.front() == gaps.front());
    BOOST_TEST(gaps.front().find(hc.must_mention) != std::string::npos, gaps.front());
}

// The cluster passes its seed to every dial: a cluster that dials the reported IPs (identity) is told, in its tls_name
// error, that the seed's host verifies and how to check it with the doctor.
BOOST_AUTO_TEST_CASE(a_tls_name_error_names_the_seeds_host_and_the_doctor_line) {
    const cluster_options options = live::cluster_options({live::seed_by_name()});
    identity_cluster cluster(options);
    try {
        cluster.connect();
        BOOST_FAIL("identity connected to nodes whose certificates carry no IP");
    } catch (const error& e) {
        BOOST_TEST((e.kind() == error_kind::tls_name), e.what());
        const std::string what = e.what();
        BOOST_TEST(what.find("Your seed's host localhost is a name it carries") != std::string::npos, what);
        BOOST_TEST(what.find("addrmap-doctor --seed " + live::seed_by_name() + " --cacert " + options.tls.ca_file +
                             " --policy ip_to_hostname --hostname localhost.") != std::string::npos, what);
    }
}

BOOST_AUTO_TEST_SUITE_END()
