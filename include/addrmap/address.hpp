// addrmap/address.hpp — what the cluster reports (node_address) and where we go (endpoint), the one host grammar
// (classify_host) every host passes, and the strict parsers for "host:port", "[v6]:port" and MOVED/ASK targets.
#pragma once

#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// What a host string is. Decided by one grammar over every byte of the text, never by DNS.
enum class host_kind {
    unknown,  ///< "" or "?": the server does not know; means "the host of the node you asked"
    ipv4,     ///< a strict dotted quad: four decimal parts 0..255, no leading zeros
    ipv6,     ///< an unbracketed IPv6 literal (no zone id); always stored unbracketed
    name,     ///< a valid DNS name (see is_valid_dns_name); syntax only
    invalid,  ///< anything else: NUL, control bytes, whitespace, '%' zone ids, non-ASCII, bad labels, ...
};

namespace detail {

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_hex_digit(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool is_label_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}
/// Every byte a host of any kind may contain: DNS label characters, '.' and ':' (IPv6).
inline bool is_host_char(char c) noexcept { return is_label_char(c) || c == '.' || c == ':'; }

/// ASCII case-insensitive equality (DNS names compare this way).
inline bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

/// The longest IPv6 literal inet_pton accepts: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
constexpr std::size_t longest_ipv6_literal = 45;

/// A strict dotted quad into 4 bytes (network order): "10.0.0.1"; not "010.0.0.1", "10.1", "1.2.3.4.".
inline bool parse_dotted_quad(std::string_view text, unsigned char* out) noexcept {
    if (text.size() < 7 || text.size() > 15) return false;
    std::size_t part = 0, digits = 0;
    unsigned value = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '.') {
            if (digits == 0 || part > 3 || value > 255) return false;
            out[part++] = static_cast<unsigned char>(value);
            digits = 0;
            value = 0;
            continue;
        }
        if (!is_digit(text[i])) return false;
        if (digits == 1 && value == 0) return false;  // a leading zero: octal to some resolvers
        if (++digits > 3) return false;
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return part == 4;
}

/// The label rules of is_valid_dns_name, for text already known to hold only label characters and '.'.
/// Also refuses a name whose last label a resolver would read as a number ("127.1", "0x7f.0.0.2",
/// "2130706434": inet_aton forms that getaddrinfo dials as an IP address).
inline bool dns_labels_ok(std::string_view name) noexcept {
    if (name.empty() || name.size() > 253) return false;
    std::size_t label_start = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i < name.size() && name[i] != '.') continue;
        const std::size_t length = i - label_start;
        if (length == 0 || length > 63) return false;  // also a leading, doubled or trailing dot
        if (name[label_start] == '-' || name[i - 1] == '-') return false;
        label_start = i + 1;
    }
    const std::size_t last_dot = name.rfind('.');
    const std::string_view last = last_dot == std::string_view::npos ? name : name.substr(last_dot + 1);
    bool all_digits = true;
    for (char c : last) all_digits = all_digits && is_digit(c);
    if (all_digits) return false;
    if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
        bool all_hex = true;
        for (char c : last.substr(2)) all_hex = all_hex && is_hex_digit(c);
        if (all_hex) return false;
    }
    return true;
}

/// The one host classifier. Looks at every byte of `host` (no NUL-terminated copy that would hide
/// what follows a NUL). For an IP, `bytes` (16 bytes) receives the address in network order: IPv4 in
/// the first 4. Allocation-free.
inline host_kind classify_host_into(std::string_view host, unsigned char* bytes) noexcept {
    if (host.empty() || host == "?") return host_kind::unknown;
    if (host.size() > 253) return host_kind::invalid;
    bool colon = false, ipv4_chars = true, ipv6_chars = true;
    for (char c : host) {
        if (!is_host_char(c)) return host_kind::invalid;
        colon = colon || c == ':';
        ipv4_chars = ipv4_chars && (is_digit(c) || c == '.');
        ipv6_chars = ipv6_chars && (is_hex_digit(c) || c == ':' || c == '.');
    }
    if (colon) {
        if (!ipv6_chars || host.size() > longest_ipv6_literal) return host_kind::invalid;
        char buf[longest_ipv6_literal + 1];
        host.copy(buf, host.size());  // only hex digits, ':' and '.': the copy is exactly the text
        buf[host.size()] = '\0';
        return ::inet_pton(AF_INET6, buf, bytes) == 1 ? host_kind::ipv6 : host_kind::invalid;
    }
    if (ipv4_chars) return parse_dotted_quad(host, bytes) ? host_kind::ipv4 : host_kind::invalid;
    return dns_labels_ok(host) ? host_kind::name : host_kind::invalid;
}

}  // namespace detail

