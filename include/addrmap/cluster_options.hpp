// addrmap/cluster_options.hpp — how a cluster client finds and talks to the cluster, and what it reports back:
// the options every driver takes, the node table rows and the counters.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/topology.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct redisAsyncContext;  // <hiredis/async.h>: only the async cluster's hook takes one

namespace addrmap {

struct node_info;
/// Where keyed read-only commands go (see is_read_only_command). Writes, keyless commands and
/// commands sent to a chosen node always go where they would go anyway.
enum class read_preference {
    master,             ///< every command to the slot's master (the default: reads see every acknowledged write)
    replica,            ///< reads to a replica of the slot's master; with none reachable, wait (within the deadline)
    replica_preferred,  ///< reads to a replica of the slot's master; with none reachable, to the master
};

/// How a cluster client finds and talks to the cluster. Per-connection timeouts live in `tls`
/// (connect_timeout for TCP + TLS, command_timeout for one reply); `deadline` bounds a whole call.
struct cluster_options {
    /// "host:port" or "[v6]:port", tried in order until one answers (Azure: the root node by name).
    std::vector<std::string> seeds;
    tls_options tls;
    /// AUTH on every node connection: `password` alone, or ACL `user` + `password`. Never logged.
    std::string user;
    std::string password;
    /// Run on every new node connection, after TLS verification and AUTH, before any command (CLIENT SETNAME,
    /// CLIENT NO-EVICT, ...), bounded by the call's deadline. Throw to refuse the connection: the error names
    /// the node. Leave the connection in RESP2 with nothing unread (the adapter reads RESP2 replies only).
    std::function<void(redisContext* context, const node_info& node)> on_connect;
    /// Commands for every new node connection, on both drivers (the async cluster cannot run on_connect: its
    /// connections are the loop's; it runs on_async_connect): each an argv, e.g. {{"CLIENT", "SETNAME", "svc"}}, sent after TLS verification,
    /// AUTH and READONLY (and on_connect), before any command. An error reply refuses the connection (error_kind::server
    /// naming the node, the command and the reply); a command that would change what later replies mean (SUBSCRIBE,
    /// HELLO, MULTI, ...) is error_kind::config. Called once per connection, with the node (its handshake is set).
    std::function<std::vector<std::vector<std::string>>(const node_info& node)> on_connect_commands;
    /// The async cluster's on_connect: run on every new node connection (shared and dedicated ones) on the loop thread,
    /// after TLS verification, AUTH, READONLY and on_connect_commands, before any call is written. Plain hiredis async
    /// code goes here: `redisAsyncCommand(context, your_callback, ...)` puts your commands on the wire ahead of every
    /// call (their replies go to your callbacks and hiredis frees them after, as usual; an error reply refuses nothing).
    /// Use the context only inside this function (it is the cluster's afterwards: basic_async_cluster::context_for_key
    /// gives one of your own): never free or disconnect it, never send from your commands' callbacks, and leave its
    /// `data`, `dataCleanup`, `ev` and connect/disconnect callbacks alone (they are the cluster's). A command that changes
    /// what later replies mean (MULTI, SUBSCRIBE, MONITOR, CLIENT REPLY, HELLO, SELECT, ...) refuses the connection with
    /// error_kind::config before anything of it is written, as on_connect_commands does; throw to refuse it yourself
    /// (the error names the node). The blocking cluster refuses on_async_connect at construction (it runs on_connect).
    std::function<void(redisAsyncContext* context, const node_info& node)> on_async_connect;
    /// How long one call (a command or a whole pipeline) may take, everything included: DNS, TCP,
    /// TLS, AUTH, redirects, backoff and topology refreshes. The default outlasts a default Redis
    /// failover (cluster-node-timeout 15 s plus the replica election). call_options overrides it.
    std::chrono::milliseconds deadline{30000};
    /// MOVED/ASK redirects followed for one command before error_kind::redirect_limit (a loop guard;
    /// the deadline ends every other kind of retrying).
    int max_redirects = 16;
    /// Backoff between retries of one call: from min_backoff, doubling, capped at max_backoff, with
    /// jitter (each wait is drawn from the upper half of the current step).
    std::chrono::milliseconds min_backoff{5};
    std::chrono::milliseconds max_backoff{500};
    /// A MOVED, CLUSTERDOWN or a lost node triggers a topology refresh at most this often.
    std::chrono::milliseconds refresh_min_interval{100};
    /// Re-read the topology when a call finds the last refresh older than this; 0 (the default): only when
    /// something asks for it (a MOVED, CLUSTERDOWN, a lost node). Checked on use, no background thread.
    std::chrono::milliseconds refresh_interval{0};
    /// A subscriber (subscriber.hpp) sends PING on a connection it read nothing from for this long, and drops one that
    /// does not answer within tls.command_timeout: a hung node, or one cut off, closes nothing, so without it its
    /// subscriptions would end silently. While it has subscriptions it also re-reads the topology this often, so a
    /// master replaced without a word to its subscribers is noticed (their gaps start at the last good map). 0: never.
    std::chrono::milliseconds subscriber_health_interval{1000};
    /// A subscriber drops a connection whose frame in progress (what hiredis built of it and what it holds unread)
    /// grows past this many bytes, with a gap saying so and a backoff, so a node that sends without end cannot grow
    /// memory without end. The default takes the largest message of a server with the default proto-max-bulk-len
    /// (512 MB) with 64 KB for the rest of its frame; raise it with that setting. At least 4096. A frame is checked
    /// before each read, so it holds at most this and one read (16 KB); hiredis copies each element out of its buffer,
    /// so the memory it takes while the frame is built may be up to twice that.
    std::size_t subscriber_max_frame_bytes = (std::size_t{512} << 20) + 64 * 1024;
    /// Keyed reads from replicas (round robin over a shard's replicas; connections to them send READONLY).
    /// Replicas apply writes asynchronously: a read there may not see a write the master acknowledged.
    read_preference read_from = read_preference::master;
    /// The async cluster's bound on calls held (started, callback not run yet; submit()'s count from when they are
    /// posted), so a stalled node under load cannot grow memory without end: past it a call ends at once with
    /// error_kind::overloaded (it did not run). basic_async_cluster::when_room says when there is room again.
    std::size_t max_calls = 65536;
    /// The same for the calls charged to one node (a keyed call is charged to its slot's master when it starts), so one
    /// stalled node cannot take all of max_calls from the others.
    std::size_t max_calls_per_node = 16384;
    /// The async cluster runs each blocking command (BLPOP, BLMOVE, XREAD BLOCK, ...) on a connection of its own, so
    /// the commands behind it never wait for the server's wait; at most this many such connections per node (busy
    /// ones and spares): past it a blocking call ends at once with error_kind::overloaded (it did not run).
    std::size_t max_blocking_connections_per_node = 64;
};

enum class node_role { master, replica, seed };

inline const char* to_string(node_role role) noexcept {
    switch (role) {
        case node_role::master: return "master";
        case node_role::replica: return "replica";
        case node_role::seed: return "seed";
    }
    return "?";
}

/// What one node saw since the client first knew it (a node that leaves the topology and comes back starts again).
struct node_counters {
    std::uint64_t sends = 0;              ///< commands written to it (each pipeline entry counts one)
    std::uint64_t redirects = 0;          ///< MOVED and ASK it answered
    std::uint64_t connections_made = 0;   ///< verified connections set up
    std::uint64_t connection_losses = 0;  ///< set-up connections lost while in use
    std::uint64_t dial_failures = 0;      ///< dials that found it unreachable
};

/// One row of the node table: reported address → endpoint → role → slots (for logs and the doctor).
struct node_info {
    node_address reported;
    std::string dial_host;  ///< empty while unmapped (a replica is mapped when first needed)
    std::uint16_t port = 0;
    std::string tls_name;
    node_role role = node_role::master;
    std::vector<slot_range> slots;
    bool connected = false;
    bool down = false;              ///< the last attempt to reach it failed
    std::string problem;            ///< why it is down or unmapped (escaped), empty when fine
    std::optional<tls_handshake_info> handshake;  ///< of the current connection, if connected
    node_counters counters;
};

/// What the client did, for tests, benchmarks and logs.
struct cluster_stats {
    std::uint64_t moved = 0;
    std::uint64_t ask = 0;
    std::uint64_t tryagain = 0;
    std::uint64_t clusterdown = 0;
    std::uint64_t loading = 0;              ///< LOADING and MASTERDOWN refusals
    std::uint64_t connection_losses = 0;
    std::uint64_t connections_made = 0;
    std::uint64_t dial_failures = 0;        ///< dials that failed (each waiting call reports one dial once)
    std::uint64_t stale_reconnects = 0;     ///< idle connections found closed before a command was written
    std::uint64_t refreshes = 0;
    std::uint64_t stale_views_refused = 0;  ///< topologies older than a MOVED already applied
    std::uint64_t retries = 0;              ///< sends of a command after its first
    std::uint64_t unknown_outcomes = 0;     ///< calls (or pipeline entries) ended with unknown_outcome
    std::uint64_t round_trips = 0;          ///< node round trips (a pipeline wave counts one per node)
    std::uint64_t replica_sends = 0;        ///< sends of reads routed to a replica (read_from != master)
    std::uint64_t replica_fallbacks = 0;    ///< reads sent to the master because no replica was usable
    /// async calls refused at max_calls, max_calls_per_node or max_blocking_connections_per_node
    std::uint64_t overloaded = 0;
    std::uint64_t blocking_connections_made = 0;  ///< async: connections opened for blocking commands (spares reused)
};

}  // namespace addrmap
