// tests/unit/test_host_grammar.cpp — one host grammar everywhere (classify_host and every parser agree on
// NUL, control bytes, spaces, zone ids, IPv6, inet_aton forms), and reported names held to allowed_names.
#include "resp_helpers.hpp"

#include <addrmap/addrmap.hpp>
#include <addrmap/detail/cidr.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/table_grammar.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using addrmap::allowed_names;
using addrmap::error_kind;
using addrmap::host_kind;
using addrmap::node_address;

node_address reported(std::string host, std::uint16_t port = 7000) { return node_address{std::move(host), port, {}}; }

node_address configured(std::string host, std::uint16_t port = 7000) {
    node_address a{std::move(host), port, {}};
    a.origin = addrmap::address_origin::configured;
    return a;
}

/// The error thrown by f, or nullopt when it returns.
template <class F>
std::optional<addrmap::error> error_of(F&& f) {
    try {
        f();
    } catch (const addrmap::error& e) {
        return e;
    }
    return std::nullopt;
}

bool printable(std::string_view text) {
    for (char c : text)
        if (c < 0x20 || c >= 0x7f) return false;
    return true;
}

bool contains(const addrmap::error& e, std::string_view part) {
    return std::string_view(e.what()).find(part) != std::string_view::npos;
}

/// Hosts that are not hosts: every parser must refuse each of them, in every syntax.
std::vector<std::string> hostile_hosts() {
    using namespace std::string_literals;
    return {"127.0.0.2\0"s,   "127.0.0.2\0.evil.example"s, "127.0.0.1 ",       " 127.0.0.1",   "127.0.0.1\t",
            "1.2.3.4%eth0",    "::1%lo",                     "fe80::1%25eth0",   "a\x1b[31mb",   "node\r\n.example.com",
            "caf\xc3\xa9.com", "a b",                        "127.1",            "0x7f.0.0.2",   "2130706434",
            "010.0.0.1",       "1.2.3.4.",                   "node.example.com.", "::1]",         "*.example.com",
            "a..b",            "-a.example.com",             std::string(254, 'a'), "1.2.3.0x7f", "\x7f"s};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_host_grammar)

BOOST_AUTO_TEST_CASE(classify_host_looks_at_every_byte) {
    using namespace std::string_literals;
    const std::vector<std::pair<std::string, host_kind>> cases = {
        {"127.0.0.2", host_kind::ipv4},         {"127.0.0.2\0"s, host_kind::invalid},
        {"127.0.0.1 ", host_kind::invalid},     {"127.0.0.1\t", host_kind::invalid},
        {"1.2.3.4%eth0", host_kind::invalid},   {"::1%lo", host_kind::invalid},
        {"::1", host_kind::ipv6},               {"::ffff:127.0.0.1", host_kind::ipv6},
        {"FD00::A", host_kind::ipv6},           {"[::1]", host_kind::invalid},
        {"1:2", host_kind::invalid},            {"a\x1b", host_kind::invalid},
        {"caf\xc3\xa9.com", host_kind::invalid}, {"node1.example.com", host_kind::name},
        {"NODE1.Example.COM", host_kind::name}, {"under_score.example", host_kind::name},
        {"127.1", host_kind::invalid},          {"0x7f.0.0.2", host_kind::invalid},
        {"2130706434", host_kind::invalid},     {"010.0.0.1", host_kind::invalid},
        {"1.2.3.0x7f", host_kind::invalid},     {"0x7f", host_kind::invalid},
        {"node-0x7f.example.com", host_kind::name}, {"1a.example.com", host_kind::name},
        {"10.0.0.1a", host_kind::name},         {"node.example.com.", host_kind::invalid},
        {"", host_kind::unknown},               {"?", host_kind::unknown},
        {"??", host_kind::invalid},             {"0.0.0.0", host_kind::ipv4},
    };
    for (const auto& [host, kind] : cases) {
        BOOST_TEST_CONTEXT("host '" << addrmap::detail::escaped(host, 80) << "'") {
            BOOST_TEST(addrmap::to_string(addrmap::classify_host(host)) == addrmap::to_string(kind));
            BOOST_TEST(addrmap::is_valid_dns_name(host) == (kind == host_kind::name));
            const auto ip = addrmap::detail::parse_ip(host);
            BOOST_TEST(ip.has_value() == (kind == host_kind::ipv4 || kind == host_kind::ipv6));
            if (ip) BOOST_TEST(ip->is_v6 == (kind == host_kind::ipv6));
            BOOST_TEST(!addrmap::detail::check_host(host, true).has_value() == (kind != host_kind::invalid));
            BOOST_TEST(!addrmap::detail::check_dns_name(host).has_value() == (kind == host_kind::name));
        }
    }
}

