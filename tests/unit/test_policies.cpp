// tests/unit/test_policies.cpp — behaviour of the shipped policies: identity, ip_to_hostname,
// static_table, env and first_match, including IPv6, unknown hosts, lambdas and no-allocation views.
#include "resp_helpers.hpp"

#include <addrmap/policies/env.hpp>
#include <addrmap/policies/first_match.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policy.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using addrmap::endpoint;
using addrmap::node_address;
using mode = addrmap::ip_to_hostname::mode;
using variables = std::map<std::string, std::string>;

using addrmap_test::at;

/// Expected endpoint as plain strings, so a failure prints readable values.
struct expected_endpoint {
    std::string dial_host;
    std::uint16_t port;
    std::string tls_name;
};

void check_endpoint(const endpoint& actual, const expected_endpoint& expected) {
    BOOST_TEST(std::string(actual.dial_host()) == expected.dial_host);
    BOOST_TEST(actual.port() == expected.port);
    BOOST_TEST(std::string(actual.tls_name()) == expected.tls_name);
    BOOST_TEST(!actual.owns_storage());  // shipped policies only ever return views
}

template <class F>
void check_throws(F&& f, addrmap::error_kind kind, const std::string& message) {
    try {
        f();
        BOOST_ERROR("no exception, expected: " << message);
    } catch (const addrmap::error& e) {
        BOOST_TEST(std::string(e.what()) == message);
        BOOST_TEST((e.kind() == kind));
    }
}

std::string unknown_host_message(const std::string& policy, const std::string& address) {
    return "addrmap: topology: " + policy + " cannot map " + address +
           ": the reported host is unknown ('' or '?'); the adapter resolves '' against the node that reported it "
           "and never maps '?' (a node whose address the server does not know)";
}

/// Sets process environment variables for one scope and removes them afterwards.
class scoped_environment {
public:
    explicit scoped_environment(const variables& vars) {
        for (const auto& [name, value] : vars) {
            ::setenv(name.c_str(), value.c_str(), 1);
            names_.push_back(name);
        }
    }
    ~scoped_environment() {
        for (const auto& name : names_) ::unsetenv(name.c_str());
    }
    scoped_environment(const scoped_environment&) = delete;
    scoped_environment& operator=(const scoped_environment&) = delete;

private:
    std::vector<std::string> names_;
};

static_assert(addrmap::is_mapping_policy_v<addrmap::identity>);
static_assert(!addrmap::is_partial_policy_v<addrmap::identity>);
static_assert(addrmap::is_partial_policy_v<addrmap::ip_to_hostname>);
static_assert(addrmap::is_partial_policy_v<addrmap::static_table>);
static_assert(addrmap::is_partial_policy_v<addrmap::env>);
static_assert(addrmap::is_partial_policy_v<addrmap::first_match<addrmap::identity>>);

}  // namespace

BOOST_AUTO_TEST_SUITE(test_policies)

BOOST_AUTO_TEST_CASE(identity_dials_and_verifies_what_is_reported) {
    const addrmap::identity policy{addrmap::allowed_names{"*.example.com"}};
    const std::vector<std::pair<node_address, expected_endpoint>> cases = {
        {at("10.0.0.1", 7000), {"10.0.0.1", 7000, "10.0.0.1"}},
        {at("fd00::1", 7001), {"fd00::1", 7001, "fd00::1"}},
        {at("node1.example.com", 6379), {"node1.example.com", 6379, "node1.example.com"}},
    };
    for (const auto& [address, expected] : cases) {
        BOOST_TEST_CONTEXT("address " << addrmap::to_string(address)) {
            const endpoint result = addrmap::map_address(policy, address);
            check_endpoint(result, expected);
            BOOST_TEST(static_cast<const void*>(result.dial_host().data()) == address.host.data());
            BOOST_TEST(static_cast<const void*>(result.tls_name().data()) == address.host.data());
        }
    }
}

