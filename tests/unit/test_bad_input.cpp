// tests/unit/test_bad_input.cpp — every malformed configuration is refused at construction.
// Each case pins the exact message: the offending text, its entry/column (or variable) and what was expected.
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

using addrmap::env;
using addrmap::ip_to_hostname;
using addrmap::static_table;
using variables = std::map<std::string, std::string>;

struct bad_input {
    std::string input;                  // shown in the test context
    std::function<void()> construct;    // must throw addrmap::error{config}
    std::string expected;               // the complete what()
};

void check_all(const std::vector<bad_input>& cases) {
    for (const bad_input& c : cases) {
        BOOST_TEST_CONTEXT("input: " << c.input) {
            try {
                c.construct();
                BOOST_ERROR("accepted, expected: " << c.expected);
            } catch (const addrmap::error& e) {
                BOOST_TEST(std::string(e.what()) == c.expected);
                BOOST_TEST((e.kind() == addrmap::error_kind::config));
            }
        }
    }
}

bad_input table_text(std::string text, std::string expected) {
    return {text, [text] { (void)static_table::parse(text); }, std::move(expected)};
}

bad_input hostname(std::string name, std::string expected) {
    return {name, [name] { ip_to_hostname policy(name); }, std::move(expected)};
}

bad_input only_list(std::string only, std::string expected) {
    return {only, [only] { ip_to_hostname policy("redis.example.com", ip_to_hostname::mode::dial_hostname, only); },
            std::move(expected)};
}

