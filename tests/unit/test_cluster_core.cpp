// tests/unit/test_cluster_core.cpp — the I/O-free cluster core on canned events: routing, redirects, refreshes,
// deadlines and the delivery rules, including each fault the old adapter got wrong. No sockets, no clock.
#include <addrmap/cluster_core.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/subscriber_route.hpp>

#include "canned_cluster.hpp"
#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

using namespace addrmap;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;
using addrmap_test::parse_resp;

namespace {

using addrmap_test::t0;

using addrmap_test::at;

using addrmap_test::as_reported;
using addrmap_test::id_of;
using addrmap_test::options_with;
using addrmap_test::three_masters;

/// A core with the three-master topology installed from the seed.
struct ready_core {
    cluster_core core;
    explicit ready_core(cluster_options o = options_with(), cluster_core::mapper m = &as_reported)
        : core(o, std::move(m)) {
        core.refresh_started(t0);
        core.install(three_masters(), core.seed(0), "CLUSTER SHARDS");
    }
};

const std::string incr = detail::format_argv({"INCR", "counter"});
const std::string get = detail::format_argv({"GET", "counter"});
const std::string set = detail::format_argv({"SET", "counter", "1"});

int slot_of_counter() { return static_cast<int>(key_slot("counter")); }  // 6680: master #2

/// A GET of "counter" routed to master #2, answered "MOVED 6680 10.0.0.3:7002": returns (source, target).
std::pair<node_id, node_id> moved_counter_to_master_3(cluster_core& core) {
    call_state c = core.start(slot_of_counter(), get, {}, t0);
    const node_id source = core.next(c, t0).node;
    const auto moved = parse_resp("-MOVED 6680 10.0.0.3:7002\r\n");
    core.on_reply(c, source, *moved, t0);
    return {source, id_of(core, at("10.0.0.3", 7002))};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_cluster_core)

BOOST_AUTO_TEST_CASE(routes_by_slot_after_install) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision d = r.core.next(c, t0);
    BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
    BOOST_TEST(to_string(r.core.node(d.node).reported) == "10.0.0.2:7001");
    BOOST_TEST(!d.asking);
}

BOOST_AUTO_TEST_CASE(first_call_before_any_topology_asks_for_a_refresh) {
    cluster_core core(options_with(), &as_reported);
    call_state c = core.start(0, get, {}, t0);
    BOOST_TEST((core.next(c, t0).what == core_decision::kind::refresh));
    BOOST_TEST(core.refresh_candidates() == std::vector<node_id>{core.seed(0)});
}

// Seen: "a pipeline of 5 INCR whose connection drops after the server executed the 3rd ends with the
// counter at 6": a command that may have run is never sent again unless it may repeat.
BOOST_AUTO_TEST_CASE(incr_lost_after_write_is_unknown_outcome_and_not_resent) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), incr, {}, t0);
    const core_decision d = r.core.next(c, t0);
    r.core.on_send(c);
    BOOST_TEST((r.core.on_lost_after_write(c, d.node, "the connection was lost (reset)", t0) == core_verdict::fail));
    BOOST_TEST_REQUIRE(c.failure.has_value());
    BOOST_TEST((c.failure->kind() == error_kind::unknown_outcome));
    const std::string what = c.failure->what();
    BOOST_TEST(what.find("'INCR'") != std::string::npos, what);
    BOOST_TEST(what.find("10.0.0.2:7001") != std::string::npos, what);
    BOOST_TEST(what.find("may or may not have run") != std::string::npos, what);
    BOOST_TEST((r.core.next(c, t0).what == core_decision::kind::fail));  // and it stays failed
    BOOST_TEST(r.core.stats().unknown_outcomes == 1u);
}

BOOST_AUTO_TEST_CASE(get_lost_after_write_is_retried_and_the_deadline_says_it_may_have_run) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    core_decision d = r.core.next(c, t0);
    r.core.on_send(c);
    BOOST_TEST((r.core.on_lost_after_write(c, d.node, "lost", t0) == core_verdict::retry));
    // Backoff first, then a refresh (a node was lost), then the same owner again.
    d = r.core.next(c, t0);
    BOOST_TEST((d.what == core_decision::kind::wait));
    BOOST_TEST((d.until > t0 && d.until <= t0 + milliseconds(4)));
    d = r.core.next(c, t0 + milliseconds(200));
    BOOST_TEST((d.what == core_decision::kind::refresh));
    r.core.refresh_started(t0 + milliseconds(200));
    d = r.core.next(c, t0 + milliseconds(200));
    BOOST_TEST((d.what == core_decision::kind::send));
    d = r.core.next(c, t0 + milliseconds(1000));
    BOOST_TEST_REQUIRE((d.what == core_decision::kind::fail));
    BOOST_TEST((c.failure->kind() == error_kind::timeout));
    BOOST_TEST(std::string(c.failure->what()).find("it may have run") != std::string::npos, c.failure->what());
}

BOOST_AUTO_TEST_CASE(caller_override_decides_the_may_have_run_case) {
    ready_core r;
    call_options allow;
    allow.repeat_policy = repeat::allowed;
    call_state c = r.core.start(slot_of_counter(), incr, allow, t0);
    BOOST_TEST((r.core.on_lost_after_write(c, r.core.next(c, t0).node, "lost", t0) == core_verdict::retry));
    call_options never;
    never.repeat_policy = repeat::never;
    call_state g = r.core.start(slot_of_counter(), get, never, t0);
    BOOST_TEST((r.core.on_lost_after_write(g, r.core.next(g, t0).node, "lost", t0) == core_verdict::fail));
    BOOST_TEST((g.failure->kind() == error_kind::unknown_outcome));
}

BOOST_AUTO_TEST_CASE(nothing_written_is_always_retried_but_tls_and_policy_errors_are_not) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), incr, {}, t0);
    node_id n = r.core.next(c, t0).node;
    BOOST_TEST((r.core.on_not_sent(c, n, error(error_kind::connect, "refused"), t0) == core_verdict::retry));
    BOOST_TEST(r.core.node(n).down);
    BOOST_TEST((r.core.on_not_sent(c, n, error(error_kind::timeout, "connect timed out"), t0) == core_verdict::retry));
    BOOST_TEST((r.core.on_not_sent(c, n, error(error_kind::tls_name, "mismatch"), t0) == core_verdict::fail));
    BOOST_TEST((c.failure->kind() == error_kind::tls_name));
}

// Seen: "the retry budget is a count, not a time": retries go on until the deadline, whatever their number.
BOOST_AUTO_TEST_CASE(retries_end_at_the_deadline_not_after_a_count) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), incr, {}, t0);
    auto now = t0;
    int sends = 0;
    while (true) {
        const core_decision d = r.core.next(c, now);
        if (d.what == core_decision::kind::fail) break;
        if (d.what == core_decision::kind::wait) {
            BOOST_TEST_REQUIRE((d.until <= c.deadline));  // a wait never outlasts the call
            now = d.until;
            continue;
        }
        if (d.what == core_decision::kind::refresh) {
            r.core.refresh_started(now);
            continue;
        }
        ++sends;
        r.core.on_send(c);
        r.core.on_not_sent(c, d.node, error(error_kind::connect, "Connection refused"), now);
    }
    BOOST_TEST((c.failure->kind() == error_kind::timeout));
    BOOST_TEST((now >= c.deadline));
    BOOST_TEST(sends > 10);  // 1 s of backoff capped at 64 ms: far more than a handful of tries
    const std::string what = c.failure->what();
    BOOST_TEST(what.find("Connection refused") != std::string::npos, what);
    BOOST_TEST(what.find("did not run") != std::string::npos, what);
}

