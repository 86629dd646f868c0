// tests/unit/test_burst_write_link.cpp — the libuv/libevent adapters' decisions (detail/burst_write_link.hpp) on a
// real hiredis async context over loopback TCP, with a recording loop in place of libuv or libevent.
#include "../loopback_listener.hpp"

#include <addrmap/detail/burst_write_link.hpp>

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

/// What the link asked of its loop.
struct loop_record {
    std::vector<std::pair<bool, bool>> polls;  ///< each poll(read, write), in order
    int flushes_scheduled = 0;
    bool flush_possible = true;  ///< what schedule_flush() answers
    std::vector<timeval> timers;
    int stops = 0;
    int destroys = 0;
};

/// The Loop of burst_write_link, recording instead of polling: the test plays the loop's callbacks by hand.
/// destroy() frees the link as a loop does, so a link used after it is a use-after-free AddressSanitizer reports.
class recording_link final : public addrmap::detail::burst_write_link<recording_link> {
public:
    static recording_link* attach(redisAsyncContext* context, loop_record& record) {
        auto* link = new recording_link(context, record);
        link->install();
        return link;
    }
    using burst_write_link::on_flush;
    using burst_write_link::on_poll_error;
    using burst_write_link::on_ready;
    using burst_write_link::on_timeout;

    void poll(bool read, bool write) {
        record_.polls.emplace_back(read, write);
    }
    bool schedule_flush() {
        ++record_.flushes_scheduled;
        return record_.flush_possible;
    }
    void start_timer(timeval tv) {
        record_.timers.push_back(tv);
    }
    void stop() {
        ++record_.stops;
    }
    void destroy() {
        ++record_.destroys;
        delete this;
    }

private:
    recording_link(redisAsyncContext* context, loop_record& record) : burst_write_link(context), record_(record) {}
    loop_record& record_;
};

