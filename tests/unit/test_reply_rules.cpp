// tests/unit/test_reply_rules.cpp — the one reply classifier (refusal words, scripts that write their own errors)
// and the refusal of commands that change a shared connection's state, on canned replies. No sockets.
#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/detail/topology_reply.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/transaction.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace addrmap;
using addrmap_test::parse_resp;
using clock_type = std::chrono::steady_clock;

namespace {

using addrmap_test::t0;

using addrmap_test::at;

/// Two masters: 10.0.0.1:7000 (slots 0-8191) and 10.0.0.2:7001 (8192-16383).
struct two_masters {
    cluster_core core;
    two_masters() : core(options(), [](const node_address& a) { return endpoint(a.host, a.port, a.host); }) {
        topology t;
        for (int i = 0; i < 2; ++i) {
            shard s;
            s.ranges.push_back({static_cast<std::uint16_t>(i * 8192), static_cast<std::uint16_t>(i * 8192 + 8191)});
            s.master = at("10.0.0." + std::to_string(i + 1), static_cast<std::uint16_t>(7000 + i));
            t.shards.push_back(s);
        }
        core.refresh_started(t0);
        core.install(t, core.seed(0), "CLUSTER SHARDS");
    }
    static cluster_options options() {
        cluster_options o;
        o.seeds = {"10.0.0.1:7000"};
        o.min_backoff = std::chrono::milliseconds(1);
        o.max_backoff = std::chrono::milliseconds(8);
        return o;
    }
    /// The verdict for `command` (slot of `key`) answered with `resp` by the slot's owner.
    core_verdict answer(const std::string& command, const std::string& key, const std::string& resp,
                        repeat policy = repeat::by_table) {
        call_options o;
        o.repeat_policy = policy;
        call = core.start(static_cast<int>(key_slot(key)), command, o, t0);
        const core_decision d = core.next(call, t0);
        BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
        return core.on_reply(call, d.node, *parse_resp(resp), t0);
    }
    call_state call;
};

const std::string eval_incr = detail::format_argv({"EVAL", "redis.call('INCR', KEYS[1]) return 1", "1", "k"});

}  // namespace

BOOST_AUTO_TEST_SUITE(test_reply_rules)

BOOST_AUTO_TEST_CASE(one_list_of_refusal_words_with_word_boundaries) {
    using detail::refusal;
    BOOST_TEST((detail::refusal_of("TRYAGAIN Multiple keys request during rehashing of slot") == refusal::tryagain));
    BOOST_TEST((detail::refusal_of("CLUSTERDOWN The cluster is down") == refusal::clusterdown));
    BOOST_TEST((detail::refusal_of("LOADING Redis is loading the dataset in memory") == refusal::loading));
    BOOST_TEST((detail::refusal_of("MASTERDOWN Link with MASTER is down") == refusal::masterdown));
    BOOST_TEST((detail::refusal_of("BUSY Redis is busy running a script") == refusal::busy));
    BOOST_TEST((detail::refusal_of("NOAUTH Authentication required.") == refusal::noauth));
    BOOST_TEST((detail::refusal_of("BUSYKEY Target key name already exists.") == refusal::none));
    BOOST_TEST((detail::refusal_of("LOADINGX") == refusal::none));
    BOOST_TEST((detail::refusal_of("ERR TRYAGAIN") == refusal::none));
    // Calls retry the first four; a topology refresh moves on after any of the six.
    BOOST_TEST(detail::retries_calls(refusal::loading));
    BOOST_TEST(!detail::retries_calls(refusal::busy));
    BOOST_TEST(!detail::retries_calls(refusal::noauth));
    BOOST_TEST(detail::is_transient_refusal("BUSY Redis is busy running a script"));
    BOOST_TEST(!detail::is_transient_refusal("BUSYKEY Target key name already exists."));
    // A transaction now ends on LOADING and MASTERDOWN too (before: only MOVED, ASK, TRYAGAIN, CLUSTERDOWN).
    BOOST_TEST(detail::is_cluster_refusal(*parse_resp("-LOADING Redis is loading\r\n")));
    BOOST_TEST(detail::is_cluster_refusal(*parse_resp("-MASTERDOWN Link with MASTER is down\r\n")));
    BOOST_TEST(!detail::is_cluster_refusal(*parse_resp("-BUSY Redis is busy\r\n")));
}

BOOST_AUTO_TEST_CASE(scripts_and_unknown_commands_write_their_own_errors_known_commands_do_not) {
    for (const char* name : {"EVAL", "evalsha", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "MYMODULE.INCR", "NEWCMD"})
        BOOST_TEST(detail::writes_its_own_errors(detail::format_argv({name, "x", "0"})), name);
    for (const char* name : {"GET", "set", "INCR", "MGET", "PING", "CLUSTER", "INFO", "XADD", "ZADD", "OBJECT", "XINFO",
                             "XGROUP", "SPUBLISH", "MIGRATE", "PFDEBUG"})
        BOOST_TEST(!detail::writes_its_own_errors(detail::format_argv({name, "x"})), name);
    BOOST_TEST(!detail::writes_its_own_errors(""));  // the drivers' own probes carry no command
}

