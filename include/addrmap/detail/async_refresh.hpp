// addrmap/detail/async_refresh.hpp — the async cluster's topology refresh: the machine (topology_refresh.hpp) decides
// whom to ask and what answers mean; this asks over the async connections, one attempt at a time, each with a deadline.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/async_callbacks.hpp>
#include <addrmap/detail/async_calls.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/async_connection_table.hpp>
#include <addrmap/detail/async_dialer.hpp>
#include <addrmap/detail/async_loop_timer.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/reply_arena.hpp>
#include <addrmap/detail/topology_refresh.hpp>
#include <addrmap/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// One refresh at a time. The driver passes on what concerns the node asked (its connection set up or failed, the
/// answer, the timer); the refresh dials and asks, and tells the end handler how it ended.
class async_refresh {
public:
    using clock = std::chrono::steady_clock;
    /// How a refresh ended: a view installed, or none (the first node's error, and every node's failure listed).
    struct end {
        bool installed;
        error first;
        std::string failures;
    };
    using end_handler = std::function<void(const end&)>;

    async_refresh(cluster_core& core, const cluster_options& options, async_calls& calls, const async_callbacks& callbacks,
                  async_connection_table& connections, async_dialer& dialer, async_loop_timer& timer, end_handler ended)
        : core_(core), options_(options), calls_(calls), callbacks_(callbacks), connections_(connections),
          dialer_(dialer), timer_(timer), ended_(std::move(ended)) {}
    async_refresh(const async_refresh&) = delete;
    async_refresh& operator=(const async_refresh&) = delete;

    bool running() const noexcept { return job_.has_value(); }
    /// When the current attempt is given up on.
    std::optional<clock::time_point> deadline() const noexcept {
        return job_ ? std::optional<clock::time_point>(job_->attempt_deadline) : std::nullopt;
    }

    /// Starts a refresh, unless one is running or the cluster is closed.
    void start(clock::time_point now) {
        if (job_ || closed_) return;
        job_.emplace(core_, lacks_shards_, now);
        on_step(job_->machine.start(now));
    }
    /// No refresh from now on (disconnect, destruction); the running one is dropped (the machine ends it in the
    /// core) and its answer, if one comes, ignored.
    void close() noexcept {
        closed_ = true;
        job_.reset();
    }

    /// A connection is set up: the question goes out on it if its node is the one asked.
    void connection_ready(async_connection& connection) {
        if (job_ && job_->queried() == connection.node() && !job_->sent) send(connection);
    }
    /// Node `n` could not be connected: if it is the node asked, the next one is.
    void node_failed(node_id n, const error& why) {
        if (job_ && job_->queried() == n) attempt_failed(why);
    }
    /// The loop timer fired: an attempt past its deadline is given up on.
    void timer(clock::time_point now) {
        if (job_ && now >= job_->attempt_deadline)
            attempt_failed(error(error_kind::timeout, "no answer to the topology request within connect_timeout + command_timeout"));
    }

    /// The answer (null: the connection was lost first) to the question tagged `attempt`, asked on `connection`.
    void reply(async_connection& connection, std::uint64_t attempt, held_reply reply) {
        if (!job_ || job_->attempt != attempt) return;  // an attempt given up on
        const node_id n = connection.node();
        if (!reply) {
            const std::string name = core_.exists(n) ? to_string(core_.node(n).reported) : connection.route();
            const std::string why = connection.why_lost();
            connections_.drop(connection);
            core_.on_disconnected(n, why);
            attempt_failed(error(error_kind::connect, "lost the connection to " + name + " while asking " +
                                                          job_->machine.query().name() + ": " + why));
            return;
        }
        const auto step = job_->machine.on_reply(*reply, clock::now());
        if (step == topology_refresh::step::ask && job_->queried() == n) {
            job_->attempt = ++next_attempt_;  // CLUSTER SLOTS next, on the same connection
            job_->attempt_deadline = clock::now() + options_.tls.command_timeout;
            timer_.arm_by(job_->attempt_deadline);
            send(connection);
            return;
        }
        on_step(step);
    }

private:
    /// The machine, and the I/O side of the current ask: its tag, whether it was written, when it is given up on.
    struct job {
        topology_refresh machine;
        std::uint64_t attempt = 0;
        bool sent = false;
        clock::time_point attempt_deadline{};
        job(cluster_core& core, bool& lacks_shards, clock::time_point now) : machine(core, lacks_shards, now) {}
        node_id queried() const noexcept { return machine.queried(); }
    };

    /// Does what the machine asks: ask a node (dialing it if needed), or end the refresh.
    void on_step(topology_refresh::step step) {
        while (job_ && step == topology_refresh::step::ask) {
            const node_id n = job_->queried();
            const auto now = clock::now();
            job_->attempt = ++next_attempt_;
            job_->sent = false;
            job_->attempt_deadline = now + options_.tls.connect_timeout + options_.tls.command_timeout;
            timer_.arm_by(job_->attempt_deadline);
            async_connection* connection = nullptr;
            try {
                connection = dialer_.connection_for(n, now);
            } catch (const error& e) {  // refused at once (a loopback handshake can finish inside open())
                core_.on_dial_failed(n, e, clock::now());
                step = job_->machine.on_failure(e, clock::now());
                if (e.kind() != error_kind::closed) callbacks_.report(e);  // the handler may disconnect(): re-check below
                if (!job_) return;
                continue;
            }
            if (!job_ || job_->queried() != n) return;  // the dial's own events moved the refresh on
            if (connection != nullptr && connection->ready()) send(*connection);
            return;  // the answer, the connection's set-up, or the attempt deadline moves it on
        }
        if (job_) finish(step == topology_refresh::step::installed);
    }

    void send(async_connection& connection) {
        async_call* c = calls_.make();
        c->refresh_attempt = job_->attempt;
        c->command = std::string(job_->machine.query().command());
        if (!connection.send(c, c->command, false)) {
            calls_.release(c);
            attempt_failed(error(error_kind::connect,
                                 "the connection to " + connection.route() + " closed before the topology could be asked"));
            return;
        }
        c->in_flight = true;
        job_->sent = true;
        ++core_.stats().round_trips;
    }

    void attempt_failed(const error& e) { on_step(job_->machine.on_failure(e, clock::now())); }

    void finish(bool installed) {
        const std::vector<node_id> to_close = job_->machine.connections_to_close();
        const end how{installed, job_->machine.first_error(), job_->machine.failures()};
        job_.reset();  // ended in the core by the machine
        for (node_id gone : to_close) {
            connections_.close_spares(gone);
            if (async_connection* old = connections_.current(gone)) {
                connections_.drop(gone);
                old->close_when_idle();
            }
        }
        ended_(how);
    }

    cluster_core& core_;
    const cluster_options& options_;
    async_calls& calls_;
    const async_callbacks& callbacks_;
    async_connection_table& connections_;
    async_dialer& dialer_;
    async_loop_timer& timer_;
    end_handler ended_;
    std::optional<job> job_;
    std::uint64_t next_attempt_ = 0;
    bool lacks_shards_ = false;  // the server has no CLUSTER SHARDS (Redis < 7): SLOTS first from then on
    bool closed_ = false;
};

}  // namespace addrmap::detail