/// Classifies a host as reported or configured (IPv6 unbracketed). Every parser and check in addrmap
/// takes its answer from here, so no two of them can disagree about what a host is.
inline host_kind classify_host(std::string_view host) noexcept {
    unsigned char bytes[16];
    return detail::classify_host_into(host, bytes);
}

/// True for a syntactically valid DNS name: labels of [A-Za-z0-9_-], none empty, none starting or
/// ending with '-', at most 63 characters each and 253 in all; no trailing dot; and not a text a
/// resolver reads as an IP address (an all-digit or 0x-hex last label). Same as
/// `classify_host(name) == host_kind::name`.
inline bool is_valid_dns_name(std::string_view name) noexcept { return classify_host(name) == host_kind::name; }

/// Stable lower-case name of a kind, for messages and tests.
constexpr const char* to_string(host_kind kind) noexcept {
    switch (kind) {
        case host_kind::unknown: return "unknown";
        case host_kind::ipv4: return "ipv4";
        case host_kind::ipv6: return "ipv6";
        case host_kind::name: return "name";
        case host_kind::invalid: return "invalid";
    }
    return "?";
}

/// Parses a decimal TCP port 1..65535 (digits only, no sign, no spaces).
inline std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

/// Where a node_address came from. Policies hold *reported* names to the names the user allowed;
/// a *configured* one (a seed, or a reported address whose host is a seed's host) is always allowed.
enum class address_origin {
    reported,    ///< from a server: CLUSTER SHARDS/SLOTS, MOVED/ASK (the safe default)
    configured,  ///< from the user: a seed in cluster_options
};

/// A node as the cluster reported it: CLUSTER SLOTS / SHARDS entry, MOVED/ASK target, seed.
struct node_address {
    std::string host;      ///< exactly as reported; IPv6 unbracketed; "" or "?" = unknown
    std::uint16_t port = 0;
    std::string hostname;  ///< hostname the server announced (Redis 7 metadata), empty if none
    /// Where it came from. Not part of the address: operator== and to_string ignore it.
    address_origin origin = address_origin::reported;

    host_kind kind() const noexcept { return classify_host(host); }
    bool host_known() const noexcept { return kind() != host_kind::unknown; }
    bool is_configured() const noexcept { return origin == address_origin::configured; }

    /// Equal when host, port and announced hostname are; `origin` is where it came from, not what it is.
    friend bool operator==(const node_address& a, const node_address& b) noexcept {
        return a.host == b.host && a.port == b.port && a.hostname == b.hostname;
    }
    friend bool operator!=(const node_address& a, const node_address& b) noexcept { return !(a == b); }
};

/// "host:port", with IPv6 bracketed ("[::1]:7000") and an unknown host as "?:7000". A host that is
/// not valid (see host_kind::invalid) is shown escaped, so the result is always printable ASCII.
inline std::string format_host_port(std::string_view host, std::uint16_t port) {
    std::string out;
    const host_kind kind = classify_host(host);
    if (kind == host_kind::ipv6) {
        out.reserve(host.size() + 8);
        out += '[';
        out += host;
        out += ']';
    } else if (kind == host_kind::unknown) {
        out += '?';
    } else if (kind == host_kind::invalid) {
        out += detail::escaped(host, 300);
    } else {
        out += host;
    }
    out += ':';
    out += std::to_string(port);
    return out;
}

/// "The seeds' own names are allowed": `address`, marked configured when its host equals a seed's host (ASCII
/// case-insensitively, on any port: a cluster may report its nodes under the name the user gave). The one rule
/// the cluster core and addrmap-doctor both apply.
inline node_address configured_if_seed(node_address address, const std::vector<node_address>& seeds) {
    if (address.is_configured()) return address;
    for (const node_address& seed : seeds)
        if (detail::iequals_ascii(seed.host, address.host)) {
            address.origin = address_origin::configured;
            break;
        }
    return address;
}

