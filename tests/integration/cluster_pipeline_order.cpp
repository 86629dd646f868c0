// tests/integration/cluster_pipeline_order.cpp — the per-slot order rule in blocking pipelines on the live TLS cluster:
// while a slot migrates, a newer write of a key that was redirected never runs before an older write of it still out.
#include "admin_connection.hpp"
#include "cluster_test_support.hpp"
#include "reshard_support.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

using namespace addrmap;

namespace {

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_pipeline_order)

// Why not two plain SETs: both go out on one connection in one wave, meet the same slot state and share every later
// step, so no order rule is ever needed between them. The entries part ways when the server answers them differently:
// with slot S MIGRATING from X to Y, k2 still on X and k on neither, X refuses MSET k 1 k2 1 (its keys are split)
// with TRYAGAIN, and answers SET k 2 with ASK. The MSET backs off; the SET could go to Y at once. The rule holds it:
// in the next wave because an older entry of S is waiting, in later ones because that entry goes to X while it would
// go to Y. Without the rule SET k 2 runs on Y first, and the MSET, once the move ends, writes k = 1 over it.
BOOST_AUTO_TEST_CASE(a_redirected_write_waits_for_an_older_write_of_its_slot_that_was_refused) {
    cluster_options options = live::cluster_options({live::seed_by_name()});
    // The MSET's first backoff (100-200 ms) outlasts the step to the next wave by far: that wave sees it waiting.
    options.min_backoff = std::chrono::milliseconds(200);
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::move_scene scene = live::move_scene_of(masters);
    const std::vector<std::uint16_t>& ports = scene.ports;
    const live::master_ref& x = scene.x;
    const live::master_ref& y = scene.y;
    const std::uint16_t s = scene.slot;
    const std::string tag = live::tag_for_slot(s);
    const std::string k = "{" + tag + "}order-k";
    const std::string k2 = "{" + tag + "}order-k2";
    cluster.command(k, "DEL %s %s", k.c_str(), k2.c_str());
    BOOST_TEST_REQUIRE(cluster.command(k2, "SET %s before", k2.c_str())->type == REDIS_REPLY_STATUS);

    std::uint64_t tryagain_before = 0;
    {
        live::admin_connection ax(x.port);
        tryagain_before = live::errors_sent(ax, "TRYAGAIN");
    }
    const cluster_stats before = cluster.stats();

    pipeline p;
    p.add(k, "MSET %s 1 %s 1", k.c_str(), k2.c_str());  // older: refused (TRYAGAIN) until the move ends
    p.add(k, "SET %s 2", k.c_str());                     // newer: ASK to Y, held until the MSET is back
    std::vector<outcome> results;
    live::slot_back_home home(s, x, y, ports);  // destroyed after the mover: by then the slot is on Y
    const auto started = std::chrono::steady_clock::now();
    {
        // Two TRYAGAINs: the first wave (both entries answered) and a later one (the MSET sent again to X while the
        // SET's ASK points at Y). Only then does the move end and the MSET can succeed.
        live::finish_move_after_tryagain mover(s, x, y, ports, x.port, tryagain_before + 2);
        // Half a move, as redis-cli --cluster reshard begins one: Y importing, X migrating, k2 not moved yet.
        {
            live::admin_connection ay(y.port);
            live::admin_connection ax(x.port);
            ay.ok("CLUSTER SETSLOT %d IMPORTING %s", static_cast<int>(s), x.id.c_str());
            ax.ok("CLUSTER SETSLOT %d MIGRATING %s", static_cast<int>(s), y.id.c_str());
        }
        call_options call;
        call.deadline = std::chrono::milliseconds(30000);
        results = cluster.execute(p, call);
        mover.join();
        BOOST_TEST_REQUIRE(!mover.failed(), "the test's own migration failed: " << mover.why());
        BOOST_TEST(mover.saw_threshold(), "X never refused the MSET twice: the scenario did not happen");
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const cluster_stats& after = cluster.stats();

    BOOST_TEST_REQUIRE(results.size() == 2u);
    for (std::size_t i = 0; i < results.size(); ++i) {
        BOOST_TEST_CONTEXT("entry " << i) {
            BOOST_TEST_REQUIRE(results[i].ok(), (results[i].failure() ? results[i].failure()->what() : ""));
            BOOST_TEST(std::string(results[i]->str, results[i]->len) == "OK");
        }
    }
    BOOST_TEST(after.tryagain - before.tryagain >= 2u);
    BOOST_TEST(after.ask - before.ask >= 1u);
    reply_ptr value = cluster.command(k, "GET %s", k.c_str());
    BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING);
    BOOST_TEST(std::string(value->str, value->len) == "2", "SET k 2 ran before the older MSET k 1");
    std::cout << "pipeline slot order: GET k = " << std::string(value->str, value->len) << " after " << took.count()
              << " ms; TRYAGAIN " << after.tryagain - before.tryagain << ", ASK " << after.ask - before.ask
              << ", MOVED " << after.moved - before.moved << ", retries " << after.retries - before.retries << "\n";

    // Leave the cluster as the fixture made it: the keys gone, the slot back on X.
    cluster.command(k, "DEL %s %s", k.c_str(), k2.c_str());
    const std::string not_back = home.restore();
    BOOST_TEST(not_back.empty(), "moving the slot back failed: " << not_back);
}

