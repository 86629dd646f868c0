// tests/unit/test_cluster_scan.cpp — the cluster scan's I/O-free parts on canned replies: the CLUSTER NODES parser,
// the rule that says where a slot must be read next, and the scan's machine (detail/scan_fsm.hpp) step by step.
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_scan.hpp>
#include <addrmap/detail/scan_fsm.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
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
                                   // Long slot numbers once wrapped a uint32 into a valid slot (4294967296 + 5 -> 5).
                                   std::string("aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 4294967301\n"),
                                   std::string("aaaa 127.0.0.1:7400@17400 myself,master - 0 0 1 connected 0117440512-16383\n"),
                                   std::string("aaaa :0@0 myself,master - 0 0 1 connected\n"),  // port 0, not noaddr
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

BOOST_AUTO_TEST_CASE(a_noaddr_node_is_kept_for_its_slots_and_following_to_it_is_a_topology_error) {
    // A failing node the answering node has no address for: ":0@0" with the noaddr flag.
    const auto view = parse_cluster_nodes("aaaa 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-99\n"
                                          "bbbb :0@0 master,fail,noaddr - 0 0 2 disconnected 100-16383\n");
    BOOST_TEST_REQUIRE(view.rows.size() == 2u);
    BOOST_TEST(view.owner(200)->id == "bbbb");
    BOOST_TEST(follow_slot(view, 5, {}).complete);
    try {
        follow_slot(view, 200, {});
        BOOST_FAIL("followed to a node without an address");
    } catch (const error& e) {
        BOOST_TEST((e.kind() == error_kind::topology));
        BOOST_TEST(std::string(e.message()) == "slot 200: node 'bbbb' has no address (noaddr) in the CLUSTER NODES of node "
                                               "'aaaa', so its keys cannot be read now");
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

// ---- the scan's machine (detail/scan_fsm.hpp), driven with canned replies: no sockets, no clock ----------------

using addrmap::detail::scan_action;
using addrmap::detail::scan_fsm;
using addrmap_test::arr;
using addrmap_test::bulk;
using addrmap_test::parse_resp;

namespace {

using kind = scan_action::kind;

const node_address node_a{"10.0.0.1", 7000, {}};
const node_address node_b{"10.0.0.2", 7001, {}};
const node_address node_c{"10.0.0.3", 7002, {}};

/// A owns 0-1 and 4-8191, B owns 2-3 and 8192-16383: a step of 4 slots from 0 reads {0, 1} on A, then {2, 3} on B.
topology two_masters(bool cover_2_and_3 = true) {
    topology t;
    shard a;
    a.ranges = {{0, 1}, {4, 8191}};
    a.master = node_a;
    shard b;
    if (cover_2_and_3) b.ranges.push_back({2, 3});
    b.ranges.push_back({8192, 16383});
    b.master = node_b;
    t.shards = {a, b};
    return t;
}

/// A cluster_core with `t` installed, the map a scan groups its steps by.
struct mapped_core {
    cluster_core core;
    explicit mapped_core(const topology& t = two_masters()) : core(options(), &as_reported) { install(t); }
    void install(const topology& t) {
        core.refresh_started(std::chrono::steady_clock::now());
        core.install(t, core.seed(0), "CLUSTER SHARDS");
    }
    static cluster_options options() {
        cluster_options o;
        o.seeds = {"10.0.0.1:7000"};
        return o;
    }
    static endpoint as_reported(const node_address& a) { return endpoint(a.host, a.port, a.host); }
};

// CLUSTER NODES as each node answers it: the slots of two_masters(), plus what a test adds to one line.
std::string nodes_text(const std::string& self, const std::string& a_extra = "", const std::string& b_extra = "",
                       const std::string& a_slots = "0-1 4-8191", const std::string& b_slots = "2-3 8192-16383") {
    const auto flags = [&](const std::string& id) { return id == self ? "myself,master" : "master"; };
    return "aaaa 10.0.0.1:7000@17000 " + std::string(flags("aaaa")) + " - 0 0 1 connected " + a_slots + a_extra +
           "\n" + "bbbb 10.0.0.2:7001@17001 " + flags("bbbb") + " - 0 0 2 connected " + b_slots + b_extra + "\n" +
           "cccc 10.0.0.3:7002@17002 " + flags("cccc") + " - 0 0 3 connected\n";
}

std::string keys_reply(std::initializer_list<std::string> keys) {
    std::string out = "*" + std::to_string(keys.size()) + "\r\n";
    for (const std::string& k : keys) out += bulk(k);
    return out;
}

std::vector<std::string> getkeys(int slot, int count) {
    return {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(count)};
}
const std::vector<std::string> cluster_nodes = {"CLUSTER", "NODES"};

/// Checks that the machine asks for exactly `args` on `at`, then answers with `resp`.
void expect_send(scan_fsm& fsm, const cluster_core& core, const node_address& at, const std::vector<std::string>& args,
                 const std::string& resp) {
    const scan_action a = fsm.next(core);
    BOOST_TEST_REQUIRE((a.what == kind::send));
    BOOST_TEST(to_string(a.at) == to_string(at));
    BOOST_TEST(a.args == args, boost::test_tools::per_element());
    fsm.on_reply(*parse_resp(resp));
}

void expect(scan_fsm& fsm, const cluster_core& core, kind what) {
    const scan_action a = fsm.next(core);
    BOOST_TEST_REQUIRE((a.what == what));
}

cluster_scan_options small_steps(std::size_t keys_per_request = 10) {
    cluster_scan_options o;
    o.slots_per_step = 4;
    o.keys_per_request = keys_per_request;
    return o;
}

/// The step's keys, once the machine says the step is read.
std::vector<std::string> step_keys(scan_fsm& fsm, const cluster_core& core) {
    expect(fsm, core, kind::step_done);
    std::vector<std::string> keys;
    fsm.take_keys(keys);
    return keys;
}

/// The first step read whole from its start (a retry after the step was abandoned): slots 0-1 on A, then A asked,
/// slots 2-3 on B, then B asked; `key` is slot 0's one key, returned once.
void expect_first_step_read_whole(scan_fsm& fsm, const cluster_core& core, const std::string& key) {
    expect(fsm, core, kind::refresh_if_due);
    expect_send(fsm, core, node_a, getkeys(0, 10), keys_reply({key}));
    expect_send(fsm, core, node_a, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, core, node_a, cluster_nodes, bulk(nodes_text("aaaa")));
    expect_send(fsm, core, node_b, getkeys(2, 10), keys_reply({}));
    expect_send(fsm, core, node_b, getkeys(3, 10), keys_reply({}));
    expect_send(fsm, core, node_b, cluster_nodes, bulk(nodes_text("bbbb")));
    const std::vector<std::string> want = {key};
    BOOST_TEST(step_keys(fsm, core) == want, boost::test_tools::per_element());
}

template <class Call>
error thrown_by(Call&& call) {
    try {
        call();
    } catch (const error& e) {
        return e;
    }
    BOOST_FAIL("no addrmap::error was thrown");
    return error(error_kind::config, "unreachable");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_scan_fsm)

BOOST_AUTO_TEST_CASE(a_step_reads_each_owner_s_slots_then_asks_that_owner_once) {
    mapped_core m;
    scan_fsm fsm(small_steps());
    expect(fsm, m.core, kind::refresh_if_due);
    // next() says the same send again until it is answered.
    const scan_action first = fsm.next(m.core);
    BOOST_TEST(fsm.next(m.core).args == first.args, boost::test_tools::per_element());
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({"a0", "a0b"}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa")));
    expect_send(fsm, m.core, node_b, getkeys(2, 10), keys_reply({"b2"}));
    expect_send(fsm, m.core, node_b, getkeys(3, 10), keys_reply({"b3"}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(nodes_text("bbbb")));
    BOOST_TEST(fsm.cursor() == 0u);  // the cursor moves when the keys are taken
    const std::vector<std::string> want = {"a0", "a0b", "b2", "b3"};
    BOOST_TEST(step_keys(fsm, m.core) == want, boost::test_tools::per_element());
    BOOST_TEST(fsm.cursor() == 4u);
    BOOST_TEST(fsm.requests() == 6u);
    BOOST_TEST(fsm.slots_followed() == 0u);
    expect(fsm, m.core, kind::refresh_if_due);  // the next step begins
    expect_send(fsm, m.core, node_a, getkeys(4, 10), keys_reply({}));
}

BOOST_AUTO_TEST_CASE(a_full_reply_is_asked_again_with_twice_the_count) {
    mapped_core m;
    scan_fsm fsm(small_steps(2));
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 2), keys_reply({"k1", "k2"}));
    expect_send(fsm, m.core, node_a, getkeys(0, 4), keys_reply({"k1", "k2", "k3", "k4"}));
    expect_send(fsm, m.core, node_a, getkeys(0, 8), keys_reply({"k1", "k2", "k3", "k4", "k5"}));
    expect_send(fsm, m.core, node_a, getkeys(1, 2), keys_reply({"x"}));  // the next slot starts at the option again
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa")));
    expect_send(fsm, m.core, node_b, getkeys(2, 2), keys_reply({}));
    expect_send(fsm, m.core, node_b, getkeys(3, 2), keys_reply({}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(nodes_text("bbbb")));
    const std::vector<std::string> want = {"k1", "k2", "k3", "k4", "k5", "x"};  // full replies are not kept
    BOOST_TEST(step_keys(fsm, m.core) == want, boost::test_tools::per_element());
    BOOST_TEST(fsm.requests() == 8u);
}

BOOST_AUTO_TEST_CASE(a_migrating_slot_is_read_on_the_source_then_the_target_each_key_once) {
    mapped_core m;
    scan_fsm fsm(small_steps());
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({"m1", "m2"}));
    // A migrates slot 1 to B: B is read next (m2 moved in between: seen twice, kept once), then asked.
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa", " [1->-bbbb]")));
    expect_send(fsm, m.core, node_b, getkeys(1, 10), keys_reply({"m2", "m3"}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(nodes_text("bbbb", "", " [1-<-aaaa]")));
    // B imports from A, which was read before it: slot 1 is complete; B's own group comes next.
    expect_send(fsm, m.core, node_b, getkeys(2, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, getkeys(3, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(nodes_text("bbbb")));
    const std::vector<std::string> want = {"m1", "m2", "m3"};
    BOOST_TEST(step_keys(fsm, m.core) == want, boost::test_tools::per_element());
    BOOST_TEST(fsm.slots_followed() == 1u);
    BOOST_TEST(fsm.requests() == 8u);
}

BOOST_AUTO_TEST_CASE(a_slot_read_first_on_the_importing_node_is_read_on_the_source_then_there_again) {
    mapped_core m;
    scan_fsm fsm(small_steps());
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa")));
    // The map names B for slot 2, but B only imports it from A: A, then B again.
    expect_send(fsm, m.core, node_b, getkeys(2, 10), keys_reply({"new"}));
    expect_send(fsm, m.core, node_b, getkeys(3, 10), keys_reply({}));
    const std::string b_importing = nodes_text("bbbb", "", " [2-<-aaaa]");
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(b_importing));
    expect_send(fsm, m.core, node_a, getkeys(2, 10), keys_reply({"old1", "old2"}));
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa", " [2->-bbbb]")));
    expect_send(fsm, m.core, node_b, getkeys(2, 10), keys_reply({"new", "old2"}));  // old2 moved meanwhile
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(b_importing));
    const std::vector<std::string> want = {"new", "old1", "old2"};
    BOOST_TEST(step_keys(fsm, m.core) == want, boost::test_tools::per_element());
    BOOST_TEST(fsm.slots_followed() == 1u);  // one slot, followed over two hops
}

BOOST_AUTO_TEST_CASE(a_slot_that_moved_away_is_read_from_its_new_owner) {
    mapped_core m;
    scan_fsm fsm(small_steps());
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({"a0"}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));  // empty: its keys went with it
    // Slot 1 now belongs to B (the client's map still says A).
    const std::string a_slots = "0 4-8191", b_slots = "1-3 8192-16383";
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa", "", "", a_slots, b_slots)));
    expect_send(fsm, m.core, node_b, getkeys(1, 10), keys_reply({"moved1"}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(nodes_text("bbbb", "", "", a_slots, b_slots)));
    expect_send(fsm, m.core, node_b, getkeys(2, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, getkeys(3, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(nodes_text("bbbb", "", "", a_slots, b_slots)));
    const std::vector<std::string> want = {"a0", "moved1"};
    BOOST_TEST(step_keys(fsm, m.core) == want, boost::test_tools::per_element());
    BOOST_TEST(fsm.slots_followed() == 1u);
}

BOOST_AUTO_TEST_CASE(a_slot_still_moving_after_max_hops_is_a_topology_error_and_the_step_starts_over) {
    // Each view but A's names another node as slot 1's owner: A says B, B says C, C says B, ...
    const auto view_of = [](const std::string& self, const std::string& slot_1_owner) {
        const auto line = [&](const std::string& id, const std::string& address, std::string slots) {
            if (id == slot_1_owner) slots += " 1";
            const std::string flags = id == self ? " myself,master" : " master";
            return id + " " + address + flags + " - 0 0 1 connected " + slots + "\n";
        };
        return line("aaaa", "10.0.0.1:7000@17000", "0 4-8191") + line("bbbb", "10.0.0.2:7001@17001", "2-3 8192-16383") +
               line("cccc", "10.0.0.3:7002@17002", "");
    };
    mapped_core m;
    cluster_scan_options o = small_steps();
    o.max_hops = 2;
    scan_fsm fsm(o);
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(view_of("aaaa", "bbbb")));
    expect_send(fsm, m.core, node_b, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(view_of("bbbb", "cccc")));
    expect_send(fsm, m.core, node_c, getkeys(1, 10), keys_reply({}));
    const error e = thrown_by([&] { expect_send(fsm, m.core, node_c, cluster_nodes, bulk(view_of("cccc", "bbbb"))); });
    BOOST_TEST((e.kind() == error_kind::topology));
    BOOST_TEST(std::string(e.message()) == "cluster_scan: slot 1 was still moving after it was read from 2 nodes");
    BOOST_TEST(fsm.cursor() == 0u);
    BOOST_TEST(fsm.requests() == 7u);
    BOOST_TEST(fsm.slots_followed() == 1u);
    // A retry reads the whole step again; one hop (B settles it) is within max_hops.
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(view_of("aaaa", "bbbb")));
    expect_send(fsm, m.core, node_b, getkeys(1, 10), keys_reply({"b1"}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(view_of("bbbb", "bbbb")));
    expect_send(fsm, m.core, node_b, getkeys(2, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, getkeys(3, 10), keys_reply({}));
    expect_send(fsm, m.core, node_b, cluster_nodes, bulk(view_of("bbbb", "bbbb")));
    const std::vector<std::string> want = {"b1"};
    BOOST_TEST(step_keys(fsm, m.core) == want, boost::test_tools::per_element());
    BOOST_TEST(fsm.slots_followed() == 2u);
}

BOOST_AUTO_TEST_CASE(a_bad_reply_is_an_error_naming_the_node_and_the_step_starts_over) {
    struct bad_case {
        std::string getkeys_reply;  // empty: GETKEYSINSLOT 0 is fine, the bad reply is CLUSTER NODES's
        std::string nodes_reply;
        error_kind kind;
        std::string message;
    };
    const std::vector<bad_case> cases = {
        {":5\r\n", "", error_kind::protocol,
         "cluster_scan: CLUSTER GETKEYSINSLOT 0 on 10.0.0.1:7000 answered not an array"},
        // Elements that are not keys (a hostile node's full replies of integers would double the count for nothing).
        {"*2\r\n$1\r\nk\r\n:1\r\n", "", error_kind::protocol,
         "cluster_scan: CLUSTER GETKEYSINSLOT 0 on 10.0.0.1:7000 answered an element that is not a key (#2)"},
        {"-ERR no\x1b[31m\r\n", "", error_kind::server,
         "cluster_scan: CLUSTER GETKEYSINSLOT 0 on 10.0.0.1:7000 answered 'ERR no\\x1b[31m'"},
        {"", ":1\r\n", error_kind::protocol, "cluster_scan: CLUSTER NODES on 10.0.0.1:7000 answered not text"},
        {"", "-ERR nodes\r\n", error_kind::server, "cluster_scan: CLUSTER NODES on 10.0.0.1:7000 answered 'ERR nodes'"},
        {"", bulk("aaaa 10.0.0.1:7000@17000 master - 0 0 1 connected 0-1\n"), error_kind::protocol,
         "CLUSTER NODES: no line marked myself"},
        // A migration to a node the view does not list.
        {"", bulk(nodes_text("aaaa", " [1->-zzzz]")), error_kind::topology,
         "slot 1: node 'zzzz' named in a migration is not in the CLUSTER NODES of node 'aaaa'"},
    };
    for (const bad_case& c : cases) {
        BOOST_TEST_CONTEXT(c.message) {
            mapped_core m;
            scan_fsm fsm(small_steps());
            expect(fsm, m.core, kind::refresh_if_due);
            const error e = thrown_by([&] {
                if (!c.getkeys_reply.empty()) {
                    expect_send(fsm, m.core, node_a, getkeys(0, 10), c.getkeys_reply);
                    return;
                }
                expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({"lost"}));
                expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));
                expect_send(fsm, m.core, node_a, cluster_nodes, c.nodes_reply);
            });
            BOOST_TEST((e.kind() == c.kind));
            BOOST_TEST(std::string(e.message()) == c.message);
            BOOST_TEST(fsm.cursor() == 0u);
            // Abandoned: the retry starts the step over, and the keys read before the error are not kept twice.
            expect_first_step_read_whole(fsm, m.core, "lost");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_slot_with_no_owner_asks_for_a_refresh_then_fails_if_it_still_has_none) {
    mapped_core m(two_masters(false));  // slots 2-3 unserved
    scan_fsm fsm(small_steps());
    expect(fsm, m.core, kind::refresh_if_due);
    expect(fsm, m.core, kind::refresh);
    // The refresh changed nothing.
    const error e = thrown_by([&] { fsm.next(m.core); });
    BOOST_TEST((e.kind() == error_kind::topology));
    BOOST_TEST(std::string(e.message()) ==
               "cluster_scan: no node serves slot 2 (the cluster does not cover every slot)");
    BOOST_TEST(fsm.cursor() == 0u);
    BOOST_TEST(fsm.requests() == 0u);
    // Retried, and this time the refresh finds the slots served.
    expect(fsm, m.core, kind::refresh_if_due);
    expect(fsm, m.core, kind::refresh);
    m.install(two_masters());
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({}));
}

BOOST_AUTO_TEST_CASE(a_failed_request_abandons_the_step_and_keeps_the_cursor) {
    mapped_core m;
    scan_fsm fsm(small_steps());
    expect(fsm, m.core, kind::refresh_if_due);
    expect_send(fsm, m.core, node_a, getkeys(0, 10), keys_reply({"k0"}));
    expect_send(fsm, m.core, node_a, getkeys(1, 10), keys_reply({}));
    expect_send(fsm, m.core, node_a, cluster_nodes, bulk(nodes_text("aaaa")));
    expect(fsm, m.core, kind::send);  // GETKEYSINSLOT 2 on B: the request fails (timeout, connection lost)
    fsm.on_failed();
    BOOST_TEST(fsm.cursor() == 0u);
    BOOST_TEST(fsm.requests() == 4u);  // the failed one counts
    std::vector<std::string> none;
    BOOST_CHECK_THROW(fsm.take_keys(none), std::logic_error);  // nothing to take from an abandoned step
    // A failed topology read abandons the step too.
    expect(fsm, m.core, kind::refresh_if_due);
    fsm.on_failed();
    BOOST_TEST(fsm.requests() == 4u);
    // The retry: the same step from its first slot; k0 comes once.
    expect_first_step_read_whole(fsm, m.core, "k0");
    BOOST_TEST(fsm.cursor() == 4u);
}

BOOST_AUTO_TEST_CASE(a_whole_scan_ends_at_slot_16384_with_every_key_once) {
    mapped_core m;
    cluster_scan_options o;
    o.slots_per_step = 1000;  // the last step is shorter (16384 = 16 * 1000 + 384)
    o.keys_per_request = 3;
    scan_fsm fsm(o);
    // Keys in a few slots of both owners; slot 9000 holds more than keys_per_request.
    std::map<int, std::vector<std::string>> held = {{0, {"a"}}, {3, {"b", "c"}}, {5000, {"d"}}, {16383, {"e"}}};
    for (int i = 0; i < 10; ++i) held[9000].push_back("many" + std::to_string(i));
    std::vector<std::string> keys;
    int steps = 0;
    for (scan_action a = fsm.next(m.core); a.what != kind::done; a = fsm.next(m.core)) {
        if (a.what == kind::step_done) {
            fsm.take_keys(keys);
            ++steps;
            continue;
        }
        if (a.what != kind::send) continue;  // the map is current: nothing to refresh
        if (a.args[1] == "NODES") {
            fsm.on_reply(*parse_resp(bulk(nodes_text(a.at.port == 7000 ? "aaaa" : "bbbb"))));
            continue;
        }
        const std::vector<std::string>& in_slot = held[std::stoi(a.args[2])];
        const std::size_t count = std::stoul(a.args[3]);
        std::string reply = "*" + std::to_string(std::min(count, in_slot.size())) + "\r\n";
        for (std::size_t i = 0; i < std::min(count, in_slot.size()); ++i) reply += bulk(in_slot[i]);
        fsm.on_reply(*parse_resp(reply));
    }
    BOOST_TEST(steps == 17);
    BOOST_TEST(fsm.cursor() == slot_count);
    BOOST_TEST(keys.size() == 15u);
    BOOST_TEST(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
    expect(fsm, m.core, kind::done);  // and stays done
}

/// What cluster_scan needs of a cluster, without sockets: the core's map, command_on answered from `held` (slot ->
/// keys) and each node's view, refresh() counted. `fail_at` makes that request (1-based) throw error{timeout}.
struct fake_cluster {
    mapped_core mapped;
    std::map<int, std::vector<std::string>> held;
    std::uint64_t sent = 0, fail_at = 0, refreshes = 0;
    std::vector<call_options> calls;

    const cluster_core& core() const noexcept { return mapped.core; }
    void refresh() { ++refreshes; }
    reply_ptr command_on(const node_address& at, const std::vector<std::string_view>& args, const call_options& call) {
        calls.push_back(call);
        if (++sent == fail_at) throw error(error_kind::timeout, "no reply from " + to_string(at));
        if (args[1] == "NODES") return parse_resp(bulk(nodes_text(at.port == 7000 ? "aaaa" : "bbbb")));
        const std::vector<std::string>& in_slot = held[std::stoi(std::string(args[2]))];
        const std::size_t count = std::min<std::size_t>(std::stoul(std::string(args[3])), in_slot.size());
        std::string reply = "*" + std::to_string(count) + "\r\n";
        for (std::size_t i = 0; i < count; ++i) reply += bulk(in_slot[i]);
        return parse_resp(reply);
    }
};

BOOST_AUTO_TEST_CASE(the_blocking_scan_carries_out_the_machine_and_a_failed_step_is_read_again) {
    fake_cluster cluster;
    cluster.held = {{1, {"a1"}}, {2, {"b2"}}, {6, {"a6", "a6b"}}, {9000, {"b9000"}}};
    cluster.fail_at = 9;  // in the second step (slots 4-7, all on A): GETKEYSINSLOT 6
    cluster_scan_options o = small_steps();
    o.call.deadline = std::chrono::milliseconds(1500);
    addrmap::cluster_scan<fake_cluster> scan(cluster, o);
    std::vector<std::string> keys;
    BOOST_TEST_REQUIRE(scan.next(keys));
    BOOST_TEST(scan.cursor() == 4u);
    BOOST_CHECK_THROW(scan.next(keys), error);
    BOOST_TEST(scan.cursor() == 4u);  // the step is read again by the next call
    BOOST_TEST(keys.size() == 2u);
    std::uint64_t steps = 1;
    while (scan.next(keys)) ++steps;
    BOOST_TEST(steps == 4096u);
    BOOST_TEST(scan.cursor() == slot_count);
    const std::vector<std::string> want = {"a1", "b2", "a6", "a6b", "b9000"};
    BOOST_TEST(keys == want, boost::test_tools::per_element());
    BOOST_TEST(scan.requests() == cluster.sent);
    BOOST_TEST(cluster.refreshes == 0u);  // the map covers every slot and no refresh was due
    BOOST_TEST((cluster.calls.front().repeat_policy == repeat::allowed));
    BOOST_TEST((cluster.calls.front().deadline == std::chrono::milliseconds(1500)));
}

BOOST_AUTO_TEST_CASE(options_below_one_are_a_config_error) {
    for (int which = 0; which < 3; ++which) {
        cluster_scan_options o;
        if (which == 0) o.slots_per_step = 0;
        if (which == 1) o.keys_per_request = 0;
        if (which == 2) o.max_hops = 0;
        const error e = thrown_by([&] { scan_fsm fsm(o); });
        BOOST_TEST((e.kind() == error_kind::config));
    }
    cluster_scan_options o;
    o.call.repeat_policy = repeat::never;
    BOOST_TEST((scan_fsm(o).options().call.repeat_policy == repeat::allowed));  // the scan only reads
}

BOOST_AUTO_TEST_SUITE_END()