// What was seen: an EVAL whose script incremented a counter, then returned error_reply('TRYAGAIN ...'), was sent 8
// times. Such a refusal is now the script's reply: the call ends with it, nothing is sent again.
BOOST_AUTO_TEST_CASE(a_refusal_word_from_a_script_not_safe_to_repeat_is_the_caller_s_reply) {
    for (const char* text : {"-TRYAGAIN the script wants a retry\r\n", "-CLUSTERDOWN from the script\r\n",
                             "-LOADING from the script\r\n", "-MASTERDOWN from the script\r\n"}) {
        BOOST_TEST_CONTEXT(text) {
            two_masters m;
            BOOST_TEST((m.answer(eval_incr, "k", text) == core_verdict::done));
            BOOST_TEST(m.core.stats().tryagain + m.core.stats().clusterdown + m.core.stats().loading == 0u);
            // The same text for a command this library knows is the server's: retried.
            two_masters known;
            BOOST_TEST((known.answer(detail::format_argv({"INCR", "k"}), "k", text) == core_verdict::retry));
            // A caller that allows repeats loses nothing by a retry: believed.
            two_masters allowed;
            BOOST_TEST((allowed.answer(eval_incr, "k", text, repeat::allowed) == core_verdict::retry));
        }
    }
    two_masters m;
    BOOST_TEST((m.answer(detail::format_argv({"MYMODULE.INCR", "k"}), "k", "-TRYAGAIN busy\r\n") == core_verdict::done));
}

BOOST_AUTO_TEST_CASE(a_redirect_for_a_script_is_followed_only_when_well_formed_and_for_its_own_slot) {
    const int slot = static_cast<int>(key_slot("k"));  // 7629: 10.0.0.1:7000
    const std::string own = "-MOVED " + std::to_string(slot) + " 10.0.0.2:7001\r\n";
    const std::string other = "-MOVED 100 10.0.0.2:7001\r\n";
    {
        // Its own slot: followed once, to the target only, and the map is not taught (a script could have written
        // it after it ran). The target, not owning the slot, answers with the server's redirect: a second one
        // ends the call unknown_outcome instead of running the script again where it already ran.
        two_masters m;
        BOOST_TEST((m.answer(eval_incr, "k", own) == core_verdict::retry));
        BOOST_TEST(m.core.node(m.core.owner(slot)).reported.port == 7000);  // the map is unchanged
        core_decision d = m.core.next(m.call, t0);
        BOOST_TEST_REQUIRE((d.what == core_decision::kind::send));
        BOOST_TEST(m.core.node(d.node).reported.port == 7001);
        BOOST_TEST(!d.asking);
        const std::string back = "-MOVED " + std::to_string(slot) + " 10.0.0.1:7000\r\n";
        BOOST_TEST((m.core.on_reply(m.call, d.node, *parse_resp(back), t0) == core_verdict::fail));
        BOOST_TEST((m.call.failure->kind() == error_kind::unknown_outcome));
        BOOST_TEST(std::string(m.call.failure->what()).find("may or may not have run") != std::string::npos);
        BOOST_TEST(m.core.stats().unknown_outcomes == 1u);
        // The target answering the script itself: its reply, done.
        two_masters genuine;
        BOOST_TEST((genuine.answer(eval_incr, "k", own) == core_verdict::retry));
        d = genuine.core.next(genuine.call, t0);
        BOOST_TEST((genuine.core.on_reply(genuine.call, d.node, *parse_resp(":1\r\n"), t0) == core_verdict::done));
        // The target unreachable: it cannot go back to where it may have run.
        two_masters unreachable;
        BOOST_TEST((unreachable.answer(eval_incr, "k", own) == core_verdict::retry));
        d = unreachable.core.next(unreachable.call, t0);
        BOOST_TEST((unreachable.core.on_not_sent(unreachable.call, d.node, error(error_kind::connect, "refused"), t0) ==
                    core_verdict::fail));
        BOOST_TEST((unreachable.call.failure->kind() == error_kind::unknown_outcome));
        // A redirect to the node that sent it (by address, or by an empty host): a server never does that. The
        // script's text: its reply, not a second run on the same node.
        for (const std::string& self : {"-MOVED " + std::to_string(slot) + " 10.0.0.1:7000\r\n",
                                        "-ASK " + std::to_string(slot) + " :7000\r\n"}) {
            two_masters to_self;
            BOOST_TEST((to_self.answer(eval_incr, "k", self) == core_verdict::done), self);
        }
        // A target that cannot be followed ('?': an unknown node) may hide a run that happened: unknown_outcome,
        // never "did not run" (which would invite the caller to run it again).
        two_masters unknown;
        BOOST_TEST((unknown.answer(eval_incr, "k", "-MOVED " + std::to_string(slot) + " ?:7009\r\n") == core_verdict::fail));
        BOOST_TEST((unknown.call.failure->kind() == error_kind::unknown_outcome));
        BOOST_TEST(std::string(unknown.call.failure->what()).find("cluster-announce-hostname") != std::string::npos);
        // Allowed to repeat: followed as any redirect (the map learns it).
        two_masters allowed;
        BOOST_TEST((allowed.answer(eval_incr, "k", own, repeat::allowed) == core_verdict::retry));
        BOOST_TEST(allowed.core.node(allowed.core.owner(slot)).reported.port == 7001);
    }
    {
        two_masters m;  // another slot: the script's text, and the slot map stays as it was
        BOOST_TEST((m.answer(eval_incr, "k", other) == core_verdict::done));
        BOOST_TEST(m.core.node(m.core.owner(100)).reported.port == 7000);
        BOOST_TEST(m.core.stats().moved == 0u);
    }
    {
        two_masters m;  // malformed: the script's text, not a protocol error
        BOOST_TEST((m.answer(eval_incr, "k", "-MOVED nonsense\r\n") == core_verdict::done));
        BOOST_TEST((m.answer(eval_incr, "k", "-ASK " + std::to_string(slot) + "\r\n") == core_verdict::done));
    }
    {
        two_masters m;  // a keyless script (0 keys) has no slot of its own: any redirect is its text
        const std::string keyless = detail::format_argv({"EVAL", "return 1", "0"});
        call_state c = m.core.start(-1, keyless, {}, t0);
        const core_decision d = m.core.next(c, t0);
        BOOST_TEST((m.core.on_reply(c, d.node, *parse_resp(own), t0) == core_verdict::done));
    }
    {
        two_masters m;  // a known command: the server's redirect, followed as before (malformed: protocol error)
        BOOST_TEST((m.answer(detail::format_argv({"GET", "k"}), "k", own) == core_verdict::retry));
        BOOST_TEST((m.answer(detail::format_argv({"GET", "k"}), "k", "-MOVED nonsense\r\n") == core_verdict::fail));
        BOOST_TEST((m.call.failure->kind() == error_kind::protocol));
    }
}