// The bug class of issue 12: one parser said "IPv4", another "name". Every parser refuses each hostile host.
BOOST_AUTO_TEST_CASE(every_parser_refuses_the_same_hostile_hosts) {
    for (const std::string& host : hostile_hosts()) {
        BOOST_TEST_CONTEXT("host '" << addrmap::detail::escaped(host, 80) << "'") {
            BOOST_TEST(addrmap::to_string(addrmap::classify_host(host)) == "invalid");
            const std::vector<std::pair<const char*, std::optional<addrmap::error>>> refusals = {
                {"config address", error_of([&] { (void)addrmap::parse_address(host + ":7000"); })},
                {"redirect target", error_of([&] { (void)addrmap::parse_redirect_target(host + ":7000"); })},
                {"MOVED", error_of([&] { (void)addrmap::parse_redirect("MOVED 1 " + host + ":7000"); })},
                {"ASK", error_of([&] { (void)addrmap::parse_redirect("ASK 1 " + host + ":7000"); })},
                {"table key", error_of([&] { (void)addrmap::static_table::parse(host + "=node.example.com"); })},
                {"table target", error_of([&] { (void)addrmap::static_table::parse("10.0.0.1=" + host); })},
                {"table tls name",
                 error_of([&] { (void)addrmap::static_table::parse("10.0.0.1=node.example.com/tls=" + host); })},
                {"only-list", error_of([&] { (void)addrmap::ip_to_hostname("n.example.com", {}, host); })},
                {"hostname", error_of([&] { (void)addrmap::ip_to_hostname(host); })},
                {"allowed_names", error_of([&] { (void)allowed_names{host}; })},
                {"identity", error_of([&] { (void)addrmap::identity{allowed_names::any()}.map(reported(host)); })},
                {"ip_to_hostname",
                 error_of([&] {
                     (void)addrmap::ip_to_hostname("localhost", {}, {}, allowed_names::any()).map(reported(host));
                 })},
                {"static_table pass_through",
                 error_of([&] {
                     (void)addrmap::static_table::parse("10.0.0.1=a.example.com", addrmap::on_miss::pass_through,
                                                        allowed_names::any())
                         .map(reported(host));
                 })},
                {"CLUSTER SLOTS", error_of([&] {
                     using namespace addrmap_test;
                     const auto reply = parse_resp(arr({arr({num(0), num(16383), arr({bulk(host), num(7000)})})}));
                     (void)addrmap::parse_cluster_slots(reply.get());
                 })},
                {"CLUSTER SHARDS", error_of([&] {
                     using namespace addrmap_test;
                     const auto reply = parse_resp(arr({map({bulk("slots"), arr({num(0), num(16383)}), bulk("nodes"),
                                                             arr({map({bulk("id"), bulk("a"), bulk("endpoint"),
                                                                       bulk(host), bulk("tls-port"), num(7000),
                                                                       bulk("role"), bulk("master")})})})}));
                     (void)addrmap::parse_cluster_shards(reply.get());
                 })},
            };
            // The list grammars (tables, only-lists) trim blanks around an entry by design: there a
            // leading or trailing blank is layout, not part of the host.
            const bool trimmed_by_lists = addrmap::detail::trim_blanks(host) != host;
            for (const auto& [what, refusal] : refusals) {
                const std::string_view w = what;
                if (trimmed_by_lists && (w.substr(0, 5) == "table" || w == "only-list")) continue;
                if (host == "*.example.com" && w == "allowed_names") continue;  // a pattern there, by design
                BOOST_TEST_CONTEXT(what) {
                    BOOST_TEST(refusal.has_value());
                    if (refusal) {
                        BOOST_TEST(printable(refusal->what()), refusal->what());
                        BOOST_TEST(std::string_view(refusal->what()).size() < 4096u);
                    }
                }
            }
            // allows() never says yes to it, whatever the patterns.
            BOOST_TEST(!allowed_names::any().allows(host));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_nul_in_a_moved_target_is_a_protocol_error_that_shows_it) {
    using namespace std::string_literals;
    const auto e = error_of([] { (void)addrmap::parse_redirect("MOVED 12182 127.0.0.2\0:7002"s); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->kind() == error_kind::protocol));
    BOOST_TEST(contains(*e, "'127.0.0.2\\x00'"), e->what());
    BOOST_TEST(contains(*e, "unexpected byte 0x00"), e->what());
}

BOOST_AUTO_TEST_CASE(ipv6_literals) {
    BOOST_TEST((addrmap::parse_address("[::1]:7000") == reported("::1")));
    BOOST_TEST((addrmap::parse_address("[::ffff:127.0.0.1]:7000") == reported("::ffff:127.0.0.1")));
    BOOST_TEST((addrmap::parse_redirect_target("::1:7000") == reported("::1")));
    BOOST_TEST((addrmap::parse_redirect_target("[fd00::1]:7000") == reported("fd00::1")));
    BOOST_TEST(addrmap::detail::parse_ip("::ffff:127.0.0.1")->is_v6);  // v4-mapped stays IPv6
    for (const char* bad : {"[::1%lo]:7000", "[fe80::1%eth0]:7000", "[::1]%lo:7000", "[ ::1]:7000", "[::g]:7000"}) {
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(error_of([&] { (void)addrmap::parse_address(bad); }).has_value());
            BOOST_TEST(error_of([&] { (void)addrmap::parse_redirect_target(bad); }).has_value());
        }
    }
    BOOST_TEST(error_of([] { (void)addrmap::parse_redirect_target("::1%lo:7000"); }).has_value());
    // An IPv6 literal is an address, never a name: it is not governed by allowed_names, and maps by IP rules.
    const addrmap::ip_to_hostname policy("redis.example.com");
    BOOST_TEST(policy.map(reported("fd00::1")).dial_host() == "redis.example.com");
    BOOST_TEST(!allowed_names::any().allows("fd00::1"));
    BOOST_TEST(addrmap::identity{}.map(reported("fd00::1")).tls_name() == "fd00::1");
}

BOOST_AUTO_TEST_CASE(format_host_port_escapes_what_is_not_a_host) {
    using namespace std::string_literals;
    BOOST_TEST(addrmap::format_host_port("127.0.0.2\0"s, 7000) == "127.0.0.2\\x00:7000");
    BOOST_TEST(addrmap::format_host_port("a\x1b[0m", 1) == "a\\x1b[0m:1");
}

BOOST_AUTO_TEST_CASE(origin_is_not_part_of_the_address) {
    BOOST_TEST((reported("node.example.com") == configured("node.example.com")));
    BOOST_TEST(addrmap::to_string(configured("node.example.com")) == "node.example.com:7000");
    BOOST_TEST((node_address{}.origin == addrmap::address_origin::reported));  // safe default
    BOOST_TEST((addrmap::parse_redirect_target("n.example.com:1").origin == addrmap::address_origin::reported));
    BOOST_TEST((addrmap::parse_address("n.example.com:1").origin == addrmap::address_origin::configured));
}

// ---- allowed_names

BOOST_AUTO_TEST_CASE(exact_and_wildcard_patterns) {
    const allowed_names names{"node1.example.com", "*.cluster.example.net"};
    const std::vector<std::pair<std::string, bool>> cases = {
        {"node1.example.com", true},        {"NODE1.Example.COM", true},     {"node2.example.com", false},
        {"a.cluster.example.net", true},    {"a.b.cluster.example.net", true}, {"A.CLUSTER.EXAMPLE.NET", true},
        {"cluster.example.net", false},     {"a.bcluster.example.net", false}, {"acluster.example.net", false},
        {"node1.example.com.", false},      {"a.cluster.example.net.", false}, {"10.0.0.1", false},
        {"", false},                        {"?", false},                      {"x.cluster.example.net.evil.com", false},
    };
    for (const auto& [name, allowed] : cases) {
        BOOST_TEST_CONTEXT("name '" << name << "'") { BOOST_TEST(names.allows(name) == allowed); }
    }
    const allowed_names list("node1.example.com; *.cluster.example.net,\n other.example.org");
    BOOST_TEST(list.patterns().size() == 3u);
    BOOST_TEST(list.allows("other.example.org"));
    BOOST_TEST(allowed_names{"*.Example.COM"}.allows("x.example.com"));
    BOOST_TEST(!allowed_names{"*.example.com"}.allows("example.com"));
    BOOST_TEST(!allowed_names{"*.example.com"}.allows("a.bexample.com"));
    BOOST_TEST(names.describe() == "'node1.example.com', '*.cluster.example.net'");
    BOOST_TEST(allowed_names::any().allows("anything.example"));
    BOOST_TEST(allowed_names::any().describe() == "any name");
    BOOST_TEST(!allowed_names::none().allows("node1.example.com"));
    BOOST_TEST(allowed_names::none().describe() == "no reported names");
    BOOST_TEST((allowed_names{} == allowed_names::none()));
    allowed_names merged = allowed_names{"a.example.com"};
    merged.include(allowed_names{"*.b.example.com", "a.example.com"});
    BOOST_TEST(merged.patterns().size() == 2u);
    BOOST_TEST(merged.allows("x.b.example.com"));
}

BOOST_AUTO_TEST_CASE(bad_patterns_are_config_errors_with_a_column) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"*", "allowed_names pattern entry #1 '*' column 1: '*' alone would allow every name; say so with "
              "allowed_names::any() (discouraged), or list your cluster's names or domain"},
        {"*.com", "allowed_names pattern entry #1 '*.com' column 1: '*.com' would allow every name under a "
                  "top-level domain; give a suffix of at least two labels, such as *.example.com"},
        {"n*.example.com",
         "allowed_names pattern entry #1 'n*.example.com' column 2: a '*' is accepted only as the whole first label "
         "('*.example.com')"},
        {"*.*.example.com", "allowed_names pattern entry #1 '*.*.example.com' column 3: a '*' is accepted only as the "
                            "whole first label ('*.example.com')"},
        {"node.example.com.",
         "allowed_names pattern entry #1 'node.example.com.' column 17: trailing '.' is not accepted; drop it"},
        {"*.example.com.",
         "allowed_names pattern entry #1 '*.example.com.' column 14: trailing '.' is not accepted; drop it"},
        {"10.0.0.1", "allowed_names pattern entry #1 '10.0.0.1' column 1: '10.0.0.1' is an IP address; expected a DNS "
                     "name such as node1.example.com"},
        {"a b.example.com", "allowed_names pattern entry #1 'a b.example.com' column 2: unexpected character ' '; "
                            "expected letters, digits, '-', '_' or '.'"},
        {"", "allowed_names pattern entry #1 '' column 1: empty name; expected a DNS name such as node1.example.com"},
    };
    for (const auto& [pattern, message] : cases) {
        BOOST_TEST_CONTEXT("pattern '" << pattern << "'") {
            const std::string& text = pattern;  // a structured binding cannot be captured before C++20
            const auto e = error_of([&] { (void)allowed_names{text}; });
            BOOST_REQUIRE(e.has_value());
            BOOST_TEST((e->kind() == error_kind::config));
            BOOST_TEST(std::string(e->what()) == "addrmap: config: " + message);
        }
    }
    const auto list = error_of([] { (void)allowed_names("a.example.com, b .example.com"); });
    BOOST_REQUIRE(list.has_value());
    BOOST_TEST(std::string(list->what()) ==
               "addrmap: config: allowed_names entry #2 'b .example.com' column 2: unexpected character ' '; "
               "expected letters, digits, '-', '_' or '.'");
    BOOST_TEST(error_of([] { (void)allowed_names(" ;, "); }).has_value());
}