BOOST_AUTO_TEST_CASE(backoff_doubles_with_jitter_and_is_capped) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const node_id n = r.core.next(c, t0).node;
    milliseconds previous_cap(0);
    for (int step = 0; step < 8; ++step) {
        r.core.on_not_sent(c, n, error(error_kind::connect, "refused"), t0);
        const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(c.not_before - t0);
        const milliseconds cap = std::min(milliseconds(4) * (1 << step), milliseconds(64));
        BOOST_TEST(wait.count() >= std::chrono::microseconds(cap).count() / 2);
        BOOST_TEST(wait.count() <= std::chrono::microseconds(cap).count());
        BOOST_TEST((cap >= previous_cap));
        previous_cap = cap;
    }
}

// Seen: "with max_retries = 0 the slot map is never refreshed after a master dies". Now a lost node asks
// for a refresh, and even a call that gives up at once leaves it for the next call, which refreshes first.
BOOST_AUTO_TEST_CASE(a_lost_master_makes_the_next_call_refresh_first_even_after_a_zero_budget_call) {
    ready_core r;
    call_options instant;
    instant.deadline = milliseconds(1);
    call_state c = r.core.start(slot_of_counter(), incr, instant, t0 + milliseconds(150));
    const core_decision d = r.core.next(c, t0 + milliseconds(150));
    BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
    r.core.on_not_sent(c, d.node, error(error_kind::connect, "refused"), t0 + milliseconds(150));
    BOOST_TEST((r.core.next(c, t0 + milliseconds(160)).what == core_decision::kind::fail));
    call_state next = r.core.start(slot_of_counter(), incr, {}, t0 + milliseconds(160));
    BOOST_TEST((r.core.next(next, t0 + milliseconds(160)).what == core_decision::kind::refresh));
    // The failed node is asked last.
    const auto candidates = r.core.refresh_candidates();
    BOOST_TEST(candidates.front() != d.node);
}

// Seen: "after a MOVED the retry goes to owner_of(slot) rather than the target".
BOOST_AUTO_TEST_CASE(moved_sends_the_retry_to_the_target_and_updates_the_slot) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const node_id first = r.core.next(c, t0).node;
    const auto moved = parse_resp("-MOVED " + std::to_string(slot_of_counter()) + " 10.0.0.3:7002\r\n");
    BOOST_TEST((r.core.on_reply(c, first, *moved, t0) == core_verdict::retry));
    const core_decision d = r.core.next(c, t0);
    BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
    BOOST_TEST(to_string(r.core.node(d.node).reported) == "10.0.0.3:7002");
    BOOST_TEST(r.core.owner(slot_of_counter()) == d.node);
    BOOST_TEST(r.core.stats().moved == 1u);
    BOOST_TEST(!c.slot_moving);  // a slot moved for good: the new owner answers a slot's entries alike, they go together
}

BOOST_AUTO_TEST_CASE(ask_sends_asking_to_the_target_once) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const node_id owner = r.core.next(c, t0).node;
    const auto ask = parse_resp("-ASK " + std::to_string(slot_of_counter()) + " 10.0.0.9:7009\r\n");
    BOOST_TEST((r.core.on_reply(c, owner, *ask, t0) == core_verdict::retry));
    core_decision d = r.core.next(c, t0);
    BOOST_TEST(d.asking);
    BOOST_TEST(to_string(r.core.node(d.node).reported) == "10.0.0.9:7009");
    BOOST_TEST(r.core.owner(slot_of_counter()) == owner);  // ASK does not move the slot
    BOOST_TEST(!c.slot_moving);  // one key: it runs on the importing node, so it need not travel alone
    const auto tryagain = parse_resp("-TRYAGAIN Multiple keys request during rehashing of slot\r\n");
    BOOST_TEST((r.core.on_reply(c, d.node, *tryagain, t0) == core_verdict::retry));
    BOOST_TEST(c.slot_moving);
    d = r.core.next(c, t0 + milliseconds(100));
    BOOST_TEST((d.what == core_decision::kind::send));
    BOOST_TEST(!d.asking);
    BOOST_TEST(d.node == owner);
    const auto ok = parse_resp("+OK\r\n");
    BOOST_TEST((r.core.on_reply(c, d.node, *ok, t0) == core_verdict::done));
    BOOST_TEST(!c.slot_moving);
}

// The drivers hand on_reply a clock it reads only when a reply needs the time (on a VM a reading costs tens of
// nanoseconds, on every reply). A reply that ends its call must leave the same state either way: no redirect, no
// ASKING, and no "travels alone" (set here by an ASK to a command with two keys, so clearing it is seen).
BOOST_AUTO_TEST_CASE(the_clock_is_read_only_for_replies_that_need_the_time) {
    const std::string mset = detail::format_argv({"MSET", "{counter}a", "1", "{counter}b", "1"});
    const int slot = static_cast<int>(key_slot("counter"));
    struct sample {
        const char* text;
        bool ends_without_time;  // to a call routed by slot
    };
    const sample samples[] = {{"+OK\r\n", true},          {":1\r\n", true},
                              {"$-1\r\n", true},          {"$3\r\nabc\r\n", true},
                              {"*0\r\n", true},           {"-WRONGTYPE x\r\n", false},
                              {"-ERR unknown\r\n", false}, {"-TRYAGAIN x\r\n", false},
                              {"-MOVED 1 10.0.0.3:7002\r\n", false}, {"-CLUSTERDOWN x\r\n", false}};
    for (const sample& s : samples) {
        for (const bool fixed : {false, true}) {
            BOOST_TEST_CONTEXT(s.text << (fixed ? " (to a fixed node)" : "")) {
                ready_core r;
                const node_id owner = r.core.owner(slot);
                call_state c = fixed ? r.core.start_on(owner, mset, {}, t0) : r.core.start(slot, mset, {}, t0);
                node_id to = r.core.next(c, t0).node;
                if (!fixed) {
                    const auto ask = parse_resp("-ASK " + std::to_string(slot) + " 10.0.0.9:7009\r\n");
                    BOOST_TEST((r.core.on_reply(c, to, *ask, t0) == core_verdict::retry));
                    BOOST_TEST_REQUIRE(c.slot_moving);
                    const core_decision d = r.core.next(c, t0);
                    BOOST_TEST_REQUIRE(d.asking);
                    to = d.node;
                }
                int readings = 0;
                const auto reply = parse_resp(s.text);
                const core_verdict v = r.core.on_reply(c, to, *reply, [&] {
                    ++readings;
                    return t0 + milliseconds(1);
                });
                const bool without_time = s.ends_without_time || fixed;  // a fixed node's replies are all the caller's
                BOOST_TEST(readings == (without_time ? 0 : 1));
                if (!without_time) continue;  // what the other replies do: the tests above and below
                BOOST_TEST((v == core_verdict::done));
                BOOST_TEST(c.target == no_node);
                BOOST_TEST(!c.asking);
                BOOST_TEST(!c.slot_moving);
            }
        }
    }
}

// slot_moving (an entry travels alone in its slot, slot_order.hpp): set by an ASK to a command with several keys (the
// importing node can refuse it with TRYAGAIN while it runs a newer one) and by TRYAGAIN; kept through a lost
// connection (that says nothing about the move); cleared by any reply, MOVED included (the slot moved for good).
BOOST_AUTO_TEST_CASE(a_command_with_several_keys_that_meets_a_move_travels_alone_until_answered) {
    ready_core r;
    const std::string mset = detail::format_argv({"MSET", "{counter}a", "1", "{counter}b", "1"});
    const int slot = static_cast<int>(key_slot("counter"));
    call_state c = r.core.start(slot, mset, {}, t0);
    const node_id owner = r.core.next(c, t0).node;
    const auto ask = parse_resp("-ASK " + std::to_string(slot) + " 10.0.0.9:7009\r\n");
    BOOST_TEST((r.core.on_reply(c, owner, *ask, t0) == core_verdict::retry));
    BOOST_TEST(c.slot_moving);
    const core_decision d = r.core.next(c, t0);
    BOOST_TEST((r.core.on_lost_after_write(c, d.node, "connection reset", t0) == core_verdict::retry));  // MSET may repeat
    BOOST_TEST(c.slot_moving);
    const core_decision again = r.core.next(c, c.not_before);
    const auto moved = parse_resp("-MOVED " + std::to_string(slot) + " 10.0.0.9:7009\r\n");
    BOOST_TEST((r.core.on_reply(c, again.node, *moved, t0) == core_verdict::retry));
    BOOST_TEST(!c.slot_moving);
    // A script with two keys is followed once (unconfirmed) and travels alone too; with one key it need not.
    for (const int numkeys : {2, 1}) {
        const std::string eval = numkeys == 2
            ? detail::format_argv({"EVAL", "return 1", "2", "{counter}a", "{counter}b"})
            : detail::format_argv({"EVAL", "return 1", "1", "counter"});
        ready_core fresh;  // the slot still on its first owner (the MOVED above moved it to the ASK target)
        call_state e = fresh.core.start(slot, eval, {}, t0);
        BOOST_TEST((fresh.core.on_reply(e, fresh.core.next(e, t0).node, *ask, t0) == core_verdict::retry));
        BOOST_TEST(e.slot_moving == (numkeys == 2), numkeys);
    }
}

