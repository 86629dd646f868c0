// addrmap/loops/libevent.hpp — the async cluster on a libevent event_base: hiredis's libevent adapter for node
// connections, an evtimer, and an eventfd the base watches for wake-ups from other threads (no evthread needed).
#pragma once

#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace addrmap {

/// An event_loop on `base`, which must outlive the cluster that owns this binding.
class libevent_loop final : public event_loop {
public:
    explicit libevent_loop(event_base* base) : base_(base) {
        if (base_ == nullptr) throw error(error_kind::config, "libevent_loop: the event_base is null");
    }
    ~libevent_loop() override { stop(); }
    libevent_loop(const libevent_loop&) = delete;
    libevent_loop& operator=(const libevent_loop&) = delete;

    int attach(redisAsyncContext* context) override { return redisLibeventAttach(context, base_); }

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