BOOST_AUTO_TEST_CASE(identity_refuses_unknown_hosts) {
    for (const char* host : {"?", ""}) {
        BOOST_TEST_CONTEXT("host '" << host << "'") {
            check_throws([&] { (void)addrmap::identity{}.map(at(host, 7000)); }, addrmap::error_kind::topology,
                         unknown_host_message("identity", "?:7000"));
        }
    }
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_both_modes) {
    struct row {
        mode how;
        std::string host;
        expected_endpoint expected;
    };
    const std::vector<row> rows = {
        {mode::dial_hostname, "10.0.0.1", {"redis.example.com", 7000, "redis.example.com"}},
        {mode::dial_hostname, "fd00::1", {"redis.example.com", 7000, "redis.example.com"}},
        {mode::dial_hostname, "other.example.com", {"other.example.com", 7000, "other.example.com"}},
        {mode::dial_ip_verify_hostname, "10.0.0.1", {"10.0.0.1", 7000, "redis.example.com"}},
        {mode::dial_ip_verify_hostname, "fd00::1", {"fd00::1", 7000, "redis.example.com"}},
        {mode::dial_ip_verify_hostname, "other.example.com", {"other.example.com", 7000, "other.example.com"}},
    };
    for (const row& r : rows) {
        BOOST_TEST_CONTEXT("mode " << static_cast<int>(r.how) << ", host " << r.host) {
            // Reported names under example.com pass through: allowed explicitly (example.com is a registrable
            // domain, so the default allows only redis.example.com itself).
            const addrmap::ip_to_hostname policy("redis.example.com", r.how, {}, addrmap::allowed_names{"*.example.com"});
            const node_address address = at(r.host, 7000);
            const auto answer = policy.try_map(address);
            BOOST_TEST_REQUIRE(answer.has_value());
            check_endpoint(*answer, r.expected);
            check_endpoint(policy.map(address), r.expected);
            // Views, not copies: the hostname comes from the policy, an IP or name from the input.
            const endpoint result = policy.map(address);
            const bool ip = r.host != "other.example.com";
            const void* dial = result.dial_host().data();
            const void* tls = result.tls_name().data();
            if (ip && r.how == mode::dial_hostname) BOOST_TEST(dial == policy.hostname().data());
            if (ip && r.how == mode::dial_ip_verify_hostname) BOOST_TEST(dial == address.host.data());
            if (ip) BOOST_TEST(tls == policy.hostname().data());
            if (!ip) BOOST_TEST(dial == address.host.data());
            if (!ip) BOOST_TEST(tls == address.host.data());
        }
    }
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_long_only_list_agrees_with_a_scan) {
    // Lists longer than 16 entries are hashed per prefix length; the answer must be what checking every
    // block would give, for IPs inside, on the edges of and outside each block, both families.
    const std::vector<std::string> blocks = {
        "10.0.0.0/8",  "10.1.2.3",     "172.16.0.0/12", "192.168.0.0/16", "192.168.7.128/25", "100.64.0.0/10",
        "198.51.100.7", "203.0.113.0/24", "0.0.0.0/32",  "255.255.255.255", "fd00::/8",       "2001:db8::/32",
        "2001:db8:1::/48", "::1",      "fe80::/10",     "2001:db8:ffff::9", "169.254.0.0/16", "8.8.8.8"};
    std::string text;
    for (const std::string& b : blocks) text += (text.empty() ? "" : ",") + b;
    const addrmap::ip_to_hostname policy("node.example.com", addrmap::ip_to_hostname::mode::dial_hostname, text);
    std::vector<addrmap::detail::cidr_block> parsed;
    for (const std::string& b : blocks) {
        addrmap::detail::cidr_block block;
        BOOST_REQUIRE(!addrmap::detail::parse_cidr_into(b, block));
        parsed.push_back(block);
    }
    const std::vector<std::string> probes = {
        "10.255.255.255", "11.0.0.0",  "10.1.2.3",   "172.31.255.255", "172.32.0.0",  "192.168.7.127",
        "192.168.7.128",  "192.169.0.1", "100.127.255.255", "100.128.0.0", "198.51.100.7", "198.51.100.8",
        "203.0.113.255",  "0.0.0.0",   "0.0.0.1",    "255.255.255.255", "8.8.8.8", "8.8.4.4",
        "fdff:ffff::1",   "fe00::1",   "2001:db8:abcd::1", "2001:db9::", "::1", "::2", "febf::1", "fec0::1",
        "2001:db8:ffff::9", "2001:db8:ffff::a", "169.254.1.1", "::ffff:10.0.0.1"};
    std::size_t inside = 0;
    for (const std::string& ip : probes) {
        bool expected = false;
        for (const auto& block : parsed) expected = expected || block.contains(*addrmap::detail::parse_ip(ip));
        inside += expected ? 1 : 0;
        BOOST_TEST(policy.try_map(addrmap::node_address{ip, 7000, {}}).has_value() == expected, ip);
    }
    BOOST_TEST(inside > 10u);  // the probes exercise both answers
    BOOST_TEST(inside < probes.size());
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_only_list) {
    const addrmap::ip_to_hostname policy("redis.example.com", mode::dial_ip_verify_hostname,
                                         " 10.0.0.0/8, 192.0.2.7\nfd00::/8 ; 2001:db8::1 ",
                                         addrmap::allowed_names{"*.example.com"});
    BOOST_TEST(policy.restricted());
    BOOST_TEST(policy.only_text() == "10.0.0.0/8, 192.0.2.7\nfd00::/8 ; 2001:db8::1");
    const std::vector<std::pair<std::string, bool>> cases = {
        {"10.0.0.1", true},    {"10.255.255.255", true}, {"11.0.0.1", false},  {"192.0.2.7", true},
        {"192.0.2.8", false},  {"fd00::1", true},        {"fdff:1::2", true},  {"fe00::1", false},
        {"2001:db8::1", true}, {"2001:db8::2", false},   {"::ffff:10.0.0.1", false},
    };
    for (const auto& [host, inside] : cases) {
        BOOST_TEST_CONTEXT("host " << host) {
            const node_address address = at(host, 7000);
            const auto answer = policy.try_map(address);
            BOOST_TEST(answer.has_value() == inside);
            if (inside) {
                check_endpoint(policy.map(address), {host, 7000, "redis.example.com"});
            } else {
                check_throws([&] { (void)policy.map(address); }, addrmap::error_kind::topology,
                             "addrmap: topology: ip_to_hostname maps only '10.0.0.0/8, 192.0.2.7\\x0afd00::/8 ; "
                             "2001:db8::1'; " + addrmap::to_string(address) +
                                 " is outside that list (compose first_match<ip_to_hostname, identity> to dial such "
                                 "addresses as reported)");
            }
        }
    }
    // Names are verifiable as they are, whatever the list says.
    check_endpoint(policy.map(at("node9.example.com", 7000)), {"node9.example.com", 7000, "node9.example.com"});
    // /0 covers its whole family only.
    const addrmap::ip_to_hostname all_v4("redis.example.com", mode::dial_hostname, "0.0.0.0/0");
    BOOST_TEST(all_v4.try_map(at("203.0.113.9", 1)).has_value());
    BOOST_TEST(!all_v4.try_map(at("::1", 1)).has_value());
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_unknown_host) {
    const addrmap::ip_to_hostname policy("redis.example.com");
    for (const char* host : {"?", ""}) {
        BOOST_TEST_CONTEXT("host '" << host << "'") {
            BOOST_TEST(!policy.try_map(at(host, 7000)).has_value());
            check_throws([&] { (void)policy.map(at(host, 7000)); }, addrmap::error_kind::topology,
                         unknown_host_message("ip_to_hostname", "?:7000"));
        }
    }
}

