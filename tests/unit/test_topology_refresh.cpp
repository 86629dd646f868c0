// tests/unit/test_topology_refresh.cpp — the refresh machine both drivers run (detail/topology_refresh.hpp), fed
// canned answers and failures without sockets: whom it asks, SHARDS then SLOTS, what ends it, what the core learns.
#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/handshake_errors.hpp>
#include <addrmap/detail/seed_number.hpp>
#include <addrmap/detail/topology_refresh.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

using namespace addrmap;
using addrmap::detail::topology_refresh;
using addrmap_test::parse_resp;
using addrmap_test::read_data_file;
using step = topology_refresh::step;
using clock_type = std::chrono::steady_clock;

namespace {

using addrmap_test::t0;

cluster_options two_seeds() {
    cluster_options o;
    o.seeds = {"127.0.0.1:29001", "127.0.0.1:29002"};
    return o;
}

cluster_options one_seed() {
    cluster_options o = two_seeds();
    o.seeds.resize(1);
    return o;
}

cluster_core make_core(cluster_options o = two_seeds()) {
    return cluster_core(o, [](const node_address& a) { return endpoint(a.host, a.port, "node.redis.test"); });
}

std::string name_of(const cluster_core& core, node_id n) { return to_string(core.node(n).reported); }

/// A fresh core (two seeds) whose first refresh started at t0 and asks its first node.
struct first_refresh {
    cluster_core core;
    bool lacks_shards = false;
    topology_refresh r;
    explicit first_refresh(cluster_options o = two_seeds()) : core(make_core(std::move(o))), r(core, lacks_shards, t0) {
        BOOST_TEST_REQUIRE((r.start(t0) == step::ask));
    }
    /// What a call waiting for the first topology is told at t0: wait (send, refresh) or fail at once.
    bool waiting_call_fails_at_once(error_kind* why = nullptr) {
        call_state c = core.start(100, detail::format_argv({"GET", "k"}), {}, t0);
        const bool fails = core.next(c, t0).what == core_decision::kind::fail;
        if (fails && why != nullptr) *why = c.failure->kind();
        return fails;
    }
};
/// The same with one seed.
struct first_refresh_one_seed : first_refresh {
    first_refresh_one_seed() : first_refresh(one_seed()) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_topology_refresh)

// How connect() ends when nothing was installed, for both drivers: one seed and no topology ever, the seed's own
// error as it is (its kind and text: a certificate error stays tls_name); several seeds, error{connect} listing each.
BOOST_AUTO_TEST_CASE(connect_failure_is_the_only_seed_s_own_error_or_lists_every_seed) {
    const error own(error_kind::tls_name, "seed #1 127.0.0.1:29001: certificate names do not match");
    const cluster_core single = make_core(one_seed());
    const error e1 = detail::connect_failure(single, own, "\n  seed #1 ...: tls_name");
    BOOST_TEST((e1.kind() == error_kind::tls_name));
    BOOST_TEST(std::string(e1.what()) == own.what());
    const cluster_core several = make_core(two_seeds());
    const error e2 = detail::connect_failure(several, own, "\n  seed #1 A\n  seed #2 B");
    BOOST_TEST((e2.kind() == error_kind::connect));
    BOOST_TEST(std::string(e2.what()).find("no seed could be used to discover the cluster:\n  seed #1 A\n  seed #2 B") !=
               std::string::npos, e2.what());
}

BOOST_FIXTURE_TEST_CASE(the_first_seed_s_shards_answer_is_installed, first_refresh) {
    BOOST_TEST(r.queried() == core.seed(0));
    BOOST_TEST(r.query().name() == std::string("CLUSTER SHARDS"));
    BOOST_TEST((r.query().command() == std::string_view(detail::cluster_shards_command)));
    BOOST_TEST((r.on_reply(*parse_resp(read_data_file("cluster-shards-redis7.resp")), t0) == step::installed));
    BOOST_TEST(r.ended());
    BOOST_TEST(core.has_topology());
    BOOST_TEST(core.stats().refreshes == 1u);
    BOOST_TEST(!core.refresh_due(t0 + std::chrono::seconds(1)));  // nothing wanted after an install
}

BOOST_AUTO_TEST_CASE(no_shards_subcommand_asks_slots_on_the_same_node_and_from_then_on_first) {
    cluster_core core = make_core();
    bool lacks_shards = false;
    {
        topology_refresh r(core, lacks_shards, t0);
        BOOST_TEST_REQUIRE((r.start(t0) == step::ask));
        const node_id first = r.queried();
        BOOST_TEST_REQUIRE((r.on_reply(*parse_resp("-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n"), t0) == step::ask));
        BOOST_TEST(r.queried() == first);
        BOOST_TEST(r.query().querying_slots());
        BOOST_TEST((r.on_reply(*parse_resp(read_data_file("cluster-slots-redis7.resp")), t0) == step::installed));
    }
    BOOST_TEST(lacks_shards);
    core.request_refresh();
    topology_refresh again(core, lacks_shards, t0 + std::chrono::seconds(1));
    BOOST_TEST_REQUIRE((again.start(t0) == step::ask));
    BOOST_TEST(again.query().name() == std::string("CLUSTER SLOTS"));
}

// What was seen: the doctor answered LOADING with CLUSTER SLOTS; the drivers moved on. One rule now: a node that
// refuses for now (LOADING, BUSY, NOAUTH, ...) is not asked SLOTS; the next node is asked.
BOOST_FIXTURE_TEST_CASE(a_loading_node_is_not_asked_slots_the_next_node_is, first_refresh) {
    const node_id first = r.queried();
    BOOST_TEST_REQUIRE((r.on_reply(*parse_resp("-LOADING Redis is loading the dataset in memory\r\n"), t0) == step::ask));
    BOOST_TEST(r.queried() != first);
    BOOST_TEST(!r.query().querying_slots());
    BOOST_TEST(!lacks_shards);
    BOOST_TEST(r.failures().find("seed #1 " + name_of(core, first) + ": ") != std::string::npos, r.failures());
    BOOST_TEST(r.failures().find("LOADING") != std::string::npos, r.failures());
    BOOST_TEST((r.on_reply(*parse_resp(read_data_file("cluster-shards-redis7.resp")), t0) == step::installed));
}

BOOST_FIXTURE_TEST_CASE(every_node_failing_ends_the_refresh_and_connect_errors_let_calls_wait, first_refresh) {
    BOOST_TEST_REQUIRE((r.on_failure(error(error_kind::connect, "TCP connect failed: Connection refused"), t0) == step::ask));
    BOOST_TEST((r.on_failure(error(error_kind::connect, "TCP connect failed: Connection refused"), t0) == step::failed));
    BOOST_TEST(r.ended());
    BOOST_TEST((r.first_error().kind() == error_kind::connect));
    BOOST_TEST(r.failures().find("seed #2") != std::string::npos, r.failures());
    // Querying again may work: a call waits (within its deadline) instead of failing now.
    BOOST_TEST(!waiting_call_fails_at_once());
}

BOOST_FIXTURE_TEST_CASE(a_certificate_error_at_discovery_ends_waiting_calls_at_once, first_refresh_one_seed) {
    BOOST_TEST((r.on_failure(error(error_kind::tls_name, "the certificate does not carry 'x'"), t0) == step::failed));
    error_kind why = error_kind::config;
    BOOST_TEST(waiting_call_fails_at_once(&why));
    BOOST_TEST((why == error_kind::tls_name));
}

// What was seen (async): a cluster still assigning its slots answered an empty view; commands failed at once with
// `topology` instead of querying again. A topology error passes like a connect error: calls wait and ask again.
BOOST_FIXTURE_TEST_CASE(an_empty_view_while_the_cluster_starts_lets_calls_wait_and_ask_again, first_refresh_one_seed) {
    BOOST_TEST((r.on_reply(*parse_resp("*0\r\n"), t0) == step::failed));
    BOOST_TEST((r.first_error().kind() == error_kind::topology), r.first_error().what());
    BOOST_TEST(!waiting_call_fails_at_once());
}

// A seed that is no cluster node (or refuses the query for good) is a refusal that would repeat: waiting calls end now.
BOOST_FIXTURE_TEST_CASE(a_node_that_refuses_for_good_ends_waiting_calls_at_once, first_refresh_one_seed) {
    BOOST_TEST_REQUIRE((r.on_reply(*parse_resp("-ERR This instance has cluster support disabled\r\n"), t0) == step::ask));
    BOOST_TEST((r.on_reply(*parse_resp("-ERR This instance has cluster support disabled\r\n"), t0) == step::failed));
    BOOST_TEST((r.first_error().kind() == error_kind::server), r.first_error().what());
    BOOST_TEST(waiting_call_fails_at_once());
}

BOOST_FIXTURE_TEST_CASE(the_deadline_ends_it_and_says_so, first_refresh) {
    BOOST_TEST_REQUIRE((r.on_failure(error(error_kind::timeout, "no answer"), t0) == step::ask));
    BOOST_TEST((r.give_up(t0) == step::failed));
    BOOST_TEST(r.ended());
    BOOST_TEST(r.failures().find("the deadline passed") != std::string::npos, r.failures());
    BOOST_TEST(core.refresh_due(t0 + std::chrono::seconds(1)));  // ended in the core: the next may start
    BOOST_TEST((r.on_failure(error(error_kind::timeout, "late"), t0) == step::failed));  // ended stays ended
}

BOOST_AUTO_TEST_CASE(an_unfinished_refresh_still_ends_in_the_core) {
    cluster_core core = make_core();
    bool lacks_shards = false;
    {
        topology_refresh r(core, lacks_shards, t0);
        BOOST_TEST_REQUIRE((r.start(t0) == step::ask));
        BOOST_TEST(!core.refresh_due(t0));  // one at a time
    }
    BOOST_TEST(core.refresh_due(clock_type::now() + std::chrono::seconds(1)));  // a new one may start
}

// How a dialed node is named in errors: a configured seed no topology lists is "seed #N as configured"; once an
// installed view lists it, the cluster reported it too. The same rule as the machine's failure list.
BOOST_FIXTURE_TEST_CASE(a_seed_is_named_as_configured_until_a_topology_lists_it, first_refresh) {
    const node_id first = core.seed(0), second = core.seed(1);
    BOOST_TEST(detail::configured_seed_number(core, first) == 1u);
    BOOST_TEST(detail::configured_seed_number(core, second) == 2u);
    const endpoint mapped("127.0.0.1", 29002, "node.redis.test");
    BOOST_TEST(detail::describe_route(core.node(second).reported, mapped, 2) ==
               "node 127.0.0.1:29002 (seed #2 as configured), mapped to dial 127.0.0.1:29002 with TLS name "
               "'node.redis.test'");
    BOOST_TEST(detail::describe_route(core.node(second).reported, mapped) ==
               "node 127.0.0.1:29002 (as reported by the cluster), mapped to dial 127.0.0.1:29002 with TLS name "
               "'node.redis.test'");
    // The second seed is the one master of the view the first seed gives (it has no SHARDS: SLOTS is asked).
    BOOST_TEST_REQUIRE((r.on_reply(*parse_resp("-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n"), t0) == step::ask));
    BOOST_TEST_REQUIRE((r.on_reply(*parse_resp("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:29002\r\n"), t0) ==
                        step::installed));
    BOOST_TEST(detail::configured_seed_number(core, first) == 1u);   // not in the view: still only configured
    BOOST_TEST(detail::configured_seed_number(core, second) == 0u);  // the cluster reports it now
}

BOOST_AUTO_TEST_SUITE_END()