BOOST_AUTO_TEST_CASE(refusals_that_did_not_run_are_retried) {
    for (const char* text : {"-TRYAGAIN x\r\n", "-CLUSTERDOWN The cluster is down\r\n", "-LOADING Redis is loading\r\n",
                             "-MASTERDOWN Link with MASTER is down\r\n"}) {
        BOOST_TEST_CONTEXT(text) {
            ready_core r;
            call_state c = r.core.start(slot_of_counter(), incr, {}, t0);
            const auto reply = parse_resp(text);
            BOOST_TEST((r.core.on_reply(c, r.core.next(c, t0).node, *reply, t0) == core_verdict::retry));
            BOOST_TEST((c.not_before > t0));
        }
    }
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), incr, {}, t0);
    const auto wrongtype = parse_resp("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    BOOST_TEST((r.core.on_reply(c, r.core.next(c, t0).node, *wrongtype, t0) == core_verdict::done));
}

BOOST_AUTO_TEST_CASE(a_malformed_redirect_fails_the_call_naming_the_sender_and_keeps_the_map) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const node_id n = r.core.next(c, t0).node;
    const auto bad = parse_resp(std::string("-MOVED 6680 127.0.0.2\x1b[31m:7000\r\n"));
    BOOST_TEST((r.core.on_reply(c, n, *bad, t0) == core_verdict::fail));
    const std::string what = c.failure->what();
    BOOST_TEST((c.failure->kind() == error_kind::protocol));
    BOOST_TEST(what.find("reply from 10.0.0.2:7001") != std::string::npos, what);
    BOOST_TEST(what.find('\x1b') == std::string::npos);
    BOOST_TEST(r.core.owner(slot_of_counter()) == n);
}

BOOST_AUTO_TEST_CASE(redirect_ping_pong_ends_at_max_redirects) {
    ready_core r;
    call_options patient;
    patient.deadline = milliseconds(60000);
    call_state c = r.core.start(slot_of_counter(), get, patient, t0);
    const auto to3 = parse_resp("-MOVED 6680 10.0.0.3:7002\r\n");
    const auto to2 = parse_resp("-MOVED 6680 10.0.0.2:7001\r\n");
    core_verdict v = core_verdict::retry;
    int hops = 0;
    for (auto now = t0; v == core_verdict::retry && hops < 1000;) {
        const core_decision d = r.core.next(c, now);
        if (d.what == core_decision::kind::refresh) {
            r.core.refresh_started(now);  // a refresh that changed nothing; route again at once
            continue;
        }
        if (d.what == core_decision::kind::wait) {
            now = d.until;
            continue;
        }
        BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
        v = r.core.on_reply(c, d.node, hops++ % 2 ? *to2 : *to3, now);
    }
    BOOST_TEST_REQUIRE(c.failure.has_value());
    BOOST_TEST((c.failure->kind() == error_kind::redirect_limit), c.failure->what());
    BOOST_TEST(c.redirects == 17);
}

// Seen: "one replica the policy cannot map aborts every refresh although replicas are never dialed".
BOOST_AUTO_TEST_CASE(a_replica_the_policy_refuses_is_reported_not_fatal) {
    auto refuse_one = [](const node_address& a) -> endpoint {
        if (a.host == "10.0.1.2") throw error(error_kind::topology, "no mapping for " + to_string(a));
        return as_reported(a);
    };
    ready_core r(options_with(), refuse_one);
    const node_id replica = id_of(r.core, at("10.0.1.2", 7101));
    BOOST_TEST_REQUIRE(replica != no_node);
    BOOST_TEST(!r.core.node(replica).mapped);
    BOOST_TEST(r.core.node(replica).problem.find("no mapping") != std::string::npos);
    BOOST_TEST(r.core.has_topology());
}

BOOST_AUTO_TEST_CASE(a_master_the_policy_refuses_keeps_the_previous_map) {
    bool refuse = false;
    auto policy = [&refuse](const node_address& a) -> endpoint {
        if (refuse && a.host == "10.0.0.4") throw error(error_kind::topology, "not allowed");
        return as_reported(a);
    };
    ready_core r(options_with(), policy);
    const node_id before = r.core.owner(0);
    topology t = three_masters();
    t.shards[0].master = at("10.0.0.4", 7000);
    refuse = true;
    BOOST_CHECK_EXCEPTION(r.core.install(t, before, "CLUSTER SLOTS"), error, [](const error& e) {
        const std::string what = e.what();
        return e.kind() == error_kind::topology && what.find("reported by 10.0.0.1:7000 in CLUSTER SLOTS") != std::string::npos;
    });
    BOOST_TEST(r.core.owner(0) == before);
    BOOST_TEST(id_of(r.core, at("10.0.0.4", 7000)) == no_node);  // nothing half-installed
}

// Seen: "nodes that leave the topology keep their connection and record forever" and "refresh prefers any
// connected node, even one removed from the topology".
BOOST_AUTO_TEST_CASE(nodes_that_leave_the_topology_are_forgotten_and_never_asked_again) {
    ready_core r;
    const node_id old_master = id_of(r.core, at("10.0.0.3", 7002));
    r.core.on_connected(old_master);
    topology t = three_masters();
    t.shards[2].master = at("10.0.1.3", 7102);  // failover: the replica took over
    t.shards[2].replicas.clear();
    const auto forgotten = r.core.install(t, r.core.seed(0), "CLUSTER SHARDS");
    BOOST_TEST((std::find(forgotten.begin(), forgotten.end(), old_master) != forgotten.end()));
    BOOST_TEST(!r.core.exists(old_master));
    const auto candidates = r.core.refresh_candidates();
    BOOST_TEST((std::find(candidates.begin(), candidates.end(), old_master) == candidates.end()));
    BOOST_TEST(to_string(r.core.node(r.core.owner(16000)).reported) == "10.0.1.3:7102");
}

BOOST_AUTO_TEST_CASE(seeds_are_never_forgotten) {
    ready_core r(options_with({"seed.example:7000"}));
    const node_id seed = r.core.seed(0);
    BOOST_TEST(r.core.exists(seed));
    BOOST_TEST((r.core.node(seed).role == node_role::seed));
    BOOST_TEST(r.core.refresh_candidates().back() == seed);
}

// Seen: "refresh ... can overwrite a fresher MOVED with a staler view".
BOOST_AUTO_TEST_CASE(a_view_older_than_a_moved_is_refused_and_the_moved_target_is_asked_first) {
    ready_core r;
    const auto [source, target] = moved_counter_to_master_3(r.core);
    BOOST_TEST(r.core.refresh_candidates().front() == target);
    BOOST_CHECK_EXCEPTION(r.core.install(three_masters(), source, "CLUSTER SHARDS"), error, [](const error& e) {
        return e.kind() == error_kind::topology && std::string(e.what()).find("older than") != std::string::npos;
    });
    BOOST_TEST(r.core.owner(slot_of_counter()) == target);
    BOOST_TEST(r.core.stats().stale_views_refused == 1u);
    topology fresh = three_masters();
    fresh.shards[1].ranges = {{5461, 6679}, {6681, 10922}};
    fresh.shards[2].ranges = {{6680, 6680}, {10923, 16383}};
    BOOST_CHECK_NO_THROW(r.core.install(fresh, target, "CLUSTER SHARDS"));
    BOOST_TEST(r.core.owner(slot_of_counter()) == target);
}

