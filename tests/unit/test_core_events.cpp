// tests/unit/test_core_events.cpp — what the I/O-free core tells an observer (events.hpp), on canned events: slot moves
// by view and by MOVED (each once), failover, nodes added, removed, down and back, redirects, call ends, expiry.
#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/certificate_expiry.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/event_sink.hpp>
#include <addrmap/detail/peer_verification.hpp>
#include <addrmap/observer.hpp>

#include "canned_cluster.hpp"
#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/x509.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

using namespace addrmap;
using std::chrono::milliseconds;
using addrmap_test::at;
using addrmap_test::parse_resp;
using addrmap_test::t0;

namespace core_events_test {

using addrmap_test::as_reported;
using addrmap_test::id_of;
using addrmap_test::options_with;
using addrmap_test::three_masters;

/// Every event as one line of text, in order.
struct recorder {
    std::vector<std::string> lines;
    static std::string moves_text(const std::vector<slot_move>& moves) {
        std::string out;
        for (const slot_move& m : moves)
            out += " " + std::to_string(m.slots.first) + "-" + std::to_string(m.slots.last) + ":" +
                   (m.from != nullptr ? to_string(*m.from) : std::string("none")) + ">" + to_string(*m.to);
        return out;
    }
    void operator()(const topology_changed_event& e) {
        lines.push_back(std::string("topology ") + to_string(e.trigger) + (e.by_redirect ? " redirect" : "") +
                        moves_text(e.moves));
    }
    void operator()(const node_added_event& e) { lines.push_back("added " + to_string(e.node.reported)); }
    void operator()(const node_removed_event& e) { lines.push_back("removed " + to_string(e.reported)); }
    void operator()(const node_down_event& e) { lines.push_back("down " + to_string(e.node.reported)); }
    void operator()(const node_up_event& e) { lines.push_back("up " + to_string(e.node.reported)); }
    void operator()(const failover_event& e) {
        std::string text = "failover " + to_string(e.old_master) + ">" + to_string(e.new_master);
        for (const slot_range& r : e.slots) text += " " + std::to_string(r.first) + "-" + std::to_string(r.last);
        lines.push_back(text);
    }
    void operator()(const connection_lost_event& e) {
        lines.push_back("lost " + to_string(e.node.reported) + " (" + std::string(e.cause) + ")");
    }
    void operator()(const redirect_event& e) {
        lines.push_back(std::string(e.ask ? "ASK " : "MOVED ") + std::string(e.operation) + " " +
                        std::to_string(e.slot) + " " + to_string(e.from) + ">" + to_string(e.to));
    }
    void operator()(const call_ended_event& e) {
        std::string text = "call " + std::string(e.operation) + " sends=" + std::to_string(e.sends);
        if (e.node != nullptr) text += " node=" + std::string(e.node->dial_host) + ":" + std::to_string(e.node->port);
        if (e.result == call_result::error_reply) text += " status=" + std::string(e.status_code);
        if (e.result == call_result::failed) text += std::string(" failed=") + to_string(*e.error_type);
        lines.push_back(text);
    }
};

struct observed_core {
    recorder seen;
    cluster_core core{options_with(), &as_reported};
    observed_core() {
        core.set_observer(detail::event_sink::bind(&seen));
        core.refresh_started(t0);
        core.install(three_masters(), core.seed(0), "CLUSTER SHARDS");
    }
};

const std::string get = detail::format_argv({"get", "counter"});  // slot 6680: master #2

/// A call of `command` for `slot`, routed and written, at t0 (the caller answers it).
call_state sent(cluster_core& core, int slot, const std::string& command) {
    call_state c = core.start(slot, command, {}, t0);
    core.next(c, t0);
    core.on_send(c);
    return c;
}
/// A GET for `slot` answered `reply` (RESP) by the node it went to: what the core decides.
core_verdict get_answered(cluster_core& core, int slot, const std::string& reply) {
    call_state c = sent(core, slot, get);
    return core.on_reply(c, c.sent_to, *parse_resp(reply), t0);
}


BOOST_AUTO_TEST_SUITE(test_core_events)

BOOST_AUTO_TEST_CASE(no_observer_builds_no_event) {
    const detail::event_sink none;
    BOOST_TEST(!none.wants<call_ended_event>());
    BOOST_TEST(!none.wants<topology_changed_event>());
    struct only_calls {
        void operator()(const call_ended_event&) {}
    } calls;
    const detail::event_sink some = detail::event_sink::bind(&calls);
    BOOST_TEST(some.wants<call_ended_event>());
    BOOST_TEST(!some.wants<topology_changed_event>());  // an event it does not handle costs one test
    BOOST_TEST(!observes_any_v<no_observer>);
}

BOOST_AUTO_TEST_CASE(the_first_view_adds_every_node_and_gives_every_slot_an_owner) {
    observed_core o;
    const std::vector<std::string> want = {
        "added 10.0.0.1:7000", "added 10.0.1.1:7100", "added 10.0.0.2:7001", "added 10.0.1.2:7101",
        "added 10.0.0.3:7002", "added 10.0.1.3:7102",
        "topology initial 0-5460:none>10.0.0.1:7000 5461-10922:none>10.0.0.2:7001 10923-16383:none>10.0.0.3:7002"};
    BOOST_TEST(o.seen.lines == want, boost::test_tools::per_element());
}

// A MOVED changes one slot at once (told as a redirect, then as a topology change by the redirect); the view installed
// afterwards tells the rest of the move, not that slot again; a failover is the replica's promotion.
BOOST_AUTO_TEST_CASE(a_slot_moved_by_moved_is_told_once_and_a_failover_is_named) {
    observed_core o;
    o.seen.lines.clear();
    call_state c = sent(o.core, 6680, get);
    BOOST_TEST((o.core.on_reply(c, c.sent_to, *parse_resp("-MOVED 6680 10.0.0.3:7002\r\n"), t0) == core_verdict::retry));
    const core_decision again = o.core.next(c, t0 + milliseconds(200));
    BOOST_TEST_REQUIRE((again.what == core_decision::kind::refresh));  // a MOVED asks for a refresh
    // The view: slots 6000-6680 moved to master #3, and shard #1's replica took over from its master.
    topology t = three_masters();
    t.shards[1].ranges = {{5461, 5999}, {6681, 10922}};
    t.shards[2].ranges = {{6000, 6680}, {10923, 16383}};
    t.shards[0].master = at("10.0.1.1", 7100);
    t.shards[0].replicas = {};
    o.core.refresh_started(t0 + milliseconds(200));
    o.core.install(t, id_of(o.core, at("10.0.0.3", 7002)), "CLUSTER SHARDS");
    const std::vector<std::string> want = {
        "MOVED GET 6680 10.0.0.2:7001>10.0.0.3:7002",
        "topology MOVED redirect 6680-6680:10.0.0.2:7001>10.0.0.3:7002",
        "topology MOVED 0-5460:10.0.0.1:7000>10.0.1.1:7100 6000-6679:10.0.0.2:7001>10.0.0.3:7002",
        "failover 10.0.0.1:7000>10.0.1.1:7100 0-5460",
        "removed 10.0.0.1:7000"};
    BOOST_TEST(o.seen.lines == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_node_goes_down_once_and_comes_back_and_a_loss_says_why) {
    observed_core o;
    o.seen.lines.clear();
    const node_id n = id_of(o.core, at("10.0.0.2", 7001));
    o.core.on_connected(n);
    o.core.on_disconnected(n, "the connection was lost (reset by peer)");
    o.core.on_unreachable(n, error(error_kind::connect, "refused"), t0);
    o.core.on_unreachable(n, error(error_kind::connect, "refused"), t0 + milliseconds(100));  // still down: no event
    o.core.on_connected(n);
    const std::vector<std::string> want = {"lost 10.0.0.2:7001 (the connection was lost (reset by peer))",
                                           "down 10.0.0.2:7001", "up 10.0.0.2:7001"};
    BOOST_TEST(o.seen.lines == want, boost::test_tools::per_element());
    // The refresh that loss asked for says why it ran.
    o.core.refresh_started(t0 + milliseconds(200));
    topology t = three_masters();
    t.shards[1].master = at("10.0.1.2", 7101);
    t.shards[1].replicas = {at("10.0.0.2", 7001)};
    o.core.install(t, o.core.seed(0), "CLUSTER SHARDS");
    BOOST_TEST(o.seen.lines.at(3) == "topology node_lost 5461-10922:10.0.0.2:7001>10.0.1.2:7101");
    BOOST_TEST(o.seen.lines.at(4) == "failover 10.0.0.2:7001>10.0.1.2:7101 5461-10922");
}

BOOST_AUTO_TEST_CASE(call_ends_name_the_operation_the_node_and_the_outcome) {
    observed_core o;
    o.seen.lines.clear();
    call_state c = sent(o.core, 6680, get);
    const auto wrongtype = parse_resp("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    o.core.on_reply(c, c.sent_to, *wrongtype, t0);
    o.core.on_call_ended(c, wrongtype.get(), nullptr, t0 + milliseconds(3));
    const std::string incr = detail::format_argv({"INCR", "counter"});  // the call refers to it: it must outlive it
    call_state lost = sent(o.core, 6680, incr);
    o.core.on_connected(lost.sent_to);
    o.core.on_lost_after_write(lost, lost.sent_to, "reset", t0);
    o.core.on_call_ended(lost, nullptr, &*lost.failure, t0);
    const std::vector<std::string> want = {"call GET sends=1 node=10.0.0.2:7001 status=WRONGTYPE",
                                           "lost 10.0.0.2:7001 (reset)",
                                           "call INCR sends=1 node=10.0.0.2:7001 failed=unknown_outcome"};
    BOOST_TEST(o.seen.lines == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(call_attributes_carry_opentelemetry_names) {
    observed_core o;
    struct attributes {
        std::vector<std::string> seen;
        void operator()(const call_ended_event& e) {
            otel::for_each_attribute(e, [&](std::string_view name, const auto& value) {
                std::string text(name);
                text += "=";
                if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string_view>)
                    text += std::string(value);
                else
                    text += std::to_string(value);
                seen.push_back(text);
            });
        }
    } a;
    o.core.set_observer(detail::event_sink::bind(&a));
    call_state c = sent(o.core, 6680, get);
    const auto err = parse_resp("-ERR nope\r\n");
    o.core.on_call_ended(c, err.get(), nullptr, t0);
    const std::vector<std::string> want = {"db.system.name=redis",        "db.operation.name=GET",
                                           "server.address=10.0.0.1",     "server.port=7000",
                                           "network.peer.address=10.0.0.2", "network.peer.port=7001",
                                           "db.response.status_code=ERR", "error.type=ERR"};
    BOOST_TEST(a.seen == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_certificate_near_expiry_is_told_once_per_process) {
    struct expiring {
        std::vector<std::string> seen;
        void operator()(const certificate_expiring_event& e) {
            seen.push_back(std::to_string(e.certificate.depth) + " " + e.certificate.names.front() + " " +
                           std::to_string(e.left.count() / 86400));
        }
    } x;
    const detail::event_sink sink = detail::event_sink::bind(&x);
    const auto now = std::chrono::system_clock::now();
    tls_handshake_info hs;
    hs.chain.push_back({0, {"DNS:soon.test"}, now + std::chrono::hours(24 * 5 + 1), "unit-test-fingerprint-leaf"});
    hs.chain.push_back({1, {"CN=ca"}, now + std::chrono::hours(24 * 365), "unit-test-fingerprint-ca"});
    const node_address node = at("10.0.0.1", 7000);
    const event_node named{node, "soon.test", 7000, "soon.test"};
    detail::tell_expiring_certificates(hs, named, std::chrono::hours(24 * 14), sink);
    detail::tell_expiring_certificates(hs, named, std::chrono::hours(24 * 14), sink);  // a second connection
    BOOST_TEST(x.seen == std::vector<std::string>{"0 DNS:soon.test 5"}, boost::test_tools::per_element());
    // 0 turns the warning off.
    hs.chain[0].fingerprint = "unit-test-fingerprint-other";
    detail::tell_expiring_certificates(hs, named, std::chrono::seconds(0), sink);
    BOOST_TEST(x.seen.size() == 1u);
}

// A manual failover: the old master answers MOVED to its replica (the map learns that slot at once), then a view shows
// the replica as master. The failover is still told (the roles compared are the last view's, not the MOVED's), and a
// node first met in a MOVED is told added when a view lists it.
BOOST_AUTO_TEST_CASE(a_moved_to_a_replica_still_tells_the_failover_and_a_new_node_is_added_by_the_view) {
    observed_core o;
    o.seen.lines.clear();
    get_answered(o.core, 6680, "-MOVED 6680 10.0.1.2:7101\r\n");  // shard #2's replica
    get_answered(o.core, 0, "-MOVED 0 10.0.0.9:7009\r\n");        // a node no view listed yet
    topology t = three_masters();
    t.shards[1].master = at("10.0.1.2", 7101);
    t.shards[1].replicas = {at("10.0.0.2", 7001)};
    t.shards[0].master = at("10.0.0.9", 7009);
    t.shards[0].replicas = {at("10.0.1.1", 7100)};
    o.core.refresh_started(t0 + milliseconds(200));
    o.core.install(t, id_of(o.core, at("10.0.1.2", 7101)), "CLUSTER SHARDS");
    const std::vector<std::string> want = {
        "MOVED GET 6680 10.0.0.2:7001>10.0.1.2:7101",
        "topology MOVED redirect 6680-6680:10.0.0.2:7001>10.0.1.2:7101",
        "MOVED GET 0 10.0.0.1:7000>10.0.0.9:7009",
        "topology MOVED redirect 0-0:10.0.0.1:7000>10.0.0.9:7009",
        "added 10.0.0.9:7009",
        "topology MOVED 1-5460:10.0.0.1:7000>10.0.0.9:7009 5461-6679:10.0.0.2:7001>10.0.1.2:7101 "
        "6681-10922:10.0.0.2:7001>10.0.1.2:7101",
        "failover 10.0.0.2:7001>10.0.1.2:7101 5461-6679 6681-10922",
        "removed 10.0.0.1:7000"};
    BOOST_TEST(o.seen.lines == want, boost::test_tools::per_element());
}

// A replica set aside (a read it lost) is not told down, so its next connection is not told up; a node told down is
// told up once.
BOOST_AUTO_TEST_CASE(down_and_up_are_told_in_pairs) {
    observed_core o;
    o.seen.lines.clear();
    const node_id replica = id_of(o.core, at("10.0.1.2", 7101));
    call_state c = o.core.start(6680, get, {}, t0);
    o.core.on_connected(replica);
    o.core.on_lost_after_write(c, replica, "reset", t0);  // a GET: set aside, sent again elsewhere
    o.core.on_connected(replica);
    o.core.on_unreachable(replica, error(error_kind::connect, "refused"), t0);
    o.core.on_unreachable(replica, error(error_kind::connect, "refused"), t0 + milliseconds(300));
    o.core.on_connected(replica);
    o.core.on_connected(replica);
    const std::vector<std::string> want = {"lost 10.0.1.2:7101 (reset)", "down 10.0.1.2:7101", "up 10.0.1.2:7101"};
    BOOST_TEST(o.seen.lines == want, boost::test_tools::per_element());
}

// What reaches metric labels and command lines from outside is held to a safe alphabet.
BOOST_AUTO_TEST_CASE(status_codes_operations_and_advised_names_are_safe_to_print) {
    const auto odd = parse_resp("-X\",le=\"0.001\"} 1\r\n");
    BOOST_TEST(detail::status_code_of(*odd) == "X");
    const auto none = parse_resp("-\"quoted\r\n");
    BOOST_TEST(detail::status_code_of(*none) == "ERR");
    const std::string weird = detail::format_argv({"g\"e\nt", "k"});
    BOOST_TEST(detail::operation_name(weird).view() == "G?E?T");
    const auto [name, wildcard] = detail::name_to_verify({"DNS:x;rm -rf ~", "DNS:*.com", "DNS:*.redis.test"});
    BOOST_TEST(name == "node.redis.test");
    BOOST_TEST(wildcard);
    BOOST_TEST(!detail::covers({"DNS:*.com"}, "example.com"));
    BOOST_TEST(detail::covers({"DNS:*.redis.test"}, "a.redis.test"));
    BOOST_TEST(detail::shell_word("/tmp/ca.crt") == "/tmp/ca.crt");
    BOOST_TEST(detail::shell_word("/tmp/my ca's.crt") == "'/tmp/my ca'\\''s.crt'");
}

// notAfter past the clock's end (RFC 5280's "no expiry") is the clock's end, never a date in the past.
BOOST_AUTO_TEST_CASE(a_not_after_past_2262_is_not_expiring) {
    std::unique_ptr<X509, void (*)(X509*)> cert(X509_new(), &X509_free);
    BOOST_TEST_REQUIRE(ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "99991231235959Z") == 1);
    BOOST_TEST((detail::not_after_of(cert.get()) == std::chrono::system_clock::time_point::max()));
    BOOST_TEST_REQUIRE(ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20300101000000Z") == 1);
    const auto in_2030 = detail::not_after_of(cert.get());
    BOOST_TEST((in_2030 > std::chrono::system_clock::now()));
    BOOST_TEST((in_2030 < std::chrono::system_clock::time_point::max()));
}

BOOST_AUTO_TEST_CASE(an_observer_that_throws_changes_nothing) {
    struct throwing {
        int calls = 0;
        void operator()(const topology_changed_event&) {
            ++calls;
            throw std::runtime_error("observer bug");
        }
    } t;
    cluster_core core(options_with(), &as_reported);
    core.set_observer(detail::event_sink::bind(&t));
    core.refresh_started(t0);
    BOOST_CHECK_NO_THROW(core.install(three_masters(), core.seed(0), "CLUSTER SHARDS"));
    BOOST_TEST(t.calls == 1);
    BOOST_TEST(core.has_topology());
    BOOST_TEST(core.owner(6680) == id_of(core, at("10.0.0.2", 7001)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace core_events_test
