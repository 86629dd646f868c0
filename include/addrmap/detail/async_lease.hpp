// addrmap/detail/async_lease.hpp — a connection of its own held by an async transaction across its calls (WATCH, reads,
// MULTI..EXEC): what the driver keeps for it. The transaction (async_transaction.hpp) decides; the driver moves bytes.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/error.hpp>

#include <cstddef>
#include <deque>
#include <optional>

namespace addrmap::detail {

class async_connection;
struct async_call;

/// One transaction's hold on a dedicated connection to its slot's owner. Its first call is routed as a blocking
/// command is (the slot's owner, a spare or a new connection, after the older calls of its slot); every later call goes
/// on the same connection, in order, never redirected nor sent again. Loop thread only.
struct async_lease {
    int slot = -1;
    node_id node = no_node;                 ///< the node its connection goes to, once the first call was sent
    async_connection* connection = nullptr; ///< that connection, while held
    bool opening = false;                   ///< the first call is being routed
    bool ended = false;                     ///< no call is taken any more (ended by the transaction, a loss, disconnect)
    bool reusable = false;                  ///< ended clean (no WATCH, no MULTI left): the connection may serve again
    std::optional<error> broken;            ///< why a later call is refused
    std::deque<async_call*> waiting;        ///< calls issued while the first one was routed, in order
    std::size_t out = 0;                    ///< calls written and not back
    bool exec_written = false;              ///< EXEC was handed to the connection: a lost step cannot say "not committed"
    /// Held for basic_async_cluster::context_for_key (its one call is a PING; then the caller's hiredis code owns the
    /// connection): messages speak of the PING, and disconnect() closes it at once (a BLPOP 0 of theirs would hold it).
    bool for_context = false;
    /// For call_ended_event: a transaction is told as one call named MULTI, from its MULTI to its EXEC.
    std::size_t in_multi = 0;                             ///< MULTI and the calls after it (0: MULTI not issued)
    std::chrono::steady_clock::time_point multi_started{};
};

}  // namespace addrmap::detail