// Seen: "dial_hostname mode maps two reported nodes that share a port to the same endpoint silently".
BOOST_AUTO_TEST_CASE(two_nodes_mapped_to_one_endpoint_are_a_config_error_naming_both) {
    auto one_name = [](const node_address& a) { return endpoint::owning("redis.example", a.port, "redis.example"); };
    cluster_core core(options_with(), one_name);
    topology t = three_masters();
    t.shards[1].master.port = 7000;  // 10.0.0.1:7000 and 10.0.0.2:7000 -> redis.example:7000 twice
    BOOST_CHECK_EXCEPTION(core.install(t, core.seed(0), "CLUSTER SHARDS"), error, [](const error& e) {
        const std::string what = e.what();
        return e.kind() == error_kind::config && what.find("10.0.0.1:7000") != std::string::npos &&
               what.find("10.0.0.2:7000") != std::string::npos && what.find("redis.example:7000") != std::string::npos;
    });
    BOOST_TEST(!core.has_topology());
}

BOOST_AUTO_TEST_CASE(an_empty_host_is_the_reporter_s_host) {
    cluster_core core(options_with({"10.9.9.9:7000"}), &as_reported);
    topology t = three_masters();
    t.shards[0].master = at("", 7000);
    core.install(t, core.seed(0), "CLUSTER SLOTS");
    BOOST_TEST(to_string(core.node(core.owner(0)).reported) == "10.9.9.9:7000");
}

BOOST_AUTO_TEST_CASE(a_question_mark_host_is_an_unknown_node_never_dialed) {
    // Redis: '?' is "an unknown node, not necessarily the same node as the one serving the current command".
    cluster_core core(options_with({"10.9.9.9:7000"}), &as_reported);
    topology t = three_masters();
    t.shards[1].replicas.push_back(at("?", 7005));
    core.install(t, core.seed(0), "CLUSTER SLOTS");
    const node_id unknown = id_of(core, at("?", 7005));
    BOOST_TEST_REQUIRE(unknown != no_node);
    BOOST_TEST(!core.node(unknown).mapped);
    BOOST_TEST(core.node(unknown).problem.find("cluster-announce-hostname") != std::string::npos);
    const std::vector<node_id> replicas = core.usable_replicas(core.owner(t.shards[1].ranges[0].first), t0);
    BOOST_TEST(replicas.size() == 1u);
    BOOST_TEST((std::find(replicas.begin(), replicas.end(), unknown) == replicas.end()));
    // Not a refresh candidate, and never mapped on demand, even by a policy that would map anything.
    const std::vector<node_id> asked = core.refresh_candidates();
    BOOST_TEST((std::find(asked.begin(), asked.end(), unknown) == asked.end()));
    BOOST_CHECK_THROW(core.ensure_mapped(unknown), error);
    BOOST_TEST(!core.node(unknown).mapped);
    BOOST_TEST(core.node(unknown).problem.find("cluster-announce-hostname") != std::string::npos);
    // A master with '?' cannot be routed to: the view is refused, naming the node, and the old map stays.
    const node_id before = core.owner(0);
    topology bad = three_masters();
    bad.shards[0].master = at("?", 7000);
    BOOST_CHECK_EXCEPTION(core.install(bad, core.seed(0), "CLUSTER SLOTS"), error, [](const error& e) {
        const std::string what = e.what();
        return e.kind() == error_kind::topology && what.find("?:7000") != std::string::npos &&
               what.find("cluster-announce-hostname") != std::string::npos;
    });
    BOOST_TEST(core.owner(0) == before);
    // A MOVED to '?' fails the call (it did not run there) instead of dialing the reporter's host.
    call_state c = core.start(0, get, {}, t0);
    const core_decision d = core.next(c, t0);
    const auto moved = parse_resp("-MOVED 0 ?:7009\r\n");
    BOOST_TEST((core.on_reply(c, d.node, *moved, t0) == core_verdict::fail));
    BOOST_TEST(std::string(c.failure->message()).find("cluster-announce-hostname") != std::string::npos);
}

namespace {

/// The ids of the nodes reported as `a` (several: nodes the table keeps apart that print alike).
std::vector<node_id> ids_of(const cluster_core& core, const node_address& a) {
    std::vector<node_id> ids;
    for (node_id id = 0; id < core.id_limit(); ++id)
        if (core.exists(id) && core.node(id).reported == a) ids.push_back(id);
    return ids;
}

/// One CLUSTER SHARDS node (RESP2 key/value array).
std::string shards_node(const std::string& id, const std::string& endpoint, long long port, const char* role) {
    using namespace addrmap_test;
    return arr({bulk("id"), bulk(id), bulk("endpoint"), bulk(endpoint), bulk("tls-port"), num(port), bulk("role"),
                bulk(role), bulk("health"), bulk("online")});
}

const std::string unknown_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string unknown_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

}  // namespace

// Two replicas without cluster-announce-hostname, both reported as "?:7001" (same port on two hosts, as containers or
// one port per host give): two nodes with two node IDs, not one node "?:7001". Canned replies of both queries.
BOOST_AUTO_TEST_CASE(two_question_mark_nodes_at_one_port_stay_two_nodes) {
    using namespace addrmap_test;
    const auto shards = parse_resp(arr({arr({bulk("slots"), arr({num(0), num(16383)}), bulk("nodes"),
                                             arr({shards_node("mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", "10.9.9.9",
                                                              7000, "master"),
                                                  shards_node(unknown_a, "?", 7001, "replica"),
                                                  shards_node(unknown_b, "?", 7001, "replica")})})}));
    const auto slots = parse_resp(arr({arr({num(0), num(16383),
                                            arr({bulk("10.9.9.9"), num(7000), bulk("mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm")}),
                                            arr({bulk("?"), num(7001), bulk(unknown_a)}),
                                            arr({bulk("?"), num(7001), bulk(unknown_b)})})}));
    const std::pair<const char*, topology> views[] = {{"CLUSTER SHARDS", parse_cluster_shards(shards.get())},
                                                      {"CLUSTER SLOTS", parse_cluster_slots(slots.get())}};
    for (const auto& [command, view] : views) {
        BOOST_TEST_CONTEXT(command) {
            BOOST_TEST_REQUIRE(view.shards.size() == 1u);
            BOOST_TEST((view.shards[0].replica_ids == std::vector<std::string>{unknown_a, unknown_b}));
            cluster_core core(options_with({"10.9.9.9:7000"}), &as_reported);
            core.install(view, core.seed(0), command);
            const std::vector<node_id> unknown = ids_of(core, at("?", 7001));
            BOOST_TEST_REQUIRE(unknown.size() == 2u);
            BOOST_TEST(core.node(unknown[0]).reported_id == unknown_a);
            BOOST_TEST(core.node(unknown[1]).reported_id == unknown_b);
            const node_id master = core.owner(0);
            for (const node_id n : unknown) {
                BOOST_TEST((core.node(n).role == node_role::replica));
                BOOST_TEST(core.node(n).master == master);
                BOOST_TEST(!core.node(n).mapped);
                BOOST_TEST(core.node(n).problem.find("cluster-announce-hostname") != std::string::npos);
            }
            // The same view again: the same two nodes, found by their node IDs (no new ids, none forgotten).
            const std::vector<node_id> forgotten = core.install(view, core.seed(0), command);
            BOOST_TEST(forgotten.empty());
            BOOST_TEST((ids_of(core, at("?", 7001)) == unknown));
            // One of them gets a hostname: the other stays, and the one that left the view is forgotten.
            topology next = view;
            next.shards[0].replicas[1] = at("replica-b.example", 7001);
            const std::vector<node_id> gone = core.install(next, core.seed(0), command);
            BOOST_TEST((gone == std::vector<node_id>{unknown[1]}));
            BOOST_TEST((ids_of(core, at("?", 7001)) == std::vector<node_id>{unknown[0]}));
        }
    }
    // Without node IDs (a hand-built view, or a server that sends none) nothing tells them apart: one node.
    topology anonymous = three_masters();
    anonymous.shards[0].replicas = {at("?", 7001), at("?", 7001)};
    cluster_core core(options_with({"10.9.9.9:7000"}), &as_reported);
    core.install(anonymous, core.seed(0), "CLUSTER SLOTS");
    BOOST_TEST(ids_of(core, at("?", 7001)).size() == 1u);
}

