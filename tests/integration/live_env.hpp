// tests/integration/live_env.hpp — where the fixture-started servers are, read from the environment
// CTest sets (LOCAL_CLUSTER_PORT/DIR, TLS_LAB_PORT/DIR); a missing variable fails loudly.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace live {

inline std::string require_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        throw std::runtime_error(std::string("integration tests need ") + name +
                                 " (run them through ctest, whose fixtures start the servers)");
    return value;
}

/// First TLS port of the 6-node cluster (masters and replicas are assigned by redis-cli).
inline std::uint16_t cluster_port() { return static_cast<std::uint16_t>(std::stoi(require_env("LOCAL_CLUSTER_PORT"))); }
inline std::vector<std::uint16_t> cluster_ports() {
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 6; ++i) ports.push_back(static_cast<std::uint16_t>(cluster_port() + i));
    return ports;
}
inline std::string cluster_dir() { return require_env("LOCAL_CLUSTER_DIR"); }
/// Files of scripts/cluster's throw-away PKI: ca.crt, server.{crt,key}, other.{crt,key}, client.{crt,key}.
inline std::string cluster_tls(const std::string& file) { return cluster_dir() + "/tls/" + file; }
inline std::string source_dir() { return require_env("TEST_SOURCE_DIR"); }

inline std::uint16_t tls_lab_port() { return static_cast<std::uint16_t>(std::stoi(require_env("TLS_LAB_PORT"))); }
inline std::string tls_lab_dir() { return require_env("TLS_LAB_DIR"); }

/// Asserts (without stopping the test) that `text` — a message, or a tool's output — contains `fragment`.
inline void check_has(const std::string& text, const std::string& fragment) {
    BOOST_TEST(text.find(fragment) != std::string::npos, "'" << fragment << "' missing from:\n" << text);
}

}  // namespace live
