// tools/doctor/text.hpp — small text helpers of the report and the advice: server text made safe to print, lists
// joined, milliseconds, and what kind of host a string names.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/quote.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace doctor {

/// Server-sent text on the user's terminal: escaped and cut as the library's messages quote it, so a reply can
/// neither forge output nor flood it.
inline std::string printable(std::string_view text) { return addrmap::detail::escaped(text, 200); }

inline std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out += separator;
        out += part;
    }
    return out;
}

inline std::string milliseconds_text(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", ms);
    return buf;
}

inline bool is_ip(std::string_view host) {
    const addrmap::host_kind kind = addrmap::classify_host(host);
    return kind == addrmap::host_kind::ipv4 || kind == addrmap::host_kind::ipv6;
}

inline bool is_name(std::string_view host) { return addrmap::classify_host(host) == addrmap::host_kind::name; }

/// Compares IPs as binary addresses, so "::1" and "0::1" are one address. False when either is not an IP.
inline bool same_ip(const std::string& a, const std::string& b) {
    unsigned char x[sizeof(in6_addr)] = {}, y[sizeof(in6_addr)] = {};
    for (const int family : {AF_INET, AF_INET6})
        if (::inet_pton(family, a.c_str(), x) == 1)
            return ::inet_pton(family, b.c_str(), y) == 1 && std::memcmp(x, y, sizeof x) == 0;
    return false;
}

}  // namespace doctor
