// tools/doctor/probe.hpp — one address through the policy and onto the wire: mapped, dialed with chain and name
// verification on (no resumed session), AUTHed when a password was given, and what happened recorded in its row.
#pragma once

#include "policy.hpp"
#include "text.hpp"

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/tls.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/topology.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace doctor {

using addrmap::error;
using addrmap::error_kind;
using addrmap::node_address;
using addrmap::node_role;

/// What dialing one route established.
struct outcome {
    std::optional<error_kind> failure;           ///< nullopt: chain and name verified (and AUTH accepted)
    std::string detail;                          ///< the addrmap::error message, on failure
    std::vector<std::string> certificate_names;  ///< from the handshake, when it succeeded
    std::optional<double> handshake_ms;          ///< the TLS handshake alone, when it succeeded
    std::string peer_ip;                         ///< the address the dial reached, when it succeeded
    std::vector<addrmap::certificate_validity> chain;  ///< the verified chain's dates, when it succeeded

    bool ok() const noexcept { return !failure; }
    std::string result_text() const { return failure ? addrmap::to_string(*failure) : "ok"; }
    void fail(const error& e) {
        failure = e.kind();
        detail = e.what();
    }
};

/// One reported address (a seed or a node of the topology) and what the policy and the dial made of it.
struct node_row {
    node_role role = node_role::master;
    node_address reported;
    std::string id;  ///< the node ID the topology gave it; empty for seeds and when the server sent none
    std::vector<addrmap::slot_range> slots;
    std::optional<route> mapped;  ///< absent when the policy refused the address (result says why)
    outcome result;

    bool ok() const noexcept { return result.ok(); }
};

struct credentials {
    std::string user;
    std::string password;
    std::string source;  ///< where the password came from ("DOCTOR_PASSWORD", "--pass-file 'F'")
};

inline std::string peer_ip_of(int fd) {
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0) return {};
    char text[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, &peer, sizeof v4);
        if (::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text) != nullptr) return text;
    } else if (peer.ss_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, &peer, sizeof v6);
        if (::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text) != nullptr) return text;
    }
    return {};
}

/// AUTH as basic_cluster sends it: password alone, or ACL user + password. The secret is never printed.
inline void authenticate(const addrmap::tls_connection& connection, const credentials& creds) {
    if (creds.password.empty()) return;
    void* raw = creds.user.empty()
                    ? redisCommand(connection.get(), "AUTH %b", creds.password.data(), creds.password.size())
                    : redisCommand(connection.get(), "AUTH %b %b", creds.user.data(), creds.user.size(),
                                   creds.password.data(), creds.password.size());
    const addrmap::reply_ptr reply(static_cast<redisReply*>(raw));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        const std::string why = reply ? printable(std::string_view(reply->str, reply->len)) : "connection lost";
        throw error(error_kind::server, "AUTH failed on node " + addrmap::to_string(connection.reported()) + ": " +
                                            why + " (check --user and the password from " + creds.source + ")");
    }
}

/// Dials `where` with chain and name verification, then AUTHs when a password is set. Records the
/// outcome; returns the connection only when everything succeeded. `seed_number` N > 0: `reported` is --seed #N.
inline std::optional<addrmap::tls_connection> dial(addrmap::tls_context& tls, const node_address& reported,
                                                   const route& where, const credentials& creds, outcome& result,
                                                   std::size_t seed_number = 0) {
    // A resumed session skips certificate verification: every row gets a full handshake of its own.
    tls.clear_sessions();
    try {
        addrmap::dial_limits limits;
        limits.seed_number = seed_number;
        addrmap::tls_connection connection = addrmap::connect_tls(tls, reported, where.view(), limits);
        result.certificate_names = connection.handshake().certificate_names;
        result.handshake_ms = static_cast<double>(connection.handshake().handshake_time.count()) / 1000.0;
        result.chain = connection.handshake().chain;
        result.peer_ip = peer_ip_of(connection.get()->fd);
        authenticate(connection, creds);
        return connection;
    } catch (const error& e) {
        result.fail(e);
        return std::nullopt;
    }
}

/// A node the server reports as '?' (detail::node_registry's rule): no policy can map it.
inline bool is_unknown_node(const node_row& row) {
    return addrmap::detail::node_registry::is_unknown_node(row.reported);
}

/// The row's node as the cluster reported it: "host:port", and for a '?' node its node ID, the only thing that tells
/// two of them at one port apart (the ID is the server's text: escaped).
inline std::string reported_text(const node_row& row) {
    std::string text = addrmap::to_string(row.reported);
    if (is_unknown_node(row) && !row.id.empty()) text += " (ID " + printable(row.id) + ")";
    return text;
}

/// Maps the row's address through the policy; a policy that throws is this row's failure.
inline void map_row(const doctor_policy& policy, node_row& row) {
    try {
        // The adapter's rule: '?' is an unknown node, never mapped or dialed.
        if (is_unknown_node(row)) throw error(error_kind::topology, addrmap::detail::unknown_node_message(row.reported));
        row.mapped = policy.map(row.reported);
    } catch (const error& e) {
        row.result.fail(e);
    }
}

}  // namespace doctor