// ---- defaults per policy

BOOST_AUTO_TEST_CASE(ip_to_hostname_allows_its_hostname_and_siblings_by_default) {
    const addrmap::ip_to_hostname azure("my-redis.westus3.redisenterprise.cache.azure.net");
    const auto sibling = reported("node1.westus3.redisenterprise.cache.azure.net", 8500);
    const auto result = azure.map(sibling);
    BOOST_TEST(result.dial_host() == "node1.westus3.redisenterprise.cache.azure.net");
    BOOST_TEST(result.tls_name() == "node1.westus3.redisenterprise.cache.azure.net");
    BOOST_TEST(azure.map(reported("my-redis.westus3.redisenterprise.cache.azure.net")).port() == 7000);
    BOOST_TEST(azure.allowed().describe() ==
               "'my-redis.westus3.redisenterprise.cache.azure.net', '*.westus3.redisenterprise.cache.azure.net'");

    const auto foreign = reported("attacker.example.net", 443);
    BOOST_TEST(!azure.try_map(foreign).has_value());
    const auto refusal = error_of([&] { (void)azure.map(foreign); });
    BOOST_REQUIRE(refusal.has_value());
    BOOST_TEST((refusal->kind() == error_kind::topology));
    BOOST_TEST(std::string(refusal->what()) ==
               "addrmap: topology: ip_to_hostname refuses node attacker.example.net:443: the reported name "
               "'attacker.example.net' is not an allowed name (allowed: "
               "'my-redis.westus3.redisenterprise.cache.azure.net', '*.westus3.redisenterprise.cache.azure.net'; a "
               "seed's own name is always allowed). If this node is part of your cluster, allow it with "
               "ip_to_hostname(hostname, mode, only, allowed_names{...}) or set_allowed_names(...)");
    // Names close to the allowed ones are still foreign.
    for (const char* near : {"westus3.redisenterprise.cache.azure.net", "x.eastus.redisenterprise.cache.azure.net",
                             "evil-westus3.redisenterprise.cache.azure.net", "a.westus3.redisenterprise.cache.azure.net.evil.io"})
        BOOST_TEST(!azure.try_map(reported(near)).has_value(), near);

    // A parent of fewer than three labels allows no siblings: a registrable domain is never wildcarded.
    for (const char* name : {"redis.example.com", "redis.co.uk"}) {
        const addrmap::ip_to_hostname registrable(name);
        BOOST_TEST(registrable.allowed().describe() == "'" + std::string(name) + "'");
        BOOST_TEST(!registrable.try_map(reported("other.example.com")).has_value());
        BOOST_TEST(!registrable.try_map(reported("attacker.co.uk")).has_value());
    }
    const addrmap::ip_to_hostname short_name("redis.example");
    BOOST_TEST(short_name.try_map(reported("redis.example")).has_value());
    BOOST_TEST(!short_name.try_map(reported("other.example")).has_value());
    const addrmap::ip_to_hostname local("localhost");
    BOOST_TEST(local.allowed().describe() == "'localhost'");
    BOOST_TEST(!local.try_map(reported("evil.redis.test")).has_value());
    // IPs map as before.
    BOOST_TEST(local.map(reported("10.0.0.1")).dial_host() == "localhost");
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_takes_explicit_allowed_names) {
    addrmap::ip_to_hostname policy("localhost", addrmap::ip_to_hostname::mode::dial_hostname, "",
                                   allowed_names{"*.redis.test"});
    BOOST_TEST(policy.try_map(reported("node1.redis.test")).has_value());
    BOOST_TEST(!policy.try_map(reported("localhost")).has_value());  // replaced, not added to
    policy.set_allowed_names(allowed_names::hostname_and_siblings("localhost").include(allowed_names{"*.redis.test"}));
    BOOST_TEST(policy.try_map(reported("localhost")).has_value());
    BOOST_TEST(policy.try_map(reported("node1.redis.test")).has_value());
    const addrmap::ip_to_hostname open("localhost", {}, {}, allowed_names::any());
    BOOST_TEST(open.try_map(reported("attacker.example.net")).has_value());
    const addrmap::ip_to_hostname closed("localhost", {}, {}, allowed_names::none());
    BOOST_TEST(!closed.try_map(reported("localhost")).has_value());
}

