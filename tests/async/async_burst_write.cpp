// tests/async/async_burst_write.cpp — each loop binding's hiredis adapter on a real loop, against a plain TCP peer
// of the test's own (no cluster): a burst goes out in one write and leaves the loop idle, a reset is seen as one.
#include "../loopback_listener.hpp"
#include "async_support.hpp"

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

using loops = boost::mpl::list<live::libevent_fixture, live::libuv_fixture, live::libev_fixture, live::asio_fixture>;

/// A listener of the test's own and the one connection it accepts, read without blocking.
struct plain_peer {
    plain_peer() = default;
    ~plain_peer() {
        if (connection >= 0) ::close(connection);
    }
    plain_peer(const plain_peer&) = delete;
    plain_peer& operator=(const plain_peer&) = delete;

    void accept() {
        connection = ::accept(listener.fd, nullptr, nullptr);  // loopback: the client's connect is under way
        BOOST_REQUIRE(connection >= 0);
        BOOST_REQUIRE(::fcntl(connection, F_SETFL, ::fcntl(connection, F_GETFL) | O_NONBLOCK) == 0);
    }
    /// Appends what has arrived to `received`.
    void read() {
        char buffer[65536];
        for (ssize_t n; (n = ::read(connection, buffer, sizeof buffer)) > 0;) received.append(buffer, static_cast<std::size_t>(n));
    }
    void write(const std::string& bytes) {
        for (std::size_t sent = 0; sent < bytes.size();) {
            const ssize_t n = ::write(connection, bytes.data() + sent, bytes.size() - sent);
            BOOST_REQUIRE(n > 0);  // the client's receive buffer holds what the tests send
            sent += static_cast<std::size_t>(n);
        }
    }
    /// Closes with a reset (SO_LINGER 0) instead of a FIN.
    void reset() {
        const linger abort_now{1, 0};
        ::setsockopt(connection, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
        ::close(connection);
        connection = -1;
    }
    int count(const std::string& needle) const { return count_in(received, needle); }
    static int count_in(const std::string& text, const std::string& needle) {
        int seen = 0;
        for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++seen;
        return seen;
    }

    addrmap_test::loopback_listener listener;
    int connection = -1;
    std::string received;
};

/// What a connection's callbacks saw.
struct seen {
    int replies = 0, null_replies = 0;
    bool disconnected = false;
    int error = 0;            ///< the context's err when it disconnected
    std::string error_text;   ///< and its errstr
};

void count_reply(redisAsyncContext*, void* reply, void* data) {
    auto& s = *static_cast<seen*>(data);
    ++(reply != nullptr ? s.replies : s.null_replies);
}

/// A plain hiredis async context to `peer`, on the fixture's binding (its attach(), as the cluster uses it).
template <class Fixture>
redisAsyncContext* connect_to(plain_peer& peer, std::unique_ptr<addrmap::event_loop>& binding, seen& s) {
    redisAsyncContext* context = redisAsyncConnect("127.0.0.1", peer.listener.port);
    BOOST_REQUIRE(context != nullptr && context->err == 0);
    BOOST_REQUIRE(binding->attach(context) == REDIS_OK);
    context->data = &s;
    redisAsyncSetDisconnectCallback(context, [](const redisAsyncContext* c, int) {
        auto& s = *static_cast<seen*>(c->data);
        s.disconnected = true;
        s.error = c->err;
        s.error_text = c->errstr != nullptr ? c->errstr : "";
    });
    peer.accept();
    return context;
}

/// Connects, sends GET k and runs the loop until the peer has it.
template <class Fixture>
void get_arrived(Fixture& f, plain_peer& peer, std::unique_ptr<addrmap::event_loop>& binding, seen& s) {
    redisAsyncContext* context = connect_to<Fixture>(peer, binding, s);
    redisAsyncCommand(context, count_reply, &s, "GET k");
    BOOST_TEST_REQUIRE(f.run_until([&] {
        peer.read();
        return peer.count("GET") == 1;
    }), Fixture::name << ": the GET never arrived");
}

/// Work the loop would do with nothing to read or write: a flush left scheduled would spin it (libuv's idle handle
/// keeps the poll timeout at zero; libevent's zero timer; a re-posted Asio handler). libev keeps hiredis's adapter.
int self_renewing_work(live::libuv_fixture& f) {
    int active = 0;
    uv_walk(&f.loop, [](uv_handle_t* h, void* count) {
        const uv_handle_type t = uv_handle_get_type(h);
        if ((t == UV_IDLE || t == UV_PREPARE || t == UV_CHECK) && uv_is_active(h) != 0) ++*static_cast<int*>(count);
    }, &active);
    return active;
}
int self_renewing_work(live::libevent_fixture& f) {
    int timers = 0;
    event_base_foreach_event(f.base, [](const event_base*, const event* e, void* count) {
        if (event_pending(e, EV_TIMEOUT, nullptr) != 0) ++*static_cast<int*>(count);
        return 0;
    }, &timers);
    return timers;
}
int self_renewing_work(live::asio_fixture& f) {
    // Bounded runs, not poll(): a handler that posts itself again would keep poll() from ever returning. The peek out
    // on the socket keeps run_for() running its whole time.
    f.io.restart();
    f.io.run_for(std::chrono::milliseconds(5));  // what was left of the last run
    f.io.restart();
    return static_cast<int>(f.io.run_for(std::chrono::milliseconds(30)));  // anything now renewed itself
}
int self_renewing_work(live::libev_fixture&) { return 0; }

}  // namespace

