// addrmap/loops/libevent.hpp — the async cluster on a libevent event_base: a hiredis adapter that writes once per burst
// for node connections, an evtimer, and an eventfd the base watches for wake-ups from other threads (no evthread).
#pragma once

#include <addrmap/detail/burst_write_link.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <event2/event.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <new>

namespace addrmap {

namespace detail {

/// One node connection on a libevent base (see burst_write_link): an event for the socket, an evtimer added with a
/// zero timeout for the flush (the base then polls without blocking and runs the flush after that poll's socket
/// callbacks), and an evtimer for hiredis's own timeout once asked for.
class libevent_hiredis_link final : public burst_write_link<libevent_hiredis_link> {
public:
    /// Attaches a link to `context`: REDIS_ERR when it has an adapter already or libevent cannot make the events.
    static int attach(event_base* base, redisAsyncContext* context) {
        if (!attachable(context)) return REDIS_ERR;
        auto* link = new (std::nothrow) libevent_hiredis_link(base, context);
        if (link == nullptr) return REDIS_ERR;
        link->socket_ = event_new(base, context->c.fd, EV_READ | EV_PERSIST, &libevent_hiredis_link::ready, link);
        link->flush_ = evtimer_new(base, &libevent_hiredis_link::flush, link);
        if (link->socket_ == nullptr || link->flush_ == nullptr) {
            link->destroy();
            return REDIS_ERR;
        }
        link->install();
        return REDIS_OK;
    }

private:
    friend class burst_write_link<libevent_hiredis_link>;
    libevent_hiredis_link(event_base* base, redisAsyncContext* context) : burst_write_link(context), base_(base) {}

    void poll(bool read, bool write) {
        event_del(socket_);
        const short events = static_cast<short>((read ? EV_READ : 0) | (write ? EV_WRITE : 0));
        if (events == 0) return;
        event_assign(socket_, base_, context_->c.fd, static_cast<short>(events | EV_PERSIST), &libevent_hiredis_link::ready, this);
        event_add(socket_, nullptr);
    }
    // A pending zero timeout makes the base's next poll return at once; timers run after that poll's socket events.
    bool schedule_flush() {
        const timeval now{0, 0};
        return evtimer_add(flush_, &now) == 0;
    }
    void start_timer(timeval tv) {
        if (timer_ == nullptr) timer_ = evtimer_new(base_, &libevent_hiredis_link::timed_out, this);
        if (timer_ != nullptr) evtimer_add(timer_, &tv);
    }
    void stop() {
        for (event* e : {socket_, flush_, timer_})
            if (e != nullptr) event_del(e);
    }
    void destroy() {
        for (event* e : {socket_, flush_, timer_})
            if (e != nullptr) event_free(e);
        delete this;
    }

    static libevent_hiredis_link& of(void* arg) { return *static_cast<libevent_hiredis_link*>(arg); }
    static void ready(evutil_socket_t, short what, void* arg) { of(arg).on_ready((what & EV_READ) != 0, (what & EV_WRITE) != 0); }
    static void flush(evutil_socket_t, short, void* arg) { of(arg).on_flush(); }
    static void timed_out(evutil_socket_t, short, void* arg) { of(arg).on_timeout(); }

    event_base* base_;
    event* socket_ = nullptr;
    event* flush_ = nullptr;
    event* timer_ = nullptr;
};

}  // namespace detail

/// An event_loop on `base`, which must outlive the cluster that owns this binding.
class libevent_loop final : public event_loop {
public:
    explicit libevent_loop(event_base* base) : base_(base) {
        if (base_ == nullptr) throw error(error_kind::config, "libevent_loop: the event_base is null");
    }
    ~libevent_loop() override { stop(); }
    libevent_loop(const libevent_loop&) = delete;
    libevent_loop& operator=(const libevent_loop&) = delete;

    int attach(redisAsyncContext* context) override { return detail::libevent_hiredis_link::attach(base_, context); }

    void start(loop_events& events) override {
        events_ = &events;
        timer_ = evtimer_new(base_, &libevent_loop::timer_fired, this);
        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd_ >= 0) wake_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &libevent_loop::woken, this);
        if (timer_ == nullptr || wake_ == nullptr || event_add(wake_, nullptr) != 0) {
            stop();
            throw error(error_kind::config, "libevent_loop: cannot create the timer or the wake-up event");
        }
    }
    void arm_timer(std::chrono::milliseconds delay) override {
        if (timer_ == nullptr) return;
        timeval tv{};
        tv.tv_sec = static_cast<decltype(tv.tv_sec)>(delay.count() / 1000);
        tv.tv_usec = static_cast<decltype(tv.tv_usec)>((delay.count() % 1000) * 1000);
        evtimer_add(timer_, &tv);
    }
    void disarm_timer() override {
        if (timer_ != nullptr) evtimer_del(timer_);
    }
    void wake_up() override {
        const std::uint64_t one = 1;
        if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
    }
    void stop() override {
        if (timer_ != nullptr) event_free(timer_);
        if (wake_ != nullptr) event_free(wake_);
        if (wake_fd_ >= 0) ::close(wake_fd_);
        timer_ = wake_ = nullptr;
        wake_fd_ = -1;
        events_ = nullptr;
    }

private:
    static void timer_fired(evutil_socket_t, short, void* self) {
        auto* me = static_cast<libevent_loop*>(self);
        if (me->events_ != nullptr) me->events_->on_timer();
    }
    static void woken(evutil_socket_t fd, short, void* self) {
        std::uint64_t count = 0;
        (void)!::read(fd, &count, sizeof count);
        auto* me = static_cast<libevent_loop*>(self);
        if (me->events_ != nullptr) me->events_->on_wakeup();
    }

    event_base* base_;
    loop_events* events_ = nullptr;
    event* timer_ = nullptr;
    event* wake_ = nullptr;
    int wake_fd_ = -1;
};

/// The binding the cluster takes: `basic_async_cluster<P> c(options, addrmap::on_libevent(base));`
inline std::unique_ptr<event_loop> on_libevent(event_base* base) { return std::make_unique<libevent_loop>(base); }

}  // namespace addrmap