BOOST_AUTO_TEST_CASE(seeds_names_are_always_allowed) {
    const auto seed = configured("attacker.example.net", 443);
    BOOST_TEST(addrmap::ip_to_hostname("localhost").map(seed).dial_host() == "attacker.example.net");
    BOOST_TEST(addrmap::identity{}.map(seed).dial_host() == "attacker.example.net");
    BOOST_TEST(addrmap::static_table::parse("10.0.0.1=a.example.com", addrmap::on_miss::pass_through)
                   .map(seed)
                   .dial_host() == "attacker.example.net");
    BOOST_TEST(addrmap::env(std::map<std::string, std::string>{{"ADDRMAP_HOSTNAME", "localhost"}})
                   .map(seed)
                   .dial_host() == "attacker.example.net");
    // ... but only a name: a configured host that is not one is refused all the same.
    using namespace std::string_literals;
    BOOST_TEST(error_of([] { (void)addrmap::identity{}.map(configured("127.0.0.2\0"s)); }).has_value());
}

BOOST_AUTO_TEST_CASE(identity_allows_no_reported_name_by_default) {
    const auto e = error_of([] { (void)addrmap::identity{}.map(reported("attacker.example.net", 443)); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->kind() == error_kind::topology));
    BOOST_TEST(contains(*e, "identity refuses node attacker.example.net:443"), e->what());
    BOOST_TEST(contains(*e, "identity{allowed_names{"), e->what());
    BOOST_TEST(addrmap::identity{}.map(reported("10.0.0.1")).dial_host() == "10.0.0.1");
    BOOST_TEST(addrmap::identity{allowed_names{"*.example.net"}}.map(reported("a.example.net")).port() == 7000);
    BOOST_TEST(addrmap::identity{allowed_names::any()}.map(reported("attacker.example.net")).port() == 7000);
}

