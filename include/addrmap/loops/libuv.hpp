// addrmap/loops/libuv.hpp — the async cluster on a libuv loop: a hiredis adapter that writes once per burst for node
// connections, a uv_timer_t, and a uv_async_t for wake-ups from other threads (uv_async_send is thread-safe).
#pragma once

#include <addrmap/detail/burst_write_link.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <new>

namespace addrmap {

namespace detail {

/// A libuv timeout of at least 1 ms (libuv_loop::arm_timer says why).
inline std::uint64_t at_least_1ms(std::int64_t ms) noexcept { return ms < 1 ? 1u : static_cast<std::uint64_t>(ms); }
inline std::uint64_t at_least_1ms(std::uint64_t ms) noexcept { return ms < 1 ? 1u : ms; }

/// One node connection on a libuv loop (see burst_write_link): a uv_poll_t for the socket; for the flush, a uv_idle_t
/// (while active, the loop polls with a zero timeout), a uv_prepare_t that marks the next poll and a uv_check_t that
/// flushes after it; a uv_timer_t for hiredis's own timeout once asked for. libuv closes handles asynchronously: the
/// link is freed by the last close callback.
class libuv_hiredis_link final : public burst_write_link<libuv_hiredis_link> {
public:
    /// Attaches a link to `context`: REDIS_ERR when it has an adapter already or libuv refuses the socket.
    static int attach(uv_loop_t* loop, redisAsyncContext* context) {
        if (!attachable(context)) return REDIS_ERR;
        auto* link = new (std::nothrow) libuv_hiredis_link(loop, context);
        if (link == nullptr) return REDIS_ERR;
        if (uv_prepare_init(loop, &link->flush_) != 0) {
            delete link;
            return REDIS_ERR;
        }
        link->open(&link->flush_);
        uv_idle_init(loop, &link->idle_);
        link->open(&link->idle_);
        uv_check_init(loop, &link->check_);
        link->open(&link->check_);
        if (uv_poll_init_socket(loop, &link->poll_, context->c.fd) != 0) {
            link->destroy();
            return REDIS_ERR;
        }
        link->open(&link->poll_);
        link->install();
        return REDIS_OK;
    }

private:
    friend class burst_write_link<libuv_hiredis_link>;
    libuv_hiredis_link(uv_loop_t* loop, redisAsyncContext* context) : burst_write_link(context), loop_(loop) {}

    template <class Handle>
    void open(Handle* handle) {
        handle->data = this;
        ++open_handles_;
    }
    static libuv_hiredis_link& of(void* handle_data) { return *static_cast<libuv_hiredis_link*>(handle_data); }

    void poll(bool read, bool write) {
        const int events = (read ? UV_READABLE : 0) | (write ? UV_WRITABLE : 0);
        if (events == 0)
            uv_poll_stop(&poll_);
        else
            uv_poll_start(&poll_, events, &libuv_hiredis_link::polled);
    }
    // The check handle may run once before the next poll (when this is called from a callback of the poll phase):
    // the prepare handle marks that the loop has polled since, and the check after that poll flushes.
    bool schedule_flush() {
        polled_since_ = false;
        return uv_idle_start(&idle_, [](uv_idle_t*) {}) == 0 &&
               uv_prepare_start(&flush_, &libuv_hiredis_link::before_poll) == 0 &&
               uv_check_start(&check_, &libuv_hiredis_link::after_poll) == 0;
    }
    void start_timer(timeval tv) {
        if (timer_.data == nullptr) {  // the first timeout hiredis asks for
            if (uv_timer_init(loop_, &timer_) != 0) return;
            open(&timer_);
        }
        const auto ms = static_cast<std::uint64_t>(tv.tv_sec) * 1000u + static_cast<std::uint64_t>(tv.tv_usec) / 1000u;
        uv_timer_start(&timer_, &libuv_hiredis_link::timed_out, at_least_1ms(ms), 0);  // see libuv_loop::arm_timer
    }
    // The poll handle is closed here, not in destroy(): hiredis closes the fd right after, and a socket opened before
    // a deferred destroy() may get the same number; closing the handle then would take that socket out of epoll.
    void stop() {
        close(&poll_);
        uv_prepare_stop(&flush_);
        uv_idle_stop(&idle_);
        uv_check_stop(&check_);
        if (timer_.data != nullptr) uv_timer_stop(&timer_);
    }
    void destroy() {
        close(&poll_);
        close(&flush_);
        close(&idle_);
        close(&check_);
        close(&timer_);
    }
    /// Closes `handle` once: the last close callback frees the link. A handle never initialized (data unset) is skipped.
    template <class Handle>
    void close(Handle* handle) {
        auto* h = reinterpret_cast<uv_handle_t*>(handle);
        if (h->data != nullptr && uv_is_closing(h) == 0) uv_close(h, &libuv_hiredis_link::closed);
    }
    static void closed(uv_handle_t* handle) {
        libuv_hiredis_link& me = of(handle->data);
        if (--me.open_handles_ == 0) delete &me;
    }

