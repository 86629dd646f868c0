// addrmap/detail/async_connect.hpp — basic_async_cluster::connect(): once the refresh it asked for has read the
// topology, every master is dialed; its callbacks run when each is up or failed, or with the refresh's error.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/async_callbacks.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/async_connection_table.hpp>
#include <addrmap/detail/async_dialer.hpp>
#include <addrmap/detail/topology_refresh.hpp>
#include <addrmap/error.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// What connect() waits for: its callbacks, the masters still being dialed, and the first error among them that is
/// not a node being away (as basic_cluster::connect throws it). The loop thread only.
class async_connect {
public:
    using clock = std::chrono::steady_clock;

    async_connect(cluster_core& core, async_connection_table& connections, async_dialer& dialer,
                  const async_callbacks& callbacks) noexcept
        : core_(core), connections_(connections), dialer_(dialer), callbacks_(callbacks) {}
    async_connect(const async_connect&) = delete;
    async_connect& operator=(const async_connect&) = delete;

    /// connect() was called: `done` waits, for a new round (the masters and the error of an earlier one are forgotten).
    void add(std::function<void(const error*)> done) {
        waiters_.push_back(std::move(done));
        masters_.clear();
        error_.reset();
    }

    /// A refresh ended. No view: connect() ends with the seed's own error when there is one seed and no topology,
    /// else with error{connect} listing each node asked. A view (and `dial`): every master without a connection set
    /// up is dialed, and connect() ends when each is up or failed.
    void refresh_ended(bool installed, const error& first, const std::string& failures, bool dial) {
        if (waiters_.empty()) return;
        if (!installed) {
            masters_.clear();
            const error e = connect_failure(core_, first, failures);
            finish(&e);
            return;
        }
        if (!dial) return;
        const auto now = clock::now();
        for (node_id n = 0; n < core_.id_limit(); ++n) {
            if (!core_.exists(n) || !core_.node(n).in_topology || core_.node(n).role != node_role::master) continue;
            const async_connection* connection = connections_.current(n);
            if (connection != nullptr && connection->ready()) continue;
            masters_.push_back(n);
            if (connection != nullptr || connections_.resolving(n)) continue;
            try {
                dialer_.dial(n, now);
            } catch (const error& e) {
                core_.on_dial_failed(n, e, clock::now());
                callbacks_.report(e);
                node_done(n, &e, false);
            }
        }
        node_done(no_node, nullptr, false);
    }

    /// Node `n` is up (`failed` null) or failed. connect() ends once no master is left to wait for, unless a
    /// refresh is still `refreshing` or there is no topology.
    void node_done(node_id n, const error* failed, bool refreshing) {
        if (waiters_.empty()) return;
        const auto it = std::find(masters_.begin(), masters_.end(), n);
        if (it != masters_.end()) {
            masters_.erase(it);
            if (failed != nullptr && !cluster_core::is_reachability_error(*failed) && !error_) error_ = *failed;
        }
        if (masters_.empty() && !refreshing && core_.has_topology()) finish(error_ ? &*error_ : nullptr);
    }

    /// disconnect(): connect() ends with `why` and waits for nothing.
    void stop(const error& why) {
        masters_.clear();
        finish(&why);
    }

private:
    /// Runs every waiting callback with `e` (null: connected); what one throws is reported.
    void finish(const error* e) {
        for (auto& done : std::exchange(waiters_, {})) {
            if (!done) continue;
            try {
                done(e);
            } catch (...) {
                callbacks_.report(error(error_kind::config, "connect()'s callback threw"));
            }
        }
    }

    cluster_core& core_;
    async_connection_table& connections_;
    async_dialer& dialer_;
    const async_callbacks& callbacks_;
    std::vector<std::function<void(const error*)>> waiters_;
    std::vector<node_id> masters_;
    std::optional<error> error_;
};

}  // namespace addrmap::detail
