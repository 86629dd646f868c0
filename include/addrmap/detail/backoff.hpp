// addrmap/detail/backoff.hpp — how long the cluster core waits before trying again (a call's next send, a node's
// next dial): doubling from min_backoff to max_backoff, jittered; and time sums that saturate instead of wrapping.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace addrmap::detail {

/// t + d, or the end of time when that would overflow (a deadline of "forever" must not wrap around).
template <class Rep, class Period>
std::chrono::steady_clock::time_point saturating_add(std::chrono::steady_clock::time_point t,
                                                     std::chrono::duration<Rep, Period> d) noexcept {
    using clock = std::chrono::steady_clock;
    const auto room = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(clock::time_point::max() - t);
    return d >= room ? clock::time_point::max() : t + std::chrono::duration_cast<clock::duration>(d);
}

/// The waits of one client. Each thing that backs off (a call, a node) keeps its own step counter; the jitter
/// state is shared, so many calls or clients that lost the same node spread out. Not thread-safe.
class backoff {
public:
    /// Needs 1 ms <= min <= max (the core checks the options). `seed` starts the jitter; 0 is made odd.
    backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed) noexcept
        : min_(min), max_(max), jitter_state_(seed | 1u) {}

    /// The wait before the next try for `step_counter` (moved on by one): min, doubling per step, capped at max
    /// (and at one hour), then a jittered value from the upper half: [base / 2, base].
    std::chrono::microseconds delay(int& step_counter) noexcept {
        const int step = std::min(step_counter++, 20);
        auto base = min_ * (std::int64_t{1} << step);
        if (base > max_ || base.count() < 0) base = max_;
        base = std::min(base, std::chrono::milliseconds(3600 * 1000));  // keeps the arithmetic below in range
        jitter_state_ ^= jitter_state_ << 13, jitter_state_ ^= jitter_state_ >> 7, jitter_state_ ^= jitter_state_ << 17;
        const auto half = std::chrono::duration_cast<std::chrono::microseconds>(base) / 2;
        const auto extra = half.count() > 0 ? std::chrono::microseconds(static_cast<std::int64_t>(
                                                  jitter_state_ % static_cast<std::uint64_t>(half.count() + 1)))
                                            : std::chrono::microseconds(0);
        return half + extra;
    }

private:
    std::chrono::milliseconds min_, max_;
    std::uint64_t jitter_state_;
};

}  // namespace addrmap::detail
