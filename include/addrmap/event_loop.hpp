// addrmap/event_loop.hpp — what the async cluster needs from an event loop: a hiredis adapter to attach node
// connections, one timer and one thread-safe wake-up. Bindings for libevent, libuv, libev and Asio are in loops/.
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean

#include <hiredis/async.h>

#include <chrono>

namespace addrmap {

/// The two events a loop delivers to the async cluster, always on the loop's thread.
class loop_events {
public:
    virtual void on_timer() = 0;   ///< the timer armed with event_loop::arm_timer expired
    virtual void on_wakeup() = 0;  ///< event_loop::wake_up was called (from any thread)

protected:
    ~loop_events() = default;
};

/// One event loop, as the async cluster uses it. A binding for another loop is a few lines: attach is the
/// loop's hiredis adapter (redisXxxAttach), the timer and the wake-up are the loop's own (see loops/libuv.hpp,
/// and docs/async.md, "Another event loop"). A binding serves one cluster; it is owned by that cluster.
class event_loop {
public:
    virtual ~event_loop() = default;

    /// Attaches a node connection to the loop with a hiredis adapter (the loop's own, or one of ours); REDIS_OK or
    /// REDIS_ERR.
    virtual int attach(redisAsyncContext* context) = 0;
    /// Starts delivering events to `events` (called once, on the loop thread, before anything else).
    virtual void start(loop_events& events) = 0;
    /// After `delay`, call events.on_timer() once; replaces an earlier request. The loop polls its sockets before it
    /// calls on_timer() again, even for a delay of 0 armed from on_timer() itself (the driver does that when a
    /// deadline has passed while it worked: a loop that ran such a timer again at once would never read a socket).
    virtual void arm_timer(std::chrono::milliseconds delay) = 0;
    virtual void disarm_timer() = 0;
    /// Thread-safe: call events.on_wakeup() on the loop thread soon (several calls may be merged).
    virtual void wake_up() = 0;
    /// Stops delivering events (called once, on the loop thread, by the cluster's destructor). After it,
    /// neither the timer nor the wake-up call into `events` again, even if the loop runs on.
    virtual void stop() = 0;
};

}  // namespace addrmap