BOOST_AUTO_TEST_CASE(command_on_reports_unknown_outcome_and_marks_the_node_lost) {
    ready_core r;
    const node_id n = id_of(r.core, at("10.0.0.1", 7000));
    r.core.on_connected(n);
    call_state c = r.core.start_on(n, incr, {}, t0);
    const core_decision d = r.core.next(c, t0);
    BOOST_TEST(d.node == n);
    BOOST_TEST((r.core.on_lost_after_write(c, n, "lost", t0) == core_verdict::fail));
    BOOST_TEST((c.failure->kind() == error_kind::unknown_outcome));
    BOOST_TEST(!r.core.node(n).connected);
    BOOST_TEST(r.core.stats().connection_losses == 1u);
    // A chosen node's replies come back as they are, redirects included.
    call_state g = r.core.start_on(n, get, {}, t0);
    const auto moved = parse_resp("-MOVED 6680 10.0.0.2:7001\r\n");
    BOOST_TEST((r.core.on_reply(g, n, *moved, t0) == core_verdict::done));
}

BOOST_AUTO_TEST_CASE(keyless_calls_prefer_a_master_not_known_down) {
    ready_core r;
    const node_id first = id_of(r.core, at("10.0.0.1", 7000));
    r.core.on_unreachable(first, error(error_kind::connect, "refused"), t0);
    BOOST_TEST(r.core.owner(-1) != first);
    BOOST_TEST((r.core.node(r.core.owner(-1)).role == node_role::master));
}

// Review: a MOVED whose target then died blocked every later view ("older than a MOVED") for good.
BOOST_AUTO_TEST_CASE(a_moved_target_that_cannot_be_reached_no_longer_blocks_views) {
    ready_core r;
    const auto [source, target] = moved_counter_to_master_3(r.core);
    BOOST_CHECK_THROW(r.core.install(three_masters(), source, "CLUSTER SHARDS"), error);
    r.core.on_unreachable(target, error(error_kind::connect, "refused"), t0);
    BOOST_CHECK_NO_THROW(r.core.install(three_masters(), source, "CLUSTER SHARDS"));
    BOOST_TEST(r.core.owner(slot_of_counter()) == source);
}

BOOST_AUTO_TEST_CASE(the_moved_target_s_own_view_is_accepted) {
    ready_core r;
    const auto [source, target] = moved_counter_to_master_3(r.core);
    // The target gave the slot back meanwhile: its word is newer than its own MOVED.
    BOOST_CHECK_NO_THROW(r.core.install(three_masters(), target, "CLUSTER SHARDS"));
    BOOST_TEST(r.core.owner(slot_of_counter()) == source);
}

// Review: an async driver may see refresh answers out of order; an older one must not undo a newer one.
BOOST_AUTO_TEST_CASE(an_answer_to_an_older_refresh_never_replaces_a_newer_one) {
    ready_core r;
    const std::uint64_t older = r.core.refresh_started(t0 + milliseconds(200));
    r.core.refresh_finished(t0 + milliseconds(200));
    const std::uint64_t newer = r.core.refresh_started(t0 + milliseconds(400));
    topology fresh = three_masters();
    fresh.shards[1].ranges = {{5461, 6679}, {6681, 10922}};
    fresh.shards[2].ranges = {{6680, 6680}, {10923, 16383}};
    const node_id n3 = id_of(r.core, at("10.0.0.3", 7002));
    BOOST_CHECK_NO_THROW(r.core.install(fresh, n3, "CLUSTER SHARDS", newer));
    BOOST_CHECK_EXCEPTION(r.core.install(three_masters(), r.core.seed(0), "CLUSTER SHARDS", older), error,
                          [](const error& e) { return e.kind() == error_kind::topology; });
    BOOST_TEST(r.core.owner(slot_of_counter()) == n3);
}

BOOST_AUTO_TEST_CASE(one_refresh_at_a_time) {
    ready_core r;
    r.core.request_refresh();
    BOOST_TEST(r.core.refresh_due(t0 + milliseconds(500)));
    r.core.refresh_started(t0 + milliseconds(500));
    BOOST_TEST(!r.core.refresh_due(t0 + milliseconds(5000)));  // still in flight
    r.core.refresh_finished(t0 + milliseconds(5000));
    BOOST_TEST(!r.core.refresh_due(t0 + milliseconds(5050)));  // the rate limit counts from the end
    BOOST_TEST(r.core.refresh_due(t0 + milliseconds(5100)));
}

BOOST_AUTO_TEST_CASE(a_huge_deadline_means_forever_not_already_past) {
    ready_core r;
    call_options forever;
    forever.deadline = milliseconds::max();
    call_state c = r.core.start(slot_of_counter(), get, forever, t0);
    BOOST_TEST((r.core.next(c, t0).what == core_decision::kind::send));
    BOOST_TEST((c.deadline > t0 + std::chrono::hours(24 * 365)));
    cluster_options o = options_with();
    o.max_backoff = milliseconds::max();
    ready_core big_backoff(o);
    call_state b = big_backoff.core.start(slot_of_counter(), get, {}, t0);
    for (int i = 0; i < 40; ++i) big_backoff.core.on_not_sent(b, big_backoff.core.next(b, b.not_before).node,
                                                              error(error_kind::connect, "refused"), b.not_before);
    BOOST_TEST((b.not_before <= b.deadline));
    BOOST_TEST((b.not_before > t0));
}

BOOST_AUTO_TEST_CASE(a_forgotten_node_is_a_topology_error_not_a_crash) {
    ready_core r;
    const node_id old_master = id_of(r.core, at("10.0.0.3", 7002));
    topology t = three_masters();
    t.shards[2].master = at("10.0.1.3", 7102);
    t.shards[2].replicas.clear();
    r.core.install(t, r.core.seed(0), "CLUSTER SHARDS");
    BOOST_CHECK_EXCEPTION(r.core.node(old_master), error, [](const error& e) { return e.kind() == error_kind::topology; });
    BOOST_CHECK_EXCEPTION(r.core.ensure_mapped(old_master), error,
                          [](const error& e) { return e.kind() == error_kind::topology; });
}

BOOST_AUTO_TEST_CASE(a_reported_host_equal_to_a_seed_s_counts_as_configured) {
    auto only_configured_names = [](const node_address& a) -> endpoint {
        if (classify_host(a.host) == host_kind::name && !a.is_configured())
            throw error(error_kind::topology, "name not allowed");
        return as_reported(a);
    };
    cluster_core core(options_with({"seed.example:7000"}), only_configured_names);
    topology t = three_masters();
    t.shards[0].master = at("SEED.example", 8500);  // the seed's name, another port, another case
    BOOST_CHECK_NO_THROW(core.install(t, core.seed(0), "CLUSTER SHARDS"));
    t.shards[0].master = at("other.example", 8500);
    BOOST_CHECK_THROW(core.install(t, core.seed(0), "CLUSTER SHARDS"), error);
    BOOST_TEST(configured_if_seed(at("seed.EXAMPLE", 1), {parse_address("seed.example:7000")}).is_configured());
    BOOST_TEST(!configured_if_seed(at("seed.example.evil", 1), {parse_address("seed.example:7000")}).is_configured());
}

