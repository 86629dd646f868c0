// tests/unit/test_pubsub_frames.cpp — reading a subscriber connection's replies: each frame Redis 7 sends (RESP2),
// and the malformed or foreign ones a hostile node could send instead, refused with the node named.
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/pubsub_frames.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using addrmap::error;
using addrmap::error_kind;
using addrmap::detail::pubsub_family;
using addrmap::detail::pubsub_frame;
using addrmap::detail::pubsub_frame_kind;
using addrmap::detail::read_pubsub_frame;
using addrmap_test::parse_resp;

BOOST_AUTO_TEST_SUITE(pubsub_frames)

namespace {
const char* const node = "10.0.0.1:7000 -> node1.redis.test:7000";
}

BOOST_AUTO_TEST_CASE(every_frame_the_server_sends_is_read) {
    {
        const auto r = parse_resp("*3\r\n$10\r\nssubscribe\r\n$4\r\nnews\r\n:2\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.kind == pubsub_frame_kind::subscribed));
        BOOST_TEST((f.family == pubsub_family::sharded));
        BOOST_TEST(f.channel == "news");
        BOOST_TEST(f.count == 2);
    }
    {  // the push Redis 7 sends when the slot moves (SETSLOT NODE, CLUSTER REPLICATE, DELSLOTS, CLUSTER RESET)
        const auto r = parse_resp("*3\r\n$12\r\nsunsubscribe\r\n$4\r\nnews\r\n:0\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.kind == pubsub_frame_kind::unsubscribed));
        BOOST_TEST((f.family == pubsub_family::sharded));
        BOOST_TEST(f.channel == "news");
        BOOST_TEST(f.count == 0);
    }
    {  // UNSUBSCRIBE with nothing subscribed: no channel
        const auto r = parse_resp("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.kind == pubsub_frame_kind::unsubscribed));
        BOOST_TEST((f.family == pubsub_family::classic));
        BOOST_TEST(f.channel.empty());
    }
    {
        const auto r = parse_resp("*3\r\n$10\r\npsubscribe\r\n$13\r\n__keyspace*:*\r\n:1\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.family == pubsub_family::pattern));
        BOOST_TEST(f.channel == "__keyspace*:*");
    }
    {
        const std::string bytes("*3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$5\r\nhel\0o\r\n", 39);
        const auto r = parse_resp(bytes);
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.kind == pubsub_frame_kind::message));
        BOOST_TEST((f.family == pubsub_family::sharded));
        BOOST_TEST(f.channel == "news");
        BOOST_TEST(f.payload == std::string("hel\0o", 5));  // binary-safe
    }
    {
        const auto r = parse_resp("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$0\r\n\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.family == pubsub_family::classic));
        BOOST_TEST(f.payload.empty());  // an empty message is a message
    }
    {
        const auto r = parse_resp("*4\r\n$8\r\npmessage\r\n$3\r\nn*s\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.family == pubsub_family::pattern));
        BOOST_TEST(f.pattern == "n*s");
        BOOST_TEST(f.channel == "news");
        BOOST_TEST(f.payload == "hi");
    }
    {
        const auto r = parse_resp("*2\r\n$4\r\npong\r\n$3\r\nabc\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.kind == pubsub_frame_kind::pong));
        BOOST_TEST(f.payload == "abc");
    }
    {  // PING once the last subscription is gone: the connection left subscribed mode
        const auto r = parse_resp("+PONG\r\n");
        BOOST_TEST((read_pubsub_frame(*r, node).kind == pubsub_frame_kind::pong));
    }
    {  // a refused SSUBSCRIBE is the subscriber's business, not a protocol fault
        const auto r = parse_resp("-MOVED 6918 10.0.0.2:7001\r\n");
        const pubsub_frame f = read_pubsub_frame(*r, node);
        BOOST_TEST((f.kind == pubsub_frame_kind::error_reply));
        BOOST_TEST(f.payload == "MOVED 6918 10.0.0.2:7001");
    }
}

BOOST_AUTO_TEST_CASE(malformed_and_foreign_frames_are_refused_naming_the_node) {
    struct bad {
        const char* resp;
        const char* says;
    };
    const bad cases[] = {
        {"+OK\r\n", "a status reply where an array belongs"},
        {":1\r\n", "an integer reply where an array belongs"},
        {"*0\r\n", "without a kind"},
        {"*1\r\n:5\r\n", "without a kind"},
        {"*3\r\n$10\r\nsubscribes\r\n$1\r\na\r\n:1\r\n", "unknown kind"},
        {"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n:1\r\n", "unknown kind"},  // the server writes lower case
        {"*3\r\n$7\r\ninvalid\r\n$1\r\na\r\n$1\r\nb\r\n", "unknown kind"},
        {"*2\r\n$9\r\nsubscribe\r\n$1\r\na\r\n", "2 elements (3 expected)"},
        {"*4\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "4 elements (3 expected)"},
        {"*3\r\n$8\r\npmessage\r\n$1\r\na\r\n$1\r\nb\r\n", "3 elements (4 expected)"},
        {"*3\r\n$9\r\nsubscribe\r\n$-1\r\n:1\r\n", "without a channel"},
        {"*3\r\n$9\r\nsubscribe\r\n$0\r\n\r\n:1\r\n", "without a channel"},
        {"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:-1\r\n", "without a subscription count"},
        {"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n$1\r\n1\r\n", "without a subscription count"},
        {"*3\r\n$7\r\nmessage\r\n:1\r\n$1\r\nb\r\n", "not a string"},
        {"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n*0\r\n", "not a string"},
        {"*3\r\n$7\r\nmessage\r\n$0\r\n\r\n$1\r\nb\r\n", "without a channel"},
        {"*2\r\n$4\r\npong\r\n:1\r\n", "not a string"},
    };
    for (const bad& c : cases) {
        BOOST_TEST_CONTEXT(addrmap::detail::quoted(c.resp)) {
            const auto r = parse_resp(c.resp);
            try {
                (void)read_pubsub_frame(*r, node);
                BOOST_FAIL("accepted");
            } catch (const error& e) {
                BOOST_TEST((e.kind() == error_kind::protocol));
                const std::string what = e.what();
                BOOST_TEST(what.find(node) != std::string::npos, what);
                BOOST_TEST(what.find(c.says) != std::string::npos, what);
                BOOST_TEST(what.find("dropped") != std::string::npos, what);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(outside_text_in_a_refusal_is_escaped) {
    const auto r = parse_resp("*3\r\n$10\r\nsub\x1b[31m\nx\r\n$1\r\na\r\n:1\r\n");
    try {
        (void)read_pubsub_frame(*r, node);
        BOOST_FAIL("accepted");
    } catch (const error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find('\x1b') == std::string::npos, what);
        BOOST_TEST(what.find('\n') == std::string::npos, what);
    }
}

// cluster_options::subscriber_max_frame_bytes below 4096 would drop a confirmation with a long channel name: refused
// when the subscriber is made, with the number and the default.
BOOST_AUTO_TEST_CASE(a_frame_bound_too_small_for_a_confirmation_is_refused) {
    BOOST_TEST(addrmap::detail::checked_max_frame_bytes(4096) == 4096u);
    BOOST_TEST(addrmap::detail::checked_max_frame_bytes(addrmap::cluster_options{}.subscriber_max_frame_bytes) ==
               (std::size_t{512} << 20) + 64 * 1024);
    try {
        (void)addrmap::detail::checked_max_frame_bytes(100);
        BOOST_FAIL("accepted");
    } catch (const error& e) {
        BOOST_TEST((e.kind() == addrmap::error_kind::config));
        const std::string what = e.what();
        BOOST_TEST(what.find("subscriber_max_frame_bytes is 100") != std::string::npos, what);
    }
}

BOOST_AUTO_TEST_SUITE_END()
