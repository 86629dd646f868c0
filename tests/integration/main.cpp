// tests/integration/main.cpp — the Boost.Test module for tests against live TLS servers.
// The servers are started by CTest fixtures (scripts/cluster, scripts/tls-lab), never by a test.
#define BOOST_TEST_MODULE addrmap_integration
#include <boost/test/included/unit_test.hpp>
