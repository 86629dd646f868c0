// tests/integration/admin_connection.hpp — a plain hiredis TLS connection for test-side administration
// (CLUSTER SETSLOT, MIGRATE, ...), independent of the adapter under test.
#pragma once

#include "live_env.hpp"

#include <addrmap/detail/handles.hpp>

#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>

#include <sys/time.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace live {

struct ssl_context_deleter {
    void operator()(redisSSLContext* c) const noexcept { redisFreeSSLContext(c); }
};

/// One admin connection to a cluster node by port (chain verified with the test CA). Connecting waits at most 10 s
/// and each command 30 s (longer than any admin step takes, DEBUG SLEEP 1 included): a node that never answers fails
/// the test instead of hanging it.
class admin_connection {
public:
    explicit admin_connection(std::uint16_t port) {
        redisSSLContextError ssl_error = REDIS_SSL_CTX_NONE;
        ssl_.reset(redisCreateSSLContext(cluster_tls("ca.crt").c_str(), nullptr, cluster_tls("client.crt").c_str(),
                                         cluster_tls("client.key").c_str(), "localhost", &ssl_error));
        if (!ssl_) throw std::runtime_error(std::string("admin TLS context: ") + redisSSLContextGetError(ssl_error));
        timeval connect_within{10, 0};
        context_.reset(redisConnectWithTimeout("127.0.0.1", port, connect_within));
        if (!context_ || context_->err) throw std::runtime_error("admin connect to port " + std::to_string(port) + " failed");
        timeval answer_within{30, 0};
        if (redisSetTimeout(context_.get(), answer_within) != REDIS_OK)
            throw std::runtime_error("admin connection to port " + std::to_string(port) + ": cannot set its timeout");
        if (redisInitiateSSLWithContext(context_.get(), ssl_.get()) != REDIS_OK)
            throw std::runtime_error("admin TLS to port " + std::to_string(port) + ": " + context_->errstr);
    }

    /// Runs a command; a transport failure throws, an error reply is returned.
    template <class... Args>
    addrmap::detail::reply_ptr run(const char* format, Args... args) {
        addrmap::detail::reply_ptr reply(static_cast<redisReply*>(redisCommand(context_.get(), format, args...)));
        if (!reply) throw std::runtime_error(std::string("admin command failed: ") + context_->errstr);
        return reply;
    }

    /// Runs a command given as its arguments (binary-safe, no format string); as run(), an error reply is returned.
    addrmap::detail::reply_ptr run_argv(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (const std::string& arg : args) {
            argv.push_back(arg.data());
            lengths.push_back(arg.size());
        }
        addrmap::detail::reply_ptr reply(static_cast<redisReply*>(
            redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
        if (!reply) throw std::runtime_error(std::string("admin command failed: ") + context_->errstr);
        return reply;
    }

    /// Runs a command that must not answer with an error.
    template <class... Args>
    addrmap::detail::reply_ptr ok(const char* format, Args... args) {
        auto reply = run(format, args...);
        if (reply->type == REDIS_REPLY_ERROR)
            throw std::runtime_error(std::string("admin command '") + format + "' failed: " + reply->str);
        return reply;
    }

private:
    std::unique_ptr<redisSSLContext, ssl_context_deleter> ssl_;
    addrmap::detail::context_ptr context_;
};

/// The node's own cluster ID (CLUSTER MYID), as CLUSTER SETSLOT ... NODE wants it.
inline std::string node_id_of(std::uint16_t port) {
    admin_connection admin(port);
    const auto id = admin.ok("CLUSTER MYID");
    return std::string(id->str, id->len);
}

/// `calls=` of `cmdstat_<command>` in the node's INFO commandstats (0 when it never ran).
inline std::uint64_t calls_on(std::uint16_t port, const std::string& command) {
    admin_connection admin(port);
    auto info = admin.ok("INFO commandstats");
    const std::string text(info->str, info->len);
    const std::string field = "cmdstat_" + command + ":calls=";
    const std::size_t at = text.find(field);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + field.size()));
}

}  // namespace live
