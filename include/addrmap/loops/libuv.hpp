// addrmap/loops/libuv.hpp — the async cluster on a libuv loop: hiredis's libuv adapter for node connections,
// a uv_timer_t, and a uv_async_t for wake-ups from other threads (uv_async_send is thread-safe).
#pragma once

#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <hiredis/adapters/libuv.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace addrmap {

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

    int attach(redisAsyncContext* context) override { return redisLibuvAttach(context, loop_); }

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
    void arm_timer(std::chrono::milliseconds delay) override {
        if (timer_ != nullptr) uv_timer_start(timer_, &libuv_loop::timer_fired, static_cast<std::uint64_t>(delay.count()), 0);
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