BOOST_AUTO_TEST_CASE(static_table_lookups) {
    const auto table = addrmap::static_table::parse(
        "10.0.0.1:7000=node1.example.com:7100;"
        "10.0.0.1=node1-any.example.com,"
        "10.0.0.2=10.1.0.2/tls=node2.example.com\n"
        "[fd00::3]:7000=node3.example.com;"
        "[fd00::4]=[fd00::44]:7400/tls=fd00::44;"
        "10.0.0.5:7000=node5.example.com/tls=cluster.example.com;",
        addrmap::on_miss::pass_through);
    BOOST_TEST(table.size() == 6u);
    struct row {
        node_address address;
        std::optional<expected_endpoint> hit;  // nullopt: a miss
    };
    const std::vector<row> rows = {
        {at("10.0.0.1", 7000), expected_endpoint{"node1.example.com", 7100, "node1.example.com"}},  // ip:port wins
        {at("10.0.0.1", 7001), expected_endpoint{"node1-any.example.com", 7001, "node1-any.example.com"}},
        {at("10.0.0.2", 7002), expected_endpoint{"10.1.0.2", 7002, "node2.example.com"}},
        {at("fd00::3", 7000), expected_endpoint{"node3.example.com", 7000, "node3.example.com"}},
        {at("fd00:0::3", 7000), expected_endpoint{"node3.example.com", 7000, "node3.example.com"}},
        {at("fd00::3", 7001), std::nullopt},
        {at("fd00::4", 7004), expected_endpoint{"fd00::44", 7400, "fd00::44"}},
        {at("10.0.0.5", 7000), expected_endpoint{"node5.example.com", 7000, "cluster.example.com"}},
        {at("10.0.0.5", 7001), std::nullopt},
        {at("10.0.0.9", 7000), std::nullopt},
        {at("node1.example.com", 7000), std::nullopt},  // keys are IPs
        {at("::ffff:10.0.0.1", 7000), std::nullopt},    // another family
    };
    for (const row& r : rows) {
        BOOST_TEST_CONTEXT("address " << addrmap::to_string(r.address)) {
            const auto answer = table.try_map(r.address);
            BOOST_TEST(answer.has_value() == r.hit.has_value());
            if (r.hit) {
                check_endpoint(*answer, *r.hit);
                check_endpoint(table.map(r.address), *r.hit);
                // The dial host lives in the table: the same storage on every call.
                BOOST_TEST(static_cast<const void*>(table.map(r.address).dial_host().data()) ==
                           static_cast<const void*>(answer->dial_host().data()));
                BOOST_TEST(static_cast<const void*>(answer->dial_host().data()) != r.address.host.data());
            } else {
                // on_miss::pass_through: dial and verify as reported, viewing the input.
                const endpoint passed = table.map(r.address);
                check_endpoint(passed, {r.address.host, r.address.port, r.address.host});
                BOOST_TEST(static_cast<const void*>(passed.dial_host().data()) == r.address.host.data());
            }
        }
    }
    BOOST_TEST(table.unmatched_entries().empty());
}