BOOST_AUTO_TEST_CASE(commands_that_change_the_shared_connection_are_refused_before_sending) {
    const std::vector<std::vector<std::string_view>> refused = {
        {"SUBSCRIBE", "news"}, {"psubscribe", "n*"}, {"SSUBSCRIBE", "{n}s"}, {"UNSUBSCRIBE"}, {"MONITOR"},
        {"HELLO", "3"},        {"RESET"},            {"CLIENT", "REPLY", "OFF"}, {"client", "reply", "skip"},
        {"SELECT", "1"},       {"QUIT"},             {"AUTH", "u", "p"},      {"READWRITE"}, {"ASKING"},
        {"MULTI"},             {"WATCH", "k"},       {"SYNC"},
    };
    for (const auto& argv : refused) {
        const std::string cmd = detail::format_argv(argv);
        BOOST_TEST_CONTEXT(cmd) {
            const auto e = detail::refuse_connection_state_command(cmd);
            BOOST_TEST_REQUIRE(e.has_value());
            BOOST_TEST((e->kind() == error_kind::config));
            BOOST_TEST(std::string(e->what()).find("nothing was sent") != std::string::npos, e->what());
            two_masters m;
            BOOST_CHECK_THROW(m.core.start(-1, cmd, {}, t0), error);
            pipeline batch;
            BOOST_CHECK_THROW(batch.add_argv("k", argv), error);
            BOOST_TEST(batch.empty());
        }
    }
    // Every row of the one list, in upper and lower case, gets past the cheap first look (length, first letter).
    for (const detail::connection_state_command& row : detail::connection_state_commands) {
        for (const bool lower : {false, true}) {
            std::string name(row.name), sub(row.subcommand);
            if (lower)
                for (std::string* text : {&name, &sub})
                    for (char& ch : *text) ch = static_cast<char>(ch | 0x20);
            std::vector<std::string_view> argv{name};
            if (!sub.empty()) argv.push_back(sub);
            BOOST_TEST(!!detail::refuse_connection_state_command(detail::format_argv(argv)), name);
        }
    }
    const auto sub = detail::refuse_connection_state_command(detail::format_argv({"SUBSCRIBE", "news"}));
    BOOST_TEST(std::string(sub->what()).find("pub/sub") != std::string::npos, sub->what());
    for (const auto& argv : std::vector<std::vector<std::string_view>>{
             {"CLIENT", "SETNAME", "x"}, {"CLIENT", "ID"}, {"GET", "k"}, {"PUBLISH", "c", "m"}, {"SET", "k", "v"},
             {"SCAN", "0"}, {"QUITX"}, {"HELLOWORLD"}})
        BOOST_TEST(!detail::refuse_connection_state_command(detail::format_argv(argv)), argv[0]);
    // A transaction runs WATCH and UNWATCH itself on its own connection.
    BOOST_TEST(!detail::refuse_connection_state_command(detail::format_argv({"WATCH", "k"}), {"WATCH", "UNWATCH"}));
    BOOST_TEST(!!detail::refuse_connection_state_command(detail::format_argv({"SELECT", "0"}), {"WATCH", "UNWATCH"}));
}

BOOST_AUTO_TEST_SUITE_END()