/// A hiredis async context connected over loopback TCP to a listener of the test's own: the test is the server.
/// (hiredis checks an async connection with connect(2) on its first event, which fails on a socketpair.) Both ends'
/// buffers are small, so a large command cannot be written whole.
struct loopback_context {
    loopback_context() {
        const int small = 4096;
        const addrmap_test::loopback_listener listener(1, small);
        context = redisAsyncConnect("127.0.0.1", listener.port);
        BOOST_REQUIRE(context != nullptr);
        BOOST_REQUIRE(context->err == 0);
        ::setsockopt(context->c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        server = ::accept(listener.fd, nullptr, nullptr);  // loopback: the handshake is done or about to be
        BOOST_REQUIRE(server >= 0);
        BOOST_REQUIRE(::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL) | O_NONBLOCK) == 0);
    }
    ~loopback_context() {
        if (context != nullptr) redisAsyncFree(context);
        ::close(server);
    }
    loopback_context(const loopback_context&) = delete;
    loopback_context& operator=(const loopback_context&) = delete;

    /// Everything the client has written so far.
    std::string drain() {
        std::string out;
        char buffer[65536];
        for (ssize_t n; (n = ::read(server, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
        return out;
    }
    void reply(const std::string& bytes) {
        BOOST_REQUIRE(::write(server, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }

    int server = -1;
    redisAsyncContext* context = nullptr;
};

struct reply_counter {
    int replies = 0;
    int null_replies = 0;
    int queue_more = 0;  ///< commands each reply queues in turn
};

void count_reply(redisAsyncContext* context, void* reply, void* data) {
    auto& counter = *static_cast<reply_counter*>(data);
    if (reply == nullptr) {
        ++counter.null_replies;
        return;
    }
    ++counter.replies;
    for (int i = 0; i < counter.queue_more; ++i) redisAsyncCommand(context, nullptr, nullptr, "PING");
}

/// Each test's fixture: a link attached to a loopback context. The link is freed through the context (its cleanup
/// destroys the link); the counter outlives the context, as hiredis fails what is pending when the context is freed.
struct attached_link {
    attached_link() : link(recording_link::attach(pair.context, record)) {}
    reply_counter counter;
    loop_record record;
    loopback_context pair;
    recording_link* link;
};

std::string repeated(const std::string& piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += piece;
    return out;
}

const std::string ping = "*1\r\n$4\r\nPING\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(test_burst_write_link)

BOOST_FIXTURE_TEST_CASE(a_burst_of_commands_is_one_flush_and_never_arms_write_interest, attached_link) {
    for (int i = 0; i < 100; ++i) redisAsyncCommand(pair.context, count_reply, &counter, "PING");
    BOOST_TEST(record.flushes_scheduled == 1);  // one for the hundred
    BOOST_TEST(record.polls.empty());           // nothing written yet, nothing to read
    BOOST_TEST(pair.drain().empty());

    link->on_flush();
    BOOST_TEST(pair.drain() == repeated(ping, 100));  // all of them, by the one flush
    BOOST_REQUIRE(record.polls.size() == 1u);
    BOOST_TEST((record.polls[0] == std::make_pair(true, false)));  // read interest only

    // The replies' callbacks queue 2 commands each: one more flush for the 200, the poll set untouched.
    counter.queue_more = 2;
    pair.reply(repeated("+PONG\r\n", 100));
    link->on_ready(true, false);
    BOOST_TEST(counter.replies == 100);
    BOOST_TEST(record.flushes_scheduled == 2);
    link->on_flush();
    BOOST_TEST(pair.drain() == repeated(ping, 200));
    BOOST_TEST(record.polls.size() == 1u);
    BOOST_TEST(record.destroys == 0);
}

BOOST_FIXTURE_TEST_CASE(a_write_the_socket_cannot_take_arms_write_interest_until_it_is_written, attached_link) {
    const std::string big(4 << 20, 'x');  // more than the small socket buffers hold
    redisAsyncCommand(pair.context, count_reply, &counter, "SET k %b", big.data(), big.size());
    link->on_flush();
    BOOST_REQUIRE(!record.polls.empty());
    BOOST_TEST((record.polls.back() == std::make_pair(true, true)));

    // More commands while write interest is armed schedule no flush: the socket's readiness writes them.
    redisAsyncCommand(pair.context, count_reply, &counter, "PING");
    BOOST_TEST(record.flushes_scheduled == 1);

    std::string written;
    for (int round = 0; round < 10000 && record.polls.back().second; ++round) {
        written += pair.drain();
        link->on_ready(false, true);
    }
    written += pair.drain();
    BOOST_TEST((record.polls.back() == std::make_pair(true, false)));  // disarmed once written
    BOOST_TEST((written == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(big.size()) + "\r\n" + big + "\r\n" + ping));

    // Write interest was armed once and dropped once.
    int armed = 0;
    for (const auto& poll : record.polls) armed += poll.second ? 1 : 0;
    BOOST_TEST(armed == 1);
    pair.reply("+OK\r\n+PONG\r\n");
    link->on_ready(true, false);
    BOOST_TEST(counter.replies == 2);
}

BOOST_FIXTURE_TEST_CASE(a_flush_the_loop_cannot_schedule_waits_for_the_socket_instead, attached_link) {
    record.flush_possible = false;
    redisAsyncCommand(pair.context, count_reply, &counter, "PING");
    BOOST_TEST(record.flushes_scheduled == 1);
    BOOST_REQUIRE(record.polls.size() == 1u);
    BOOST_TEST((record.polls[0] == std::make_pair(false, true)));  // write interest, nothing lost
    link->on_ready(false, true);
    BOOST_TEST(pair.drain() == ping);
    BOOST_TEST((record.polls.back() == std::make_pair(true, false)));
    // Later commands try the flush again.
    record.flush_possible = true;
    redisAsyncCommand(pair.context, nullptr, nullptr, "PING");  // no callback: it is pending when the test ends
    BOOST_TEST(record.flushes_scheduled == 2);
}

// libuv stops watching a socket on POLLERR; hiredis reads at most 16 KB a call, so the error may not reach it yet.
BOOST_FIXTURE_TEST_CASE(after_a_poll_error_the_socket_is_watched_again_while_the_context_lives, attached_link) {
    redisAsyncCommand(pair.context, count_reply, &counter, "PING");
    link->on_flush();
    BOOST_REQUIRE(record.polls.size() == 1u);
    pair.reply("+PO");  // part of the reply: the context lives on
    link->on_poll_error();
    BOOST_TEST(counter.replies == 0);
    BOOST_REQUIRE(record.polls.size() == 2u);  // asked again, though the interest did not change
    BOOST_TEST((record.polls[1] == std::make_pair(true, false)));
    pair.reply("NG\r\n");
    link->on_ready(true, false);
    BOOST_TEST(counter.replies == 1);
}

namespace {
void free_in_callback(redisAsyncContext* context, void*, void* data) {
    ++*static_cast<int*>(data);
    redisAsyncFree(context);  // hiredis defers it to the callback's return; the link must outlive on_ready
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(a_context_freed_in_its_own_reply_callback_frees_the_link_once_after_the_callback, attached_link) {
    int calls = 0;
    redisAsyncCommand(pair.context, free_in_callback, &calls, "PING");
    link->on_flush();
    pair.reply("+PONG\r\n");
    link->on_ready(true, true);  // writable too: after the read freed the context, the write must not touch it
    pair.context = nullptr;      // freed by the callback
    BOOST_TEST(calls == 1);
    BOOST_TEST(record.stops == 1);
    BOOST_TEST(record.destroys == 1);
}

BOOST_FIXTURE_TEST_CASE(a_context_freed_outside_any_callback_stops_and_frees_the_link_at_once, attached_link) {
    redisAsyncCommand(pair.context, nullptr, nullptr, "PING");
    BOOST_TEST(record.flushes_scheduled == 1);
    redisAsyncFree(pair.context);  // with a flush scheduled: the loop must stop it (stop()) before freeing
    pair.context = nullptr;
    BOOST_TEST(record.stops == 1);
    BOOST_TEST(record.destroys == 1);
}

BOOST_FIXTURE_TEST_CASE(hiredis_s_command_timeout_reaches_the_loop_and_its_expiry_fails_the_pending_calls, attached_link) {
    const timeval timeout{1, 500000};
    BOOST_REQUIRE(redisAsyncSetTimeout(pair.context, timeout) == REDIS_OK);
    redisAsyncCommand(pair.context, count_reply, &counter, "PING");
    BOOST_TEST(record.timers.empty());  // hiredis times the connect (no timeout set) until the first event
    link->on_flush();                   // connected, written: hiredis re-arms its command timeout
    BOOST_REQUIRE(!record.timers.empty());
    BOOST_TEST(record.timers.back().tv_sec == 1);
    BOOST_TEST(record.timers.back().tv_usec == 500000);
    link->on_timeout();      // the server never answered
    pair.context = nullptr;  // hiredis freed it after failing its calls
    BOOST_TEST(counter.null_replies == 1);
    BOOST_TEST(counter.replies == 0);
    BOOST_TEST(record.destroys == 1);
}

BOOST_AUTO_TEST_SUITE_END()