/// Formats the reported address (not the announced hostname) as "host:port".
inline std::string to_string(const node_address& address) { return format_host_port(address.host, address.port); }

/// Where to dial and which name the peer certificate must carry.
///
/// Lifetime: an endpoint made with the three-argument constructor only *views* its strings.
/// Shipped policies return views into the policy's own storage or into the node_address they
/// were given, so the result is valid while both live — and `map` never allocates. The adapter
/// copies what it keeps. A policy that computes new strings (a lambda building a name) returns
/// `endpoint::owning(...)`, which keeps them alive in a shared buffer across copies.
class endpoint {
public:
    endpoint(std::string_view dial_host, std::uint16_t port, std::string_view tls_name) noexcept
        : dial_host_(dial_host), tls_name_(tls_name), port_(port) {}

    /// An endpoint that owns its strings (one allocation); copies share them.
    static endpoint owning(std::string dial_host, std::uint16_t port, std::string tls_name) {
        auto storage = std::make_shared<const std::pair<std::string, std::string>>(std::move(dial_host),
                                                                                 std::move(tls_name));
        endpoint result(storage->first, port, storage->second);
        result.storage_ = std::move(storage);
        return result;
    }

    std::string_view dial_host() const noexcept { return dial_host_; }
    std::uint16_t port() const noexcept { return port_; }
    /// The name the certificate must match. An IP literal means "check the IP SANs".
    std::string_view tls_name() const noexcept { return tls_name_; }
    bool owns_storage() const noexcept { return storage_ != nullptr; }

    friend bool operator==(const endpoint& a, const endpoint& b) noexcept {
        return a.dial_host_ == b.dial_host_ && a.port_ == b.port_ && a.tls_name_ == b.tls_name_;
    }
    friend bool operator!=(const endpoint& a, const endpoint& b) noexcept { return !(a == b); }

private:
    std::string_view dial_host_;
    std::string_view tls_name_;
    std::uint16_t port_;
    std::shared_ptr<const std::pair<std::string, std::string>> storage_;
};

/// "dial host:port (tls name N)" for messages.
inline std::string to_string(const endpoint& e) {
    std::string out = format_host_port(e.dial_host(), e.port());
    out += " (tls name ";
    out += detail::quoted(e.tls_name(), 255);
    out += ')';
    return out;
}

namespace detail {

/// A parse failure: 0-based offset into the parsed text and what was expected there.
struct parse_problem {
    std::size_t offset;
    std::string message;
};

enum class address_syntax {
    config,    ///< seeds and tables: IPv6 must be bracketed, host required
    redirect,  ///< MOVED/ASK and CLUSTER replies: split on the last colon, host may be "" or "?"
};

/// "character 'x'" for printable ASCII, "byte 0x1B" otherwise, so a message stays readable.
inline std::string describe_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) return std::string("character '") + c + "'";
    constexpr const char* hex = "0123456789ABCDEF";
    return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 0xF];
}

/// Why classify_host says host_kind::invalid, pointing at the first offending byte or label. The
/// message does not repeat the host (callers quote it where they need to). Only meaningful for such
/// a host; for any other it still returns a (generic) problem.
inline parse_problem describe_invalid_host(std::string_view host) {
    if (host.size() > 253) return parse_problem{253, "name is longer than 253 characters"};
    for (std::size_t i = 0; i < host.size(); ++i)
        if (!is_host_char(host[i]))
            return parse_problem{i, "unexpected " + describe_char(host[i]) + "; expected letters, digits, '-', '_' or '.'"};
    if (host.find(':') != std::string_view::npos)
        return parse_problem{0, quoted(host) + " is not an IPv6 address"};
    if (host.find_first_not_of("0123456789.") == std::string_view::npos)
        return parse_problem{0, quoted(host) + " looks like an IPv4 address but is not one"};
    std::size_t label_start = 0;
    for (std::size_t i = 0; i <= host.size(); ++i) {
        if (i < host.size() && host[i] != '.') continue;
        const std::size_t length = i - label_start;
        if (length == 0) {
            if (i == host.size()) return parse_problem{i - 1, "trailing '.' is not accepted; drop it"};
            return parse_problem{i, "empty label (a leading dot or two dots in a row)"};
        }
        if (length > 63) return parse_problem{label_start, "label longer than 63 characters"};
        if (host[label_start] == '-') return parse_problem{label_start, "a label may not start with '-'"};
        if (host[i - 1] == '-') return parse_problem{i - 1, "a label may not end with '-'"};
        label_start = i + 1;
    }
    const std::size_t dot = host.rfind('.');
    return parse_problem{dot == std::string_view::npos ? 0 : dot + 1,
                         "the last label is a number, which a resolver reads as an IP address (inet_aton forms "
                         "such as 127.1 or 0x7f.0.0.1), not as a name"};
}

