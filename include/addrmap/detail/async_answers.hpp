// addrmap/detail/async_answers.hpp — what a connection's answer to a call means: its reply, or its loss before or after
// the command was written, told to the core (which decides); or, while the cluster is destroyed, how the call ends.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/async_calls.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>

#include <chrono>
#include <utility>

namespace addrmap::detail {

/// The core's verdict on call `c`, sent on `connection`: `reply` came, or (null) the connection was lost first and
/// `written` says whether any of the command had left (then it may have run: the core decides whether it goes again).
inline core_verdict verdict_on_answer(cluster_core& core, async_call& c, const async_connection& connection,
                                      const redisReply* reply, bool written) {
    const node_id n = connection.node();
    if (reply != nullptr) return core.on_reply(c.state, n, *reply, cluster_core::read_clock);
    const auto now = std::chrono::steady_clock::now();
    if (written) return core.on_lost_after_write(c.state, n, connection.why_lost(), now);
    core.on_disconnected(n, connection.why_lost());
    return core.on_not_sent(c.state, n,
                            error(error_kind::connect, "lost the connection to " + connection.route() +
                                                           " before the command was written: " + connection.why_lost()),
                            now);
}

/// How call `c` ends when the cluster is destroyed while it is out on `connection`: its reply if one came; else
/// unknown_outcome when some of it was written (it may have run), closed when none was (it did not run).
inline outcome ending_when_destroyed(const async_call& c, const async_connection& connection, held_reply reply, bool written) {
    if (reply) return outcome(std::move(reply));
    if (written)
        return outcome(error(error_kind::unknown_outcome, "the cluster was destroyed while " + c.name() + " was in flight to " +
                                                              connection.route() + ": it may have run"));
    return outcome(error(error_kind::closed, "the cluster was destroyed before " + c.name() + " was written: it did not run"));
}

}  // namespace addrmap::detail