bad_input environment(variables vars, std::string expected) {
    std::string shown;
    for (const auto& [name, value] : vars) shown += name + "=" + value + " ";
    return {shown, [vars] { env policy(vars); }, std::move(expected)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_bad_input)

BOOST_AUTO_TEST_CASE(static_table_text_keys) {
    check_all({
        table_text("10.0.0.1:7000=a.example.com;10.0.0.x=foo",
                   "addrmap: config: static_table entry #2 '10.0.0.x=foo' column 8: '10.0.0.x' is not an IP address "
                   "(expected IPv4 such as 10.0.0.1 or IPv6 such as fd00::1)"),
        table_text("node1=a", "addrmap: config: static_table entry #1 'node1=a' column 1: 'node1' is a host name; "
                              "expected an IP address, as the cluster reports nodes"),
        table_text("10.0.0.1", "addrmap: config: static_table entry #1 '10.0.0.1' column 9: expected '=' between the "
                               "reported IP and the target, as in 10.0.0.1:7000=node1.example.com"),
        table_text("=a", "addrmap: config: static_table entry #1 '=a' column 1: expected the reported IP address "
                         "before '='"),
        table_text("10.0.0.1:0=a", "addrmap: config: static_table entry #1 '10.0.0.1:0=a' column 10: port '0' is not a "
                                   "number from 1 to 65535"),
        table_text("10.0.0.1:65536=a", "addrmap: config: static_table entry #1 '10.0.0.1:65536=a' column 10: port "
                                       "'65536' is not a number from 1 to 65535"),
        table_text("10.0.0.1:70a=a", "addrmap: config: static_table entry #1 '10.0.0.1:70a=a' column 10: port '70a' "
                                     "is not a number from 1 to 65535"),
        table_text("10.0.0.1:=a", "addrmap: config: static_table entry #1 '10.0.0.1:=a' column 10: port '' is not a "
                                  "number from 1 to 65535"),
        table_text("fd00::1=a", "addrmap: config: static_table entry #1 'fd00::1=a' column 1: an IPv6 address needs "
                                "brackets: [fd00::1] or [fd00::1]:port"),
        table_text("[fd00::1=a", "addrmap: config: static_table entry #1 '[fd00::1=a' column 1: '[' without a "
                                 "closing ']'"),
        table_text("[10.0.0.1]=a", "addrmap: config: static_table entry #1 '[10.0.0.1]=a' column 2: '10.0.0.1' inside "
                                   "[] is not an IPv6 address"),
        table_text("[fd00::1]x=a", "addrmap: config: static_table entry #1 '[fd00::1]x=a' column 10: expected ':port' "
                                   "or '=' after ']'"),
        table_text("10.0.0.0/8=a", "addrmap: config: static_table entry #1 '10.0.0.0/8=a' column 9: a key is one IP "
                                   "address, not a CIDR range (ip_to_hostname takes ranges)"),
        table_text("a.example.com=b;10.0.0.1=a;10.0.0.1=b",
                   "addrmap: config: static_table entry #1 'a.example.com=b' column 1: 'a.example.com' is a host "
                   "name; expected an IP address, as the cluster reports nodes"),
    });
}

BOOST_AUTO_TEST_CASE(static_table_text_targets) {
    check_all({
        table_text("10.0.0.1=", "addrmap: config: static_table entry #1 '10.0.0.1=' column 10: expected a target host "
                                "after '='"),
        table_text("10.0.0.1=:7000", "addrmap: config: static_table entry #1 '10.0.0.1=:7000' column 10: expected a "
                                     "target host before ':'"),
        table_text("10.0.0.1=a:0", "addrmap: config: static_table entry #1 '10.0.0.1=a:0' column 12: port '0' is not "
                                   "a number from 1 to 65535"),
        table_text("10.0.0.1=a:", "addrmap: config: static_table entry #1 '10.0.0.1=a:' column 12: port '' is not a "
                                  "number from 1 to 65535"),
        table_text("10.0.0.1=a/tls=", "addrmap: config: static_table entry #1 '10.0.0.1=a/tls=' column 16: empty TLS "
                                      "name after '/tls='; expected the DNS name the certificate carries"),
        table_text("10.0.0.1=a/tsl=b", "addrmap: config: static_table entry #1 '10.0.0.1=a/tsl=b' column 11: expected "
                                       "'/tls=<name>' after the target"),
        table_text("10.0.0.1=*.example.com", "addrmap: config: static_table entry #1 '10.0.0.1=*.example.com' column "
                                             "10: a wildcard names no host; expected one DNS name such as "
                                             "node1.example.com"),
        table_text("10.0.0.1=a..b", "addrmap: config: static_table entry #1 '10.0.0.1=a..b' column 12: empty label (a "
                                    "leading dot or two dots in a row)"),
        table_text("10.0.0.1=a.example.com.", "addrmap: config: static_table entry #1 '10.0.0.1=a.example.com.' "
                                              "column 23: trailing '.' is not accepted; drop it"),
        table_text("10.0.0.1=-a", "addrmap: config: static_table entry #1 '10.0.0.1=-a' column 10: a label may not "
                                  "start with '-'"),
        table_text("10.0.0.1=a-", "addrmap: config: static_table entry #1 '10.0.0.1=a-' column 11: a label may not end "
                                  "with '-'"),
        table_text("10.0.0.1 = a", "addrmap: config: static_table entry #1 '10.0.0.1 = a' column 9: '10.0.0.1 ' is "
                                   "not an IP address (expected IPv4 such as 10.0.0.1 or IPv6 such as fd00::1)"),
        table_text("10.0.0.1=a b", "addrmap: config: static_table entry #1 '10.0.0.1=a b' column 11: unexpected "
                                   "character ' '; expected letters, digits, '-', '_' or '.'"),
        table_text("10.0.0.1=a=b", "addrmap: config: static_table entry #1 '10.0.0.1=a=b' column 11: unexpected "
                                   "character '='; expected letters, digits, '-', '_' or '.'"),
        table_text("10.0.0.1=10.0.0.256", "addrmap: config: static_table entry #1 '10.0.0.1=10.0.0.256' column 10: "
                                          "'10.0.0.256' looks like an IPv4 address but is not one"),
        table_text("10.0.0.1=fd00::1", "addrmap: config: static_table entry #1 '10.0.0.1=fd00::1' column 10: an IPv6 "
                                       "address needs brackets: [fd00::1] or [fd00::1]:port"),
        table_text("10.0.0.1=[10.0.0.2]", "addrmap: config: static_table entry #1 '10.0.0.1=[10.0.0.2]' column 11: "
                                          "'10.0.0.2' inside [] is not an IPv6 address"),
        table_text("10.0.0.1=a/tls=*.x.com", "addrmap: config: static_table entry #1 '10.0.0.1=a/tls=*.x.com' column "
                                             "16: a wildcard names no host; expected one DNS name such as "
                                             "node1.example.com"),
        table_text("10.0.0.1=caf\xC3\xA9.example.com",
                   "addrmap: config: static_table entry #1 '10.0.0.1=caf\\xc3\\xa9.example.com' column 13: unexpected "
                   "byte 0xC3; expected letters, digits, '-', '_' or '.'"),
    });
}

BOOST_AUTO_TEST_CASE(static_table_duplicates_and_shape) {
    check_all({
        table_text("10.0.0.1=a.example.com;10.0.0.1=b.example.com",
                   "addrmap: config: static_table entry #2 '10.0.0.1=b.example.com' column 1: duplicate key: entry #1 "
                   "'10.0.0.1=a.example.com' already maps this address"),
        // Keys compare as binary addresses: these two spell the same IPv6 address.
        table_text("[::1]:7000=a\n\n[0::1]:7000=b",
                   "addrmap: config: static_table entry #2 '[0::1]:7000=b' column 1: duplicate key: entry #1 "
                   "'[::1]:7000=a' already maps this address"),
        table_text(" ; , ", "addrmap: config: static_table '; ,' has no entries; expected ip[:port]=host[:port][/tls=name] "
                            "separated by ';', ',' or newlines"),
    });
}

BOOST_AUTO_TEST_CASE(static_table_cpp_entries) {
    using entries = std::vector<static_table::entry>;
    check_all({
        {"empty tls name", [] { static_table t(entries{{"10.0.0.1:7000", "a.example.com"}, {"10.0.0.2", "b.example.com", ""}}); },
         "addrmap: config: static_table entry #2 '10.0.0.2=b.example.com/tls=' column 28: empty TLS name after "
         "'/tls='; expected the DNS name the certificate carries"},
        {"bad target", [] { static_table t(entries{{"10.0.0.1", "b example.com"}}); },
         "addrmap: config: static_table entry #1 '10.0.0.1=b example.com' column 11: unexpected character ' '; "
         "expected letters, digits, '-', '_' or '.'"},
        {"bad key port", [] { static_table t(entries{{"[fd00::1]:99999", "b.example.com"}}); },
         "addrmap: config: static_table entry #1 '[fd00::1]:99999=b.example.com' column 11: port '99999' is not a "
         "number from 1 to 65535"},
        {"duplicate", [] { static_table t(entries{{"10.0.0.1", "a.example.com"}, {"10.0.0.1", "b.example.com"}}); },
         "addrmap: config: static_table entry #2 '10.0.0.1=b.example.com' column 1: duplicate key: entry #1 "
         "'10.0.0.1=a.example.com' already maps this address"},
    });
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_hostnames) {
    const std::string long_label(64, 'a');
    std::string long_name;
    for (int i = 0; i < 5; ++i) long_name += std::string(50, 'b') + ".";
    long_name += "com";  // 258 characters
    check_all({
        hostname("", "addrmap: config: ip_to_hostname hostname '' column 1: empty name; expected a DNS name such as "
                     "node1.example.com"),
        hostname("*.example.com", "addrmap: config: ip_to_hostname hostname '*.example.com' column 1: a wildcard "
                                  "names no host; expected one DNS name such as node1.example.com"),
        hostname("10.0.0.1", "addrmap: config: ip_to_hostname hostname '10.0.0.1' column 1: '10.0.0.1' is an IP "
                             "address; expected a DNS name such as node1.example.com"),
        hostname("::1", "addrmap: config: ip_to_hostname hostname '::1' column 1: '::1' is an IP address; expected a "
                        "DNS name such as node1.example.com"),
        hostname("redis.example.com.", "addrmap: config: ip_to_hostname hostname 'redis.example.com.' column 18: "
                                       "trailing '.' is not accepted; drop it"),
        hostname(".redis.example.com", "addrmap: config: ip_to_hostname hostname '.redis.example.com' column 1: "
                                       "empty label (a leading dot or two dots in a row)"),
        hostname("re dis", "addrmap: config: ip_to_hostname hostname 're dis' column 3: unexpected character ' '; "
                           "expected letters, digits, '-', '_' or '.'"),
        hostname("x." + long_label + ".com", "addrmap: config: ip_to_hostname hostname 'x." + long_label +
                                                 ".com' column 3: label longer than 63 characters"),
        // Quoted input is cut at 160 bytes (with the full length), so no input can flood a message.
        hostname(long_name, "addrmap: config: ip_to_hostname hostname '" + long_name.substr(0, 160) +
                                "...' (258 bytes) column 254: name is longer than 253 characters"),
    });
}

BOOST_AUTO_TEST_CASE(ip_to_hostname_only_lists) {
    check_all({
        only_list("10.0.0.0/33", "addrmap: config: ip_to_hostname only-list entry #1 '10.0.0.0/33' column 10: prefix "
                                 "length 33 is out of range for IPv4 (0 to 32)"),
        only_list("fd00::/129", "addrmap: config: ip_to_hostname only-list entry #1 'fd00::/129' column 8: prefix "
                                "length 129 is out of range for IPv6 (0 to 128)"),
        only_list("10.0.0.1/8", "addrmap: config: ip_to_hostname only-list entry #1 '10.0.0.1/8' column 1: "
                                "'10.0.0.1/8' has bits set after the /8 prefix; did you mean 10.0.0.0/8?"),
        only_list("10.0.0.0/8;fd00::1/64", "addrmap: config: ip_to_hostname only-list entry #2 'fd00::1/64' column 1: "
                                           "'fd00::1/64' has bits set after the /64 prefix; did you mean fd00::/64?"),
        only_list("10.0.0.0/", "addrmap: config: ip_to_hostname only-list entry #1 '10.0.0.0/' column 10: expected a "
                               "prefix length after '/'"),
        only_list("10.0.0.0/x", "addrmap: config: ip_to_hostname only-list entry #1 '10.0.0.0/x' column 10: prefix "
                                "length 'x' is not a number from 0 to 32"),
        only_list("[::1]", "addrmap: config: ip_to_hostname only-list entry #1 '[::1]' column 1: brackets are not used "
                           "in an IP/CIDR list; write ::1 or fd00::/8"),
        only_list("10.0.0.0/8, 10.0.0.0/8", "addrmap: config: ip_to_hostname only-list entry #2 '10.0.0.0/8' column "
                                            "1: duplicate of entry #1 (10.0.0.0/8)"),
        only_list("redis.local", "addrmap: config: ip_to_hostname only-list entry #1 'redis.local' column 1: "
                                 "'redis.local' is a host name; expected an IP address, as the cluster reports nodes"),
        only_list("fd00::zz", "addrmap: config: ip_to_hostname only-list entry #1 'fd00::zz' column 7: 'fd00::zz' is "
                              "not an IP address (expected IPv4 such as 10.0.0.1 or IPv6 such as fd00::1)"),
        only_list(" , ", "addrmap: config: ip_to_hostname only-list ',' has no entries; expected IP addresses or CIDR "
                         "ranges separated by ',', ';' or newlines"),
    });
}

BOOST_AUTO_TEST_CASE(environment_values) {
    check_all({
        environment({{"ADDRMAP_HOSTNAM", "redis.example.com"}},
                    "addrmap: config: environment variable ADDRMAP_HOSTNAM is not a known setting; known: "
                    "ADDRMAP_HOSTNAME, ADDRMAP_MODE, ADDRMAP_ONLY, ADDRMAP_TABLE, ADDRMAP_ON_MISS, ADDRMAP_ALLOWED_NAMES"),
        environment({{"ADDRMAP_HOSTNAME", ""}},
                    "addrmap: config: environment variable ADDRMAP_HOSTNAME is empty; give a value or unset it"),
        environment({{"ADDRMAP_TABLE", "  "}},
                    "addrmap: config: environment variable ADDRMAP_TABLE is empty; give a value or unset it"),
        environment({{"ADDRMAP_HOSTNAME", "redis.example.com"}, {"ADDRMAP_MODE", "fast"}},
                    "addrmap: config: environment variable ADDRMAP_MODE='fast': expected dial_hostname or dial_ip"),
        environment({{"ADDRMAP_MODE", "dial_ip"}},
                    "addrmap: config: environment variable ADDRMAP_MODE is set but ADDRMAP_HOSTNAME is not; "
                    "ADDRMAP_MODE configures the hostname rule"),
        environment({{"ADDRMAP_ONLY", "10.0.0.0/8"}},
                    "addrmap: config: environment variable ADDRMAP_ONLY is set but ADDRMAP_HOSTNAME is not; "
                    "ADDRMAP_ONLY configures the hostname rule"),
        environment({{"ADDRMAP_ON_MISS", "ignore"}},
                    "addrmap: config: environment variable ADDRMAP_ON_MISS='ignore': expected pass_through or fail"),
        environment({{"ADDRMAP_TABLE", "10.0.0.1=a.example.com;10.0.0.x=foo"}},
                    "addrmap: config: environment variable ADDRMAP_TABLE entry #2 '10.0.0.x=foo' column 8: '10.0.0.x' "
                    "is not an IP address (expected IPv4 such as 10.0.0.1 or IPv6 such as fd00::1)"),
        environment({{"ADDRMAP_HOSTNAME", "*.example.com"}},
                    "addrmap: config: environment variable ADDRMAP_HOSTNAME '*.example.com' column 1: a wildcard "
                    "names no host; expected one DNS name such as node1.example.com"),
        environment({{"ADDRMAP_HOSTNAME", "redis.example.com"}, {"ADDRMAP_ONLY", "10.0.0.0/33"}},
                    "addrmap: config: environment variable ADDRMAP_ONLY entry #1 '10.0.0.0/33' column 10: prefix "
                    "length 33 is out of range for IPv4 (0 to 32)"),
        {"custom prefix typo", [] { env policy(variables{{"APP_TABLEE", "x"}, {"ADDRMAP_HOSTNAM", "ignored"}}, "APP_"); },
         "addrmap: config: environment variable APP_TABLEE is not a known setting; known: APP_HOSTNAME, APP_MODE, "
         "APP_ONLY, APP_TABLE, APP_ON_MISS, APP_ALLOWED_NAMES"},
        {"empty prefix", [] { env policy(variables{}, ""); },
         "addrmap: config: env prefix is empty; expected something like ADDRMAP_"},
    });
}

BOOST_AUTO_TEST_SUITE_END()