BOOST_AUTO_TEST_CASE(static_table_passes_through_only_its_own_names) {
    const auto table = addrmap::static_table::parse("10.0.0.1=a.example.com;10.0.0.2=b.example.com/tls=tls.example.com",
                                                    addrmap::on_miss::pass_through);
    BOOST_TEST(table.allowed().describe() == "'a.example.com', 'b.example.com', 'tls.example.com'");
    BOOST_TEST(table.map(reported("B.example.com")).dial_host() == "B.example.com");
    BOOST_TEST(table.map(reported("tls.example.com")).dial_host() == "tls.example.com");
    BOOST_TEST(table.map(reported("10.0.0.9")).dial_host() == "10.0.0.9");  // an IP passes as before
    const auto e = error_of([&] { (void)table.map(reported("attacker.example.net")); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->kind() == error_kind::topology));
    BOOST_TEST(contains(*e, "static_table refuses node attacker.example.net:7000"), e->what());
    BOOST_TEST(contains(*e, "allowed_names{...}"), e->what());
    const auto open = addrmap::static_table::parse("10.0.0.1=a.example.com", addrmap::on_miss::pass_through,
                                                   allowed_names{"*.example.net"});
    BOOST_TEST(open.map(reported("attacker.example.net")).port() == 7000);
    BOOST_TEST(error_of([&] { (void)open.map(reported("a.example.com")); }).has_value());  // replaced
    const addrmap::static_table cpp({{"10.0.0.1", "n.example.com"}}, addrmap::on_miss::pass_through,
                                    allowed_names{"m.example.com"});
    BOOST_TEST(cpp.map(reported("m.example.com")).port() == 7000);
}

