// addrmap/detail/coarse_clock.hpp — a steady_clock time that is never earlier than now, read cheaply: for marks taken
// on every reply (a connection's last progress), where a few milliseconds late is harmless and early is not.
#pragma once

#include <chrono>

#include <time.h>

namespace addrmap::detail {

#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)

/// CLOCK_MONOTONIC_COARSE's tick (4 ms at 250 Hz): the most it lags CLOCK_MONOTONIC, steady_clock's clock on Linux.
inline std::chrono::nanoseconds coarse_clock_tick() noexcept {
    static const std::chrono::nanoseconds tick = [] {
        timespec res{};
        if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0) return std::chrono::nanoseconds(-1);  // not usable
        return std::chrono::seconds(res.tv_sec) + std::chrono::nanoseconds(res.tv_nsec);
    }();
    return tick;
}

/// A time point not before steady_clock::now(), at most three ticks of the coarse clock after it. On a VM's clock
/// source steady_clock::now() costs tens of nanoseconds; the coarse clock is read from memory the kernel shares. The
/// margin is two ticks, not one: a tick may come late.
inline std::chrono::steady_clock::time_point now_or_a_little_later() noexcept {
    const std::chrono::nanoseconds tick = coarse_clock_tick();
    timespec ts{};
    if (tick.count() <= 0 || clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return std::chrono::steady_clock::now();
    const auto since_boot = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec) + 2 * tick;
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(since_boot));
}

#else

inline std::chrono::steady_clock::time_point now_or_a_little_later() noexcept { return std::chrono::steady_clock::now(); }

#endif

}  // namespace addrmap::detail
