// addrmap/detail/connect_commands.hpp — cluster_options::on_connect_commands for both drivers: the node_info a new
// connection describes, the commands the caller wants on it (checked, formatted), and what a refusal says.
#pragma once

#include <addrmap/cluster_options.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/connection_state_commands.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

/// The node table row of a node a connection was just made to (connected; its handshake, when known).
inline node_info connected_node_info(const core_node& node, std::optional<tls_handshake_info> handshake) {
    node_info info;
    info.reported = node.reported, info.dial_host = node.dial_host, info.port = node.port;
    info.tls_name = node.tls_name, info.role = node.role, info.slots = node.slots;
    info.connected = true, info.handshake = std::move(handshake);
    return info;
}

/// Where a message about on_connect_commands puts the node.
inline std::string connect_commands_where(const node_address& reported) {
    return "cluster_options.on_connect_commands on node " + to_string(reported);
}

/// The caller's commands for a new connection to `info`'s node, formatted (RESP). A command that would change what
/// the connection's later replies mean (SUBSCRIBE, HELLO, MULTI, ...) is error{config}; anything the function throws
/// is reported naming the node (error{server} for a foreign exception). Empty when the option is unset.
inline std::vector<std::string> connect_commands_for(const cluster_options& options, const node_info& info) {
    std::vector<std::string> out;
    if (!options.on_connect_commands) return out;
    const std::string where = connect_commands_where(info.reported);
    std::vector<std::vector<std::string>> argvs;
    try {
        argvs = options.on_connect_commands(info);
    } catch (const error& e) {
        throw with_context(e, where);
    } catch (const std::exception& e) {
        throw error(error_kind::server, where + " failed: " + escaped(e.what(), 300));
    } catch (...) {
        throw error(error_kind::server, where + " threw a non-standard exception");
    }
    for (std::size_t i = 0; i < argvs.size(); ++i) {
        if (argvs[i].empty())
            throw error(error_kind::config, where + ": command #" + std::to_string(i + 1) + " is empty");
        const std::vector<std::string_view> views(argvs[i].begin(), argvs[i].end());
        std::string encoded = format_argv(views);
        if (auto refused = refuse_connection_state_command(encoded))
            throw with_context(*refused, where + ", command #" + std::to_string(i + 1));
        out.push_back(std::move(encoded));
    }
    return out;
}

/// A command of on_connect_commands answered `reply` (an error reply): the connection is refused. (A connection
/// lost after such a reply still reports the refusal: it, not the loss, is why the connection was not used.)
inline error connect_command_refused(const node_address& reported, std::string_view encoded, std::string_view reply) {
    return error(error_kind::server, connect_commands_where(reported) + ": " + quoted(command_name(encoded), 40) +
                                         " answered " + quoted(reply, 300) +
                                         "; the connection was not used (fix the command or the server's ACL)");
}

}  // namespace addrmap::detail
