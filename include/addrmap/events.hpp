// addrmap/events.hpp — what a cluster client tells its observer (observer.hpp): topology changes, nodes up and down,
// failovers, connections opened and lost, redirects, calls ended, certificates near expiry, pub/sub gaps.
//
// Every event refers to the client's own data: its fields (string_views, references, pointers) are valid only while
// the observer's function runs; copy what you keep. Names for OpenTelemetry's database conventions are in otel::.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>  // node_role
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/topology.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace addrmap {

/// A node as an event names it: the address the cluster reported and where the policy sent it (empty dial_host
/// while the node is not mapped yet: a replica is mapped when first needed).
struct event_node {
    const node_address& reported;
    std::string_view dial_host;
    std::uint16_t port = 0;
    std::string_view tls_name;
};

/// Why a topology was read again.
enum class refresh_trigger {
    initial,   ///< no topology yet (connect(), or the first call)
    moved,     ///< a MOVED said a slot changed hands
    node_lost, ///< a node was lost or could not be reached
    refusal,   ///< CLUSTERDOWN, TRYAGAIN, LOADING or MASTERDOWN
    interval,  ///< cluster_options::refresh_interval passed
    requested, ///< refresh() was called
};
constexpr const char* to_string(refresh_trigger t) noexcept {
    switch (t) {
        case refresh_trigger::initial: return "initial";
        case refresh_trigger::moved: return "MOVED";
        case refresh_trigger::node_lost: return "node_lost";
        case refresh_trigger::refusal: return "refusal";
        case refresh_trigger::interval: return "interval";
        case refresh_trigger::requested: return "requested";
    }
    return "?";
}

/// Slots that changed owner. `from` is null for slots nobody served before (the first view).
struct slot_move {
    slot_range slots;
    const node_address* from = nullptr;
    const node_address* to = nullptr;
};

/// The slot map changed: by an installed view (`reporter` said it, read because of `trigger`), or by one MOVED
/// (trigger moved, `reporter` the node that sent it, one slot). Each slot change is told once: a view installed
/// after a MOVED lists only what the MOVED had not already changed.
struct topology_changed_event {
    refresh_trigger trigger = refresh_trigger::initial;
    bool by_redirect = false;  ///< one MOVED changed one slot (no view was read)
    const node_address* reporter = nullptr;
    const std::vector<slot_move>& moves;
};

/// A node joined the installed view, or left it (its connections are closed).
struct node_added_event {
    event_node node;
    node_role role;
};
struct node_removed_event {
    const node_address& reported;
    node_role role;
};
/// A node could not be reached (`problem`, escaped), where it was reachable before; or a connection to it was made
/// again after that.
struct node_down_event {
    event_node node;
    std::string_view problem;
};
struct node_up_event {
    event_node node;
};

/// A shard's master changed: slots the old master served are now served by a node that was its replica.
struct failover_event {
    const node_address& old_master;
    const node_address& new_master;
    std::vector<slot_range> slots;
};

/// A verified connection was set up (TLS, AUTH, READONLY, the connect hooks done).
struct connection_opened_event {
    event_node node;
    std::string_view dial_address;  ///< the IP connected to (empty when the driver could not tell)
    const tls_handshake_info& handshake;
};
/// A set-up connection was lost while in use (`cause`, escaped): the server closed it, a read timed out, ...
struct connection_lost_event {
    event_node node;
    std::string_view cause;
};

/// A call followed a MOVED or an ASK.
struct redirect_event {
    bool ask = false;  ///< false: MOVED
    std::uint16_t slot = 0;
    const node_address& from;
    const node_address& to;
    std::string_view operation;  ///< the command's name, upper-case
};

/// How a call ended.
enum class call_result {
    reply,        ///< a reply that is not an error
    error_reply,  ///< the server's error reply (status_code holds its first word)
    failed,       ///< an addrmap::error (error_type says which kind)
};

/// A call ended, with its callback or return: the command (or PIPELINE, MULTI), the node it went to last, how long
/// it took from its start, how many times it was written, and how it ended.
struct call_ended_event {
    std::string_view operation;       ///< upper-case command name, "PIPELINE" or "MULTI"
    const node_address* seed = nullptr;  ///< the first seed as configured (OpenTelemetry's server.address)
    std::size_t batch_size = 1;       ///< a pipeline's entries
    const event_node* node = nullptr; ///< the node last written to; null when it was never sent
    std::chrono::nanoseconds duration{0};
    unsigned sends = 0;
    call_result result = call_result::reply;
    /// error_reply: "ERR", "WRONGTYPE", ... (the reply's leading A-Z, 0-9, '_', '-'; "ERR" when none). Like
    /// `operation` (letters, digits, "_-.:" kept, other bytes as '?'), safe in a metric label as it is.
    std::string_view status_code;
    std::optional<error_kind> error_type;    ///< failed: the error's kind
};

/// A certificate of a node's chain (`depth` 0: the node's own) expires within tls_options::expiry_warning. Told once
/// per certificate per process (a second cluster connecting to the same node says nothing new), when a connection
/// to the node is opened: a process that keeps its connections for weeks hears of it at its next reconnect.
struct certificate_expiring_event {
    event_node node;
    const certificate_validity& certificate;
    std::chrono::seconds left{0};  ///< until notAfter; negative: already expired (a chain cannot verify then)
};

struct pubsub_event;  // pubsub.hpp

/// A subscriber (subscriber.hpp, async_subscriber.hpp) may have missed messages: `gap` is the pubsub_event of kind gap
/// it also delivers (channel, family, interval, cause). Told to the observer of the cluster the subscriber runs on.
struct subscription_gap_event {
    const pubsub_event& gap;
};

/// The names OpenTelemetry's database semantic conventions give what call_ended_event holds, so an observer can hand
/// them to any OpenTelemetry SDK without addrmap depending on one.
namespace otel {
inline constexpr std::string_view operation_duration = "db.client.operation.duration";  ///< histogram, seconds
inline constexpr std::string_view db_system_name = "db.system.name";
inline constexpr std::string_view db_system_value = "redis";
inline constexpr std::string_view db_operation_name = "db.operation.name";
inline constexpr std::string_view db_operation_batch_size = "db.operation.batch.size";
inline constexpr std::string_view server_address = "server.address";        ///< the seed as configured
inline constexpr std::string_view server_port = "server.port";
inline constexpr std::string_view network_peer_address = "network.peer.address";  ///< the node contacted (mapped)
inline constexpr std::string_view network_peer_port = "network.peer.port";
inline constexpr std::string_view db_response_status_code = "db.response.status_code";  ///< an error reply's prefix
inline constexpr std::string_view error_type = "error.type";

/// Calls f(name, value) for each attribute of `e` OpenTelemetry's conventions define, value a std::string_view or a
/// std::int64_t (error.type: the status code for an error reply, the error kind's name for a failure).
template <class F>
void for_each_attribute(const call_ended_event& e, F&& f) {
    f(db_system_name, db_system_value);
    f(db_operation_name, e.operation);
    if (e.batch_size > 1) f(db_operation_batch_size, static_cast<std::int64_t>(e.batch_size));
    if (e.seed != nullptr) {
        f(server_address, std::string_view(e.seed->host));
        f(server_port, static_cast<std::int64_t>(e.seed->port));
    }
    if (e.node != nullptr) {
        f(network_peer_address, e.node->dial_host);
        f(network_peer_port, static_cast<std::int64_t>(e.node->port));
    }
    if (e.result == call_result::error_reply) {
        f(db_response_status_code, e.status_code);
        f(error_type, e.status_code);
    }
    if (e.result == call_result::failed && e.error_type) f(error_type, std::string_view(to_string(*e.error_type)));
}
}  // namespace otel

}  // namespace addrmap
