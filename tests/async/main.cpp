// tests/async/main.cpp — the Boost.Test module for the async cluster on libevent, libuv and libev against live
// TLS servers (started by CTest fixtures, never by a test).
#define BOOST_TEST_MODULE addrmap_async
#include <boost/test/included/unit_test.hpp>
