// addrmap/detail/cidr.hpp — IP addresses as 16 binary bytes and CIDR blocks, parsed without allocating.
// Policies use the binary form so a lookup never builds a string; parse problems carry a column.
#pragma once

#include <addrmap/address.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// An IPv4 or IPv6 address in network byte order. IPv4 fills the first 4 bytes, the rest stay zero,
/// and `is_v6` keeps the families apart (an IPv4-mapped IPv6 address is *not* equal to the IPv4 one).
struct ip_address {
    std::array<unsigned char, 16> bytes{};
    bool is_v6 = false;

    unsigned bit_count() const noexcept { return is_v6 ? 128u : 32u; }

    friend bool operator==(const ip_address& a, const ip_address& b) noexcept {
        return a.is_v6 == b.is_v6 && a.bytes == b.bytes;
    }
    friend bool operator!=(const ip_address& a, const ip_address& b) noexcept { return !(a == b); }
};

/// Parses an unbracketed IPv4 or IPv6 literal: exactly the texts classify_host calls ipv4 or ipv6
/// (it is the same code), so a policy and the parsers can never disagree about what is an IP.
inline std::optional<ip_address> parse_ip(std::string_view text) noexcept {
    ip_address ip;
    switch (classify_host_into(text, ip.bytes.data())) {
        case host_kind::ipv4: return ip;
        case host_kind::ipv6: ip.is_v6 = true; return ip;
        case host_kind::unknown:
        case host_kind::name:
        case host_kind::invalid: break;
    }
    return std::nullopt;
}

/// Canonical text of an address ("10.0.0.1", "fd00::1"), for messages.
inline std::string format_ip(const ip_address& ip) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(ip.is_v6 ? AF_INET6 : AF_INET, ip.bytes.data(), buf, sizeof buf);
    return buf;
}

/// Why `text` is not an IP literal, pointing at the first character that cannot belong to one.
inline parse_problem describe_bad_ip(std::string_view text) {
    const bool looks_v6 = text.find(':') != std::string_view::npos;
    std::size_t at = 0;
    for (; at < text.size(); ++at) {
        const char c = text[at];
        const bool digit = c >= '0' && c <= '9';
        const bool hex = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!(looks_v6 ? (hex || c == ':' || c == '.') : (digit || c == '.'))) break;
    }
    // A name where an IP belongs is a different mistake from a typo inside an IP: say so.
    if (!looks_v6 && !text.empty() && ((text[0] >= 'a' && text[0] <= 'z') || (text[0] >= 'A' && text[0] <= 'Z')))
        return parse_problem{0, quoted(text) + " is a host name; expected an IP address, as the cluster reports nodes"};
    if (at == text.size()) at = 0;  // every character is plausible: the shape is wrong, point at the start
    return parse_problem{at, quoted(text) + " is not an IP address (expected IPv4 such as 10.0.0.1 "
                                                       "or IPv6 such as fd00::1)"};
}

/// `ip` with every bit after the first `length` cleared.
inline ip_address mask_to(ip_address ip, unsigned length) noexcept {
    for (unsigned bit = length; bit < ip.bit_count(); ++bit)
        ip.bytes[bit / 8] = static_cast<unsigned char>(ip.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
    return ip;
}

/// An IP range: `base` with every bit after `prefix_length` zero. A single IP is a full-length block.
struct cidr_block {
    ip_address base;
    unsigned prefix_length = 0;

    bool contains(const ip_address& ip) const noexcept {
        if (ip.is_v6 != base.is_v6) return false;
        const unsigned whole_bytes = prefix_length / 8;
        for (unsigned i = 0; i < whole_bytes; ++i)
            if (ip.bytes[i] != base.bytes[i]) return false;
        const unsigned rest_bits = prefix_length % 8;
        if (rest_bits == 0) return true;
        const auto mask = static_cast<unsigned char>(0xFFu << (8 - rest_bits));
        return (ip.bytes[whole_bytes] & mask) == base.bytes[whole_bytes];
    }

    friend bool operator==(const cidr_block& a, const cidr_block& b) noexcept {
        return a.base == b.base && a.prefix_length == b.prefix_length;
    }

    std::string to_string() const { return format_ip(base) + "/" + std::to_string(prefix_length); }
};

/// Parses "10.0.0.0/8", "fd00::/8", "10.0.0.1" or "::1" (brackets are refused: there is no port here).
/// Strict: the prefix length is decimal and in range, and no bit may be set after the prefix.
inline std::optional<parse_problem> parse_cidr_into(std::string_view text, cidr_block& out) {
    if (text.empty()) return parse_problem{0, "empty entry; expected an IP address or a CIDR range"};
    if (text.front() == '[')
        return parse_problem{0, "brackets are not used in an IP/CIDR list; write ::1 or fd00::/8"};
    const std::size_t slash = text.find('/');
    const std::string_view ip_text = text.substr(0, slash);
    const auto ip = parse_ip(ip_text);
    if (!ip) return describe_bad_ip(ip_text);
    cidr_block block{*ip, ip->bit_count()};
    if (slash != std::string_view::npos) {
        const std::string_view length_text = text.substr(slash + 1);
        const std::size_t length_at = slash + 1;
        if (length_text.empty()) return parse_problem{length_at, "expected a prefix length after '/'"};
        unsigned length = 0;
        for (char c : length_text) {
            if (c < '0' || c > '9' || length_text.size() > 3)
                return parse_problem{length_at, "prefix length " + quoted(length_text) +
                                                    " is not a number from 0 to " +
                                                    std::to_string(ip->bit_count())};
            length = length * 10 + static_cast<unsigned>(c - '0');
        }
        if (length > ip->bit_count())
            return parse_problem{length_at, "prefix length " + std::to_string(length) + " is out of range for " +
                                                (ip->is_v6 ? "IPv6 (0 to 128)" : "IPv4 (0 to 32)")};
        block.prefix_length = length;
        // Zero the host bits and insist the user wrote them as zero: "10.0.0.1/8" is usually a typo.
        const cidr_block masked{mask_to(block.base, length), length};
        if (masked.base != block.base)
            return parse_problem{0, quoted(text) + " has bits set after the /" + std::to_string(length) +
                                        " prefix; did you mean " + masked.to_string() + "?"};
    }
    out = block;
    return std::nullopt;
}

}  // namespace addrmap::detail
