// addrmap/detail/resolve.hpp — DNS lookups with a time limit. getaddrinfo has none, so it runs on a helper
// thread that is waited for at most the caller's budget; a hung resolver cannot hold a call past its deadline.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace addrmap::detail {

/// An address DNS may answer that is worth dialing: a plain IPv4 or IPv6 literal (no zone id), not the
/// unspecified address (which Linux dials as the local host), not multicast or broadcast.
inline bool usable_answer(std::string_view ip) noexcept {
    unsigned char bytes[16] = {};
    const host_kind kind = detail::classify_host_into(ip, bytes);
    if (kind == host_kind::ipv4)
        return !(bytes[0] == 0 || bytes[0] >= 224);  // 0.0.0.0/8, multicast 224/4, reserved 240/4 and broadcast
    if (kind == host_kind::ipv6) {
        bool zero = true;
        for (unsigned char b : bytes) zero = zero && b == 0;
        return !zero && bytes[0] != 0xff;  // not ::, not multicast ff00::/8
    }
    return false;
}

/// What one getaddrinfo said: its status and the usable addresses, IPv4 first (as hiredis tries them).
struct dns_answer {
    int status = 0;
    std::vector<std::string> addresses;
};

/// getaddrinfo on the calling thread (it may block for as long as the resolver takes): callers run it
/// on a helper thread and wait for it at most their budget.
inline dns_answer lookup_blocking(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    dns_answer answer;
    answer.status = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    std::vector<std::string> v6;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        char text[NI_MAXHOST];
        if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) continue;
        if (!usable_answer(text)) continue;
        std::vector<std::string>& into = a->ai_family == AF_INET6 ? v6 : answer.addresses;
        if (std::find(into.begin(), into.end(), text) == into.end()) into.emplace_back(text);
    }
    if (found != nullptr) ::freeaddrinfo(found);
    answer.addresses.insert(answer.addresses.end(), v6.begin(), v6.end());
    return answer;
}

/// error{connect} for a lookup that gave nothing to dial.
inline error dns_failure(const std::string& host, const dns_answer& answer) {
    return error(error_kind::connect, "the DNS lookup of " + quoted(host) + " failed: " +
                                          (answer.status != 0 ? ::gai_strerror(answer.status)
                                                              : "no IPv4 or IPv6 address"));
}

/// The IP addresses of `host` (IPv4 first, as hiredis tries them), within `budget`. An IP literal
/// is returned as is. Throws error{timeout} when DNS does not answer in time (the lookup thread
/// finishes on its own later and frees its state), error{connect} when the name does not resolve.
inline std::vector<std::string> resolve_within(const std::string& host, std::chrono::milliseconds budget) {
    const host_kind kind = classify_host(host);
    if (kind == host_kind::ipv4 || kind == host_kind::ipv6) return {host};
    struct lookup {
        std::mutex mutex;
        std::condition_variable done_cv;
        bool done = false;
        dns_answer answer;
    };
    auto state = std::make_shared<lookup>();
    try {
        std::thread([state, host] {
            dns_answer answer = lookup_blocking(host);
            const std::lock_guard<std::mutex> lock(state->mutex);
            state->answer = std::move(answer);
            state->done = true;
            state->done_cv.notify_all();
        }).detach();
    } catch (const std::system_error&) {
        throw error(error_kind::connect, "cannot start a DNS lookup of " + quoted(host) + " (no thread available)");
    }
    std::unique_lock<std::mutex> lock(state->mutex);
    if (!state->done_cv.wait_for(lock, budget, [&] { return state->done; }))
        throw error(error_kind::timeout, "the DNS lookup of " + quoted(host) + " did not finish within " +
                                             std::to_string(budget.count()) + " ms (what was left of the call's deadline)");
    if (state->answer.status != 0 || state->answer.addresses.empty()) throw dns_failure(host, state->answer);
    return std::move(state->answer.addresses);
}

}  // namespace addrmap::detail