BOOST_AUTO_TEST_CASE(env_allowed_names) {
    using variables = std::map<std::string, std::string>;
    // Default: the hostname rule's default (and the table's names).
    const addrmap::env by_hostname(variables{{"ADDRMAP_HOSTNAME", "my-redis.westus3.redisenterprise.cache.azure.net"}});
    BOOST_TEST(by_hostname.map(reported("node1.westus3.redisenterprise.cache.azure.net")).port() == 7000);
    const auto refusal = error_of([&] { (void)by_hostname.map(reported("attacker.example.net")); });
    BOOST_REQUIRE(refusal.has_value());
    BOOST_TEST((refusal->kind() == error_kind::topology));
    BOOST_TEST(contains(*refusal, "env refuses node attacker.example.net:7000"), refusal->what());
    BOOST_TEST(contains(*refusal, "ADDRMAP_ALLOWED_NAMES"), refusal->what());

    const addrmap::env both(variables{{"ADDRMAP_HOSTNAME", "localhost"}, {"ADDRMAP_TABLE", "10.0.0.1=a.example.com"}});
    BOOST_TEST(both.map(reported("a.example.com")).port() == 7000);
    BOOST_TEST(both.map(reported("localhost")).port() == 7000);

    const addrmap::env explicit_names(
        variables{{"ADDRMAP_HOSTNAME", "localhost"}, {"ADDRMAP_ALLOWED_NAMES", "*.redis.test, n.example.com"}});
    BOOST_TEST(explicit_names.map(reported("x.redis.test")).port() == 7000);
    BOOST_TEST(explicit_names.map(reported("N.example.com")).port() == 7000);
    BOOST_TEST(error_of([&] { (void)explicit_names.map(reported("localhost")); }).has_value());

    const addrmap::env any(variables{{"ADDRMAP_ON_MISS", "pass_through"}, {"ADDRMAP_ALLOWED_NAMES", "*"}});
    BOOST_TEST(any.map(reported("attacker.example.net")).port() == 7000);
    const addrmap::env none(variables{{"ADDRMAP_ON_MISS", "pass_through"}});
    BOOST_TEST(error_of([&] { (void)none.map(reported("attacker.example.net")); }).has_value());
    BOOST_TEST(none.map(reported("10.0.0.7")).dial_host() == "10.0.0.7");

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"a.example.com, b example.com",
         "environment variable ADDRMAP_ALLOWED_NAMES entry #2 'b example.com' column 2: unexpected character ' '; "
         "expected letters, digits, '-', '_' or '.'"},
        {"*, a.example.com", "environment variable ADDRMAP_ALLOWED_NAMES '*, a.example.com': '*' allows every name, so "
                             "the other entries would mean nothing; give '*' alone or list the names"},
        {"x.example.com;n*.example.com", "environment variable ADDRMAP_ALLOWED_NAMES entry #2 'n*.example.com' column 2: "
                                         "a '*' is accepted only as the whole first label ('*.example.com')"},
        {";", "environment variable ADDRMAP_ALLOWED_NAMES ';' has no entries; expected names such as node1.example.com "
              "or *.example.com separated by ',', ';' or newlines"},
    };
    for (const auto& [value, message] : bad) {
        BOOST_TEST_CONTEXT("value '" << value << "'") {
            const std::string& text = value;  // a structured binding cannot be captured before C++20
            const auto e = error_of([&] { (void)addrmap::env(variables{{"ADDRMAP_ALLOWED_NAMES", text}}); });
            BOOST_REQUIRE(e.has_value());
            BOOST_TEST((e->kind() == error_kind::config));
            BOOST_TEST(std::string(e->what()) == "addrmap: config: " + message);
        }
    }
}

