// tests/unit/policy_exemplar.cpp — the compiled example of docs/policies.md, "Example": a class policy
// and a lambda, each tested, so the documented contract cannot drift from what the library accepts.
#include <addrmap/address.hpp>
#include <addrmap/error.hpp>
#include <addrmap/policies/first_match.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policy.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace {

// --- A class policy --------------------------------------------------------------------------
// Each node listens on its own port behind one load balancer whose certificate carries one name
// per node ("node-7001.example.com"). The policy maps by port.
class per_port_names {
public:
    explicit per_port_names(std::map<std::uint16_t, std::string> names) : names_(std::move(names)) {}

    // Optional: declining (nullopt) lets first_match ask the next policy.
    std::optional<addrmap::endpoint> try_map(const addrmap::node_address& address) const {
        const auto it = names_.find(address.port);
        if (it == names_.end()) return std::nullopt;
        // A view into our own string: no allocation; valid while this policy lives.
        return addrmap::endpoint(it->second, address.port, it->second);
    }

    // Required: `endpoint map(const node_address&) const`. Throw addrmap::error when you cannot map.
    addrmap::endpoint map(const addrmap::node_address& address) const {
        if (auto result = try_map(address)) return *result;
        throw addrmap::error(addrmap::error_kind::topology,
                             "per_port_names has no name for port " + std::to_string(address.port) + " (" +
                                 addrmap::to_string(address) + ")");
    }

private:
    std::map<std::uint16_t, std::string> names_;
};

static_assert(addrmap::is_mapping_policy_v<per_port_names>);
static_assert(addrmap::is_partial_policy_v<per_port_names>);
#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
static_assert(addrmap::mapping_policy<per_port_names>);
#endif

// --- A lambda policy -------------------------------------------------------------------------
// Builds a new name from the IP ("10.0.0.7" -> "10-0-0-7.nodes.example.com"). The string is new,
// so the endpoint must own it: endpoint::owning.
const auto dashed_ip_names = [](const addrmap::node_address& address) {
    std::string name = address.host;
    for (char& c : name)
        if (c == '.' || c == ':') c = '-';
    name += ".nodes.example.com";
    return addrmap::endpoint::owning(name, address.port, name);
};

static_assert(addrmap::is_mapping_policy_v<decltype(dashed_ip_names)>);
static_assert(!addrmap::is_partial_policy_v<decltype(dashed_ip_names)>);

addrmap::node_address reported_at(std::string host, std::uint16_t port) { return {std::move(host), port, {}}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_exemplar)

BOOST_AUTO_TEST_CASE(class_policy) {
    const per_port_names policy({{7001, "node-7001.example.com"}, {7002, "node-7002.example.com"}});
    const addrmap::endpoint result = addrmap::map_address(policy, reported_at("10.0.0.1", 7001));
    BOOST_TEST(result.dial_host() == "node-7001.example.com");
    BOOST_TEST(result.port() == 7001);
    BOOST_TEST(result.tls_name() == "node-7001.example.com");
    BOOST_TEST(!result.owns_storage());
    try {
        (void)addrmap::map_address(policy, reported_at("10.0.0.1", 7003));
        BOOST_ERROR("mapped an unknown port");
    } catch (const addrmap::error& e) {
        BOOST_TEST(std::string(e.what()) == "addrmap: topology: per_port_names has no name for port 7003 (10.0.0.1:7003)");
        BOOST_TEST((e.kind() == addrmap::error_kind::topology));
    }
}

BOOST_AUTO_TEST_CASE(lambda_policy) {
    const addrmap::endpoint result = addrmap::map_address(dashed_ip_names, reported_at("10.0.0.7", 7000));
    BOOST_TEST(result.dial_host() == "10-0-0-7.nodes.example.com");
    BOOST_TEST(result.port() == 7000);
    BOOST_TEST(result.tls_name() == "10-0-0-7.nodes.example.com");
    BOOST_TEST(result.owns_storage());
}

BOOST_AUTO_TEST_CASE(composed) {
    // The class policy declines unknown ports; the lambda always answers, so identity is never reached.
    const addrmap::first_match policy{per_port_names({{7001, "node-7001.example.com"}}), dashed_ip_names,
                                      addrmap::identity{}};
    BOOST_TEST(policy.map(reported_at("10.0.0.1", 7001)).dial_host() == "node-7001.example.com");
    BOOST_TEST(policy.map(reported_at("fd00::2", 7002)).dial_host() == "fd00--2.nodes.example.com");
}

BOOST_AUTO_TEST_SUITE_END()
