// tests/async/async_slot_order.cpp — the per-slot order rule on the live TLS cluster: a slot moved to a new owner
// while its old owner is frozen (SIGSTOP) with a write out to it; a newer write of the key never runs first.
#include "admin_connection.hpp"
#include "async_support.hpp"
#include "reshard_support.hpp"
#include "stopped_node.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

using namespace addrmap;

namespace {

/// Moves `slot` from `from` to `to` as redis-cli --cluster reshard does; "" or the reason it failed.
std::string move_slot(std::uint16_t slot, const live::master_ref& from, const live::master_ref& to,
                      const std::vector<std::uint16_t>& ports) {
    std::atomic<bool> failed{false};
    std::string why;
    live::migrate_slots({slot}, from, to, ports, failed, why);
    return failed ? why : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(async_slot_order)

// What was seen: slot S moved from X to Y, X stopped; SET k 1 went to X; an ordinary MOVED elsewhere refreshed the
// map; SET k 2 went straight to Y and ran; X resumed, answered MOVED, and SET k 1 ran after it: GET k gave 1.
// Both orders: the refresh installed before SET k 2 is made (it must wait for SET k 1), and SET k 2 made before
// the refresh (it follows SET k 1 on X's connection).
BOOST_AUTO_TEST_CASE(a_newer_write_of_a_slot_waits_for_an_older_one_still_out_to_the_old_owner) {
    for (const bool refresh_first : {true, false}) {
        BOOST_TEST_CONTEXT((refresh_first ? "the refresh installs before SET k 2" : "SET k 2 is made before the refresh")) {
            live::libevent_fixture loop;
            cluster_options options = live::async_options({live::seed_by_name()});
            options.refresh_min_interval = std::chrono::milliseconds(1);  // the MOVED refreshes at once
            options.tls.command_timeout = std::chrono::milliseconds(10000);  // X's stall is not cut short
            ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
            const std::string connect_error = live::connect_and_wait(loop, cluster);
            BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
            const auto masters = live::masters(cluster);
            BOOST_TEST_REQUIRE(masters.size() == 3u);
            std::vector<std::uint16_t> ports;
            for (const auto& m : masters) ports.push_back(m.reported.port);
            const live::master_ref x = live::master_at(masters[0].reported.port);
            const live::master_ref y = live::master_at(masters[1].reported.port);
            const live::master_ref z = live::master_at(masters[2].reported.port);
            const auto s = static_cast<std::uint16_t>(masters[0].slots.front().first);   // X's: the ordered key
            const auto s3 = static_cast<std::uint16_t>(masters[2].slots.front().first);  // Z's: the ordinary MOVED
            const std::string k = "{" + live::tag_for_slot(s) + "}order-k";
            const std::string k3 = "{" + live::tag_for_slot(s3) + "}order-k3";
            // The cluster's map still says X owns S and Z owns S3 (no refresh_interval): move both to Y.
            BOOST_TEST_REQUIRE(move_slot(s, x, y, ports).empty());
            BOOST_TEST_REQUIRE(move_slot(s3, z, y, ports).empty());

            std::vector<std::string> order;  // callbacks, as they ran
            std::string set1, set2, get3;
            std::uint64_t refreshes_before = cluster.stats().refreshes;
            bool set2_before_resume = false;
            {
                live::stopped_node frozen(x.port);
                cluster.command(k, [&](outcome o) {
                    set1 = o ? std::string(o->str, o->len) : o.failure()->what();
                    order.push_back("SET k 1");
                }, "SET %s 1", k.c_str());
                const auto issue_set2 = [&] {
                    cluster.command(k, [&](outcome o) {
                        set2 = o ? std::string(o->str, o->len) : o.failure()->what();
                        order.push_back("SET k 2");
                    }, "SET %s 2", k.c_str());
                };
                if (!refresh_first) issue_set2();
                cluster.command(k3, [&](outcome o) { get3 = o ? "answered" : o.failure()->what(); }, "GET %s", k3.c_str());
                BOOST_TEST_REQUIRE(loop.run_until([&] { return !get3.empty() && cluster.stats().refreshes > refreshes_before; },
                                                  std::chrono::milliseconds(5000)));
                BOOST_TEST(get3 == "answered");
                BOOST_TEST(cluster.stats().moved >= 1u);
                if (refresh_first) issue_set2();
                // A correct client cannot answer SET k 2 while SET k 1 is out to frozen X: give a wrong one time to.
                loop.run_until([&] { return !set2.empty(); }, std::chrono::milliseconds(300));
                set2_before_resume = !set2.empty();
                BOOST_TEST_REQUIRE(frozen.resume());
            }
            BOOST_TEST(!set2_before_resume, "SET k 2 was answered while SET k 1 was still out to the old owner");
            BOOST_TEST_REQUIRE(loop.run_until([&] { return !set1.empty() && !set2.empty(); }));
            BOOST_TEST(set1 == "OK");
            BOOST_TEST(set2 == "OK");
            BOOST_TEST_REQUIRE(order.size() == 2u);
            BOOST_TEST(order[0] == "SET k 1");
            std::string value;
            cluster.command(k, [&](outcome o) { value = o && o->str ? std::string(o->str, o->len) : "?"; }, "GET %s", k.c_str());
            BOOST_TEST_REQUIRE(loop.run_until([&] { return !value.empty(); }));
            BOOST_TEST(value == "2");
            std::cout << "async slot order (" << (refresh_first ? "refresh first" : "SET k 2 first") << "): GET k = "
                      << value << "; MOVED " << cluster.stats().moved << ", refreshes " << cluster.stats().refreshes
                      << ", retries " << cluster.stats().retries << "\n";
            // Put the slots back for the tests that follow.
            BOOST_TEST(move_slot(s, y, x, ports).empty());
            BOOST_TEST(move_slot(s3, y, z, ports).empty());
        }
    }
}

// The server can part a slot's calls on one connection too. With slot S MIGRATING from X to Y and k2 already moved to
// Y, X answers both MSET k 1 k2 1 and SET k 2 with ASK. Sent together to Y with ASKING, Y would refuse the MSET
// (TRYAGAIN: k is missing there) and run the SET; the MSET, once the move ends, would write k = 1 over it. A call whose
// last answer was ASK or TRYAGAIN travels alone in its slot, so the SET waits. No race: the move ends only after Y has
// refused the MSET.
BOOST_AUTO_TEST_CASE(a_call_of_a_slot_being_moved_travels_alone_so_a_newer_one_never_runs_first_on_the_same_node) {
    live::libevent_fixture loop;
    cluster_options options = live::async_options({live::seed_by_name()});
    options.min_backoff = std::chrono::milliseconds(50);
    ip_to_hostname_async_cluster cluster(options, loop.binding(), ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::move_scene scene = live::move_scene_of(masters);
    const std::vector<std::uint16_t>& ports = scene.ports;
    const live::master_ref& x = scene.x;
    const live::master_ref& y = scene.y;
    const std::uint16_t s = scene.slot;
    const std::string k = "{" + live::tag_for_slot(s) + "}alone-k";
    const std::string k2 = "{" + live::tag_for_slot(s) + "}alone-k2";
    {
        live::admin_connection ax(x.port);
        ax.ok("DEL %s %s", k.c_str(), k2.c_str());
        ax.ok("SET %s before", k2.c_str());
    }
    live::slot_back_home home(s, x, y, ports);  // however the test ends, the slot is back on X, whole
    std::uint64_t y_tryagain_before = 0;
    {
        live::admin_connection ay(y.port);
        y_tryagain_before = live::errors_sent(ay, "TRYAGAIN");
        ay.ok("CLUSTER SETSLOT %d IMPORTING %s", static_cast<int>(s), x.id.c_str());
        live::admin_connection ax(x.port);
        ax.ok("CLUSTER SETSLOT %d MIGRATING %s", static_cast<int>(s), y.id.c_str());
    }
    const std::string not_moved = live::migrate_key(x.port, y.port, k2);
    BOOST_TEST_REQUIRE(not_moved.empty(), not_moved);
    const cluster_stats before = cluster.stats();
    std::string mset, set;
    std::vector<std::string> order;
    {
        live::finish_move_after_tryagain mover(s, x, y, ports, y.port, y_tryagain_before + 1);
        call_options call;
        call.deadline = std::chrono::milliseconds(30000);
        cluster.command(call, k, [&](outcome o) {
            mset = o ? std::string(o->str, o->len) : o.failure()->what();
            order.push_back("MSET");
        }, "MSET %s 1 %s 1", k.c_str(), k2.c_str());
        cluster.command(call, k, [&](outcome o) {
            set = o ? std::string(o->str, o->len) : o.failure()->what();
            order.push_back("SET");
        }, "SET %s 2", k.c_str());
        BOOST_TEST_REQUIRE(loop.run_until([&] { return !mset.empty() && !set.empty(); }, std::chrono::milliseconds(30000)));
        mover.join();
        BOOST_TEST_REQUIRE(!mover.failed(), "the test's own migration failed: " << mover.why());
        BOOST_TEST(mover.saw_threshold(), "Y never refused the MSET: the scenario did not happen");
    }
    BOOST_TEST(mset == "OK");
    BOOST_TEST(set == "OK");
    BOOST_TEST((order == std::vector<std::string>{"MSET", "SET"}));
    BOOST_TEST(cluster.stats().ask - before.ask >= 2u);
    BOOST_TEST(cluster.stats().tryagain - before.tryagain >= 1u);
    std::string value;
    cluster.command(k, [&](outcome o) { value = o && o->str ? std::string(o->str, o->len) : "?"; }, "GET %s", k.c_str());
    BOOST_TEST_REQUIRE(loop.run_until([&] { return !value.empty(); }));
    BOOST_TEST(value == "2", "SET k 2 ran on Y before the older MSET k 1");
    std::cout << "async slot order, same node: GET k = " << value << "; TRYAGAIN "
              << cluster.stats().tryagain - before.tryagain << ", ASK " << cluster.stats().ask - before.ask << "\n";
    {
        live::admin_connection ay(y.port);
        ay.ok("DEL %s %s", k.c_str(), k2.c_str());
    }
    const std::string not_back = home.restore();
    BOOST_TEST(not_back.empty(), "moving the slot back failed: " << not_back);
}

BOOST_AUTO_TEST_SUITE_END()
