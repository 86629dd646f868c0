// addrmap/detail/table_grammar.hpp — the text grammar shared by static_table, ip_to_hostname and env:
// entry lists, "ip[:port]=host[:port][/tls=name]" entries, DNS name checks, and their error messages.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/cidr.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// "<what> entry #<n> '<entry>' column <c>: <message>" — entry numbers and columns are 1-based.
inline std::string entry_problem_message(std::string_view what, std::size_t number, std::string_view entry,
                                         const parse_problem& problem) {
    return std::string(what) + " entry #" + std::to_string(number) + " " + quoted(entry) + " column " +
           std::to_string(problem.offset + 1) + ": " + problem.message;
}

/// "<what> '<value>' column <c>: <message>" — for single values such as a hostname.
inline std::string value_problem_message(std::string_view what, std::string_view value,
                                         const parse_problem& problem) {
    return std::string(what) + " " + quoted(value) + " column " + std::to_string(problem.offset + 1) + ": " +
           problem.message;
}

inline bool is_entry_separator(char c) noexcept { return c == ';' || c == ',' || c == '\n'; }
inline bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

inline std::string_view trim_blanks(std::string_view text) noexcept {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
    return text;
}

/// Splits a list on ';', ',' or newline, trims spaces/tabs/CR around each entry and skips blank
/// entries (so a trailing separator or an empty line is harmless). Calls on_entry(number, entry) with
/// number counting the non-blank entries from 1. Returns how many there were.
template <class OnEntry>
inline std::size_t for_each_entry(std::string_view text, OnEntry&& on_entry) {
    std::size_t number = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = start;
        while (end < text.size() && !is_entry_separator(text[end])) ++end;
        const std::string_view entry = trim_blanks(text.substr(start, end - start));
        if (!entry.empty()) std::invoke(on_entry, ++number, entry);
        start = end + 1;
    }
    return number;
}

/// Checks a DNS name a connection will use (dial host or certificate name): classify_host must say
/// host_kind::name. The messages add what is likely meant: a wildcard, an IP literal, a trailing dot.
inline std::optional<parse_problem> check_dns_name(std::string_view name) {
    constexpr const char* example = "node1.example.com";
    switch (classify_host(name)) {
        case host_kind::name: return std::nullopt;
        case host_kind::ipv4:
        case host_kind::ipv6:
            return parse_problem{0, quoted(name) + " is an IP address; expected a DNS name such as " + example};
        case host_kind::unknown:
            if (name.empty()) return parse_problem{0, std::string("empty name; expected a DNS name such as ") + example};
            break;
        case host_kind::invalid: break;
    }
    if (const std::size_t star = name.find('*'); star != std::string_view::npos)
        return parse_problem{star, std::string("a wildcard names no host; expected one DNS name such as ") + example};
    return describe_invalid_host(name);
}

/// Shifts a problem found in a part of an entry to the entry's column.
inline parse_problem at_offset(parse_problem problem, std::size_t part_at) {
    problem.offset += part_at;
    return problem;
}

/// The hashable key of a table entry: a binary IP plus a port, 0 meaning "any port".
struct table_key {
    ip_address ip;
    std::uint16_t port = 0;

    friend bool operator==(const table_key& a, const table_key& b) noexcept {
        return a.port == b.port && a.ip == b.ip;
    }
};

struct table_key_hash {
    std::size_t operator()(const table_key& key) const noexcept {
        // FNV-1a over the 16 bytes, the family and the port: cheap, and good enough for addresses.
        std::uint64_t h = 14695981039346656037ull;
        const auto mix = [&h](unsigned byte) {
            h ^= byte;
            h *= 1099511628211ull;
        };
        for (unsigned char b : key.ip.bytes) mix(b);
        mix(key.ip.is_v6 ? 6u : 4u);
        mix(key.port & 0xFFu);
        mix(key.port >> 8);
        return static_cast<std::size_t>(h);
    }
};

/// One parsed table entry.
struct table_entry_spec {
    table_key key;
    std::string dial_host;          ///< unbracketed
    std::uint16_t dial_port = 0;    ///< 0: keep the reported port
    std::string tls_name;           ///< the `/tls=` name, or the dial host when none was given
};

/// Where the parts of "host", "host:port", "[v6]" or "[v6]:port" are: the host (unbracketed) and the column of the
/// port's text in it (npos: no port).
struct host_port_parts {
    std::string_view host;
    std::size_t port_at = std::string_view::npos;
};

/// Splits a table key or target (non-empty; `at` is its column in the entry) as both are written: a bracketed host
/// must be an IPv6 address, an unbracketed one has no ':' but the port's. `after_bracket` is the problem for a
/// character after ']' other than ':'. The caller checks an unbracketed host.
inline std::optional<parse_problem> split_host_port(std::string_view text, std::size_t at, const char* after_bracket,
                                                    host_port_parts& out) {
    if (text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return parse_problem{at, "'[' without a closing ']'"};
        out.host = text.substr(1, close - 1);
        const auto ip = parse_ip(out.host);
        if (!ip || !ip->is_v6)
            return parse_problem{at + 1, quoted(out.host) + " inside [] is not an IPv6 address"};
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') return parse_problem{at + close + 1, after_bracket};
            out.port_at = close + 2;
        }
        return std::nullopt;
    }
    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos)
        return parse_problem{at, "an IPv6 address needs brackets: [" + escaped(text, 80) + "] or [" +
                                     escaped(text, 80) + "]:port"};
    out.host = text.substr(0, colon);
    if (colon != std::string_view::npos) out.port_at = colon + 1;
    return std::nullopt;
}

