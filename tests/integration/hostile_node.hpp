// tests/integration/hostile_node.hpp — a TLS peer on loopback that speaks RESP and sends whatever CLUSTER SLOTS
// reply a test scripts: no real Redis sends malformed topology, so this is how bad replies cross the wire.
#pragma once

#include "live_env.hpp"

#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/sigpipe.hpp>
#include <addrmap/detail/ssl_handles.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace live {

/// One-node "cluster": answers PING, AUTH (any password, counted), SET, GET (in memory, or a scripted
/// reply such as a MOVED/ASK) and CLUSTER SLOTS with the scripted reply. CLUSTER SHARDS is refused, as
/// Redis < 7 does, so the client asks CLUSTER SLOTS — unless a SHARDS reply is scripted. Certificate:
/// the fixture cluster's server.crt (DNS:localhost, *.redis.test). Listens on `bind_ip` (127.0.0.1 by
/// default; any 127/8 address works on Linux), on a port the kernel picks, so parallel runs never
/// collide. Counts accepted TCP connections and AUTH commands, so a test can prove that nothing
/// reached it. Stops and joins its threads in the destructor.
class hostile_node {
public:
    /// True when `ip` can be bound here (Linux routes all of 127/8 to loopback; some systems do not).
    static bool bindable(const char* ip) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        const bool ok = fd >= 0 && ::inet_pton(AF_INET, ip, &addr.sin_addr) == 1 &&
                        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        if (fd >= 0) ::close(fd);
        return ok;
    }

    /// Presents the fixture's server certificate, or `cert_file` and `key_file` (PEM) when given.
    explicit hostile_node(const char* bind_ip = "127.0.0.1", const std::string& cert_file = {},
                          const std::string& key_file = {})
        : ip_(bind_ip) {
        ctx_.reset(SSL_CTX_new(TLS_server_method()));
        const std::string cert = cert_file.empty() ? cluster_tls("server.crt") : cert_file;
        const std::string key = key_file.empty() ? cluster_tls("server.key") : key_file;
        if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_.get(), cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx_.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("hostile_node: cannot load the certificate " + cert);
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        socklen_t len = sizeof addr;
        if (listener_ < 0 || ::inet_pton(AF_INET, bind_ip, &addr.sin_addr) != 1 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            if (listener_ >= 0) ::close(listener_);
            throw std::runtime_error("hostile_node: cannot listen on " + ip_);
        }
        port_ = ntohs(addr.sin_port);
        set_slots_reply(valid_slots_reply());
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    hostile_node(const hostile_node&) = delete;
    hostile_node& operator=(const hostile_node&) = delete;

    ~hostile_node() {
        stopping_ = true;
        acceptor_.join();
        for (std::thread& t : sessions_) t.join();
        ::close(listener_);
    }

    std::uint16_t port() const noexcept { return port_; }
    const std::string& ip() const noexcept { return ip_; }
    /// "ip:port", as the cluster reports this node and as messages name it.
    std::string address() const { return ip_ + ":" + std::to_string(port_); }

    /// CLUSTER SLOTS: this node owns every slot, reported by IP (as a real cluster reports it).
    std::string valid_slots_reply() const { return slots_reply({{0, 16383, ip_, port_}}); }

    struct owner {
        int first, last;
        std::string host;  ///< raw bytes, sent as they are (may hold NUL, ESC, spaces)
        std::uint16_t port;
    };
    /// A CLUSTER SLOTS reply (RESP2) for the given ranges, hosts sent byte for byte.
    static std::string slots_reply(const std::vector<owner>& owners) {
        std::string out = "*" + std::to_string(owners.size()) + "\r\n";
        for (const owner& o : owners)
            out += "*3\r\n:" + std::to_string(o.first) + "\r\n:" + std::to_string(o.last) + "\r\n*2\r\n$" +
                   std::to_string(o.host.size()) + "\r\n" + o.host + "\r\n:" + std::to_string(o.port) + "\r\n";
        return out;
    }
    /// A CLUSTER SHARDS reply (RESP2 key/value arrays): one master per range, endpoint sent byte for byte.
    static std::string shards_reply(const std::vector<owner>& owners) {
        const auto bulk = [](const std::string& text) { return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n"; };
        std::string out = "*" + std::to_string(owners.size()) + "\r\n";
        int id = 0;
        for (const owner& o : owners)
            out += "*4\r\n" + bulk("slots") + "*2\r\n:" + std::to_string(o.first) + "\r\n:" + std::to_string(o.last) +
                   "\r\n" + bulk("nodes") + "*1\r\n*10\r\n" + bulk("id") + bulk("node" + std::to_string(++id)) +
                   bulk("endpoint") + bulk(o.host) + bulk("tls-port") + ":" + std::to_string(o.port) + "\r\n" +
                   bulk("role") + bulk("master") + bulk("health") + bulk("online");
        return out;
    }
    /// CLUSTER SHARDS: this node owns every slot.
    std::string valid_shards_reply() const { return shards_reply({{0, 16383, ip_, port_}}); }

    /// The bytes sent for every following CLUSTER SHARDS; empty (the default): refuse it as Redis < 7 does.
    void set_shards_reply(std::string bytes) {
        const std::lock_guard<std::mutex> lock(mutex_);
        shards_reply_ = std::move(bytes);
    }

    /// The bytes sent for every following SET (default: store the value, +OK).
    void set_set_reply(std::string bytes) {
        const std::lock_guard<std::mutex> lock(mutex_);
        set_reply_ = std::move(bytes);
    }

    /// TCP connections accepted so far (counted before TLS: a client refused later still counts).
    int connections() const noexcept { return connections_; }
    /// AUTH commands received so far.
    int auths() const noexcept { return auths_; }

    /// The bytes sent for every following CLUSTER SLOTS (raw RESP, sent as is: may be malformed).
    void set_slots_reply(std::string bytes) {
        const std::lock_guard<std::mutex> lock(mutex_);
        slots_reply_ = std::move(bytes);
    }

    /// The bytes sent for every following GET (default: the stored value as a bulk string).
    void set_get_reply(std::string bytes) {
        const std::lock_guard<std::mutex> lock(mutex_);
        get_reply_ = std::move(bytes);
    }

    /// The bytes sent for every following SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE (raw RESP: confirmations, messages,
    /// anything); empty (the default): each channel confirmed as Redis does, unless one is denied (set_denied_channel).
    void set_subscribe_reply(std::string bytes) {
        const std::lock_guard<std::mutex> lock(mutex_);
        subscribe_reply_ = std::move(bytes);
    }
    /// A hung node, as far as PING shows: every following PING is read and never answered (true), or answered.
    void set_ping_silent(bool silent) noexcept { ping_silent_ = silent; }
    /// When the first PING left unanswered (set_ping_silent) came in: the client heard nothing from it after sending it.
    std::optional<std::chrono::steady_clock::time_point> first_unanswered_ping() {
        const std::lock_guard<std::mutex> lock(mutex_);
        return first_unanswered_ping_;
    }
    /// As Redis's ACL does: a (S|P)SUBSCRIBE naming `channel` is refused whole with NOPERM (when no reply is scripted).
    void set_denied_channel(std::string channel) {
        const std::lock_guard<std::mutex> lock(mutex_);
        denied_channel_ = std::move(channel);
    }
    /// SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE commands received so far.
    int subscribe_requests() const noexcept { return subscribe_requests_; }

    int slots_requests() const noexcept { return slots_requests_; }
    /// CLUSTER SHARDS commands received so far (answered with the scripted reply, or refused).
    int shards_requests() const noexcept { return shards_requests_; }

    /// A slow node: every following GET reply is sent one byte every `interval` (0: at once).
    void set_dribble(std::chrono::milliseconds interval) noexcept { dribble_ms_ = static_cast<int>(interval.count()); }
    /// A stalled node: every following connection is accepted (TCP) and then left alone for `delay`
    /// before the TLS handshake starts, as a hung or overloaded server would.
    void set_handshake_stall(std::chrono::milliseconds delay) noexcept { handshake_stall_ms_ = static_cast<int>(delay.count()); }
    /// A slow node: every following AUTH is answered after `delay`.
    void set_auth_delay(std::chrono::milliseconds delay) noexcept { auth_delay_ms_ = static_cast<int>(delay.count()); }

private:
    void accept_loop() {
        while (!stopping_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) continue;
            ++connections_;
            // A stalled client must not block SSL_accept/SSL_write, and with them the destructor's join.
            const timeval limit{2, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
            sessions_.emplace_back([this, fd] { serve(fd); });
        }
    }

    void serve(int fd) {
        const addrmap::detail::sigpipe_guard no_sigpipe;  // the client may hang up while we write
        pause(handshake_stall_ms_);
        addrmap::detail::ssl_ptr ssl(SSL_new(ctx_.get()));
        SSL_set_fd(ssl.get(), fd);
        if (SSL_accept(ssl.get()) == 1) {
            addrmap::detail::reader_ptr reader(redisReaderCreate());
            char buf[4096];
            while (!stopping_) {
                pollfd p{fd, POLLIN, 0};
                if (SSL_pending(ssl.get()) == 0 && ::poll(&p, 1, 50) <= 0) continue;
                const int n = SSL_read(ssl.get(), buf, sizeof buf);
                if (n <= 0) break;
                redisReaderFeed(reader.get(), buf, static_cast<std::size_t>(n));
                void* raw = nullptr;
                while (redisReaderGetReply(reader.get(), &raw) == REDIS_OK && raw != nullptr) {
                    addrmap::detail::reply_ptr command = addrmap::detail::adopt_reply(raw);
                    const std::string verb = word(*command, 0);
                    if (verb == "AUTH") pause(auth_delay_ms_);
                    const std::string answer = answer_to(*command);
                    if (verb == "GET" && dribble_ms_ > 0) {
                        for (std::size_t i = 0; i < answer.size() && !stopping_; ++i) {
                            SSL_write(ssl.get(), &answer[i], 1);
                            pause(dribble_ms_);
                        }
                        continue;
                    }
                    if (answer.empty()) continue;  // a silent node
                    SSL_write(ssl.get(), answer.data(), static_cast<int>(answer.size()));
                }
            }
        }
        ::close(fd);
    }

    /// Sleeps `ms` in small steps, so the destructor never waits long for a slow session.
    void pause(int ms) const {
        for (int slept = 0; slept < ms && !stopping_; slept += 10)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    static std::string word(const redisReply& command, std::size_t i) {
        if (command.type != REDIS_REPLY_ARRAY || i >= command.elements) return {};
        const redisReply* e = command.element[i];
        return e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : std::string();
    }

    std::string answer_to(const redisReply& command) {
        const std::string verb = word(command, 0);
        const std::lock_guard<std::mutex> lock(mutex_);
        if (verb == "PING") {
            if (!ping_silent_) return "+PONG\r\n";
            if (!first_unanswered_ping_) first_unanswered_ping_ = std::chrono::steady_clock::now();
            return std::string();
        }
        if (verb == "AUTH") {
            ++auths_;
            return "+OK\r\n";
        }
        if (verb == "CLUSTER" && word(command, 1) == "SLOTS") {
            ++slots_requests_;
            return slots_reply_;
        }
        if (verb == "CLUSTER" && word(command, 1) == "SHARDS") {
            ++shards_requests_;
            if (!shards_reply_.empty()) return shards_reply_;
        }
        if (verb == "CLUSTER") return "-ERR unknown subcommand '" + word(command, 1) + "'\r\n";
        if (verb == "SET") {
            if (!set_reply_.empty()) return set_reply_;
            data_[word(command, 1)] = word(command, 2);
            return "+OK\r\n";
        }
        if (verb == "SUBSCRIBE" || verb == "PSUBSCRIBE" || verb == "SSUBSCRIBE") {
            ++subscribe_requests_;
            if (!subscribe_reply_.empty()) return subscribe_reply_;
            for (std::size_t i = 1; i < command.elements; ++i)
                if (!denied_channel_.empty() && word(command, i) == denied_channel_)
                    return "-NOPERM User default has no permissions to access the '" + denied_channel_ + "' channel\r\n";
            std::string confirmations;
            std::string kind = verb;
            for (char& ch : kind) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            for (std::size_t i = 1; i < command.elements; ++i) {
                const std::string channel = word(command, i);
                confirmations += "*3\r\n$" + std::to_string(kind.size()) + "\r\n" + kind + "\r\n$" +
                                 std::to_string(channel.size()) + "\r\n" + channel + "\r\n:" + std::to_string(i) + "\r\n";
            }
            return confirmations;
        }
        if (verb == "GET") {
            if (!get_reply_.empty()) return get_reply_;
            const auto it = data_.find(word(command, 1));
            if (it == data_.end()) return "$-1\r\n";
            return "$" + std::to_string(it->second.size()) + "\r\n" + it->second + "\r\n";
        }
        return "-ERR hostile_node does not implement '" + verb + "'\r\n";
    }

    addrmap::detail::ssl_ctx_ptr ctx_;
    std::string ip_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> slots_requests_{0};
    std::atomic<int> subscribe_requests_{0};
    std::atomic<bool> ping_silent_{false};
    std::optional<std::chrono::steady_clock::time_point> first_unanswered_ping_;  // under mutex_
    std::atomic<int> shards_requests_{0};
    std::atomic<int> connections_{0};
    std::atomic<int> auths_{0};
    std::atomic<int> dribble_ms_{0};
    std::atomic<int> auth_delay_ms_{0};
    std::atomic<int> handshake_stall_ms_{0};
    std::thread acceptor_;
    std::vector<std::thread> sessions_;  // touched by the acceptor thread only, until the destructor joins it
    std::mutex mutex_;
    std::string slots_reply_;
    std::string get_reply_;
    std::string set_reply_;
    std::string subscribe_reply_;
    std::string denied_channel_;
    std::string shards_reply_;
    std::map<std::string, std::string> data_;
};

}  // namespace live
