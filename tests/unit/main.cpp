// tests/unit/main.cpp — the single Boost.Test entry point for all addrmap unit tests.
// Header-only Boost.Test: every other tests/unit/*.cpp just includes <boost/test/unit_test.hpp>.
#define BOOST_TEST_MODULE addrmap_unit
#include <boost/test/included/unit_test.hpp>
