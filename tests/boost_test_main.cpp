// tests/boost_test_main.cpp — Boost.Test's implementation and main(), compiled once per language standard and
// linked into every test program (unit, integration, async): each program's files just include <boost/test/unit_test.hpp>.
#define BOOST_TEST_MODULE addrmap
#include <boost/test/included/unit_test.hpp>
