// addrmap/detail/tls_session_cache.hpp — the client-side TLS sessions a tls_context keeps for resumption,
// keyed by (TLS name, dial host:port) so that a session verified for one name is never offered for another.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/ssl_handles.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// Client-side TLS sessions, one per (TLS name, dial host:port). Keyed by the name because a
/// resumed handshake skips certificate verification: a session verified for one name must never
/// be offered for another.
class tls_session_cache {
public:
    static constexpr std::size_t max_entries = 1024;

    static std::string key(std::string_view tls_name, std::string_view dial_host, std::uint16_t port) {
        std::string out(tls_name);
        out += '\n';
        out += format_host_port(dial_host, port);
        return out;
    }

    /// Takes over one reference to `session`; false (and nothing taken) if it cannot be stored.
    bool adopt(const std::string& key, SSL_SESSION* session) noexcept {
        try {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = sessions_.find(key);
            if (it == sessions_.end()) {
                if (sessions_.size() >= max_entries) sessions_.erase(sessions_.begin());
                it = sessions_.emplace(key, ssl_session_ptr()).first;
            }
            it->second.reset(session);  // noexcept: only now is the reference ours
            return true;
        } catch (...) {
            return false;
        }
    }

    /// A new reference to the resumable session for `key`, or null.
    ssl_session_ptr find(const std::string& key) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = sessions_.find(key);
        if (it == sessions_.end() || !it->second || SSL_SESSION_is_resumable(it->second.get()) != 1) return {};
        SSL_SESSION_up_ref(it->second.get());
        return ssl_session_ptr(it->second.get());
    }

    void erase(const std::string& key) noexcept {
        try {
            std::lock_guard<std::mutex> lock(mutex_);
            sessions_.erase(key);
        } catch (...) {
        }
    }

    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return sessions_.size();
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        sessions_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, ssl_session_ptr> sessions_;
};

}  // namespace addrmap::detail
