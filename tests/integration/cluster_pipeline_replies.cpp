// tests/integration/cluster_pipeline_replies.cpp — a pipeline's replies, built into shared blocks, read on the wire as
// hiredis's own would: every type a node sends, a push reply in the middle, a reply dribbled across many reads, a
// reply cut short; replies outlive the cluster, and value() hands over a reply freeReplyObject frees.
#include "../fuzz/targets.hpp"
#include "cluster_test_support.hpp"
#include "hostile_node.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ms = std::chrono::milliseconds;

/// Field by field, as hiredis lays a reply out (the fuzz target's check, which names the field that differs).
void check_same(const redisReply& ours, const redisReply& theirs, const std::string& where) {
    BOOST_TEST_CONTEXT(where) { BOOST_CHECK_NO_THROW(fuzz_targets::check_same_reply(ours, theirs)); }
}

/// hiredis's own reading of `bytes` (one whole reply).
addrmap::reply_ptr hiredis_reads(std::string_view bytes) {
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    BOOST_TEST_REQUIRE(redisReaderFeed(reader.get(), bytes.data(), bytes.size()) == REDIS_OK);
    void* raw = nullptr;
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
    BOOST_TEST_REQUIRE(raw != nullptr);
    return addrmap::reply_ptr(static_cast<redisReply*>(raw));
}

// Nested, with RESP3 types a node may send (hiredis reads them on any connection).
const std::string every_type_reply =
    "*9\r\n+OK\r\n:-7\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\nx\r\n*0\r\n%1\r\n+k\r\n,2.5\r\n~1\r\n#t\r\n"
    "=7\r\ntxt:abc\r\n(12345678901234567890\r\n";
const std::string push_reply = ">2\r\n+message\r\n$2\r\nhi\r\n";

addrmap::cluster_options options_for(const live::hostile_node& node) {
    addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
    options.min_backoff = ms(1);
    return options;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_pipeline_replies)

BOOST_AUTO_TEST_CASE(every_type_a_node_sends_reads_as_hiredis_reads_it_and_outlives_the_cluster) {
    live::hostile_node node;
    // Each GET is answered by a push reply (hiredis hands it to the push callback, never to the caller) and then
    // the reply itself.
    node.set_get_reply(push_reply + every_type_reply);
    const addrmap::reply_ptr expected = hiredis_reads(every_type_reply);
    std::vector<addrmap::outcome> kept;
    {
        addrmap::ip_to_hostname_cluster cluster(options_for(node), addrmap::ip_to_hostname("localhost"));
        cluster.connect();
        addrmap::pipeline batch;
        for (int i = 0; i < 200; ++i) batch.add("k" + std::to_string(i), "GET k%d", i);
        kept = cluster.execute(batch);
        BOOST_TEST_REQUIRE(kept.size() == 200u);
        for (const addrmap::outcome& o : kept) {
            BOOST_TEST_REQUIRE(o.ok(), (o.failure() ? o.failure()->what() : ""));
            check_same(*o.reply(), *expected, "pipeline");
        }
        // The same connection, then, for a single command (hiredis's own functions again): the same reading.
        const addrmap::reply_ptr single = cluster.command("k", "GET k");
        check_same(*single, *expected, "command");
    }
    // The cluster is gone; the replies' blocks are not.
    check_same(*kept.front().reply(), *expected, "after the cluster");
    addrmap::reply_ptr taken = std::move(kept.back()).value();  // hiredis's own: freeReplyObject frees it
    check_same(*taken, *expected, "value()");
}

// A push callback the user set (on_connect) still gets every push, during a pipeline too, as a reply of hiredis's.
BOOST_AUTO_TEST_CASE(a_users_push_callback_gets_the_pushes_a_pipeline_meets) {
    live::hostile_node node;
    node.set_get_reply(push_reply + "+OK\r\n");
    static int pushes = 0;
    pushes = 0;
    addrmap::cluster_options options = options_for(node);
    options.on_connect = [](redisContext* c, const addrmap::node_info&) {
        redisSetPushCallback(c, [](void*, void* reply) {
            auto* r = static_cast<redisReply*>(reply);
            if (r->type == REDIS_REPLY_PUSH && r->elements == 2 && std::string(r->element[1]->str) == "hi") ++pushes;
            freeReplyObject(r);  // hiredis's own: the callback owns it
        });
    };
    addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    addrmap::pipeline batch;
    for (int i = 0; i < 20; ++i) batch.add("k", "GET k");
    for (const addrmap::outcome& o : cluster.execute(batch)) {
        BOOST_TEST_REQUIRE(o.ok());
        BOOST_TEST(o->type == REDIS_REPLY_STATUS);
    }
    BOOST_TEST(pushes == 20);
    BOOST_TEST(cluster.command("k", "GET k")->type == REDIS_REPLY_STATUS);
    BOOST_TEST(pushes == 21);
}

BOOST_AUTO_TEST_CASE(replies_dribbled_a_byte_at_a_time_are_built_across_reads) {
    live::hostile_node node;
    const std::string reply = "*3\r\n$3\r\nabc\r\n:42\r\n*1\r\n+in\r\n";
    node.set_get_reply(reply);
    addrmap::ip_to_hostname_cluster cluster(options_for(node), addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    node.set_dribble(ms(2));  // 33 bytes a reply, one per write: each reply spans dozens of reads
    addrmap::pipeline batch;
    for (int i = 0; i < 6; ++i) batch.add("k", "GET k");
    const std::vector<addrmap::outcome> out = cluster.execute(batch);
    node.set_dribble(ms(0));
    const addrmap::reply_ptr expected = hiredis_reads(reply);
    for (const addrmap::outcome& o : out) {
        BOOST_TEST_REQUIRE(o.ok(), (o.failure() ? o.failure()->what() : ""));
        check_same(*o.reply(), *expected, "dribbled");
    }
}

BOOST_AUTO_TEST_CASE(a_reply_cut_short_fails_the_entry_and_the_next_pipeline_reads_clean) {
    live::hostile_node node;
    addrmap::cluster_options options = options_for(node);
    options.deadline = ms(600);
    addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    // Half an array, and then nothing: the read ends at the deadline with the array half built.
    node.set_get_reply("*3\r\n:1\r\n$5\r\nab");
    addrmap::pipeline batch;
    batch.add("k", "GET k");
    batch.add("k", "GET k");
    const std::vector<addrmap::outcome> cut = cluster.execute(batch);
    for (const addrmap::outcome& o : cut) {
        BOOST_TEST_REQUIRE(!o.ok());
        BOOST_TEST((o.failure()->kind() == addrmap::error_kind::timeout ||
                    o.failure()->kind() == addrmap::error_kind::unknown_outcome),
                   o.failure()->what());
    }
    // A new connection, read from the start: whole replies again.
    node.set_get_reply("");
    BOOST_TEST_REQUIRE(cluster.command("k", "SET k %s", "whole")->type == REDIS_REPLY_STATUS);
    addrmap::pipeline again;
    again.add("k", "GET k");
    const std::vector<addrmap::outcome> out = cluster.execute(again);
    BOOST_TEST_REQUIRE(out[0].ok(), (out[0].failure() ? out[0].failure()->what() : ""));
    BOOST_TEST(std::string(out[0]->str, out[0]->len) == "whole");
}

BOOST_AUTO_TEST_SUITE_END()
