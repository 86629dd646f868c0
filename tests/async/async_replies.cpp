// tests/async/async_replies.cpp — the async cluster's replies, built into shared blocks on its node connections, read
// on the wire as hiredis's own would: every type a node sends, a push in between, replies dribbled across many reads,
// a reply cut short; replies outlive the cluster and later replies, and a SET costs no hiredis reply object.
#include "../fuzz/targets.hpp"
#include "async_support.hpp"
#include "hostile_node.hpp"

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <hiredis/alloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace addrmap;

namespace async_replies_support {

using loops = boost::mpl::list<live::libevent_fixture, live::libuv_fixture, live::libev_fixture, live::asio_fixture>;
using ms = std::chrono::milliseconds;

/// hiredis's own reading of `bytes` (one whole reply).
reply_ptr hiredis_reads(std::string_view bytes) {
    detail::reader_ptr reader(redisReaderCreate());
    BOOST_TEST_REQUIRE(redisReaderFeed(reader.get(), bytes.data(), bytes.size()) == REDIS_OK);
    void* raw = nullptr;
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
    BOOST_TEST_REQUIRE(raw != nullptr);
    return reply_ptr(static_cast<redisReply*>(raw));
}

void check_same(const redisReply& ours, const redisReply& theirs, const std::string& where) {
    BOOST_TEST_CONTEXT(where) { BOOST_CHECK_NO_THROW(fuzz_targets::check_same_reply(ours, theirs)); }
}

// Nested, with RESP3 types a node may send (hiredis reads them on any connection).
const std::string every_type_reply =
    "*9\r\n+OK\r\n:-7\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\nx\r\n*0\r\n%1\r\n+k\r\n,2.5\r\n~1\r\n#t\r\n"
    "=7\r\ntxt:abc\r\n(12345678901234567890\r\n";
// Not a subscribe message (its kind is a status, not a bulk string): hiredis lets go of it with no push callback set.
const std::string push_reply = ">2\r\n+message\r\n$2\r\nhi\r\n";

cluster_options options_for(const live::hostile_node& node) {
    cluster_options options = live::async_options({node.address()});
    options.min_backoff = ms(1);
    return options;
}

/// hiredis's allocations (its allocator: replies, command buffers, callbacks) while a counter is installed.
std::atomic<long> hiredis_allocations{0};
struct counting_hiredis_allocator {
    counting_hiredis_allocator() {
        hiredis_allocations = 0;
        hiredisAllocFuncs counting{[](std::size_t n) { ++hiredis_allocations; return std::malloc(n); },
                                   [](std::size_t n, std::size_t size) { ++hiredis_allocations; return std::calloc(n, size); },
                                   [](void* p, std::size_t n) { ++hiredis_allocations; return std::realloc(p, n); },
                                   [](const char* s) { ++hiredis_allocations; return strdup(s); },
                                   [](void* p) { std::free(p); }};
        hiredisSetAllocators(&counting);
    }
    ~counting_hiredis_allocator() { hiredisResetAllocators(); }
    counting_hiredis_allocator(const counting_hiredis_allocator&) = delete;
    counting_hiredis_allocator& operator=(const counting_hiredis_allocator&) = delete;
};

}  // namespace async_replies_support

using namespace async_replies_support;

BOOST_AUTO_TEST_SUITE(async_replies)

// 200 GETs in flight, each answered by a push (let go of by hiredis through the block's release) and then a reply of
// every type: each reads field by field as hiredis reads it, and stays whole after the cluster is gone.
BOOST_AUTO_TEST_CASE_TEMPLATE(every_type_a_node_sends_reads_as_hiredis_reads_it_and_outlives_the_cluster, Fixture, loops) {
    live::hostile_node node;
    node.set_get_reply(push_reply + every_type_reply);
    const reply_ptr expected = hiredis_reads(every_type_reply);
    Fixture loop;
    std::vector<outcome> kept;
    {
        ip_to_hostname_async_cluster cluster(options_for(node), loop.binding(), ip_to_hostname("localhost"));
        const std::string connect_error = live::connect_and_wait(loop, cluster);
        BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
        for (int i = 0; i < 200; ++i)
            cluster.command("k", [&](outcome o) { kept.push_back(std::move(o)); }, "GET k%d", i);
        BOOST_TEST_REQUIRE(loop.run_until([&] { return kept.size() == 200u; }));
        for (const outcome& o : kept) {
            BOOST_TEST_REQUIRE(o.ok(), (o.failure() ? o.failure()->what() : ""));
            check_same(*o.reply(), *expected, "async call");
        }
    }
    loop.drain();
    check_same(*kept.front().reply(), *expected, "after the cluster");
    reply_ptr taken = std::move(kept.back()).value();  // hiredis's own: freeReplyObject frees it
    check_same(*taken, *expected, "value()");
}

