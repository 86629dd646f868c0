// addrmap/detail/link_setup.hpp — a blocking node connection made ready for the caller's commands once its TLS
// handshake verified: AUTH, READONLY on a replica, on_connect, on_connect_commands; and whether an idle one still is.
#pragma once

#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/connect_commands.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/reply_arena.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls.hpp>

#include <poll.h>

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

/// True when an idle connection can take a command: no error, nothing unsent or unread. A server that closed
/// it (idle `timeout`, CLIENT KILL, failover) has left EOF or a TLS close_notify to read; RESP2 never
/// sends unasked, so anything readable on an idle connection means it is not usable.
inline bool idle_link_usable(const tls_connection& link) noexcept {
    const redisContext* c = link.get();
    if (c == nullptr || c->err != 0 || c->fd < 0 || sdslen(c->obuf) != 0 || link.has_buffered_input()) return false;
    // Bytes read and not parsed, or a reply half parsed (by code given the context): not a clean stream.
    const redisReader* r = c->reader;
    if (r != nullptr && (r->pos < r->len || !reader_between_replies(*r))) return false;
    pollfd p{};
    p.fd = c->fd;
    p.events = POLLIN;
    return ::poll(&p, 1, 0) == 0;
}

/// AUTH, after the certificate verified for the policy's name: the password goes nowhere else. A
/// refusal is error{server}; a connection lost before AUTH's answer is error{connect} (nothing of the
/// caller's command was sent, so it is retried).
inline void authenticate(tls_connection& connection, const core_node& node, const cluster_options& options) {
    if (options.password.empty()) return;
    redisContext* c = connection.get();
    void* raw = options.user.empty()
                    ? redisCommand(c, "AUTH %b", options.password.data(), options.password.size())
                    : redisCommand(c, "AUTH %b %b", options.user.data(), options.user.size(),
                                   options.password.data(), options.password.size());
    reply_ptr reply(static_cast<redisReply*>(raw));
    if (!reply)
        throw error(error_kind::connect, "lost the connection to " + to_string(node.reported) +
                                             " while sending AUTH: " + escaped(c->errstr, 200));
    if (reply->type == REDIS_REPLY_ERROR)
        throw error(error_kind::server, "AUTH failed on node " + to_string(node.reported) + ": " +
                                            escaped(std::string_view(reply->str, reply->len), 300) +
                                            " (check cluster_options.user/password)");
}

/// cluster_options::on_connect, after AUTH. Its errors name the node; a connection it broke is
/// error{connect} (retried: nothing of the caller's was sent), one it left unusable error{config}.
inline void run_on_connect(tls_connection& connection, const core_node& node, const cluster_options& options) {
    if (!options.on_connect) return;
    const node_info info = connected_node_info(node, connection.handshake());
    const std::string where = "cluster_options.on_connect on node " + to_string(node.reported);
    try {
        options.on_connect(connection.get(), info);
    } catch (const error& e) {
        throw with_context(e, where);
    } catch (const std::exception& e) {
        throw error(error_kind::server, where + " failed: " + escaped(e.what(), 300));
    }
    const redisContext* c = connection.get();
    if (c->err != 0)
        throw error(error_kind::connect, "lost the connection to " + to_string(node.reported) +
                                             " in cluster_options.on_connect: " + escaped(c->errstr, 200));
    if (!idle_link_usable(connection))
        throw error(error_kind::config, where + " left the connection with unsent bytes or an unread reply");
}

/// READONLY once per replica connection (after verification and AUTH), so it serves reads of its
/// master's slots instead of answering MOVED. A refusal is error{server}; a lost connection, error{connect}.
inline void send_readonly(tls_connection& connection, const core_node& node) {
    redisContext* c = connection.get();
    reply_ptr reply(static_cast<redisReply*>(redisCommand(c, "READONLY")));
    if (!reply)
        throw error(error_kind::connect, "lost the connection to replica " + to_string(node.reported) +
                                             " while sending READONLY: " + escaped(c->errstr, 200));
    if (reply->type == REDIS_REPLY_ERROR)
        throw error(error_kind::server, "replica " + to_string(node.reported) + " refused READONLY: " +
                                            escaped(std::string_view(reply->str, reply->len), 300));
}

/// cluster_options::on_connect_commands, one round trip for all of them; the first error reply refuses the connection.
inline void run_connect_commands(tls_connection& connection, const core_node& node, const cluster_options& options) {
    if (!options.on_connect_commands) return;
    const std::vector<std::string> commands = connect_commands_for(options, connected_node_info(node, connection.handshake()));
    redisContext* c = connection.get();
    for (const std::string& command : commands) redisAppendFormattedCommand(c, command.data(), command.size());
    std::optional<error> refused;
    for (const std::string& command : commands) {
        void* raw = nullptr;
        if (redisGetReply(c, &raw) != REDIS_OK) {
            if (refused) throw *refused;  // refused, then closed: the refusal is the reason
            throw error(error_kind::connect, "lost the connection to " + to_string(node.reported) +
                                                 " in cluster_options.on_connect_commands: " + escaped(c->errstr, 200));
        }
        reply_ptr reply(static_cast<redisReply*>(raw));
        if (!refused && reply->type == REDIS_REPLY_ERROR)
            refused = connect_command_refused(node.reported, command, std::string_view(reply->str, reply->len));
    }
    if (refused) throw *refused;
}

/// Every step, in order, on a connection `connect_tls` just verified for `node`: AUTH, READONLY (replicas only),
/// on_connect, then on_connect_commands. Throws the first step's error; the caller drops the connection.
inline void make_ready(tls_connection& connection, const core_node& node, const cluster_options& options) {
    authenticate(connection, node, options);
    if (node.role == node_role::replica) send_readonly(connection, node);
    run_on_connect(connection, node, options);
    run_connect_commands(connection, node, options);
}

}  // namespace addrmap::detail
