// addrmap/loops/libev.hpp — the async cluster on a libev loop: hiredis's libev adapter for node connections,
// an ev_timer, and an ev_async for wake-ups from other threads (ev_async_send is thread-safe).
#pragma once

#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <ev.h>
#include <hiredis/adapters/libev.h>

#include <chrono>
#include <memory>

namespace addrmap {

/// An event_loop on `loop`, which must outlive the cluster that owns this binding.
class libev_loop final : public event_loop {
public:
    explicit libev_loop(struct ev_loop* loop) : loop_(loop) {
        if (loop_ == nullptr) throw error(error_kind::config, "libev_loop: the loop is null");
    }
    ~libev_loop() override { stop(); }
    libev_loop(const libev_loop&) = delete;
    libev_loop& operator=(const libev_loop&) = delete;

    int attach(redisAsyncContext* context) override { return redisLibevAttach(loop_, context); }

    void start(loop_events& events) override {
        events_ = &events;
        ev_init(&timer_, &libev_loop::timer_fired);
        timer_.data = this;
        ev_async_init(&wake_, &libev_loop::woken);
        wake_.data = this;
        ev_async_start(loop_, &wake_);
        started_ = true;
    }
    void arm_timer(std::chrono::milliseconds delay) override {
        if (!started_) return;
        ev_timer_stop(loop_, &timer_);
        ev_timer_set(&timer_, static_cast<ev_tstamp>(delay.count()) / 1000.0, 0.);
        ev_timer_start(loop_, &timer_);
    }
    void disarm_timer() override {
        if (started_) ev_timer_stop(loop_, &timer_);
    }
    void wake_up() override {
        if (started_) ev_async_send(loop_, &wake_);
    }
    void stop() override {
        if (!started_) return;
        ev_timer_stop(loop_, &timer_);
        ev_async_stop(loop_, &wake_);
        started_ = false;
        events_ = nullptr;
    }

private:
    static void timer_fired(struct ev_loop*, ev_timer* timer, int) {
        auto* me = static_cast<libev_loop*>(timer->data);
        if (me->events_ != nullptr) me->events_->on_timer();
    }
    static void woken(struct ev_loop*, ev_async* wake, int) {
        auto* me = static_cast<libev_loop*>(wake->data);
        if (me->events_ != nullptr) me->events_->on_wakeup();
    }

    struct ev_loop* loop_;
    loop_events* events_ = nullptr;
    ev_timer timer_{};
    ev_async wake_{};
    bool started_ = false;
};

/// The binding the cluster takes: `basic_async_cluster<P> c(options, addrmap::on_libev(EV_DEFAULT));`
inline std::unique_ptr<event_loop> on_libev(struct ev_loop* loop) { return std::make_unique<libev_loop>(loop); }

}  // namespace addrmap