/// "'<host>' is neither an IP address nor a valid DNS name: <why>", for a host classify_host calls invalid.
inline std::string invalid_host_message(std::string_view host) {
    return quoted(host) + " is neither an IP address nor a valid DNS name: " + describe_invalid_host(host).message;
}

/// Validates a host (unbracketed). `allow_unknown` admits "" and "?".
inline std::optional<parse_problem> check_host(std::string_view host, bool allow_unknown) {
    switch (classify_host(host)) {
        case host_kind::unknown:
            if (allow_unknown) return std::nullopt;
            return parse_problem{0, host.empty() ? "empty host" : "host '?' is not allowed here"};
        case host_kind::ipv4:
        case host_kind::ipv6:
        case host_kind::name: return std::nullopt;
        case host_kind::invalid: break;
    }
    return parse_problem{describe_invalid_host(host).offset, invalid_host_message(host)};
}

/// Non-throwing core of the address parsers; fills `out` on success.
inline std::optional<parse_problem> parse_address_into(std::string_view text, address_syntax syntax,
                                                       node_address& out) {
    std::string_view host;
    std::size_t port_at = 0;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return parse_problem{0, "'[' without a closing ']'"};
        host = text.substr(1, close - 1);
        if (classify_host(host) != host_kind::ipv6)
            return parse_problem{1, quoted(host) + " inside [] is not an IPv6 address"};
        if (close + 1 >= text.size() || text[close + 1] != ':')
            return parse_problem{close + 1, "expected ':port' after ']'"};
        port_at = close + 2;
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return parse_problem{text.size(), "expected ':port' (host:port)"};
        host = text.substr(0, colon);
        port_at = colon + 1;
        if (host.find(':') != std::string_view::npos) {
            if (syntax == address_syntax::config)
                return parse_problem{0, "an IPv6 address needs brackets: [" + escaped(host, 80) + "]:port"};
            if (classify_host(host) != host_kind::ipv6) return parse_problem{0, quoted(host) + " is not an IPv6 address"};
        }
        if (auto problem = check_host(host, syntax == address_syntax::redirect)) return problem;
    }
    const std::string_view port_text = text.substr(port_at);
    const auto port = parse_port(port_text);
    if (!port)
        return parse_problem{port_at, "port " + quoted(port_text) + " is not a number from 1 to 65535"};
    out.host.assign(host.data(), host.size());
    out.port = *port;
    out.hostname.clear();
    out.origin = address_origin::reported;
    return std::nullopt;
}

/// "<what> 'text': message (column N)" — columns are 1-based, as editors count.
inline std::string describe_problem(std::string_view what, std::string_view text, const parse_problem& p) {
    return std::string(what) + " " + quoted(text) + ": " + p.message + " (column " + std::to_string(p.offset + 1) + ")";
}

}  // namespace detail

/// Parses a configured address: "host:port", "[v6]:port". Throws error{config} naming the
/// text, the column and what was expected; `what` says where it came from ("seed #2").
/// The result's origin is address_origin::configured: the user wrote it (use it for user input only).
inline node_address parse_address(std::string_view text, std::string_view what = "address") {
    node_address out;
    if (auto problem = detail::parse_address_into(text, detail::address_syntax::config, out))
        throw error(error_kind::config, detail::describe_problem(what, text, *problem));
    out.origin = address_origin::configured;
    return out;
}

/// Parses the target of a MOVED/ASK redirect as Redis writes it: split on the last colon, so
/// "::1:7002" is host "::1"; "[::1]:7002" is accepted too; ":7002" and "?:7002" mean unknown host.
/// Throws error{protocol}, since the text came from a server.
inline node_address parse_redirect_target(std::string_view text) {
    node_address out;
    if (auto problem = detail::parse_address_into(text, detail::address_syntax::redirect, out))
        throw error(error_kind::protocol, detail::describe_problem("redirect target", text, *problem));
    return out;
}

}  // namespace addrmap