BOOST_AUTO_TEST_CASE(replies_dribbled_a_byte_at_a_time_are_built_across_reads) {
    live::hostile_node node;
    const std::string reply = "*3\r\n$3\r\nabc\r\n:42\r\n*1\r\n+in\r\n";
    node.set_get_reply(reply);
    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(options_for(node), loop.binding(), ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    node.set_dribble(ms(2));  // 33 bytes a reply, one per write: each reply spans dozens of reads, in flight together
    std::vector<outcome> out;
    for (int i = 0; i < 6; ++i) cluster.command("k", [&](outcome o) { out.push_back(std::move(o)); }, "GET k");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return out.size() == 6u; }));
    node.set_dribble(ms(0));
    const reply_ptr expected = hiredis_reads(reply);
    for (const outcome& o : out) {
        BOOST_TEST_REQUIRE(o.ok(), (o.failure() ? o.failure()->what() : ""));
        check_same(*o.reply(), *expected, "dribbled");
    }
}

// A whole reply and then half an array in the same write: the callback gets the whole one, hiredis goes on to build
// the half in the connection's block (one read: it is there when the loop's tick sees the callback ran), and
// destroying the cluster frees the context with it half built (ASan: nothing leaked, nothing freed twice). Then a new
// cluster reads whole replies from the node again.
BOOST_AUTO_TEST_CASE(a_half_built_reply_is_let_go_of_with_its_connection) {
    live::hostile_node node;
    node.set_get_reply("$1\r\nx\r\n*3\r\n:1\r\n*2\r\n$100000\r\n" + std::string(50000, 'h'));
    live::libevent_fixture loop;
    {
        ip_to_hostname_async_cluster cluster(options_for(node), loop.binding(), ip_to_hostname("localhost"));
        const std::string connect_error = live::connect_and_wait(loop, cluster);
        BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
        std::optional<outcome> whole;
        cluster.command("k", [&](outcome o) { whole.emplace(std::move(o)); }, "GET k");
        BOOST_TEST_REQUIRE(loop.run_until([&] { return whole.has_value(); }));
        BOOST_TEST_REQUIRE(whole->ok(), (whole->failure() ? whole->failure()->what() : ""));
        BOOST_TEST(std::string((*whole)->str, (*whole)->len) == "x");
    }
    loop.drain();
    node.set_get_reply("");
    ip_to_hostname_async_cluster cluster(options_for(node), loop.binding(), ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    std::optional<outcome> set, get;
    cluster.command("k", [&](outcome o) { set.emplace(std::move(o)); }, "SET k %s", "whole");
    cluster.command("k", [&](outcome o) { get.emplace(std::move(o)); }, "GET k");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return set.has_value() && get.has_value(); }));
    BOOST_TEST_REQUIRE(set->ok(), (set->failure() ? set->failure()->what() : ""));
    BOOST_TEST_REQUIRE(get->ok(), (get->failure() ? get->failure()->what() : ""));
    BOOST_TEST(std::string((*get)->str, (*get)->len) == "whole");
}

// A push carrying a large value before each reply: hiredis lets go of each push itself, through the block's release,
// between two replies (ASan watches those frees; that no grown block stays behind is the unit test's to show, since
// on the wire the next reply's block replaces it either way). Each reply after a push reads whole.
BOOST_AUTO_TEST_CASE(a_large_push_before_each_reply_is_let_go_of_on_the_wire) {
    live::hostile_node node;
    node.set_get_reply(">2\r\n+message\r\n$1048576\r\n" + std::string(1048576, 'p') + "\r\n$1\r\nx\r\n");
    live::libevent_fixture loop;
    ip_to_hostname_async_cluster cluster(options_for(node), loop.binding(), ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    std::vector<outcome> out;
    for (int i = 0; i < 3; ++i) cluster.command("k", [&](outcome o) { out.push_back(std::move(o)); }, "GET k");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return out.size() == 3u; }));
    for (const outcome& o : out) {
        BOOST_TEST_REQUIRE(o.ok(), (o.failure() ? o.failure()->what() : ""));
        BOOST_TEST(std::string(o->str, o->len) == "x");
    }
}

