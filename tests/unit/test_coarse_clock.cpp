// tests/unit/test_coarse_clock.cpp — detail::now_or_a_little_later(): never before steady_clock::now(), at most a
// few coarse ticks after it (a connection's stall clock relies on both).
#include <addrmap/detail/coarse_clock.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>

using clock_type = std::chrono::steady_clock;

BOOST_AUTO_TEST_CASE(the_cheap_reading_is_never_early_and_only_a_little_late) {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
    const std::chrono::nanoseconds tick = addrmap::detail::coarse_clock_tick();
    BOOST_TEST_REQUIRE(tick.count() > 0);
    BOOST_TEST(tick.count() <= 10000000);  // 100 Hz and faster kernels: at most 10 ms
    const std::chrono::nanoseconds most_late = 2 * tick;
#else
    const std::chrono::nanoseconds most_late{0};
#endif
    // Long enough to cross many ticks (the coarse clock moves only on one).
    const auto until = clock_type::now() + std::chrono::milliseconds(60);
    long readings = 0;
    while (clock_type::now() < until) {
        const auto before = clock_type::now();
        const auto reading = addrmap::detail::now_or_a_little_later();
        const auto after = clock_type::now();
        if (reading < before) BOOST_FAIL("early by " << (before - reading).count() << " ns");
        if (reading > after + most_late) BOOST_FAIL("late by " << (reading - after).count() << " ns");
        ++readings;
    }
    BOOST_TEST(readings > 0);
}