BOOST_AUTO_TEST_SUITE(async_burst_write)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_burst_of_commands_is_answered_and_leaves_the_loop_idle, Fixture, loops) {
    Fixture f;
    plain_peer peer;
    auto binding = f.binding();
    seen s;
    redisAsyncContext* context = connect_to<Fixture>(peer, binding, s);
    for (int i = 0; i < 100; ++i) redisAsyncCommand(context, count_reply, &s, "PING");
    int answered = 0;
    std::string first_read;  // what the peer's first read that found data got
    BOOST_TEST_REQUIRE(f.run_until([&] {
        peer.read();
        if (first_read.empty()) first_read = peer.received;
        const int pings = peer.count("PING");
        for (; answered < pings; ++answered) peer.write("+PONG\r\n");
        return s.replies == 100;
    }), Fixture::name << ": " << s.replies << " of 100 replies, " << peer.count("PING") << " PINGs arrived");
    BOOST_TEST(peer.count("PING") == 100);
    // Queued in one turn before the connect completed, they go out in one write (loopback delivers it whole).
    BOOST_TEST(plain_peer::count_in(first_read, "PING") == 100, Fixture::name << ": the first write held "
                                                                  << plain_peer::count_in(first_read, "PING"));
    BOOST_TEST(self_renewing_work(f) == 0, Fixture::name << ": the loop has work that renews itself while idle");
    redisAsyncFree(context);
    f.drain();
    BOOST_TEST(s.null_replies == 0);
}

// libuv stops watching a socket that reports an error; hiredis reads 16 KB a call, so a reset queued behind a longer
// reply leaves data unread at that moment: the adapter must watch the socket again, or the reply hangs for ever.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_reset_queued_behind_a_long_reply_still_delivers_the_reply_then_the_loss, Fixture, loops) {
    Fixture f;
    plain_peer peer;
    auto binding = f.binding();
    seen s;
    get_arrived(f, peer, binding, s);
    const std::string value(60000, 'v');
    peer.write("$" + std::to_string(value.size()) + "\r\n" + value + "\r\n");
    peer.reset();  // both are queued before the loop reads
    BOOST_TEST_REQUIRE(f.run_until([&] { return s.disconnected; }),
                       Fixture::name << ": the reset was never seen (replies " << s.replies << ")");
    BOOST_TEST(s.replies + s.null_replies == 1);  // the reply, or its loss: never neither
    BOOST_TEST(s.error == REDIS_ERR_IO, Fixture::name << ": " << s.error << " '" << s.error_text << "'");
    BOOST_TEST(s.error_text.find("reset") != std::string::npos, Fixture::name << ": '" << s.error_text << "'");
    f.drain();
}

// The Asio adapter watches reads with a MSG_PEEK receive, which takes the socket's pending error with it: the
// adapter must hand hiredis the reset, or hiredis reads an orderly close ("Server closed the connection").
BOOST_AUTO_TEST_CASE_TEMPLATE(a_reset_with_nothing_queued_is_reported_as_a_reset, Fixture, loops) {
    Fixture f;
    plain_peer peer;
    auto binding = f.binding();
    seen s;
    get_arrived(f, peer, binding, s);
    peer.reset();
    BOOST_TEST_REQUIRE(f.run_until([&] { return s.disconnected; }), Fixture::name << ": the reset was never seen");
    BOOST_TEST(s.null_replies == 1);
    BOOST_TEST(s.error == REDIS_ERR_IO, Fixture::name << ": " << s.error << " '" << s.error_text << "'");
    BOOST_TEST(s.error_text.find("reset") != std::string::npos, Fixture::name << ": '" << s.error_text << "'");
    f.drain();
}

BOOST_AUTO_TEST_SUITE_END()
