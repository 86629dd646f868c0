// tests/unit/test_address.cpp — node_address, endpoint and the address parsers, plus the binary IP,
// CIDR and DNS-name helpers the policies build on.
#include <addrmap/address.hpp>
#include <addrmap/detail/cidr.hpp>
#include <addrmap/detail/table_grammar.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using addrmap::host_kind;
using addrmap::node_address;

const char* kind_name(host_kind kind) { return addrmap::to_string(kind); }

}  // namespace

BOOST_AUTO_TEST_SUITE(test_address)

BOOST_AUTO_TEST_CASE(classify_host_kinds) {
    const std::vector<std::pair<std::string, host_kind>> cases = {
        {"", host_kind::unknown},          {"?", host_kind::unknown},       {"10.0.0.1", host_kind::ipv4},
        {"255.255.255.255", host_kind::ipv4}, {"::1", host_kind::ipv6},     {"fd00::1", host_kind::ipv6},
        {"::ffff:10.0.0.1", host_kind::ipv6}, {"node.example.com", host_kind::name},
        {"10.0.0.256", host_kind::invalid}, {"[::1]", host_kind::invalid}, {std::string(300, 'a'), host_kind::invalid},
    };
    for (const auto& [host, kind] : cases) {
        BOOST_TEST_CONTEXT("host '" << host << "'") {
            BOOST_TEST(kind_name(addrmap::classify_host(host)) == kind_name(kind));
            const node_address address{host, 1, {}};
            BOOST_TEST(address.host_known() == (kind != host_kind::unknown));
        }
    }
}

BOOST_AUTO_TEST_CASE(dns_names) {
    const std::vector<std::pair<std::string, bool>> cases = {
        {"node1.example.com", true}, {"a", true},   {"under_score.example", true}, {"x-1.y", true},
        {"", false},                 {"a..b", false}, {".a", false},             {"a.", false},
        {"-a", false},               {"a-", false},   {"a b", false},            {"*.example.com", false},
        {std::string(63, 'a'), true}, {std::string(64, 'a'), false},
    };
    for (const auto& [name, valid] : cases) {
        BOOST_TEST_CONTEXT("name '" << name << "'") {
            BOOST_TEST(addrmap::is_valid_dns_name(name) == valid);
            // The policies' stricter check never accepts what the basic one refuses.
            if (!addrmap::detail::check_dns_name(name)) BOOST_TEST(addrmap::is_valid_dns_name(name));
        }
    }
}

BOOST_AUTO_TEST_CASE(ports) {
    const std::vector<std::pair<std::string, std::optional<std::uint16_t>>> cases = {
        {"1", 1},          {"6379", 6379},       {"65535", 65535},     {"0", std::nullopt},
        {"65536", std::nullopt}, {"", std::nullopt}, {"-1", std::nullopt}, {"+1", std::nullopt},
        {" 1", std::nullopt}, {"7000x", std::nullopt}, {"000001", std::nullopt}, {"99999", std::nullopt},
    };
    for (const auto& [text, port] : cases) {
        BOOST_TEST_CONTEXT("port '" << text << "'") {
            const auto parsed = addrmap::parse_port(text);
            BOOST_TEST(parsed.has_value() == port.has_value());
            if (parsed && port) BOOST_TEST(*parsed == *port);
        }
    }
}

BOOST_AUTO_TEST_CASE(formatting) {
    BOOST_TEST(addrmap::format_host_port("10.0.0.1", 7000) == "10.0.0.1:7000");
    BOOST_TEST(addrmap::format_host_port("fd00::1", 7000) == "[fd00::1]:7000");
    BOOST_TEST(addrmap::format_host_port("", 7000) == "?:7000");
    BOOST_TEST(addrmap::to_string(node_address{"node.example.com", 6379, "ignored"}) == "node.example.com:6379");
    BOOST_TEST(addrmap::to_string(addrmap::endpoint("fd00::1", 7000, "node.example.com")) ==
               "[fd00::1]:7000 (tls name 'node.example.com')");
}

