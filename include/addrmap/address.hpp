// addrmap/address.hpp — what the cluster reports (node_address) and where we go (endpoint).
// Also the strict parsers for "host:port", "[v6]:port" and MOVED/ASK redirect targets.
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

namespace addrmap {

/// What a reported host string is. Decided by inet_pton, never by DNS.
enum class host_kind {
    unknown,  ///< "" or "?": the server does not know; means "the host of the node you asked"
    ipv4,
    ipv6,     ///< always stored unbracketed
    name,     ///< a DNS name (syntax-checked only)
};

/// Classifies a host as reported or configured. IPv6 must be unbracketed here.
inline host_kind classify_host(std::string_view host) noexcept {
    if (host.empty() || host == "?") return host_kind::unknown;
    if (host.size() > 253) return host_kind::name;  // too long for an IP; a name check rejects it later
    char buf[256];
    host.copy(buf, host.size());
    buf[host.size()] = '\0';
    unsigned char bin[sizeof(in6_addr)];
    if (::inet_pton(AF_INET, buf, bin) == 1) return host_kind::ipv4;
    if (::inet_pton(AF_INET6, buf, bin) == 1) return host_kind::ipv6;
    return host_kind::name;
}

/// True for a syntactically valid DNS name (labels of [A-Za-z0-9_-], no empty label,
/// no leading/trailing '-', at most 63 per label and 253 in all). A trailing dot is refused.
inline bool is_valid_dns_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 253) return false;
    std::size_t label_len = 0;
    char prev = '.';
    for (char c : name) {
        if (c == '.') {
            if (label_len == 0 || prev == '-') return false;
            label_len = 0;
        } else {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_';
            if (!ok) return false;
            if (label_len == 0 && c == '-') return false;
            if (++label_len > 63) return false;
        }
        prev = c;
    }
    return label_len != 0 && prev != '-';
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

/// A node as the cluster reported it: CLUSTER SLOTS / SHARDS entry, MOVED/ASK target, seed.
struct node_address {
    std::string host;      ///< exactly as reported; IPv6 unbracketed; "" or "?" = unknown
    std::uint16_t port = 0;
    std::string hostname;  ///< hostname the server announced (Redis 7 metadata), empty if none

    host_kind kind() const noexcept { return classify_host(host); }
    bool host_known() const noexcept { return kind() != host_kind::unknown; }

    friend bool operator==(const node_address& a, const node_address& b) noexcept {
        return a.host == b.host && a.port == b.port && a.hostname == b.hostname;
    }
    friend bool operator!=(const node_address& a, const node_address& b) noexcept { return !(a == b); }
};

/// "host:port", with IPv6 bracketed ("[::1]:7000") and an unknown host as "?:7000".
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
    } else {
        out += host;
    }
    out += ':';
    out += std::to_string(port);
    return out;
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
    out += e.tls_name();
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

/// Validates a host (unbracketed). `allow_unknown` admits "" and "?".
inline std::optional<parse_problem> check_host(std::string_view host, bool allow_unknown) {
    switch (classify_host(host)) {
        case host_kind::unknown:
            if (allow_unknown) return std::nullopt;
            return parse_problem{0, host.empty() ? "empty host" : "host '?' is not allowed here"};
        case host_kind::ipv4:
        case host_kind::ipv6: return std::nullopt;
        case host_kind::name: break;
    }
    if (is_valid_dns_name(host)) return std::nullopt;
    // Point at the first offending character, which is what a person needs to see.
    std::size_t at = 0;
    for (; at < host.size(); ++at) {
        const char c = host[at];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) break;
    }
    if (at == host.size()) at = 0;
    return parse_problem{at, quoted(host) +
                                 " is neither an IP address nor a valid DNS name (letters, digits, '-', '_', '.')"};
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
            if (classify_host(host) != host_kind::ipv6)
                return parse_problem{0, quoted(host) + " is not an IPv6 address"};
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
    return std::nullopt;
}

/// "<what> 'text': message (column N)" — columns are 1-based, as editors count.
inline std::string describe_problem(std::string_view what, std::string_view text, const parse_problem& p) {
    return std::string(what) + " " + quoted(text) + ": " + p.message + " (column " + std::to_string(p.offset + 1) + ")";
}

}  // namespace detail

/// Parses a configured address: "host:port", "[v6]:port". Throws error{config} naming the
/// text, the column and what was expected; `what` says where it came from ("seed #2").
inline node_address parse_address(std::string_view text, std::string_view what = "address") {
    node_address out;
    if (auto problem = detail::parse_address_into(text, detail::address_syntax::config, out))
        throw error(error_kind::config, detail::describe_problem(what, text, *problem));
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