BOOST_AUTO_TEST_CASE(first_match_members_decide) {
    // ip_to_hostname declines a foreign name; the next member decides (here: allows it explicitly).
    addrmap::first_match policy{addrmap::ip_to_hostname("localhost"),
                                addrmap::identity{allowed_names{"*.redis.test"}}};
    BOOST_TEST(policy.map(reported("node1.redis.test")).dial_host() == "node1.redis.test");
    const auto e = error_of([&] { (void)policy.map(reported("attacker.example.net")); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(contains(*e, "identity refuses node attacker.example.net:7000"), e->what());
    addrmap::first_match only_partial{addrmap::ip_to_hostname("localhost")};
    const auto declined = error_of([&] { (void)only_partial.map(reported("attacker.example.net")); });
    BOOST_REQUIRE(declined.has_value());
    BOOST_TEST(contains(*declined, "allowed_names"), declined->what());
}

BOOST_AUTO_TEST_CASE(check_mapping_refuses_a_policy_output_outside_the_grammar) {
    using namespace std::string_literals;
    const std::string dial_nul = "127.0.0.2\0"s;
    const auto bad_dial = error_of([&] { addrmap::detail::check_mapping("route", addrmap::endpoint(dial_nul, 7000, "localhost")); });
    BOOST_REQUIRE(bad_dial.has_value());
    BOOST_TEST((bad_dial->kind() == error_kind::config));
    BOOST_TEST(contains(*bad_dial, "the dial host '127.0.0.2\\x00'"), bad_dial->what());
    BOOST_TEST(printable(bad_dial->what()));
    const auto bad_name = error_of([] { addrmap::detail::check_mapping("route", addrmap::endpoint("localhost", 7000, "a b")); });
    BOOST_REQUIRE(bad_name.has_value());
    BOOST_TEST(contains(*bad_name, "the TLS name 'a b'"), bad_name->what());
    BOOST_TEST(!error_of([] { addrmap::detail::check_mapping("route", addrmap::endpoint("::1", 7000, "localhost")); }));
}

BOOST_AUTO_TEST_SUITE_END()