BOOST_AUTO_TEST_CASE(messages_escape_and_cut_what_they_quote) {
    // Found by fuzz_address (tests/fuzz/regressions/address/crash-40936dc9-*): 2,426 bytes of tabs and ';'
    // came back twice, raw, in a 4,953-byte what(). Quoted input is now escaped and cut at 160 bytes.
    const std::string terminal_escape = "a\x1b[31mb:7000";
    try {
        addrmap::parse_address(terminal_escape);
        BOOST_ERROR("accepted a host with an escape sequence");
    } catch (const addrmap::error& e) {
        const std::string message = e.what();
        BOOST_TEST(message.find('\x1b') == std::string::npos);
        BOOST_TEST(message.find("'a\\x1b[31mb:7000'") != std::string::npos, message);
    }
    const std::string flood(5000, '\t');
    try {
        addrmap::parse_redirect_target(flood + ":1");
        BOOST_ERROR("accepted a host of tabs");
    } catch (const addrmap::error& e) {
        BOOST_TEST(std::string(e.what()).size() < 1500u);
        BOOST_TEST(std::string(e.what()).find("(5002 bytes)") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(parse_configured_addresses) {
    const std::vector<std::pair<std::string, node_address>> good = {
        {"10.0.0.1:7000", {"10.0.0.1", 7000, {}}},
        {"[fd00::1]:7001", {"fd00::1", 7001, {}}},
        {"node.example.com:6379", {"node.example.com", 6379, {}}},
    };
    for (const auto& [text, expected] : good) {
        BOOST_TEST_CONTEXT("text " << text) { BOOST_TEST((addrmap::parse_address(text) == expected)); }
    }
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"10.0.0.1", "addrmap: config: seed #2 '10.0.0.1': expected ':port' (host:port) (column 9)"},
        {"10.0.0.1:0", "addrmap: config: seed #2 '10.0.0.1:0': port '0' is not a number from 1 to 65535 (column 10)"},
        {":7000", "addrmap: config: seed #2 ':7000': empty host (column 1)"},
        {"?:7000", "addrmap: config: seed #2 '?:7000': host '?' is not allowed here (column 1)"},
        {"::1:7000", "addrmap: config: seed #2 '::1:7000': an IPv6 address needs brackets: [::1]:port (column 1)"},
        {"[::1:7000", "addrmap: config: seed #2 '[::1:7000': '[' without a closing ']' (column 1)"},
        {"[10.0.0.1]:7000",
         "addrmap: config: seed #2 '[10.0.0.1]:7000': '10.0.0.1' inside [] is not an IPv6 address (column 2)"},
        {"[::1]7000", "addrmap: config: seed #2 '[::1]7000': expected ':port' after ']' (column 6)"},
        {"bad host:7000", "addrmap: config: seed #2 'bad host:7000': 'bad host' is neither an IP address nor a valid "
                          "DNS name: unexpected character ' '; expected letters, digits, '-', '_' or '.' (column 4)"},
        {"a:99999", "addrmap: config: seed #2 'a:99999': port '99999' is not a number from 1 to 65535 (column 3)"},
        {"[::1]:x", "addrmap: config: seed #2 '[::1]:x': port 'x' is not a number from 1 to 65535 (column 7)"},
    };
    for (const auto& [text, message] : bad) {
        BOOST_TEST_CONTEXT("text " << text) {
            try {
                (void)addrmap::parse_address(text, "seed #2");
                BOOST_ERROR("accepted");
            } catch (const addrmap::error& e) {
                BOOST_TEST(std::string(e.what()) == message);
                BOOST_TEST((e.kind() == addrmap::error_kind::config));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(parse_redirect_targets) {
    const std::vector<std::pair<std::string, node_address>> good = {
        {"::1:7002", {"::1", 7002, {}}},   {"[::1]:7002", {"::1", 7002, {}}},
        {":7002", {"", 7002, {}}},         {"?:7002", {"?", 7002, {}}},
        {"10.0.0.1:7000", {"10.0.0.1", 7000, {}}},
    };
    for (const auto& [text, expected] : good) {
        BOOST_TEST_CONTEXT("text " << text) { BOOST_TEST((addrmap::parse_redirect_target(text) == expected)); }
    }
    try {
        (void)addrmap::parse_redirect_target("host:0");
        BOOST_ERROR("accepted");
    } catch (const addrmap::error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "addrmap: protocol: redirect target 'host:0': port '0' is not a number from 1 to 65535 (column 6)");
        BOOST_TEST((e.kind() == addrmap::error_kind::protocol));
    }
}

BOOST_AUTO_TEST_CASE(endpoint_views_and_owning) {
    const std::string host = "node.example.com";
    const addrmap::endpoint view(host, 7000, host);
    BOOST_TEST(!view.owns_storage());
    BOOST_TEST(static_cast<const void*>(view.dial_host().data()) == host.data());
    addrmap::endpoint owning = addrmap::endpoint::owning("a.example.com", 7001, "b.example.com");
    const addrmap::endpoint copy = owning;
    owning = view;  // the copy keeps the shared strings alive
    BOOST_TEST(copy.owns_storage());
    BOOST_TEST(copy.dial_host() == "a.example.com");
    BOOST_TEST(copy.tls_name() == "b.example.com");
    BOOST_TEST((copy != view));
}

BOOST_AUTO_TEST_CASE(binary_ips_and_cidr_blocks) {
    using addrmap::detail::parse_ip;
    BOOST_TEST(parse_ip("10.0.0.1").has_value());
    BOOST_TEST(!parse_ip("10.0.0.1")->is_v6);
    BOOST_TEST(parse_ip("fd00::1")->is_v6);
    BOOST_TEST((*parse_ip("fd00::1") == *parse_ip("fd00:0:0::1")));
    BOOST_TEST((*parse_ip("::ffff:10.0.0.1") != *parse_ip("10.0.0.1")));
    for (const char* text : {"", "?", "10.0.0", "010.0.0.1", "[::1]", "fe80::1%eth0", "node.example.com"}) {
        BOOST_TEST_CONTEXT("text '" << text << "'") { BOOST_TEST(!parse_ip(text).has_value()); }
    }
    BOOST_TEST(!parse_ip(std::string_view("10.0.0.1\0x", 10)).has_value());
    BOOST_TEST(addrmap::detail::format_ip(*parse_ip("fd00:0::1")) == "fd00::1");

    struct row {
        const char* block;
        const char* ip;
        bool inside;
    };
    for (const row& r : {row{"10.0.0.0/8", "10.200.3.4", true}, row{"10.0.0.0/8", "11.0.0.0", false},
                         row{"10.0.0.0/9", "10.127.255.255", true}, row{"10.0.0.0/9", "10.128.0.0", false},
                         row{"192.0.2.7", "192.0.2.7", true}, row{"192.0.2.7", "192.0.2.6", false},
                         row{"0.0.0.0/0", "1.2.3.4", true}, row{"0.0.0.0/0", "::1", false},
                         row{"fd00::/8", "fdab::1", true}, row{"fc00::/7", "fdff::1", true},
                         row{"fd00::/8", "fc00::1", false}, row{"::/0", "2001:db8::1", true},
                         row{"2001:db8::/127", "2001:db8::1", true}, row{"2001:db8::/127", "2001:db8::2", false}}) {
        BOOST_TEST_CONTEXT(r.block << " contains " << r.ip) {
            addrmap::detail::cidr_block block;
            BOOST_TEST_REQUIRE(!addrmap::detail::parse_cidr_into(r.block, block).has_value());
            BOOST_TEST(block.contains(*parse_ip(r.ip)) == r.inside);
        }
    }
}

BOOST_AUTO_TEST_CASE(entry_lists) {
    std::vector<std::pair<std::size_t, std::string>> seen;
    const std::size_t count = addrmap::detail::for_each_entry(
        " a ;b,\r\n\n c\t;", [&](std::size_t number, std::string_view entry) { seen.emplace_back(number, entry); });
    BOOST_TEST(count == 3u);
    BOOST_TEST_REQUIRE(seen.size() == 3u);
    BOOST_TEST(seen[0].first == 1u);
    BOOST_TEST(seen[0].second == "a");
    BOOST_TEST(seen[1].second == "b");
    BOOST_TEST(seen[2].first == 3u);
    BOOST_TEST(seen[2].second == "c");
    BOOST_TEST(addrmap::detail::for_each_entry("", [](std::size_t, std::string_view) {}) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