BOOST_AUTO_TEST_CASE(bad_options_fail_at_construction) {
    cluster_options o = options_with();
    o.deadline = milliseconds(0);
    BOOST_CHECK_THROW((cluster_core{o, &as_reported}), error);
    o = options_with({});
    BOOST_CHECK_THROW((cluster_core{o, &as_reported}), error);
    o = options_with();
    o.min_backoff = milliseconds(0);  // would redial a refusing node in a hot loop
    BOOST_CHECK_THROW((cluster_core{o, &as_reported}), error);
    o = options_with();
    o.refresh_min_interval = milliseconds(0);
    BOOST_CHECK_THROW((cluster_core{o, &as_reported}), error);
    o = options_with({"10.0.0.1:70000"});
    BOOST_CHECK_EXCEPTION((cluster_core{o, &as_reported}), error, [](const error& e) {
        return e.kind() == error_kind::config && std::string(e.what()).find("seed #1") != std::string::npos;
    });
}

BOOST_AUTO_TEST_CASE(refresh_interval_makes_a_call_refresh_first_once_the_last_refresh_is_older) {
    cluster_options o = options_with();
    o.refresh_interval = milliseconds(1000);
    ready_core r(o);
    r.core.refresh_finished(t0);
    BOOST_TEST(!r.core.refresh_due(t0 + milliseconds(999)));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0 + milliseconds(1000));
    BOOST_TEST((r.core.next(c, t0 + milliseconds(1000)).what == core_decision::kind::refresh));
    // The refresh resets the clock: the next call goes straight to the owner.
    r.core.refresh_started(t0 + milliseconds(1000));
    r.core.install(three_masters(), r.core.seed(0), "CLUSTER SHARDS");
    r.core.refresh_finished(t0 + milliseconds(1010));
    call_state d = r.core.start(slot_of_counter(), get, {}, t0 + milliseconds(1500));
    BOOST_TEST((r.core.next(d, t0 + milliseconds(1500)).what == core_decision::kind::send));
    BOOST_TEST(r.core.refresh_due(t0 + milliseconds(2010)));
    // A failed refresh counts too (refresh_finished without install): no refresh on every call.
    r.core.refresh_started(t0 + milliseconds(2010));
    r.core.refresh_finished(t0 + milliseconds(2020));
    BOOST_TEST(!r.core.refresh_due(t0 + milliseconds(2500)));
}

BOOST_AUTO_TEST_CASE(no_refresh_interval_by_default_and_never_below_the_rate_limit) {
    ready_core idle;  // refresh_interval 0
    idle.core.refresh_finished(t0);
    BOOST_TEST(!idle.core.refresh_due(t0 + std::chrono::hours(24)));
    cluster_options o = options_with();
    o.refresh_interval = milliseconds(10);  // below refresh_min_interval (100 ms): that one still holds
    ready_core fast(o);
    fast.core.refresh_finished(t0);
    BOOST_TEST(!fast.core.refresh_due(t0 + milliseconds(50)));
    BOOST_TEST(fast.core.refresh_due(t0 + milliseconds(100)));
}

BOOST_AUTO_TEST_CASE(a_negative_refresh_interval_or_a_non_positive_reply_timeout_is_a_config_error) {
    cluster_options o = options_with();
    o.refresh_interval = milliseconds(-1);
    BOOST_CHECK_EXCEPTION((cluster_core{o, &as_reported}), error, [](const error& e) {
        return e.kind() == error_kind::config && std::string(e.what()).find("refresh_interval") != std::string::npos;
    });
    ready_core r;
    call_options call;
    call.reply_timeout = milliseconds(0);
    BOOST_CHECK_EXCEPTION(r.core.start(slot_of_counter(), get, call, t0), error, [](const error& e) {
        return e.kind() == error_kind::config && std::string(e.what()).find("reply_timeout") != std::string::npos;
    });
    call.reply_timeout = milliseconds(4000);
    BOOST_TEST(r.core.start(slot_of_counter(), get, call, t0).reply_timeout.value().count() == 4000);
}

// ---- read_from: which node a keyed read goes to --------------------------------------------------------

namespace {

cluster_options reading_from(read_preference preference) {
    cluster_options o = options_with();
    o.read_from = preference;
    return o;
}

std::string sent_to(cluster_core& core, const std::string& command, clock_type::time_point now = t0) {
    call_state c = core.start(slot_of_counter(), command, {}, now);
    const core_decision d = core.next(c, now);
    if (d.what != core_decision::kind::send) return "(no send)";
    core.on_send(c);  // the driver writes it: the counters count this
    return to_string(core.node(d.node).reported);
}

}  // namespace

// A subscriber's shard channels follow the same preference, but keep to one node: the first usable replica, so a
// subscription is not moved between replicas from one map to the next.
BOOST_AUTO_TEST_CASE(shard_subscriptions_go_to_the_master_or_to_one_replica_under_read_from) {
    const auto none_aside = [](node_id) { return false; };
    const int slot = slot_of_counter();  // master 10.0.0.2:7001, replica 10.0.1.2:7101
    const auto node_for = [&](cluster_core& core, read_preference p, auto aside) {
        const node_id n = detail::shard_subscriber_node(core, slot, p, t0, aside);
        return n == no_node ? std::string("(none)") : to_string(core.node(n).reported);
    };
    ready_core r;
    BOOST_TEST(node_for(r.core, read_preference::master, none_aside) == "10.0.0.2:7001");
    for (int i = 0; i < 3; ++i) BOOST_TEST(node_for(r.core, read_preference::replica, none_aside) == "10.0.1.2:7101");
    const node_id replica = id_of(r.core, at("10.0.1.2", 7101));
    const auto replica_aside = [replica](node_id n) { return n == replica; };
    BOOST_TEST(node_for(r.core, read_preference::replica, replica_aside) == "(none)");  // waits for one
    BOOST_TEST(node_for(r.core, read_preference::replica_preferred, replica_aside) == "10.0.0.2:7001");
    const auto all_aside = [](node_id) { return true; };
    BOOST_TEST(node_for(r.core, read_preference::replica_preferred, all_aside) == "(none)");
}

// Classic channels and patterns stay on their node while the map names it and it is not set aside; then they go to the
// map's first master, or to another master when that one is set aside too (both subscribers take this rule).
BOOST_AUTO_TEST_CASE(classic_subscriptions_stay_on_their_node_and_move_to_a_master_not_set_aside) {
    ready_core r;
    const auto name = [&](node_id n) { return n == no_node ? std::string("(none)") : to_string(r.core.node(n).reported); };
    const auto none_aside = [](node_id) { return false; };
    const node_id first = r.core.owner(-1);
    BOOST_TEST_REQUIRE(first != no_node);
    BOOST_TEST(detail::classic_subscriber_node(r.core, no_node, none_aside) == first);
    const node_id replica = id_of(r.core, at("10.0.1.3", 7102));
    BOOST_TEST(name(detail::classic_subscriber_node(r.core, replica, none_aside)) == "10.0.1.3:7102");  // it stays
    const auto first_aside = [first](node_id n) { return n == first; };
    const node_id other = detail::classic_subscriber_node(r.core, first, first_aside);
    BOOST_TEST_REQUIRE(other != no_node);
    BOOST_TEST(other != first);
    BOOST_TEST((r.core.node(other).role == node_role::master));
    BOOST_TEST(name(detail::classic_subscriber_node(r.core, first, [](node_id) { return true; })) == "(none)");
}

BOOST_AUTO_TEST_CASE(reads_go_to_the_master_by_default) {
    ready_core r;
    BOOST_TEST(sent_to(r.core, get) == "10.0.0.2:7001");
    BOOST_TEST(r.core.stats().replica_sends == 0u);
}

