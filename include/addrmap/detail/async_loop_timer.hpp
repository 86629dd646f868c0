// addrmap/detail/async_loop_timer.hpp — the one timer an event loop gives the async cluster, serving every deadline
// (a call's, a dial's, a stalled connection's, a refresh attempt's): armed for the earliest one asked for.
#pragma once

#include <addrmap/event_loop.hpp>

#include <algorithm>
#include <chrono>

namespace addrmap::detail {

/// When it fires, the driver looks at every deadline and asks again for the earliest one left: firing early is
/// harmless, firing late is not. Not thread-safe (the loop thread only).
class async_loop_timer {
public:
    using clock = std::chrono::steady_clock;

    explicit async_loop_timer(event_loop& loop) noexcept : loop_(loop) {}

    /// The timer fires at `at` or earlier (at once for a time past).
    void arm_by(clock::time_point at) {
        if (stopped_ || (armed_ && at >= at_)) return;
        const auto now = clock::now();
        const auto delay = at <= now ? std::chrono::milliseconds(0) : std::chrono::ceil<std::chrono::milliseconds>(at - now);
        loop_.arm_timer(std::min(delay, std::chrono::milliseconds(24 * 3600 * 1000)));
        armed_ = true;
        at_ = at;
    }
    /// The timer fired: arm_by() arms it again.
    void fired() noexcept { armed_ = false; }
    /// The cluster is going away: the timer is not armed again.
    void stop() noexcept { stopped_ = true; }

private:
    event_loop& loop_;
    bool armed_ = false;
    bool stopped_ = false;
    clock::time_point at_{};
};

}  // namespace addrmap::detail
