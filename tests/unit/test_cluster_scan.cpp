// tests/unit/test_cluster_scan.cpp — the cluster scan's I/O-free parts on canned CLUSTER NODES text: the parser,
// and the rule that says which node a slot must be read from next (migrating, importing, moved, settled).
#include <addrmap/cluster_scan.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace addrmap;
using addrmap::detail::follow_slot;
using addrmap::detail::parse_cluster_nodes;

namespace {

// Node A (7400) owns 0-5460 and is migrating slot 100 to B; B (7401) owns 5461-10922 and imports 100 from A.
const std::string a_line = "aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 0-5460 [100->-bbbb]\n";
const std::string b_line = "bbbb 127.0.0.1:7401@17401 master - 0 0 2 connected 5461-10922\n";
const std::string c_line = "cccc ::1:7402@17402,node3.example master - 0 0 3 connected 10923-16383\n";
const std::string r_line = "dddd 127.0.0.1:7403@17403 slave aaaa 0 0 1 connected\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(test_cluster_scan)

BOOST_AUTO_TEST_CASE(parses_rows_slots_and_the_answering_node_s_migrations) {
    const auto view = parse_cluster_nodes(a_line + b_line + c_line + r_line);
    BOOST_TEST(view.self_id == "aaaa");
    BOOST_TEST_REQUIRE(view.rows.size() == 4u);
    BOOST_TEST(view.rows[2].address.host == "::1");  // bare IPv6: the port follows the last ':'
    BOOST_TEST(view.rows[2].address.port == 7402);
    BOOST_TEST(view.owner(100)->id == "aaaa");
    BOOST_TEST(view.owner(16383)->id == "cccc");
    BOOST_TEST_REQUIRE(view.migrating.size() == 1u);
    BOOST_TEST(view.migrating[0].first == 100);
    BOOST_TEST(view.migrating[0].second == "bbbb");
    BOOST_TEST(view.rows[3].slots.empty());
}

BOOST_AUTO_TEST_CASE(bad_text_is_a_protocol_error_quoting_the_line) {
    for (const std::string& text : {std::string("aaaa 127.0.0.1:7400@17400 myself,master - 0 0\n"),
                                   std::string("aaaa 127.0.0.1@17400 myself,master - 0 0 1 connected\n"),
                                   std::string("aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 0-99999\n"),
                                   std::string("aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 9-3\n"),
                                   std::string("aaaa 127.0.0.1:7400@17400 master - 0 0 1 connected 0-3\n")}) {
        try {
            parse_cluster_nodes(text);
            BOOST_FAIL("accepted: " << text);
        } catch (const error& e) {
            BOOST_TEST((e.kind() == error_kind::protocol));
            BOOST_TEST(std::string(e.what()).find("CLUSTER NODES") != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_settled_slot_is_complete_after_one_read) {
    const auto view = parse_cluster_nodes(a_line + b_line + c_line);
    BOOST_TEST(follow_slot(view, 5, {}).complete);
}

BOOST_AUTO_TEST_CASE(a_migrating_slot_is_read_from_the_target_after_the_source) {
    const auto source = parse_cluster_nodes(a_line + b_line + c_line);
    const auto f = follow_slot(source, 100, {});
    BOOST_TEST_REQUIRE(!f.complete);
    BOOST_TEST(f.next.port == 7401);
    // The target imports from A, which was read before it: the slot is complete.
    const auto target = parse_cluster_nodes("aaaa 127.0.0.1:7400@17400 master - 0 0 1 connected 0-5460\n"
                                            "bbbb 127.0.0.1:7401@17401 myself,master - 0 0 2 connected 5461-10922 "
                                            "[100-<-aaaa]\n");
    BOOST_TEST(follow_slot(target, 100, {"aaaa"}).complete);
    // Read first on the importing node: the source must be read, then the target again.
    const auto g = follow_slot(target, 100, {});
    BOOST_TEST_REQUIRE(!g.complete);
    BOOST_TEST(g.next.port == 7400);
}

BOOST_AUTO_TEST_CASE(a_slot_that_moved_away_is_read_from_its_new_owner) {
    const auto view = parse_cluster_nodes("aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 0-99 101-5460\n" +
                                          std::string("bbbb 127.0.0.1:7401@17401 master - 0 0 2 connected 100 5461-10922\n"));
    const auto f = follow_slot(view, 100, {});
    BOOST_TEST_REQUIRE(!f.complete);
    BOOST_TEST(f.next.port == 7401);
    const auto orphan = parse_cluster_nodes("aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 0-99\n");
    BOOST_CHECK_THROW(follow_slot(orphan, 100, {}), error);
}

BOOST_AUTO_TEST_SUITE_END()