    static void polled(uv_poll_t* handle, int status, int events) {
        if (status < 0) return of(handle->data).on_poll_error();  // libuv has stopped the handle
        of(handle->data).on_ready((events & UV_READABLE) != 0, (events & UV_WRITABLE) != 0);
    }
    static void before_poll(uv_prepare_t* handle) {
        uv_prepare_stop(handle);
        of(handle->data).polled_since_ = true;
    }
    static void after_poll(uv_check_t* handle) {
        libuv_hiredis_link& me = of(handle->data);
        if (!me.polled_since_) return;
        uv_check_stop(handle);
        uv_idle_stop(&me.idle_);
        me.on_flush();
    }
    static void timed_out(uv_timer_t* handle) { of(handle->data).on_timeout(); }

    uv_loop_t* loop_;
    uv_poll_t poll_{};  ///< data set once initialized
    uv_prepare_t flush_{};
    uv_idle_t idle_{};
    uv_check_t check_{};
    bool polled_since_ = false;
    uv_timer_t timer_{};  ///< initialized when hiredis first asks for a timeout
    int open_handles_ = 0;
};

}  // namespace detail

/// An event_loop on `loop`, which must outlive the cluster that owns this binding and run once more
/// after it is destroyed (libuv closes handles asynchronously: uv_run frees them).
class libuv_loop final : public event_loop {
public:
    explicit libuv_loop(uv_loop_t* loop) : loop_(loop) {
        if (loop_ == nullptr) throw error(error_kind::config, "libuv_loop: the loop is null");
    }
    ~libuv_loop() override { stop(); }
    libuv_loop(const libuv_loop&) = delete;
    libuv_loop& operator=(const libuv_loop&) = delete;

    int attach(redisAsyncContext* context) override { return detail::libuv_hiredis_link::attach(loop_, context); }

    void start(loop_events& events) override {
        events_ = &events;
        // Heap handles, freed by their close callbacks: they may outlive this object by one loop turn.
        timer_ = new uv_timer_t{};
        wake_ = new uv_async_t{};
        if (uv_timer_init(loop_, timer_) != 0) {
            delete timer_;
            timer_ = nullptr;
        } else {
            timer_->data = this;
        }
        if (uv_async_init(loop_, wake_, &libuv_loop::woken) != 0) {
            delete wake_;
            wake_ = nullptr;
        } else {
            wake_->data = this;
        }
        if (timer_ == nullptr || wake_ == nullptr) {
            stop();
            throw error(error_kind::config, "libuv_loop: cannot create the timer or the wake-up handle");
        }
    }
    /// At least 1 ms: libuv up to 1.47 (Debian 12 ships 1.44; libuv pull request 4250 changed it after) runs a timer
    /// started from a timer callback with timeout 0 again in the same timer phase (its due time is the loop's cached
    /// "now"), so a driver that re-arms at 0 while it is behind would never let the loop poll a socket; 1 ms is past
    /// that cached "now", and libuv's resolution anyway.
    void arm_timer(std::chrono::milliseconds delay) override {
        if (timer_ == nullptr) return;
        const auto ms = detail::at_least_1ms(static_cast<std::int64_t>(delay.count()));
        uv_timer_start(timer_, &libuv_loop::timer_fired, ms, 0);
    }
    void disarm_timer() override {
        if (timer_ != nullptr) uv_timer_stop(timer_);
    }
    void wake_up() override {
        if (wake_ != nullptr) uv_async_send(wake_);
    }
    void stop() override {
        events_ = nullptr;
        if (timer_ != nullptr) {
            uv_timer_stop(timer_);
            uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
            timer_ = nullptr;
        }
        if (wake_ != nullptr) {
            uv_close(reinterpret_cast<uv_handle_t*>(wake_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
            wake_ = nullptr;
        }
    }

private:
    static void timer_fired(uv_timer_t* timer) {
        auto* me = static_cast<libuv_loop*>(timer->data);
        if (me->events_ != nullptr) me->events_->on_timer();
    }
    static void woken(uv_async_t* wake) {
        auto* me = static_cast<libuv_loop*>(wake->data);
        if (me->events_ != nullptr) me->events_->on_wakeup();
    }

    uv_loop_t* loop_;
    loop_events* events_ = nullptr;
    uv_timer_t* timer_ = nullptr;
    uv_async_t* wake_ = nullptr;
};

/// The binding the cluster takes: `basic_async_cluster<P> c(options, addrmap::on_libuv(uv_default_loop()));`
inline std::unique_ptr<event_loop> on_libuv(uv_loop_t* loop) { return std::make_unique<libuv_loop>(loop); }

}  // namespace addrmap