BOOST_AUTO_TEST_CASE(replica_preferred_sends_reads_to_the_replica_and_writes_to_the_master) {
    ready_core r(reading_from(read_preference::replica_preferred));
    BOOST_TEST(sent_to(r.core, get) == "10.0.1.2:7101");
    BOOST_TEST(sent_to(r.core, detail::format_argv({"get", "counter"})) == "10.0.1.2:7101");  // any case
    BOOST_TEST(sent_to(r.core, set) == "10.0.0.2:7001");
    BOOST_TEST(sent_to(r.core, incr) == "10.0.0.2:7001");
    BOOST_TEST(sent_to(r.core, detail::format_argv({"EVAL", "return 1", "1", "counter"})) == "10.0.0.2:7001");
    // Keyless commands and commands on a chosen node are not reads of a slot.
    call_state ping = r.core.start(-1, detail::format_argv({"PING"}), {}, t0);
    BOOST_TEST((r.core.node(r.core.next(ping, t0).node).role == node_role::master));
    BOOST_TEST(r.core.stats().replica_sends == 2u);
    const node_id replica = id_of(r.core, at("10.0.1.2", 7101));
    BOOST_TEST(r.core.node(replica).master == id_of(r.core, at("10.0.0.2", 7001)));
}

// The counters count sends, not routing passes: a read decided on many times (its connection not ready yet, as an
// async driver asks again on every pass) and written once counts once.
BOOST_AUTO_TEST_CASE(replica_sends_count_writes_not_routing_passes) {
    ready_core r(reading_from(read_preference::replica));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    for (int pass = 0; pass < 50; ++pass) BOOST_TEST_REQUIRE((r.core.next(c, t0).what == core_decision::kind::send));
    BOOST_TEST(r.core.stats().replica_sends == 0u);
    r.core.on_send(c);
    BOOST_TEST(r.core.stats().replica_sends == 1u);
}

BOOST_AUTO_TEST_CASE(reads_go_round_robin_over_a_shard_s_replicas) {
    ready_core r(reading_from(read_preference::replica));
    topology t = three_masters();
    t.shards[1].replicas.push_back(at("10.0.2.2", 7201));
    r.core.refresh_started(t0);
    r.core.install(t, r.core.seed(0), "CLUSTER SHARDS");
    std::vector<std::string> seen;
    for (int i = 0; i < 4; ++i) seen.push_back(sent_to(r.core, get));
    BOOST_TEST(seen[0] != seen[1]);
    BOOST_TEST(seen[0] == seen[2]);
    BOOST_TEST(seen[1] == seen[3]);
    for (const std::string& s : seen) BOOST_TEST((s == "10.0.1.2:7101" || s == "10.0.2.2:7201"), s);
}

BOOST_AUTO_TEST_CASE(an_unreachable_replica_falls_back_to_the_master_then_is_tried_again) {
    ready_core r(reading_from(read_preference::replica_preferred));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision first = r.core.next(c, t0);
    BOOST_TEST_REQUIRE(to_string(r.core.node(first.node).reported) == "10.0.1.2:7101");
    BOOST_TEST((r.core.on_not_sent(c, first.node, error(error_kind::connect, "Connection refused"), t0) ==
                core_verdict::retry));
    BOOST_TEST(r.core.node(first.node).down);
    const auto later = c.not_before;
    const core_decision second = r.core.next(c, later);
    BOOST_TEST_REQUIRE((second.what == core_decision::kind::send));
    BOOST_TEST(to_string(r.core.node(second.node).reported) == "10.0.0.2:7001");  // the fallback
    BOOST_TEST(r.core.stats().replica_fallbacks == 0u);  // a decision is not a send
    r.core.on_send(c);
    BOOST_TEST(r.core.stats().replica_fallbacks == 1u);
    BOOST_TEST(r.core.stats().replica_sends == 0u);  // the first decision (to the replica) was never written
    // Set aside for replica_retry_interval (a refresh that still lists it changes nothing), then chosen again.
    r.core.refresh_started(later);
    r.core.install(three_masters(), r.core.seed(0), "CLUSTER SHARDS");
    r.core.refresh_finished(later);
    BOOST_TEST(sent_to(r.core, get, t0 + cluster_core::replica_retry_interval - milliseconds(1)) == "10.0.0.2:7001");
    BOOST_TEST(sent_to(r.core, get, t0 + cluster_core::replica_retry_interval) == "10.0.1.2:7101");
}

BOOST_AUTO_TEST_CASE(a_read_lost_on_a_replica_is_retried_on_the_master) {
    ready_core r(reading_from(read_preference::replica_preferred));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision first = r.core.next(c, t0);
    r.core.on_send(c);
    BOOST_TEST((r.core.on_lost_after_write(c, first.node, "the connection was lost", t0) == core_verdict::retry));
    const core_decision second = r.core.next(c, c.not_before);
    BOOST_TEST(to_string(r.core.node(second.node).reported) == "10.0.0.2:7001");
}

BOOST_AUTO_TEST_CASE(replica_mode_waits_for_a_replica_and_fails_at_the_deadline_saying_why) {
    ready_core r(reading_from(read_preference::replica));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    auto now = t0;
    int master_sends = 0, replica_sends = 0;
    while (true) {
        const core_decision d = r.core.next(c, now);
        if (d.what == core_decision::kind::fail) break;
        if (d.what == core_decision::kind::wait) {
            BOOST_TEST_REQUIRE((d.until <= c.deadline));
            now = d.until;
            continue;
        }
        if (d.what == core_decision::kind::refresh) {
            r.core.refresh_started(now);
            r.core.install(three_masters(), r.core.seed(0), "CLUSTER SHARDS");  // the replica is still listed
            r.core.refresh_finished(now);
            continue;
        }
        (r.core.node(d.node).role == node_role::master ? master_sends : replica_sends)++;
        r.core.on_not_sent(c, d.node, error(error_kind::connect, "Connection refused"), now);
    }
    BOOST_TEST(master_sends == 0);
    BOOST_TEST(replica_sends == 1);  // tried again only after replica_retry_interval (the deadline is 1 s)
    BOOST_TEST((c.failure->kind() == error_kind::timeout));
    const std::string what = c.failure->what();
    BOOST_TEST(what.find("no usable replica of master 10.0.0.2:7001") != std::string::npos, what);
}

BOOST_AUTO_TEST_CASE(a_replica_the_policy_refused_is_never_chosen_for_reads) {
    auto refuse_one = [](const node_address& a) -> endpoint {
        if (a.host == "10.0.1.2") throw error(error_kind::topology, "no mapping for " + to_string(a));
        return as_reported(a);
    };
    ready_core preferred(reading_from(read_preference::replica_preferred), refuse_one);
    BOOST_TEST(sent_to(preferred.core, get) == "10.0.0.2:7001");
    ready_core only(reading_from(read_preference::replica), refuse_one);
    BOOST_TEST(sent_to(only.core, get) == "(no send)");
}

BOOST_AUTO_TEST_CASE(a_moved_from_a_replica_sends_the_read_to_the_new_master) {
    ready_core r(reading_from(read_preference::replica));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision first = r.core.next(c, t0);
    BOOST_TEST_REQUIRE((r.core.node(first.node).role == node_role::replica));
    const auto moved = parse_resp("-MOVED 6680 10.0.0.3:7002\r\n");
    BOOST_TEST((r.core.on_reply(c, first.node, *moved, t0) == core_verdict::retry));
    const core_decision second = r.core.next(c, t0);
    BOOST_TEST_REQUIRE((second.what == core_decision::kind::send));
    BOOST_TEST(to_string(r.core.node(second.node).reported) == "10.0.0.3:7002");
    BOOST_TEST(r.core.owner(slot_of_counter()) == id_of(r.core, at("10.0.0.3", 7002)));
}