// Half an array and then nothing: the call ends at its deadline (a read: timeout), its reply half built in the
// connection's block; the connection stays (a late reply would be dropped) until the cluster is destroyed, which frees
// the context with the half reply in it (ASan).
BOOST_AUTO_TEST_CASE(a_call_whose_reply_stops_half_way_ends_at_its_deadline) {
    live::hostile_node node;
    node.set_get_reply("*3\r\n:1\r\n$5\r\nab");
    live::libevent_fixture loop;
    std::optional<outcome> cut;
    {
        ip_to_hostname_async_cluster cluster(options_for(node), loop.binding(), ip_to_hostname("localhost"));
        const std::string connect_error = live::connect_and_wait(loop, cluster);
        BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
        call_options short_deadline;
        short_deadline.deadline = ms(600);
        cluster.command(short_deadline, "k", [&](outcome o) { cut.emplace(std::move(o)); }, "GET k");
        BOOST_TEST_REQUIRE(loop.run_until([&] { return cut.has_value(); }));
    }
    loop.drain();
    BOOST_TEST_REQUIRE(!cut->ok());
    BOOST_TEST(cut->failure()->kind() == error_kind::timeout, cut->failure()->what());
}

// On the live cluster: a 1 MiB value kept from one reply stays whole while thousands of replies are built after it on
// the same connection; and SETs in flight cost hiredis about one allocation each (its callback entry): no reply object
// (hiredis's own reply functions made two more per SET, "+OK": the object and its text) and no command buffer (the
// command is encoded into its pooled call's buffer; it was one more per SET).
BOOST_AUTO_TEST_CASE_TEMPLATE(a_kept_reply_outlives_later_replies_and_a_set_builds_no_reply_object, Fixture, loops) {
    Fixture loop;
    ip_to_hostname_async_cluster cluster(live::async_options({live::seed_by_name()}), loop.binding(),
                                         ip_to_hostname("localhost"));
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    const std::string big_key = std::string("{async-replies}big-") + Fixture::name;
    std::string big(1024 * 1024, 'b');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    std::optional<outcome> stored, kept;
    cluster.command_argv(big_key, {"SET", big_key, big}, [&](outcome o) { stored.emplace(std::move(o)); });
    cluster.command_argv(big_key, {"GET", big_key}, [&](outcome o) { kept.emplace(std::move(o)); });
    BOOST_TEST_REQUIRE(loop.run_until([&] { return stored.has_value() && kept.has_value(); }));
    BOOST_TEST_REQUIRE(kept->ok(), (kept->failure() ? kept->failure()->what() : ""));
    BOOST_TEST_REQUIRE((*kept)->type == REDIS_REPLY_STRING);

    std::vector<std::string> keys;  // one slot: the big reply's connection
    for (int i = 0; i < 4000; ++i) keys.push_back(std::string("{async-replies}small-") + Fixture::name + std::to_string(i));
    std::size_t ok = 0, failed = 0;
    long allocations = 0;
    {
        const counting_hiredis_allocator counting;
        for (const auto& key : keys)
            cluster.command(key, [&](outcome o) { (o && o->type == REDIS_REPLY_STATUS ? ok : failed) += 1; }, "SET %s %s",
                            key.c_str(), "v");
        BOOST_TEST_REQUIRE(loop.run_until([&] { return ok + failed == keys.size(); }));
        allocations = hiredis_allocations.load();
    }
    BOOST_TEST(failed == 0u);
    const double per_set = static_cast<double>(allocations) / static_cast<double>(keys.size());
    std::cout << Fixture::name << ": hiredis allocations per SET in flight " << per_set << "\n";
    BOOST_TEST(per_set < 1.5, "hiredis made " << allocations << " allocations for " << keys.size() << " SETs");
    // The 1 MiB reply read before all of that is untouched.
    BOOST_TEST(std::string_view((*kept)->str, (*kept)->len) == big);
}

BOOST_AUTO_TEST_SUITE_END()
