// tests/unit/test_reply_arena.cpp — replies built into shared blocks read exactly as hiredis's own (every RESP2 and
// RESP3 type), outlive their builder and each other, cost a block per thousand, and nothing leaks on a cut or a
// protocol error (ASan's leak check runs this suite in ./scripts/test).
#include <addrmap/detail/reply_arena.hpp>
#include <addrmap/pipeline.hpp>

#include "../fuzz/targets.hpp"
#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using addrmap::detail::arena_reply;
using addrmap::detail::reply_builder;

namespace {

/// Field by field, as hiredis lays a reply out (the fuzz target's check, which names the field that differs).
void check_same(const redisReply& ours, const redisReply& theirs, const std::string& where) {
    BOOST_TEST_CONTEXT(where) { BOOST_CHECK_NO_THROW(fuzz_targets::check_same_reply(ours, theirs)); }
}

/// Every reply in `bytes`, built by `builder` through a bare reader.
std::vector<arena_reply> read_all(reply_builder& builder, std::string_view bytes) {
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    const reply_builder::installed into(builder, reader.get());
    BOOST_TEST_REQUIRE(redisReaderFeed(reader.get(), bytes.data(), bytes.size()) == REDIS_OK);
    std::vector<arena_reply> out;
    while (true) {
        void* raw = nullptr;
        BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
        if (raw == nullptr) return out;
        out.emplace_back(static_cast<redisReply*>(raw));
    }
}

/// Feeds `bytes` to `reader` and asks it for one reply: hiredis's status (REDIS_ERR also when a reader in error
/// refuses the bytes); the reply, or nullptr, in `raw`.
int feed_and_read(redisReader* reader, std::string_view bytes, void*& raw) {
    raw = nullptr;
    if (redisReaderFeed(reader, bytes.data(), bytes.size()) != REDIS_OK) return REDIS_ERR;
    return redisReaderGetReply(reader, &raw);
}

// One of every type hiredis 1.2 reads, nested where it can be.
const std::vector<std::string> every_type = {
    "+OK\r\n",
    "-ERR wrong\r\n",
    ":-42\r\n",
    "$5\r\nhello\r\n",
    "$0\r\n\r\n",
    std::string("$3\r\na\0b\r\n", 9),
    "$-1\r\n",
    "*-1\r\n",
    "*0\r\n",
    "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n+y\r\n$-1\r\n",
    "%2\r\n+k1\r\n:1\r\n+k2\r\n*1\r\n,3.5\r\n",
    "~2\r\n+a\r\n+b\r\n",
    ",1.25\r\n",
    ",inf\r\n",
    "#t\r\n",
    "#f\r\n",
    "_\r\n",
    "(3492890328409238509324850943850943825024385\r\n",
    "=15\r\ntxt:Some string\r\n",
    ">2\r\n+message\r\n$2\r\nhi\r\n",
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_reply_arena)

BOOST_AUTO_TEST_CASE(every_type_reads_as_hiredis_builds_it_and_copies_back_to_hiredis) {
    reply_builder builder;
    for (const std::string& bytes : every_type) {
        const addrmap::detail::reply_ptr theirs = addrmap_test::parse_resp(bytes);
        std::vector<arena_reply> ours = read_all(builder, bytes);
        BOOST_TEST_REQUIRE(ours.size() == 1u, bytes);
        check_same(*ours[0].get(), *theirs, bytes);
        // The copy is hiredis's own: freeReplyObject frees it (ASan checks every byte of that).
        const addrmap::detail::reply_ptr copy(addrmap::detail::copy_for_hiredis(*ours[0].get()));
        BOOST_TEST_REQUIRE(copy.get() != nullptr);
        check_same(*copy, *theirs, bytes + " (copy)");
    }
}

BOOST_AUTO_TEST_CASE(replies_outlive_their_builder_and_each_other) {
    std::vector<arena_reply> kept;
    {
        reply_builder builder;
        kept = read_all(builder, "+first\r\n*2\r\n$3\r\nabc\r\n:7\r\n+third\r\n");
    }
    BOOST_TEST_REQUIRE(kept.size() == 3u);
    kept.erase(kept.begin());  // the block stays for the two others
    BOOST_TEST(std::string(kept[0].get()->element[0]->str) == "abc");
    kept.pop_back();
    BOOST_TEST(kept[0].get()->element[1]->integer == 7);
}

BOOST_AUTO_TEST_CASE(a_thousand_replies_take_one_block_and_a_large_value_its_own_chunk) {
    reply_builder builder;
    std::string thousand;
    for (int i = 0; i < 1000; ++i) thousand += "+OK\r\n";
    BOOST_TEST(read_all(builder, thousand).size() == 1000u);
    BOOST_TEST(builder.blocks_made() <= 2u);
    const std::string big(3 * 1024 * 1024, 'v');
    std::vector<arena_reply> replies = read_all(builder, addrmap_test::bulk(big) + "+after\r\n");
    BOOST_TEST_REQUIRE(replies.size() == 2u);
    BOOST_TEST(replies[0].get()->len == big.size());
    BOOST_TEST(std::string(replies[1].get()->str) == "after");
}

// Between reads the builder keeps a small block (the next read fills it on) and lets go of one that grew.
BOOST_AUTO_TEST_CASE(a_small_block_is_kept_across_reads_and_a_grown_one_let_go) {
    reply_builder builder;
    read_all(builder, "+a\r\n");
    read_all(builder, "+b\r\n");
    BOOST_TEST(builder.blocks_made() == 1u);
    read_all(builder, addrmap_test::bulk(std::string(20000, 'x')));  // a large value: the block is let go of after
    read_all(builder, "+c\r\n");
    BOOST_TEST(builder.blocks_made() == 2u);
}

BOOST_AUTO_TEST_CASE(a_reply_cut_short_is_let_go_and_the_reader_parses_no_more) {
    reply_builder builder;
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    {
        const reply_builder::installed into(builder, reader.get());
        void* raw = nullptr;
        BOOST_TEST_REQUIRE(feed_and_read(reader.get(), "*3\r\n:1\r\n$5\r\nab", raw) == REDIS_OK);
        BOOST_TEST(raw == nullptr);  // incomplete: the reader holds the half-built array
    }
    BOOST_TEST(reader->err != 0);
    void* raw = nullptr;
    BOOST_TEST(redisReaderGetReply(reader.get(), &raw) == REDIS_ERR);
    BOOST_TEST(raw == nullptr);
}

BOOST_AUTO_TEST_CASE(a_protocol_error_mid_reply_frees_what_was_built) {
    reply_builder builder;
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    const reply_builder::installed into(builder, reader.get());
    void* raw = nullptr;
    BOOST_TEST(feed_and_read(reader.get(), "*2\r\n$3\r\nabc\r\n!nonsense\r\n", raw) == REDIS_ERR);
    BOOST_TEST(raw == nullptr);
}

// A header claiming more elements than memory can hold: the root is let go of (ASan's leak check sees a block
// left behind), and the reader reports it.
BOOST_AUTO_TEST_CASE(a_root_whose_elements_cannot_be_made_leaves_nothing_behind) {
    reply_builder builder;
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    reader->maxelements = 0;  // no limit of hiredis's: the arena's own check refuses 2^61 pointers
    const reply_builder::installed into(builder, reader.get());
    void* raw = nullptr;
    BOOST_TEST(feed_and_read(reader.get(), "*2305843009213693952\r\n", raw) == REDIS_ERR);
    BOOST_TEST(raw == nullptr);
    BOOST_TEST(builder.blocks_made() == 1u);
}

BOOST_AUTO_TEST_CASE(a_reader_left_half_way_by_other_code_is_refused_not_read) {
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    void* raw = nullptr;  // hiredis's own functions build the first element
    BOOST_TEST_REQUIRE(feed_and_read(reader.get(), "*2\r\n:1\r\n", raw) == REDIS_OK);
    BOOST_TEST_REQUIRE(raw == nullptr);
    reply_builder builder;
    {
        const reply_builder::installed into(builder, reader.get());
        BOOST_TEST(feed_and_read(reader.get(), ":2\r\n+OK\r\n", raw) == REDIS_ERR);
        BOOST_TEST(raw == nullptr);
        BOOST_TEST(std::string(reader->errstr).find("half read by other code") != std::string::npos, reader->errstr);
    }
    BOOST_TEST(builder.blocks_made() == 0u);
}

// The usual way to drain a context, reading until there is no reply, leaves hiredis's reader at ridx 0 with an
// untyped first task: between replies, not half way through one.
BOOST_AUTO_TEST_CASE(a_reader_drained_until_no_reply_is_between_replies_and_read_on) {
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    void* raw = nullptr;
    BOOST_TEST_REQUIRE(feed_and_read(reader.get(), "+OK\r\n", raw) == REDIS_OK);
    addrmap::detail::reply_ptr first(static_cast<redisReply*>(raw));
    BOOST_TEST_REQUIRE(first.get() != nullptr);
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
    BOOST_TEST_REQUIRE(raw == nullptr);
    BOOST_TEST_REQUIRE(reader->ridx == 0);  // the state this test is about (hiredis 1.2's reader)
    BOOST_TEST(addrmap::detail::reader_between_replies(*reader));

    reply_builder builder;
    {
        const reply_builder::installed into(builder, reader.get());
        BOOST_TEST_REQUIRE(feed_and_read(reader.get(), "+PONG\r\n", raw) == REDIS_OK, reader->errstr);
        const arena_reply reply(static_cast<redisReply*>(raw));
        BOOST_TEST_REQUIRE(reply.get() != nullptr);
        BOOST_TEST(std::string(reply.get()->str) == "PONG");
    }
    BOOST_TEST(reader->err == 0);

    BOOST_TEST_REQUIRE(feed_and_read(reader.get(), "*2\r\n", raw) == REDIS_OK);  // a reply begun: not between
    BOOST_TEST(!addrmap::detail::reader_between_replies(*reader));
}

namespace {
/// A blocking hiredis context on one end of a socketpair whose other end already holds `bytes` (what a node sent).
struct context_fed_with {
    explicit context_fed_with(std::string_view bytes) {
        int fds[2];
        BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        peer = fds[1];
        context.reset(redisConnectFd(fds[0]));  // owns fds[0]
        BOOST_TEST_REQUIRE(context.get() != nullptr);
        BOOST_TEST_REQUIRE(context->err == 0);
        BOOST_TEST_REQUIRE(::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    ~context_fed_with() { ::close(peer); }
    context_fed_with(const context_fed_with&) = delete;
    context_fed_with& operator=(const context_fed_with&) = delete;

    addrmap::detail::context_ptr context;
    int peer = -1;
};

redisContext* swapping_context = nullptr;
int pushes_to_first = 0, pushes_to_second = 0;
void second_push_callback(void*, void* reply) {
    ++pushes_to_second;
    freeReplyObject(reply);  // hiredis's own free: an arena reply here is an invalid free (ASan)
}
void first_push_callback(void*, void* reply) {
    ++pushes_to_first;
    redisSetPushCallback(swapping_context, &second_push_callback);
    freeReplyObject(reply);
}
}  // namespace

// A push callback that sets another one (redisSetPushCallback, from inside a read): the next push goes to the new
// one as a copy hiredis's freeReplyObject frees, and the new one stays set once the read is over.
BOOST_AUTO_TEST_CASE(a_push_callback_set_from_a_push_callback_gets_copies_and_stays) {
    const context_fed_with fed(">2\r\n+message\r\n$1\r\na\r\n>2\r\n+message\r\n$1\r\nb\r\n"
                               ">2\r\n+message\r\n$1\r\nc\r\n+OK\r\n");
    redisContext* const context = fed.context.get();
    swapping_context = context;
    redisSetPushCallback(context, &first_push_callback);
    reply_builder builder;
    {
        const reply_builder::installed into(builder, context);
        void* raw = nullptr;
        BOOST_TEST_REQUIRE(redisGetReply(context, &raw) == REDIS_OK, context->errstr);
        const arena_reply reply(static_cast<redisReply*>(raw));
        BOOST_TEST_REQUIRE(reply.get() != nullptr);
        BOOST_TEST(reply.get()->type == REDIS_REPLY_STATUS);
    }
    BOOST_TEST(pushes_to_first == 1);
    BOOST_TEST(pushes_to_second == 2);
    BOOST_TEST(context->push_cb == &second_push_callback);
    swapping_context = nullptr;
}

namespace {
std::string push_log;
redisPushFn* saved_push_callback = nullptr;
void log_push(const char* who, void* reply) {
    push_log += std::string(who) + ":" + static_cast<redisReply*>(reply)->element[1]->str + " ";
    freeReplyObject(reply);
}
void restoring_push_callback(void*, void* reply) {
    redisSetPushCallback(swapping_context, saved_push_callback);  // puts back what it replaced (hiredis's idiom)
    log_push("tmp", reply);
}
void saving_push_callback(void*, void* reply) {
    saved_push_callback = redisSetPushCallback(swapping_context, &restoring_push_callback);
    log_push("orig", reply);
}
/// Three pushes and +OK read through `context` (in a reply_builder's scope when `scoped`): the push log.
std::string swap_and_restore(bool scoped) {
    const context_fed_with fed(">2\r\n+m\r\n$1\r\na\r\n>2\r\n+m\r\n$1\r\nb\r\n>2\r\n+m\r\n$1\r\nc\r\n+OK\r\n");
    redisContext* const context = fed.context.get();
    swapping_context = context;
    push_log.clear();
    redisSetPushCallback(context, &saving_push_callback);
    reply_builder builder;
    std::optional<reply_builder::installed> into;
    if (scoped) into.emplace(builder, context);
    void* raw = nullptr;
    BOOST_TEST_REQUIRE(redisGetReply(context, &raw) == REDIS_OK, context->errstr);
    if (scoped) {
        const arena_reply reply(static_cast<redisReply*>(raw));
        BOOST_TEST(reply.get()->type == REDIS_REPLY_STATUS);
        into.reset();
    } else {
        BOOST_TEST(addrmap::detail::adopt_reply(raw)->type == REDIS_REPLY_STATUS);
    }
    BOOST_TEST(saved_push_callback == &saving_push_callback);  // the user's own, never one of ours
    BOOST_TEST(context->push_cb == &restoring_push_callback);  // set by the last push's callback, and kept
    swapping_context = nullptr;
    return push_log;
}
}  // namespace

// A callback that saves the one it replaces and later sets it back gets back the user's own (never the arena's
// forwarder), and the pushes go where plain hiredis sends them.
BOOST_AUTO_TEST_CASE(a_push_callback_saved_and_set_back_in_a_read_goes_as_with_plain_hiredis) {
    const std::string plain = swap_and_restore(false);
    BOOST_TEST(plain == "orig:a tmp:b orig:c ");
    BOOST_TEST(swap_and_restore(true) == plain);
}

namespace {
int throws = 0;
void throwing_push_callback(void*, void* reply) {
    ++throws;
    freeReplyObject(reply);
    throw std::runtime_error("boom");
}
/// `bytes` read through a fresh context in a builder's scope with `callback` set: the first reply's text (or
/// "<error: ...>"), the context's error text, and the callback left set afterwards.
struct scoped_read_result {
    std::string reply, context_error;
    redisPushFn* callback_after;
};
scoped_read_result read_in_scope(redisPushFn* callback, std::string_view bytes) {
    const context_fed_with fed(bytes);
    redisContext* const context = fed.context.get();
    redisSetPushCallback(context, callback);
    scoped_read_result out;
    reply_builder builder;
    {
        const reply_builder::installed into(builder, context);
        void* raw = nullptr;
        if (redisGetReply(context, &raw) == REDIS_OK && raw != nullptr) {
            const arena_reply reply(static_cast<redisReply*>(raw));
            out.reply = reply.get()->type == REDIS_REPLY_PUSH ? "<push>" : std::string(reply.get()->str);
        } else {
            out.reply = "<error>";
        }
        out.context_error = context->errstr;
    }
    out.callback_after = context->push_cb;
    return out;
}
}  // namespace

// With no push callback, hiredis returns a push as the next reply: the cluster would take it for the command's
// answer and every reply after it would be one behind. In a builder's scope it is let go of.
BOOST_AUTO_TEST_CASE(a_push_with_no_callback_is_let_go_of_not_taken_for_an_answer) {
    const scoped_read_result r = read_in_scope(nullptr, ">2\r\n+m\r\n$1\r\na\r\n+OK\r\n");
    BOOST_TEST(r.reply == "OK");
    BOOST_TEST(r.context_error.empty());
    BOOST_TEST(r.callback_after == nullptr);
}

// A push callback that throws: the exception does not unwind through hiredis; the reply after the push is still
// read (it answers its command), and the context reports the throw, so the driver reads no more and drops it.
BOOST_AUTO_TEST_CASE(a_push_callback_that_throws_ends_the_read_as_a_lost_connection) {
    throws = 0;
    const scoped_read_result r = read_in_scope(
        &throwing_push_callback, ">2\r\n+m\r\n$1\r\na\r\n>2\r\n+m\r\n$1\r\nb\r\n+OK\r\n+SECOND\r\n");
    BOOST_TEST(throws == 1);  // the push buffered behind the one that threw is let go of, not handed to it again
    BOOST_TEST(r.reply == "OK");
    BOOST_TEST(r.context_error == "a push callback threw: boom");
    BOOST_TEST(r.callback_after == &throwing_push_callback);
}

// An async connection's reader builds across reads (build_every_reply_of). A reply hiredis lets go of itself (a push
// nobody takes, a reply no callback waits for) is let go of with its grown block, as one handed out is: a large value
// never stays behind on an idle connection. A small block stays for the next reply.
BOOST_AUTO_TEST_CASE(a_reader_built_across_reads_lets_go_of_a_grown_block_hiredis_frees_a_reply_from) {
    reply_builder builder;  // outlives the reader, as an async connection's outlives its context
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    builder.build_every_reply_of(reader.get());
    BOOST_TEST(reply_builder::builds_for(*reader));
    const std::string push = ">2\r\n+message\r\n" + addrmap_test::bulk(std::string(1024 * 1024, 'p'));
    BOOST_TEST_REQUIRE(redisReaderFeed(reader.get(), push.data(), push.size()) == REDIS_OK);
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), nullptr) == REDIS_OK);  // hiredis frees the reply itself
    BOOST_TEST(!builder.holds_block());
    BOOST_TEST_REQUIRE(redisReaderFeed(reader.get(), "+small\r\n", 8) == REDIS_OK);  // 8 bytes
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), nullptr) == REDIS_OK);
    BOOST_TEST(builder.holds_block());
    // A reply split over two feeds is built across them, in the builder's block.
    void* raw = nullptr;
    const auto feed = [&](std::string_view bytes) { return redisReaderFeed(reader.get(), bytes.data(), bytes.size()); };
    BOOST_TEST_REQUIRE(feed("*2\r\n$3\r\nab") == REDIS_OK);
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
    BOOST_TEST(raw == nullptr);
    BOOST_TEST_REQUIRE(feed("c\r\n:7\r\n") == REDIS_OK);
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
    BOOST_TEST_REQUIRE(raw != nullptr);
    const addrmap::detail::held_reply reply = addrmap::detail::held_reply::from(*reader, static_cast<redisReply*>(raw));
    BOOST_TEST(reply.in_block());
    BOOST_TEST(std::string(reply->element[0]->str) == "abc");
    BOOST_TEST(reply->element[1]->integer == 7);
    // Half a reply left when the reader is freed: let go of through the block (ASan: nothing leaks).
    BOOST_TEST_REQUIRE(feed("*3\r\n:1\r\n") == REDIS_OK);
    BOOST_TEST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
    BOOST_TEST(raw == nullptr);
}

BOOST_AUTO_TEST_CASE(an_outcome_hands_a_view_or_a_copy_for_hiredis) {
    reply_builder builder;
    std::vector<arena_reply> replies = read_all(builder, "*2\r\n$1\r\na\r\n:5\r\n");
    addrmap::outcome out(std::move(replies[0]));
    BOOST_TEST_REQUIRE(out.ok());
    BOOST_TEST(out->elements == 2u);
    addrmap::detail::reply_ptr taken = std::move(out).value();  // freed by freeReplyObject at scope end
    BOOST_TEST_REQUIRE(taken.get() != nullptr);
    BOOST_TEST(std::string(taken->element[0]->str) == "a");
    BOOST_TEST(taken->element[1]->integer == 5);
    BOOST_TEST(!out.ok());  // handed over
}

BOOST_AUTO_TEST_SUITE_END()
