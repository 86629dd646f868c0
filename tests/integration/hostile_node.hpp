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
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace live {

/// One-node "cluster": answers PING, SET, GET (in memory) and CLUSTER SLOTS with the scripted reply
/// (CLUSTER SHARDS is refused, as Redis < 7 does, so the client asks CLUSTER SLOTS). Certificate: the
/// fixture cluster's server.crt (DNS:localhost, *.redis.test). Listens on 127.0.0.1, on a port the
/// kernel picks, so parallel runs never collide. Stops and joins its threads in the destructor.
class hostile_node {
public:
    hostile_node() {
        ctx_.reset(SSL_CTX_new(TLS_server_method()));
        if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_.get(), cluster_tls("server.crt").c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx_.get(), cluster_tls("server.key").c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("hostile_node: cannot load the fixture's server certificate");
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            if (listener_ >= 0) ::close(listener_);
            throw std::runtime_error("hostile_node: cannot listen on 127.0.0.1");
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

    /// CLUSTER SLOTS: this node owns every slot, reported by IP (as a real cluster reports it).
    std::string valid_slots_reply() const {
        const std::string p = std::to_string(port_);
        return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:" + p + "\r\n";
    }

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

    int slots_requests() const noexcept { return slots_requests_; }

private:
    void accept_loop() {
        while (!stopping_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) continue;
            // A stalled client must not block SSL_accept/SSL_write, and with them the destructor's join.
            const timeval limit{2, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
            sessions_.emplace_back([this, fd] { serve(fd); });
        }
    }

    void serve(int fd) {
        const addrmap::detail::sigpipe_guard no_sigpipe;  // the client may hang up while we write
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
                    const std::string answer = answer_to(*command);
                    SSL_write(ssl.get(), answer.data(), static_cast<int>(answer.size()));
                }
            }
        }
        ::close(fd);
    }

    static std::string word(const redisReply& command, std::size_t i) {
        if (command.type != REDIS_REPLY_ARRAY || i >= command.elements) return {};
        const redisReply* e = command.element[i];
        return e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : std::string();
    }

    std::string answer_to(const redisReply& command) {
        const std::string verb = word(command, 0);
        const std::lock_guard<std::mutex> lock(mutex_);
        if (verb == "PING") return "+PONG\r\n";
        if (verb == "CLUSTER" && word(command, 1) == "SLOTS") {
            ++slots_requests_;
            return slots_reply_;
        }
        if (verb == "CLUSTER") return "-ERR unknown subcommand '" + word(command, 1) + "'\r\n";
        if (verb == "SET") {
            data_[word(command, 1)] = word(command, 2);
            return "+OK\r\n";
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
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> slots_requests_{0};
    std::thread acceptor_;
    std::vector<std::thread> sessions_;  // touched by the acceptor thread only, until the destructor joins it
    std::mutex mutex_;
    std::string slots_reply_;
    std::string get_reply_;
    std::map<std::string, std::string> data_;
};

}  // namespace live
