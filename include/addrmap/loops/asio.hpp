// addrmap/loops/asio.hpp — the async cluster on a boost::asio::io_context: a hiredis adapter of our own that writes
// once per burst (detail/burst_write_link.hpp) over an Asio socket, a steady_timer, post() for wake-ups.
#pragma once

#include <addrmap/detail/burst_write_link.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>

namespace addrmap {

namespace detail {

/// hiredis's adapter for one node connection on an io_context (hiredis ships none), on burst_write_link: the socket
/// is watched for reading; a flush posted when hiredis first wants to write runs after the io_context's next
/// reactor poll and its handlers (the poll does not block while handlers are queued), so the commands of a burst go
/// out in one write; only a write the socket cannot take whole waits for writability. The object outlives the
/// connection until its handlers have run: each holds it, and cleanup() (hiredis freeing the context) lets go of the
/// descriptor at once without closing the fd (hiredis closes it) and cancels what is still out.
class asio_hiredis_link final : public burst_write_link<asio_hiredis_link>,
                                public std::enable_shared_from_this<asio_hiredis_link> {
public:
    asio_hiredis_link(boost::asio::io_context& io, redisAsyncContext* context)
        : burst_write_link(context), socket_(io), timer_(io) {}

    /// Attaches the adapter to `context`: REDIS_ERR when it has one already or the descriptor cannot be taken.
    static int attach(boost::asio::io_context& io, redisAsyncContext* context) {
        if (!attachable(context)) return REDIS_ERR;
        auto link = std::make_shared<asio_hiredis_link>(io, context);
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        if (::getsockname(context->c.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return REDIS_ERR;
        boost::system::error_code ec;
        link->socket_.assign(boost::asio::generic::stream_protocol(address.ss_family, 0), context->c.fd, ec);
        if (ec) return REDIS_ERR;
        link->self_ = link;  // released by destroy()
        link->install();
        return REDIS_OK;
    }

private:
    friend class burst_write_link<asio_hiredis_link>;
    using wait_type = boost::asio::socket_base::wait_type;

    void poll(bool read, bool write) {
        if (read) wait(wait_type::wait_read);
        if (write) wait(wait_type::wait_write);
    }
    // Two posts: a handler posted now runs right after the reactor's next poll but before that poll's handlers;
    // posted again from there, the flush runs after them (where libevent's zero timer and libuv's check handle run),
    // so the commands the replies of that poll queue join the write. One post measured at a third of libevent.
    bool schedule_flush() {
        try {
            boost::asio::post(socket_.get_executor(), [me = shared_from_this()] {
                try {
                    boost::asio::post(me->socket_.get_executor(), [me] { me->on_flush(); });
                } catch (...) {  // out of memory: flush now rather than never
                    me->on_flush();
                }
            });
            return true;
        } catch (...) {  // out of memory, inside hiredis's C callback: the link waits for the socket instead
            return false;
        }
    }
    /// hiredis's own timeout (the cluster never sets one; a leased connection's user may): one expiry, replaced by
    /// the next request (hiredis asks again on every read or write interest it adds). `tv` is clamped().
    void start_timer(timeval tv) {
        const auto delay = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
        timer_.expires_after(delay);
        // An expiry already queued cannot be cancelled by the re-arm: the generation makes it do nothing (else a reply
        // handled first in the same turn, which re-armed the timer, would be followed by a stale timeout).
        const std::uint64_t generation = ++timer_generation_;
        try {
            timer_.async_wait([me = shared_from_this(), generation](const boost::system::error_code& ec) {
                if (!ec && me->timer_generation_ == generation) me->on_timeout();
            });
        } catch (...) {  // out of memory inside hiredis's C callback: no timeout of hiredis's (the call's deadline stays)
        }
    }
    /// hiredis is freeing the context: the descriptor is let go of now (hiredis closes the fd next, and a socket
    /// opened before destroy() may get its number), what is out is cancelled.
    void stop() {
        ++timer_generation_;
        timer_.cancel();
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        (void)socket_.release(ignored);  // the fd is hiredis's to close
    }
    void destroy() { self_.reset(); }  // the handlers still out keep the object until they have run

    /// One wait in direction `what` unless one is out already; on readiness, the link hands it to hiredis (which may
    /// free the context: cleanup() then runs inside), and the wait is renewed while still wanted. Called inside
    /// hiredis's C callbacks: nothing may throw out of it (out of memory leaves the call to its deadline).
    void wait(wait_type what) {
        const bool read = what == wait_type::wait_read;
        bool& out = read ? read_waiting_ : write_waiting_;
        if (out || context_ == nullptr) return;
        out = true;
        try {
            if (read)
                wait_readable();
            else
                wait_writable();
        } catch (...) {
            out = false;
        }
    }
    // Readiness to read is a one-byte MSG_PEEK receive: Asio tries it at once and, on EAGAIN, leaves it to the
    // edge-triggered epoll registration made when the socket was assigned. An async_wait would cost an epoll_ctl
    // each time it is renewed (Asio re-arms the edge for a wait started with none out), one per reply; and a peek
    // that succeeds is real readiness, never the stale kind (see wait_writable()).
    void wait_readable() {
        socket_.async_receive(
            boost::asio::buffer(&peeked_, 1), boost::asio::socket_base::message_peek,
            [me = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                me->read_waiting_ = false;
                if (ec == boost::asio::error::operation_aborted || me->context_ == nullptr || !me->polled_read()) return;
                // The peek took the socket's pending error (a reset, a timeout): hiredis's own read would now see
                // an orderly close. Hand hiredis the error itself; the peer's close (eof) it finds by reading.
                if (ec && ec != boost::asio::error::eof && me->context_->c.err == 0) {
                    me->context_->c.err = REDIS_ERR_IO;
                    std::snprintf(me->context_->c.errstr, sizeof me->context_->c.errstr, "%s", ec.message().c_str());
                }
                me->on_ready(true, false);
                if (me->context_ != nullptr && me->polled_read()) me->wait(wait_type::wait_read);
            });
    }
    void wait_writable() {
        socket_.async_wait(wait_type::wait_write, [me = shared_from_this()](const boost::system::error_code& ec) {
            me->write_waiting_ = false;
            if (ec == boost::asio::error::operation_aborted || me->context_ == nullptr || !me->polled_write()) return;
            // Asio's readiness can be stale (epoll sampled it before an earlier handler filled the socket): hand
            // hiredis only real readiness, as hiredis-SSL acts on a write that finds no room as on a want-read. A
            // failed wait goes to hiredis too, whose write finds the error.
            pollfd p{me->context_->c.fd, POLLOUT, 0};
            if (!ec && ::poll(&p, 1, 0) == 0) {
                me->wait(wait_type::wait_write);
                return;
            }
            me->on_ready(false, true);
            if (me->context_ != nullptr && me->polled_write()) me->wait(wait_type::wait_write);
        });
    }

    boost::asio::generic::stream_protocol::socket socket_;
    char peeked_ = 0;  ///< where the peek puts its byte (hiredis reads it again)
    boost::asio::steady_timer timer_;
    std::uint64_t timer_generation_ = 0;
    std::shared_ptr<asio_hiredis_link> self_;
    bool read_waiting_ = false;  ///< a peek (read) or a wait (write) is out in that direction
    bool write_waiting_ = false;
};

}  // namespace detail

/// An event_loop on `io`, which must outlive the cluster that owns this binding. Run `io` on one thread: the
/// cluster's callbacks, like its members, belong to the loop's one thread (submit() may come from any thread).
/// While the cluster lives, `io.run()` returns only on `io.stop()` (the binding holds work on it).
class asio_loop final : public event_loop {
public:
    explicit asio_loop(boost::asio::io_context& io) : io_(io) {}
    ~asio_loop() override { stop(); }
    asio_loop(const asio_loop&) = delete;
    asio_loop& operator=(const asio_loop&) = delete;

    int attach(redisAsyncContext* context) override { return detail::asio_hiredis_link::attach(io_, context); }

    void start(loop_events& events) override {
        auto s = std::make_shared<shared>(io_);
        s->events = &events;
        const std::lock_guard<std::mutex> lock(mutex_);
        shared_ = std::move(s);
    }
    void arm_timer(std::chrono::milliseconds delay) override {
        if (!shared_) return;
        // An expiry already queued cannot be cancelled: the generation makes its handler do nothing.
        const std::uint64_t generation = ++shared_->timer_generation;
        shared_->timer.expires_after(delay);  // cancels the wait out: its handler sees operation_aborted
        shared_->timer.async_wait([s = shared_, generation](const boost::system::error_code& ec) {
            if (!ec && s->events != nullptr && s->timer_generation == generation) s->events->on_timer();
        });
    }
    void disarm_timer() override {
        if (!shared_) return;
        ++shared_->timer_generation;
        shared_->timer.cancel();
    }
    /// Thread-safe; wake-ups before the loop turns are merged into one.
    void wake_up() override {
        std::shared_ptr<shared> s;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            s = shared_;
        }
        if (!s || s->wake_posted.exchange(true)) return;
        boost::asio::post(io_, [s] {
            s->wake_posted = false;
            if (s->events != nullptr) s->events->on_wakeup();
        });
    }
    void stop() override {
        std::shared_ptr<shared> s;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            s = std::exchange(shared_, nullptr);
        }
        if (!s) return;
        s->events = nullptr;  // handlers still queued run into nothing
        ++s->timer_generation;
        s->timer.cancel();
        s->work.reset();  // io_context::run() may return once nothing else is pending
    }

private:
    /// What queued handlers hold: they may run after the binding is gone.
    struct shared {
        explicit shared(boost::asio::io_context& io) : timer(io), work(io.get_executor()) {}
        boost::asio::steady_timer timer;
        std::uint64_t timer_generation = 0;
        /// Keeps run() from returning while the cluster lives (as libevent's persistent wake-up event and libuv's
        /// uv_async_t do): a submit() from another thread before the first connection must still find the loop.
        boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
        loop_events* events = nullptr;
        std::atomic<bool> wake_posted{false};
    };

    boost::asio::io_context& io_;
    std::mutex mutex_;                // shared_ is read by wake_up() from any thread
    std::shared_ptr<shared> shared_;  // set by start(), cleared by stop() (the loop thread)
};

/// The binding the cluster takes: `basic_async_cluster<P> c(options, addrmap::on_asio(io));`
inline std::unique_ptr<event_loop> on_asio(boost::asio::io_context& io) { return std::make_unique<asio_loop>(io); }

}  // namespace addrmap