/// The port of `text` (split by split_host_port; `at` is its column in the entry): 0 when it has none, else 1..65535.
inline std::optional<parse_problem> parse_table_port(std::string_view text, std::size_t at,
                                                     const host_port_parts& parts, std::uint16_t& out) {
    out = 0;
    if (parts.port_at == std::string_view::npos) return std::nullopt;
    const std::string_view port_text = text.substr(parts.port_at);
    const auto port = parse_port(port_text);
    if (!port)
        return parse_problem{at + parts.port_at, "port " + quoted(port_text) + " is not a number from 1 to 65535"};
    out = *port;
    return std::nullopt;
}

/// Parses "ip", "ip:port", "[v6]" or "[v6]:port". `at` is the column of `key` in the entry.
inline std::optional<parse_problem> parse_table_key(std::string_view key, std::size_t at, table_key& out) {
    if (key.empty()) return parse_problem{at, "expected the reported IP address before '='"};
    if (const std::size_t slash = key.find('/'); slash != std::string_view::npos)
        return parse_problem{at + slash, "a key is one IP address, not a CIDR range (ip_to_hostname takes ranges)"};
    host_port_parts parts;
    if (auto problem = split_host_port(key, at, "expected ':port' or '=' after ']'", parts)) return problem;
    const auto ip = parse_ip(parts.host);  // a bracketed host is an IPv6 address already
    if (!ip) return at_offset(describe_bad_ip(parts.host), at);
    out.ip = *ip;
    return parse_table_port(key, at, parts, out.port);
}

/// Parses the target "host", "host:port", "[v6]" or "[v6]:port"; host is a DNS name or an IP.
inline std::optional<parse_problem> parse_table_target(std::string_view target, std::size_t at,
                                                       table_entry_spec& out) {
    if (target.empty()) return parse_problem{at, "expected a target host after '='"};
    host_port_parts parts;
    if (auto problem = split_host_port(target, at, "expected ':port' after ']'", parts)) return problem;
    if (target.front() != '[') {
        if (parts.host.empty()) return parse_problem{at, "expected a target host before ':'"};
        if (!parse_ip(parts.host)) {
            if (auto problem = check_dns_name(parts.host)) return at_offset(std::move(*problem), at);
        }
    }
    if (auto problem = parse_table_port(target, at, parts, out.dial_port)) return problem;
    out.dial_host.assign(parts.host.data(), parts.host.size());
    return std::nullopt;
}

/// A certificate name: a DNS name, or an IP literal (then the IP SANs are checked).
inline std::optional<parse_problem> check_tls_name(std::string_view name) {
    if (name.empty())
        return parse_problem{0, "empty TLS name after '/tls='; expected the DNS name the certificate carries"};
    if (parse_ip(name)) return std::nullopt;
    return check_dns_name(name);
}

/// Parses an entry given as parts with their columns; `tls` is the text after "/tls=", if any.
inline std::optional<parse_problem> parse_table_entry_parts(std::string_view key, std::size_t key_at,
                                                            std::string_view target, std::size_t target_at,
                                                            std::optional<std::string_view> tls, std::size_t tls_at,
                                                            table_entry_spec& out) {
    if (auto problem = parse_table_key(key, key_at, out.key)) return problem;
    if (auto problem = parse_table_target(target, target_at, out)) return problem;
    if (tls) {
        if (auto problem = check_tls_name(*tls)) return at_offset(std::move(*problem), tls_at);
        out.tls_name.assign(tls->data(), tls->size());
    } else {
        out.tls_name = out.dial_host;
    }
    return std::nullopt;
}

/// Parses one entry of the table grammar: `key '=' target [ '/tls=' name ]`.
inline std::optional<parse_problem> parse_table_entry(std::string_view entry, table_entry_spec& out) {
    const std::size_t equals = entry.find('=');
    if (equals == std::string_view::npos)
        return parse_problem{entry.size(),
                             "expected '=' between the reported IP and the target, as in 10.0.0.1:7000=node1.example.com"};
    const std::string_view key = entry.substr(0, equals);
    const std::string_view value = entry.substr(equals + 1);
    const std::size_t slash = value.find('/');
    const std::string_view target = value.substr(0, slash);
    std::optional<std::string_view> tls;
    std::size_t tls_at = 0;
    if (slash != std::string_view::npos) {
        constexpr std::string_view tls_marker = "tls=";
        const std::string_view after = value.substr(slash + 1);
        if (after.substr(0, tls_marker.size()) != tls_marker)
            return parse_problem{equals + 1 + slash, "expected '/tls=<name>' after the target"};
        tls = after.substr(tls_marker.size());
        tls_at = equals + 1 + slash + 1 + tls_marker.size();
    }
    return parse_table_entry_parts(key, 0, target, equals + 1, tls, tls_at, out);
}

}  // namespace addrmap::detail