BOOST_AUTO_TEST_CASE(a_loading_replica_is_set_aside) {
    ready_core r(reading_from(read_preference::replica_preferred));
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision first = r.core.next(c, t0);
    const auto loading = parse_resp("-LOADING Redis is loading the dataset in memory\r\n");
    BOOST_TEST((r.core.on_reply(c, first.node, *loading, t0) == core_verdict::retry));
    BOOST_TEST(r.core.node(first.node).problem.find("LOADING") != std::string::npos);
    const core_decision second = r.core.next(c, c.not_before);
    BOOST_TEST(to_string(r.core.node(second.node).reported) == "10.0.0.2:7001");
}

BOOST_AUTO_TEST_CASE(a_read_on_a_replica_waits_command_timeout_for_its_reply_a_master_the_whole_deadline) {
    cluster_options o = reading_from(read_preference::replica_preferred);
    o.tls.command_timeout = milliseconds(200);
    ready_core r(o);
    call_state read = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision on_replica = r.core.next(read, t0);
    BOOST_TEST_REQUIRE((r.core.node(on_replica.node).role == node_role::replica));
    BOOST_TEST((on_replica.reply_by == t0 + milliseconds(200)));
    call_state write = r.core.start(slot_of_counter(), set, {}, t0);
    BOOST_TEST((r.core.next(write, t0).reply_by == write.deadline));
}

// ---- for the async driver: discovery failures and deadlines in flight ------------------------------------

BOOST_AUTO_TEST_CASE(a_discovery_failure_that_would_repeat_ends_waiting_calls_at_once_a_connect_error_does_not) {
    cluster_core core(options_with(), &as_reported);
    call_state c = core.start(slot_of_counter(), get, {}, t0);
    BOOST_TEST((core.next(c, t0).what == core_decision::kind::refresh));
    core.refresh_started(t0);
    core.refresh_finished(t0);
    core.refresh_failed(error(error_kind::connect, "10.0.0.1:7000: TCP connect failed: Connection refused"));
    core_decision d = core.next(c, t0 + milliseconds(1));
    BOOST_TEST((d.what == core_decision::kind::wait));  // unreachable seeds may come back: wait, retry
    BOOST_TEST(c.last_problem.find("Connection refused") != std::string::npos, c.last_problem);
    core.refresh_failed(error(error_kind::tls_name, "node 10.0.0.1:7000: the certificate does not carry ..."));
    d = core.next(c, t0 + milliseconds(50));  // past the backoff, before the next refresh is due
    BOOST_TEST((d.what == core_decision::kind::fail));  // a certificate fails the same way every time
    BOOST_TEST_REQUIRE(c.failure.has_value());
    BOOST_TEST(c.failure->kind() == error_kind::tls_name);
    // Once a topology is installed, discovery failures are history.
    core.refresh_started(t0 + milliseconds(150));
    core.install(three_masters(), core.seed(0), "CLUSTER SHARDS");
    call_state later = core.start(slot_of_counter(), get, {}, t0 + milliseconds(160));
    BOOST_TEST((core.next(later, t0 + milliseconds(160)).what == core_decision::kind::send));
}

BOOST_AUTO_TEST_CASE(a_call_past_its_deadline_in_flight_may_have_run_so_incr_is_unknown_and_get_a_timeout) {
    ready_core r;
    call_state i = r.core.start(slot_of_counter(), incr, {}, t0);
    call_state g = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision di = r.core.next(i, t0), dg = r.core.next(g, t0);
    r.core.on_send(i);
    r.core.on_send(g);
    BOOST_TEST((r.core.on_expired_in_flight(i, di.node, t0 + milliseconds(1000)) == core_verdict::fail));
    BOOST_TEST(i.failure->kind() == error_kind::unknown_outcome);
    BOOST_TEST(std::string(i.failure->message()).find("may or may not have run") != std::string::npos);
    BOOST_TEST((r.core.on_expired_in_flight(g, dg.node, t0 + milliseconds(1000)) == core_verdict::fail));
    BOOST_TEST(g.failure->kind() == error_kind::timeout);
    BOOST_TEST(std::string(g.failure->message()).find("it may have run") != std::string::npos, g.failure->message());
    BOOST_TEST(r.core.stats().unknown_outcomes == 1u);
}

// What was seen: with 200 calls waiting on a dead master, each call's own backoff re-dialed it (250-280 dials a
// second). Now the node has one backoff: every call that waited on the failed dial reports it, the backoff moves on
// once, and no call is sent (dialed) to the node before it ends.
BOOST_AUTO_TEST_CASE(a_dead_node_is_dialed_at_its_own_pace_not_once_per_waiting_call) {
    ready_core r;
    std::vector<call_state> calls;
    for (int i = 0; i < 200; ++i) calls.push_back(r.core.start(slot_of_counter(), get, {}, t0));
    const node_id owner = r.core.next(calls[0], t0).node;
    for (call_state& c : calls)  // all of them waited on the one dial, which failed
        BOOST_TEST((r.core.on_not_sent(c, owner, error(error_kind::connect, "Connection refused"), t0) == core_verdict::retry));
    BOOST_TEST(r.core.stats().dial_failures == 1u);
    const auto redial_at = r.core.node(owner).redial_at;
    BOOST_TEST((redial_at > t0));
    BOOST_TEST((redial_at <= t0 + milliseconds(4)));  // the first step: min_backoff at most
    // A call with no backoff of its own (a new one) waits for the node's: nobody dials before it ends.
    call_state newcomer = r.core.start(slot_of_counter(), get, {}, t0);
    const core_decision gate = r.core.next(newcomer, t0);
    BOOST_TEST_REQUIRE((gate.what == core_decision::kind::wait));
    BOOST_TEST((gate.until == redial_at));
    BOOST_TEST(newcomer.last_problem.find("backoff pace") != std::string::npos, newcomer.last_problem);
    // The waiting calls too, whenever their own backoff ends first.
    for (call_state& c : calls) {
        if (c.not_before >= redial_at) continue;
        const core_decision d = r.core.next(c, c.not_before);
        BOOST_TEST_REQUIRE((d.what == core_decision::kind::wait));
        BOOST_TEST((d.until == redial_at));
    }
    // The next dial fails too: the node's step moves on (doubling), once.
    for (call_state& c : calls) r.core.on_not_sent(c, owner, error(error_kind::connect, "Connection refused"), redial_at);
    BOOST_TEST(r.core.stats().dial_failures == 2u);
    const auto second = r.core.node(owner).redial_at;
    BOOST_TEST((second - redial_at >= milliseconds(4)));  // step 1: 8 ms, jittered into [4, 8]
    // A connect that works clears it: the next call goes at once.
    r.core.on_connected(owner);
    call_state fresh = r.core.start(slot_of_counter(), get, {}, redial_at);
    BOOST_TEST((r.core.next(fresh, redial_at).what == core_decision::kind::send));
    BOOST_TEST(r.core.node(owner).redial_step == 0);
}

// What was seen: an ASK's target owned no slots yet, a refresh due at the retry dropped it from the view, and the
// retry went to the node that sent the ASK with ASKING in front. Now ASKING goes only towards the ASK's target.
BOOST_AUTO_TEST_CASE(asking_is_sent_only_to_the_ask_target_never_to_the_owner_after_a_refresh_forgot_it) {
    ready_core r;
    call_state c = r.core.start(slot_of_counter(), get, {}, t0);
    const node_id owner = r.core.next(c, t0).node;
    const auto ask = parse_resp("-ASK " + std::to_string(slot_of_counter()) + " 10.0.0.9:7009\r\n");
    BOOST_TEST((r.core.on_reply(c, owner, *ask, t0) == core_verdict::retry));
    BOOST_TEST(c.asking);
    r.core.refresh_started(t0);
    r.core.install(three_masters(), owner, "CLUSTER SHARDS");  // 10.0.0.9:7009 owns nothing: forgotten
    const core_decision d = r.core.next(c, t0);
    BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
    BOOST_TEST(d.node == owner);
    BOOST_TEST(!d.asking);
    BOOST_TEST(!c.asking);
}

BOOST_AUTO_TEST_SUITE_END()