BOOST_AUTO_TEST_CASE(static_table_on_miss_fail_and_unknown_hosts) {
    const auto table = addrmap::static_table::parse("10.0.0.1=node1.example.com");
    BOOST_TEST((table.miss_behavior() == addrmap::on_miss::fail));
    check_throws([&] { (void)table.map(at("10.0.0.9", 7000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: static_table has no entry for 10.0.0.9:7000 (1 entry, on_miss::fail); add one "
                 "such as '10.0.0.9:7000=<host>' or choose on_miss::pass_through");
    check_throws([&] { (void)table.map(at("fd00::9", 7000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: static_table has no entry for [fd00::9]:7000 (1 entry, on_miss::fail); add one "
                 "such as '[fd00::9]:7000=<host>' or choose on_miss::pass_through");
    // A name cannot be a key, so the advice differs (this is what a seed given by name meets).
    check_throws([&] { (void)table.map(at("redis.example.com", 10000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: static_table has no entry for redis.example.com:10000 (1 entry, on_miss::fail); "
                 "table keys are IP addresses and this is a host name (a seed given by name?): seed by IP, or "
                 "choose on_miss::pass_through or first_match<static_table, identity>");
    const auto passing = addrmap::static_table::parse("10.0.0.1=node1.example.com", addrmap::on_miss::pass_through);
    for (const auto* policy : {&table, &passing}) {
        for (const char* host : {"?", ""}) {
            BOOST_TEST_CONTEXT("host '" << host << "', on_miss " << static_cast<int>(policy->miss_behavior())) {
                BOOST_TEST(!policy->try_map(at(host, 7000)).has_value());
                check_throws([&] { (void)policy->map(at(host, 7000)); }, addrmap::error_kind::topology,
                             unknown_host_message("static_table", "?:7000"));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(static_table_cpp_entries_match_text) {
    const addrmap::static_table from_list({{"10.0.0.1:7000", "node1.example.com:7100"},
                                           {"[fd00::2]", "node2.example.com", "cluster.example.com"}});
    const auto from_text = addrmap::static_table::parse(
        "10.0.0.1:7000=node1.example.com:7100; [fd00::2]=node2.example.com/tls=cluster.example.com");
    for (const auto& address : {at("10.0.0.1", 7000), at("fd00::2", 7002)}) {
        BOOST_TEST_CONTEXT("address " << addrmap::to_string(address)) {
            BOOST_TEST((from_list.map(address) == from_text.map(address)));
        }
    }
    BOOST_TEST(addrmap::static_table(std::vector<addrmap::static_table::entry>{}).size() == 0u);
    BOOST_TEST(addrmap::static_table::parse("").size() == 0u);
}

BOOST_AUTO_TEST_CASE(static_table_reports_unmatched_entries) {
    const auto table = addrmap::static_table::parse(
        "10.0.0.1:7000=a.example.com; 10.0.0.1=b.example.com; [fd00::3]=c.example.com/tls=x.example.com");
    using texts = std::vector<std::string>;
    BOOST_TEST(table.unmatched_entries() ==
                   (texts{"10.0.0.1:7000=a.example.com", "10.0.0.1=b.example.com", "[fd00::3]=c.example.com/tls=x.example.com"}),
               boost::test_tools::per_element());
    (void)table.map(at("10.0.0.1", 7000));
    BOOST_TEST(table.unmatched_entries() ==
                   (texts{"10.0.0.1=b.example.com", "[fd00::3]=c.example.com/tls=x.example.com"}),
               boost::test_tools::per_element());
    (void)table.try_map(at("fd00::3", 1));
    (void)table.try_map(at("10.0.0.2", 7000));  // a miss marks nothing
    BOOST_TEST(table.unmatched_entries() == texts{"10.0.0.1=b.example.com"}, boost::test_tools::per_element());
    // A copy carries the marks but then counts on its own.
    const addrmap::static_table copy = table;
    (void)copy.map(at("10.0.0.1", 1));
    BOOST_TEST(copy.unmatched_entries().empty());
    BOOST_TEST(table.unmatched_entries().size() == 1u);
}

BOOST_AUTO_TEST_CASE(static_table_ten_thousand_entries) {
    std::string text;
    for (unsigned i = 0; i < 10000; ++i) {
        const std::string ip = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        text += ip + ":7000=node" + std::to_string(i) + ".example.com;";
    }
    const auto table = addrmap::static_table::parse(text);
    BOOST_TEST(table.size() == 10000u);
    for (unsigned i = 0; i < 10000; i += 997) {
        const node_address address = at("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), 7000);
        BOOST_TEST_CONTEXT("entry " << i) {
            check_endpoint(table.map(address), {"node" + std::to_string(i) + ".example.com", 7000,
                                                "node" + std::to_string(i) + ".example.com"});
        }
    }
    BOOST_TEST(table.unmatched_entries().size() == 10000u - 11u);
}

BOOST_AUTO_TEST_CASE(env_from_explicit_variables) {
    const addrmap::env policy(variables{
        {"ADDRMAP_TABLE", "10.0.0.9:7000=special.example.com/tls=special-tls.example.com"},
        {"ADDRMAP_HOSTNAME", "redis.example.com"},
        {"ADDRMAP_MODE", "dial_ip"},
        {"ADDRMAP_ONLY", "10.0.0.0/8,fd00::/8"},
        {"ADDRMAP_ALLOWED_NAMES", "*.example.com"},
        {"PATH", "/usr/bin"},            // not under the prefix: ignored
        {"OTHER_HOSTNAME", "x"},         // likewise
    });
    BOOST_TEST_REQUIRE(policy.table().has_value());
    BOOST_TEST_REQUIRE(policy.hostname_rule().has_value());
    BOOST_TEST((policy.hostname_rule()->dial_mode() == mode::dial_ip_verify_hostname));
    BOOST_TEST((policy.miss_behavior() == addrmap::on_miss::fail));
    const std::vector<std::pair<node_address, expected_endpoint>> cases = {
        {at("10.0.0.9", 7000), {"special.example.com", 7000, "special-tls.example.com"}},  // table first
        {at("10.0.0.9", 7001), {"10.0.0.9", 7001, "redis.example.com"}},                   // then the hostname rule
        {at("fd00::1", 7002), {"fd00::1", 7002, "redis.example.com"}},
        {at("node.example.com", 7003), {"node.example.com", 7003, "node.example.com"}},
    };
    for (const auto& [address, expected] : cases) {
        BOOST_TEST_CONTEXT("address " << addrmap::to_string(address)) { check_endpoint(policy.map(address), expected); }
    }
    BOOST_TEST(policy.unmatched_entries().empty());
    BOOST_TEST(!policy.try_map(at("192.0.2.1", 7000)).has_value());
    check_throws([&] { (void)policy.map(at("192.0.2.1", 7000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: env has no rule for 192.0.2.1:7000 (no ADDRMAP_TABLE entry matches, and it is "
                 "outside ADDRMAP_ONLY); set ADDRMAP_ON_MISS=pass_through to dial such addresses as reported");
    check_throws([&] { (void)policy.map(at("?", 7000)); }, addrmap::error_kind::topology,
                 unknown_host_message("env", "?:7000"));
}

BOOST_AUTO_TEST_CASE(env_on_miss_and_empty_configuration) {
    const addrmap::env nothing(variables{});
    BOOST_TEST(!nothing.table().has_value());
    BOOST_TEST(!nothing.hostname_rule().has_value());
    check_throws([&] { (void)nothing.map(at("10.0.0.1", 7000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: env has no rule for 10.0.0.1:7000 (ADDRMAP_TABLE is unset, and ADDRMAP_HOSTNAME "
                 "is unset); set ADDRMAP_ON_MISS=pass_through to dial such addresses as reported");
    const addrmap::env passing(variables{{"ADDRMAP_ON_MISS", "pass_through"}, {"ADDRMAP_TABLE", "10.0.0.2=b.example.com"}});
    const node_address address = at("10.0.0.1", 7000);
    const endpoint passed = passing.map(address);
    check_endpoint(passed, {"10.0.0.1", 7000, "10.0.0.1"});
    BOOST_TEST(static_cast<const void*>(passed.dial_host().data()) == address.host.data());
    BOOST_TEST(!passing.try_map(address).has_value());
    BOOST_TEST(passing.unmatched_entries() == std::vector<std::string>{"10.0.0.2=b.example.com"},
               boost::test_tools::per_element());
    const addrmap::env hostname_only(variables{{"ADDRMAP_HOSTNAME", "redis.example.com"}, {"ADDRMAP_MODE", "dial_hostname"}});
    const endpoint mapped = hostname_only.map(address);
    check_endpoint(mapped, {"redis.example.com", 7000, "redis.example.com"});
    BOOST_TEST(static_cast<const void*>(mapped.dial_host().data()) == hostname_only.hostname_rule()->hostname().data());
}

BOOST_AUTO_TEST_CASE(env_custom_prefix) {
    const addrmap::env policy(variables{{"MYAPP_HOSTNAME", "redis.example.com"}, {"ADDRMAP_BOGUS", "ignored"}}, "MYAPP_");
    BOOST_TEST(policy.prefix() == "MYAPP_");
    check_endpoint(policy.map(at("10.0.0.1", 7000)), {"redis.example.com", 7000, "redis.example.com"});
}

BOOST_AUTO_TEST_CASE(env_from_process_environment) {
    // A prefix of our own, so the test neither sees nor disturbs real ADDRMAP_ settings.
    const std::string prefix = "ADDRMAP_UNIT_TEST_POLICIES_";
    std::optional<addrmap::env> policy;
    {
        const scoped_environment vars({{prefix + "TABLE", "10.0.0.9=special.example.com"},
                                       {prefix + "HOSTNAME", "redis.example.com"}});
        policy.emplace(addrmap::env::from_process(prefix));
    }
    // The variables are gone: the policy read them once, at construction.
    BOOST_TEST(std::getenv((prefix + "TABLE").c_str()) == nullptr);
    check_endpoint(policy->map(at("10.0.0.9", 7000)), {"special.example.com", 7000, "special.example.com"});
    check_endpoint(policy->map(at("10.0.0.1", 7000)), {"redis.example.com", 7000, "redis.example.com"});

    const scoped_environment typo({{prefix + "HOSTNAM", "redis.example.com"}});
    check_throws([&] { (void)addrmap::env::from_process(prefix); }, addrmap::error_kind::config,
                 "addrmap: config: environment variable " + prefix + "HOSTNAM is not a known setting; known: " +
                     prefix + "HOSTNAME, " + prefix + "MODE, " + prefix + "ONLY, " + prefix + "TABLE, " + prefix +
                     "ON_MISS, " + prefix + "ALLOWED_NAMES");
}

BOOST_AUTO_TEST_CASE(first_match_composes_in_order) {
    addrmap::first_match policy{addrmap::static_table::parse("10.0.0.9=special.example.com"),
                                addrmap::ip_to_hostname("redis.example.com", mode::dial_hostname, "10.0.0.0/8"),
                                [](const node_address& a) { return endpoint::owning("lambda.example.com", a.port, "lambda.example.com"); },
                                addrmap::identity{}};
    static_assert(std::is_same_v<std::decay_t<decltype(policy.get<3>())>, addrmap::identity>);
    const std::vector<std::pair<node_address, expected_endpoint>> cases = {
        {at("10.0.0.9", 7000), {"special.example.com", 7000, "special.example.com"}},
        {at("10.0.0.1", 7001), {"redis.example.com", 7001, "redis.example.com"}},
        {at("fd00::1", 7002), {"lambda.example.com", 7002, "lambda.example.com"}},  // identity is never reached
    };
    for (const auto& [address, expected] : cases) {
        BOOST_TEST_CONTEXT("address " << addrmap::to_string(address)) {
            const endpoint result = policy.map(address);
            BOOST_TEST(std::string(result.dial_host()) == expected.dial_host);
            BOOST_TEST(result.port() == expected.port);
            BOOST_TEST(std::string(result.tls_name()) == expected.tls_name);
        }
    }
    // The answer views the policy stored inside first_match.
    BOOST_TEST(static_cast<const void*>(policy.map(at("10.0.0.1", 1)).dial_host().data()) ==
               policy.get<1>().hostname().data());
    BOOST_TEST(policy.get<0>().unmatched_entries().empty());
}

BOOST_AUTO_TEST_CASE(first_match_declines_and_throws) {
    const addrmap::first_match<addrmap::static_table, addrmap::ip_to_hostname> policy(
        addrmap::static_table::parse("10.0.0.9=special.example.com"),
        addrmap::ip_to_hostname("redis.example.com", mode::dial_hostname, "10.0.0.0/8"));
    BOOST_TEST(!policy.try_map(at("192.0.2.1", 7000)).has_value());
    check_throws([&] { (void)policy.map(at("192.0.2.1", 7000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: first_match: no policy mapped 192.0.2.1:7000 (2 tried); end the list with a "
                 "policy that always answers (identity, or a lambda)");
    check_throws([&] { (void)policy.map(at("?", 7000)); }, addrmap::error_kind::topology,
                 "addrmap: topology: first_match: no policy mapped ?:7000 (2 tried); the reported host is unknown "
                 "('' or '?'): the adapter resolves '' against the node that reported it and never maps '?' (a node whose "
                 "address the server does not know)");
    // Nested: the inner first_match declines, the outer falls back to identity.
    const addrmap::first_match nested{policy, addrmap::identity{}};
    check_endpoint(nested.map(at("192.0.2.1", 7000)), {"192.0.2.1", 7000, "192.0.2.1"});
    // A policy's own exception propagates: identity refuses '?'.
    check_throws([&] { (void)nested.map(at("?", 7000)); }, addrmap::error_kind::topology,
                 unknown_host_message("identity", "?:7000"));
}

BOOST_AUTO_TEST_CASE(first_match_default_construction_and_get) {
    addrmap::first_match<addrmap::identity> policy;
    check_endpoint(policy.map(at("10.0.0.1", 7000)), {"10.0.0.1", 7000, "10.0.0.1"});
    static_assert(std::is_same_v<decltype(policy.get<0>()), addrmap::identity&>);
    auto lambda = [](const node_address& a) { return endpoint(a.host, a.port, "fixed.example.com"); };
    const addrmap::first_match with_lambda{lambda};
    static_assert(!std::is_default_constructible_v<decltype(lambda)> ||
                  std::is_default_constructible_v<decltype(with_lambda)>);
    const node_address address = at("10.0.0.1", 7000);
    check_endpoint(with_lambda.map(address), {"10.0.0.1", 7000, "fixed.example.com"});
}

BOOST_AUTO_TEST_SUITE_END()
