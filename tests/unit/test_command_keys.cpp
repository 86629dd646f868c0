// tests/unit/test_command_keys.cpp — key positions from the command itself (command_keys.hpp): every table row on
// its samples, every truncation of them and hostile argv (never a read past argc), slots and cross-slot refusals,
// and the transaction's I/O-free rules (transaction.hpp) on canned replies.
#include "../command_samples.hpp"
#include "resp_helpers.hpp"

#include <addrmap/command_keys.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/transaction.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using addrmap::error;
using addrmap::error_kind;

/// Exactly `n` views on the heap, so a read past argc is caught by ASan in the sanitizer build.
struct exact_argv {
    explicit exact_argv(const std::vector<std::string>& args, std::size_t n) : size(n), data(new std::string_view[n]) {
        for (std::size_t i = 0; i < n; ++i) data[i] = args[i];
    }
    std::size_t size;
    std::unique_ptr<std::string_view[]> data;
};

std::vector<std::string> extract(const std::vector<std::string>& args) {
    exact_argv argv(args, args.size());
    std::vector<std::string> out;
    for (std::size_t i : addrmap::key_positions(argv.data.get(), argv.size)) out.push_back(args.at(i));
    return out;
}

/// The message of the error{config} the argv gives; fails the test if it gives none.
std::string config_error(const std::vector<std::string>& args) {
    try {
        extract(args);
    } catch (const error& e) {
        BOOST_TEST(e.kind() == error_kind::config);
        return e.what();
    }
    BOOST_ERROR("no error for a malformed command");
    return {};
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(test_command_keys)

BOOST_AUTO_TEST_CASE(every_table_row_has_a_sample) {
    std::vector<const addrmap::command_keys_entry*> covered;
    for (const auto& s : samples::all()) {
        const auto* row = samples::row_of(s);
        BOOST_TEST(row != nullptr, "a sample of no table row: " << s.argv[0]);
        covered.push_back(row);
    }
    const std::string missing = samples::rows_not_in(covered);
    BOOST_TEST(missing.empty(), "table rows without a sample: " << missing);
    BOOST_TEST(std::size(addrmap::command_key_table) >= 190u);
    for (std::string_view name : {"MIGRATE", "MOVE", "PFDEBUG", "RESTORE-ASKING"})
        BOOST_TEST(addrmap::find_command_keys(name) != nullptr, name);
    // The containers (rows keyed by a subcommand) are exactly the ones the lookup treats as such.
    for (const auto& row : addrmap::command_key_table)
        BOOST_TEST(addrmap::detail::is_key_container(row.name) == !row.subcommand.empty(), row.name);
}

BOOST_AUTO_TEST_CASE(samples_give_the_keys_command_getkeys_gives) {
    for (const auto& s : samples::all()) BOOST_TEST(extract(s.argv) == s.keys, s.argv[0]);
}

// Publishing has no key (COMMAND GETKEYS: "The command has no key arguments") but a route.
BOOST_AUTO_TEST_CASE(spublish_routes_by_its_shard_channel_and_publish_anywhere) {
    BOOST_TEST(addrmap::command_slot({"SPUBLISH", "news", "hi"}) == static_cast<int>(addrmap::key_slot("news")));
    BOOST_TEST(addrmap::command_slot({"spublish", "{user1}.feed", "hi"}) == static_cast<int>(addrmap::key_slot("user1")));
    BOOST_TEST(addrmap::command_slot({"SPUBLISH"}) == -1);  // the server answers the arity error
    BOOST_TEST(addrmap::command_slot({"PUBLISH", "news", "hi"}) == -1);
    BOOST_CHECK_THROW(addrmap::command_keys({"SPUBLISH", "news", "hi"}), error);  // still no keys of its own
}

BOOST_AUTO_TEST_CASE(every_truncation_is_an_error_or_in_bounds) {
    // Cut each sample at every length: each must either give positions inside what it was given, or error{config}.
    for (const auto& s : samples::all())
        for (std::size_t n = 0; n <= s.argv.size(); ++n) {
            exact_argv argv(s.argv, n);
            try {
                for (std::size_t i : addrmap::key_positions(argv.data.get(), argv.size)) BOOST_TEST(i < n);
            } catch (const error& e) {
                BOOST_TEST(e.kind() == error_kind::config);
                if (n > 0) BOOST_TEST(has(e.what(), s.argv[0]), e.what());
            }
        }
}

BOOST_AUTO_TEST_CASE(malformed_commands_name_the_command_and_the_position) {
    std::string m = config_error({"MGET"});
    BOOST_TEST(has(m, "'MGET', argument 1: a key is expected here"), m);
    m = config_error({"BLPOP", "k"});
    BOOST_TEST(has(m, "'BLPOP', argument 1"), m);
    m = config_error({"MSET", "a", "1", "b"});
    BOOST_TEST(has(m, "key value pairs"), m);
    m = config_error({"EVAL", "return 1", "-1"});
    BOOST_TEST((has(m, "argument 2") && has(m, "'-1'")), m);
    m = config_error({"EVAL", "return 1", "3", "a", "b"});
    BOOST_TEST(has(m, "the count says 3 key(s) but only 2"), m);
    m = config_error({"EVAL", "return 1", "99999999999999999999", "a"});
    BOOST_TEST(has(m, "must be a count"), m);
    m = config_error({"EVAL", "return 1", "2 "});
    BOOST_TEST(has(m, "must be a count"), m);
    m = config_error({"EVAL", "return 1", ""});
    BOOST_TEST(has(m, "must be a count"), m);
    m = config_error({"ZUNIONSTORE", "d", "0"});
    BOOST_TEST(has(m, "at least 1 key(s)"), m);
    m = config_error({"BLMPOP", "0", "999999999", "a", "LEFT"});
    BOOST_TEST(has(m, "argument 2"), m);
    m = config_error({"XREAD", "COUNT", "2", "a", "0"});
    BOOST_TEST(has(m, "no STREAMS"), m);
    m = config_error({"XREAD", "STREAMS", "a", "b", "0"});
    BOOST_TEST(has(m, "as many IDs as keys"), m);
    m = config_error({"XREAD", "STREAMS"});
    BOOST_TEST(has(m, "as many IDs as keys"), m);
    m = config_error({"XREADGROUP", "GROUP"});  // GROUP skips past the end: no read beyond argc
    BOOST_TEST(has(m, "no STREAMS"), m);
    m = config_error({"OBJECT"});
    BOOST_TEST(has(m, "needs a subcommand"), m);
    m = config_error({"OBJECT", "HELP"});
    BOOST_TEST(has(m, "'OBJECT HELP' is not in addrmap's table"), m);
    m = config_error({"PING"});
    BOOST_TEST(has(m, "pass the routing key yourself"), m);
    m = config_error({});
    BOOST_TEST(has(m, "empty command"), m);
    m = config_error({std::string("GET\x1b[2J\0x", 9)});
    BOOST_TEST(has(m, "'GET\\x1b[2J\\x00x'"), m);
    // Options that run past the end: SORT ... LIMIT, GEORADIUS ... STORE with nothing after it.
    BOOST_TEST(extract({"SORT", "k", "LIMIT"}) == std::vector<std::string>{"k"});
    BOOST_TEST(extract({"SORT", "k", "STORE"}) == std::vector<std::string>{"k"});
    BOOST_TEST(extract({"GEORADIUS", "k", "1", "2", "3", "km", "STORE"}) == std::vector<std::string>{"k"});
    BOOST_TEST(extract({"GEORADIUS", "k", "1", "2", "3", "km", "STORE", "a", "STOREDIST"}) ==
               (std::vector<std::string>{"k", "a"}));
    // MIGRATE: a key and KEYS at once, KEYS with nothing after it (AUTH took the other KEYS), too short.
    m = config_error({"MIGRATE", "h", "6379", "k", "0", "5000", "KEYS", "a", "b"});
    BOOST_TEST(has(m, "'MIGRATE', argument 3: with the KEYS option the key argument must be \"\""), m);
    m = config_error({"MIGRATE", "h", "6379", "k", "0", "5000", "KEYS", "KEYS"});
    BOOST_TEST(has(m, "argument 3"), m);
    m = config_error({"MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "KEYS", "KEYS"});
    BOOST_TEST(has(m, "'MIGRATE', argument 8: KEYS needs at least one key after it"), m);
    m = config_error({"MIGRATE", "h", "6379"});
    BOOST_TEST(has(m, "'MIGRATE', argument 3"), m);
    BOOST_TEST(extract({"MIGRATE", "h", "6379", "", "0", "5000", "KEYS", "KEYS"}) == std::vector<std::string>{"KEYS"});
    m = config_error({"PFDEBUG", "GETREG"});
    BOOST_TEST(has(m, "'PFDEBUG', argument 2: a key is expected here"), m);
    m = config_error({"XREAD", "BLOCK"});
    BOOST_TEST(has(m, "no STREAMS"), m);
}

BOOST_AUTO_TEST_CASE(random_argv_never_reads_past_argc) {
    // Fuzz-ish: argv built from table names, keywords, counts and junk; every result must stay in bounds.
    const std::vector<std::string> tokens = {"STREAMS", "GROUP", "COUNT", "BLOCK", "NOACK", "STORE", "STOREDIST", "LIMIT",
                                             "GET",     "BY",    "0",     "1",     "2",     "3",     "-1",        "",
                                             "999999999", "k",  "{t}a",  "\x01",  "ENCODING", "USAGE",
                                             "KEYS",    "AUTH",  "AUTH2"};
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    const auto next = [&] {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return state;
    };
    std::size_t accepted = 0, refused = 0;
    for (int round = 0; round < 200000; ++round) {
        std::vector<std::string> args;
        const std::size_t n = next() % 9;
        for (std::size_t i = 0; i < n; ++i) {
            if (i == 0 && next() % 8 != 0) {
                const auto& row = addrmap::command_key_table[next() % std::size(addrmap::command_key_table)];
                args.emplace_back(row.name);
            } else {
                args.push_back(tokens[next() % tokens.size()]);
            }
        }
        exact_argv argv(args, args.size());
        try {
            for (std::size_t i : addrmap::key_positions(argv.data.get(), argv.size)) BOOST_REQUIRE(i < args.size());
            ++accepted;
        } catch (const error& e) {
            BOOST_REQUIRE(e.kind() == error_kind::config);
            ++refused;
        }
    }
    BOOST_TEST(accepted > 1000u);
    BOOST_TEST(refused > 1000u);
}

BOOST_AUTO_TEST_CASE(slot_from_keys_and_hash_tags) {
    using V = std::vector<std::string_view>;
    BOOST_TEST(addrmap::command_slot(V{"GET", "foo"}) == addrmap::key_slot("foo"));
    BOOST_TEST(addrmap::command_slot(V{"MGET", "{user1}.a", "{user1}.b"}) == addrmap::key_slot("user1"));
    BOOST_TEST(addrmap::command_slot(V{"EVAL", "return 1", "0"}) == -1);
    BOOST_TEST(addrmap::command_slot(V{"BITOP", "OR", "{x}d", "{x}a"}) == addrmap::key_slot("x"));
    try {
        addrmap::command_slot(V{"MGET", "a", "b", "a"});
        BOOST_ERROR("cross-slot MGET accepted");
    } catch (const error& e) {
        const std::string m = e.what();
        BOOST_TEST(e.kind() == error_kind::config);
        BOOST_TEST(has(m, "'MGET' has keys in 2 slots: 'a' (slot 15495), 'b' (slot 3300), 'a' (slot 15495)"), m);
        BOOST_TEST(has(m, "hash tag"), m);
    }
    // Keys in a message are escaped and cut, and a long list is cut too.
    std::vector<std::string> keys = {std::string(500, 'x') + "\x1b", "k\n1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"};
    V argv{"DEL"};
    for (const auto& k : keys) argv.push_back(k);
    try {
        addrmap::command_slot(argv);
        BOOST_ERROR("cross-slot DEL accepted");
    } catch (const error& e) {
        const std::string m = e.what();
        BOOST_TEST(has(m, "(501 bytes)"), m);
        BOOST_TEST(has(m, "'k\\x0a1'"), m);
        BOOST_TEST(has(m, "and 2 more"), m);
        BOOST_TEST(m.size() < 1200u);
        for (char c : m) BOOST_TEST((c >= 0x20 && c < 0x7f));
    }
}

BOOST_AUTO_TEST_CASE(decoded_commands_round_trip) {
    const std::string cmd = addrmap::detail::format_argv({"SET", std::string_view("a\0b", 3), ""});
    const auto argv = addrmap::detail::decode_command(cmd);
    BOOST_TEST(argv.size() == 3u);
    BOOST_TEST(argv[1] == std::string_view("a\0b", 3));
    BOOST_TEST(argv[2].empty());
    BOOST_CHECK_THROW(addrmap::detail::decode_command("*2\r\n$3\r\nGET\r\n"), error);
    BOOST_CHECK_THROW(addrmap::detail::decode_command("*0\r\n"), error);
}

// ---- transaction rules, on canned replies ----------------------------------------------------------------

namespace {
std::vector<addrmap::detail::reply_ptr> replies(std::initializer_list<std::string> resp) {
    std::vector<addrmap::detail::reply_ptr> out;
    for (const auto& r : resp) out.push_back(addrmap_test::parse_resp(r));
    return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(exec_replies_committed_nil_and_aborted) {
    using addrmap::detail::settle_exec;
    const std::vector<std::string> names = {"SET", "INCR"};
    auto r = settle_exec(replies({"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n+OK\r\n:1\r\n"}), names, 7, "n:1");
    BOOST_TEST(r->type == REDIS_REPLY_ARRAY);
    r = settle_exec(replies({"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*-1\r\n"}), names, 7, "n:1");
    BOOST_TEST(r->type == REDIS_REPLY_NIL);  // a WATCHed key changed
    r = settle_exec(replies({"+OK\r\n", "-ERR wrong number of arguments\r\n", "+QUEUED\r\n",
                             "-EXECABORT Transaction discarded because of previous errors.\r\n"}),
                    names, 7, "n:1");
    BOOST_TEST(r->type == REDIS_REPLY_ERROR);  // an ordinary refusal is the caller's reply
    BOOST_CHECK_THROW(settle_exec(replies({"+OK\r\n", "*-1\r\n"}), names, 7, "n:1"), error);
    // MULTI refused while the queued commands travelled with it: they ran on their own, and the caller is told so.
    try {
        settle_exec(replies({"-NOPERM this user has no permissions to run the 'multi' command\r\n", "+OK\r\n", ":3\r\n",
                             "-ERR EXEC without MULTI\r\n"}),
                    names, 7, "n:1");
        BOOST_ERROR("a refused MULTI was not reported");
    } catch (const error& e) {
        const std::string m = e.what();
        BOOST_TEST(e.kind() == error_kind::server);
        BOOST_TEST(has(m, "n:1 refused MULTI: 'NOPERM"), m);
        BOOST_TEST(has(m, "ran one by one, NOT as a transaction"), m);
        BOOST_TEST(has(m, "#1 'SET': 'OK'"), m);
        BOOST_TEST(has(m, "#2 'INCR': 3"), m);
    }
}

BOOST_AUTO_TEST_CASE(redirects_inside_a_transaction_end_it) {
    using addrmap::detail::settle_exec;
    const std::vector<std::string> names = {"SET", "INCR"};
    const auto expect_moved = [&](std::initializer_list<std::string> resp, std::string_view step, std::string_view text) {
        try {
            settle_exec(replies(resp), names, 7, "node:7001");
            BOOST_ERROR("a redirect inside a transaction was not an error");
        } catch (const error& e) {
            const std::string m = e.what();
            BOOST_TEST(e.kind() == error_kind::topology);
            BOOST_TEST(has(m, "slot 7 is moving"), m);
            BOOST_TEST(has(m, step), m);
            BOOST_TEST(has(m, text), m);
            BOOST_TEST(has(m, "Nothing was committed (the server refused EXEC)"), m);
            BOOST_TEST(has(m, "retry the whole transaction"), m);
        }
    };
    const std::string abort = "-EXECABORT Transaction discarded because of previous errors.\r\n";
    expect_moved({"+OK\r\n", "+QUEUED\r\n", "-ASK 7 127.0.0.1:7002\r\n", abort}, "queued command #2 'INCR'", "'ASK 7 127.0.0.1:7002'");
    expect_moved({"+OK\r\n", "-MOVED 7 127.0.0.1:7002\r\n", "+QUEUED\r\n", abort}, "queued command #1 'SET'", "MOVED 7");
    expect_moved({"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "-MOVED 7 127.0.0.1:7002\r\n"}, "EXEC got", "MOVED 7");
    expect_moved({"+OK\r\n", "-TRYAGAIN Multiple keys request during rehashing of slot\r\n", "+QUEUED\r\n", abort}, "#1",
                 "TRYAGAIN");
    expect_moved({"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "-CLUSTERDOWN The cluster is down\r\n"}, "EXEC", "CLUSTERDOWN");
    // Server text is escaped.
    expect_moved({"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "-MOVED 7 \x1b[2J:1\r\n"}, "EXEC", "\\x1b[2J");
    BOOST_TEST(!addrmap::detail::is_cluster_refusal(*addrmap_test::parse_resp("-MOVEDX\r\n")));
    BOOST_TEST(!addrmap::detail::is_cluster_refusal(*addrmap_test::parse_resp("+MOVED 1 a:1\r\n")));
}

BOOST_AUTO_TEST_SUITE_END()