// The server can part a slot's entries on one connection too. With slot S MIGRATING from X to Y and k2 already
// moved to Y, X answers both MSET k 1 k2 1 and SET k 2 with ASK (none of their keys is on X). Sent together to Y with
// ASKING, Y would refuse the MSET (TRYAGAIN: k is missing there) and run the SET; the MSET, once the move ends, would
// write k = 1 over it. An entry whose last answer was ASK or TRYAGAIN travels alone in its slot, so the SET waits.
// No race: the move ends only after Y has refused the MSET.
BOOST_AUTO_TEST_CASE(an_entry_of_a_slot_being_moved_travels_alone_so_a_newer_one_never_runs_first_on_the_same_node) {
    cluster_options options = live::cluster_options({live::seed_by_name()});
    options.min_backoff = std::chrono::milliseconds(50);
    ip_to_hostname_cluster cluster(options, ip_to_hostname("localhost"));
    cluster.connect();
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::move_scene scene = live::move_scene_of(masters);
    const std::vector<std::uint16_t>& ports = scene.ports;
    const live::master_ref& x = scene.x;
    const live::master_ref& y = scene.y;
    const std::uint16_t s = scene.slot;
    const std::string tag = live::tag_for_slot(s);
    const std::string k = "{" + tag + "}alone-k";
    const std::string k2 = "{" + tag + "}alone-k2";
    cluster.command(k, "DEL %s %s", k.c_str(), k2.c_str());
    BOOST_TEST_REQUIRE(cluster.command(k2, "SET %s before", k2.c_str())->type == REDIS_REPLY_STATUS);

    std::uint64_t y_tryagain_before = 0;
    {
        live::admin_connection ay(y.port);
        y_tryagain_before = live::errors_sent(ay, "TRYAGAIN");
    }
    const cluster_stats before = cluster.stats();
    pipeline p;
    p.add(k, "MSET %s 1 %s 1", k.c_str(), k2.c_str());  // older: ASK from X, then TRYAGAIN from Y until the move ends
    p.add(k, "SET %s 2", k.c_str());                     // newer: ASK from X, then held while the MSET is out
    std::vector<outcome> results;
    live::slot_back_home home(s, x, y, ports);
    {
        {
            live::admin_connection ay(y.port);
            live::admin_connection ax(x.port);
            ay.ok("CLUSTER SETSLOT %d IMPORTING %s", static_cast<int>(s), x.id.c_str());
            ax.ok("CLUSTER SETSLOT %d MIGRATING %s", static_cast<int>(s), y.id.c_str());
        }
        const std::string not_moved = live::migrate_key(x.port, y.port, k2);
        BOOST_TEST_REQUIRE(not_moved.empty(), not_moved);
        live::finish_move_after_tryagain mover(s, x, y, ports, y.port, y_tryagain_before + 1);
        call_options call;
        call.deadline = std::chrono::milliseconds(30000);
        results = cluster.execute(p, call);
        mover.join();
        BOOST_TEST_REQUIRE(!mover.failed(), "the test's own migration failed: " << mover.why());
        BOOST_TEST(mover.saw_threshold(), "Y never refused the MSET: the scenario did not happen");
    }
    const cluster_stats& after = cluster.stats();
    BOOST_TEST_REQUIRE(results.size() == 2u);
    for (std::size_t i = 0; i < results.size(); ++i) {
        BOOST_TEST_CONTEXT("entry " << i) {
            BOOST_TEST_REQUIRE(results[i].ok(), (results[i].failure() ? results[i].failure()->what() : ""));
            BOOST_TEST(std::string(results[i]->str, results[i]->len) == "OK");
        }
    }
    BOOST_TEST(after.ask - before.ask >= 2u);
    BOOST_TEST(after.tryagain - before.tryagain >= 1u);
    reply_ptr value = cluster.command(k, "GET %s", k.c_str());
    BOOST_TEST_REQUIRE(value->type == REDIS_REPLY_STRING);
    BOOST_TEST(std::string(value->str, value->len) == "2", "SET k 2 ran on Y before the older MSET k 1");
    std::cout << "pipeline slot order, same node: GET k = " << std::string(value->str, value->len) << "; TRYAGAIN "
              << after.tryagain - before.tryagain << ", ASK " << after.ask - before.ask << ", retries "
              << after.retries - before.retries << "\n";
    cluster.command(k, "DEL %s %s", k.c_str(), k2.c_str());
    const std::string not_back = home.restore();
    BOOST_TEST(not_back.empty(), "moving the slot back failed: " << not_back);
}

BOOST_AUTO_TEST_SUITE_END()
