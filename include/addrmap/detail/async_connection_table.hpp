// addrmap/detail/async_connection_table.hpp — the async cluster's connections: every one hiredis still knows (owned
// here until hiredis is done with it), each node's current one with the state of its dial, and the deadlines they set.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/async_connection.hpp>

#include <hiredis/async.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// Bookkeeping only (the loop thread): which connection each node uses, which are still open, which are due.
class async_connection_table {
public:
    using clock = std::chrono::steady_clock;

    /// A spare and since when it is idle.
    struct idle_connection {
        async_connection* connection;
        clock::time_point since;
    };

    /// One node: its current connection (older ones may still be closing) and the state of the dial making one.
    struct node_entry {
        async_connection* current = nullptr;
        bool resolving = false;            ///< a DNS lookup of the dial host is on its way
        std::uint64_t dns_ticket = 0;      ///< which lookup: an answer to an older one is dropped
        std::vector<std::string> addresses;  ///< the dial host's addresses, tried in turn
        std::size_t next_address = 0;
        clock::time_point setup_deadline{};  ///< the dial (DNS, TCP, TLS, first round trip) ends by then
        /// Dedicated connections set up and idle, for the next blocking call or transaction: the most recently idle last.
        std::vector<idle_connection> spare;
        std::size_t dedicated = 0;             ///< its dedicated connections hiredis still knows (spares included)
    };

    /// Spares a node keeps however long they are idle; more are kept while in demand (each one taken again within
    /// spare_idle_time of its return), up to max_blocking_connections_per_node, so many transactions or blocking calls
    /// at once do not dial a TLS connection each.
    static constexpr std::size_t spares_per_node = 2;
    static constexpr std::chrono::milliseconds spare_idle_time{10000};

    async_connection_table() = default;
    async_connection_table(const async_connection_table&) = delete;
    async_connection_table& operator=(const async_connection_table&) = delete;

    node_entry& node(node_id n) {
        if (nodes_.size() <= n) nodes_.resize(n + 1);
        return nodes_[n];
    }
    bool resolving(node_id n) const noexcept { return n < nodes_.size() && nodes_[n].resolving; }
    async_connection* current(node_id n) const noexcept { return n < nodes_.size() ? nodes_[n].current : nullptr; }

    /// Node `n`'s connection, unless it was set up once and is now broken or closing: that one is dropped and
    /// nullptr returned (the next send dials afresh). One still being set up is kept.
    async_connection* live(node_id n) noexcept {
        async_connection* c = current(n);
        if (c == nullptr || c->state() == async_connection::phase::setting_up || usable(*c)) return c;
        nodes_[n].current = nullptr;
        return nullptr;
    }

    /// Node `n` has no current connection any more (the next send dials afresh).
    void drop(node_id n) noexcept {
        if (n >= nodes_.size()) return;
        nodes_[n].current = nullptr;
    }
    /// `c` is no longer its node's current connection (if it was).
    void drop(const async_connection& c) noexcept {
        if (current(c.node()) == &c) nodes_[c.node()].current = nullptr;
    }
    /// Node `n`'s dial failed: no current connection, no lookup waited for.
    void reset(node_id n) {
        node_entry& e = node(n);
        e.current = nullptr;
        e.resolving = false;
    }

    /// `c` had commands out and no reply within command_timeout: it is closed (its unanswered commands come back
    /// as lost after writing) and is no longer its node's current connection (the next command dials afresh).
    void close_stalled(async_connection& c) noexcept {
        drop(c);
        c.close_stalled();
    }

    /// Owns `c` from now on, as its node's current connection.
    async_connection& adopt(std::unique_ptr<async_connection> c) {
        node(c->node()).current = c.get();
        all_.push_back(std::move(c));
        return *all_.back();
    }
    /// Owns a dedicated connection `c` (never a node's current one).
    async_connection& adopt_dedicated(std::unique_ptr<async_connection> c) {
        if (!c->subscriber()) ++node(c->node()).dedicated;  // a subscriber's is not a blocking command's
        all_.push_back(std::move(c));
        return *all_.back();
    }
    /// A spare dedicated connection of node `n`, set up and usable, taken out of the spares; nullptr when none.
    async_connection* take_spare(node_id n) noexcept {
        if (n >= nodes_.size()) return nullptr;
        std::vector<idle_connection>& spare = nodes_[n].spare;
        while (!spare.empty()) {
            async_connection* c = spare.back().connection;
            spare.pop_back();
            if (usable(*c)) return c;
        }
        return nullptr;
    }
    /// A dedicated connection's call is back: it waits for the next one (the most recently idle is taken first), or
    /// closes when it is not usable. Spares beyond spares_per_node close once idle for spare_idle_time
    /// (close_idle_spares).
    void give_back(async_connection& c) {
        c.clear_holds();
        if (usable(c))
            node(c.node()).spare.push_back({&c, clock::now()});
        else
            c.close_when_idle();
    }

    /// hiredis is done with `c` (connection_gone): collect() deletes it, never from inside a hiredis call.
    void gone(const async_connection& c) noexcept {
        drop(c);
        if (c.dedicated() && c.node() < nodes_.size()) {
            node_entry& e = nodes_[c.node()];
            e.spare.erase(std::remove_if(e.spare.begin(), e.spare.end(), [&](const idle_connection& i) { return i.connection == &c; }),
                          e.spare.end());
            if (e.dedicated > 0 && !c.subscriber()) --e.dedicated;
        }
        any_gone_ = true;
    }
    /// Node `n`'s dedicated connections hiredis still knows (busy, spare, or being set up).
    std::size_t dedicated_count(node_id n) const noexcept { return n < nodes_.size() ? nodes_[n].dedicated : 0; }
    /// Node `n` failed or left the topology: its spares close (a later blocking call dials afresh).
    void close_spares(node_id n) noexcept {
        if (n >= nodes_.size()) return;
        for (const idle_connection& i : std::exchange(nodes_[n].spare, {})) i.connection->close_when_idle();
    }
    /// The spares beyond spares_per_node idle for spare_idle_time at `now` close: looked up now, never from an older
    /// snapshot (a callback run since may have taken one for a new call).
    void close_idle_spares(clock::time_point now) {
        for (node_entry& e : nodes_) {
            std::size_t expired = 0;
            while (expired + spares_per_node < e.spare.size() && now >= e.spare[expired].since + spare_idle_time) ++expired;
            if (expired == 0) continue;
            const auto end = e.spare.begin() + static_cast<std::ptrdiff_t>(expired);
            const std::vector<idle_connection> closing(e.spare.begin(), end);
            e.spare.erase(e.spare.begin(), end);
            for (const idle_connection& i : closing) i.connection->close_when_idle();  // may call gone() at once
        }
    }
    /// disconnect(): every node's spares close.
    void close_all_spares() noexcept {
        for (std::size_t n = 0; n < nodes_.size(); ++n) close_spares(n);
    }
    void collect() {
        if (!any_gone_) return;
        any_gone_ = false;
        all_.erase(std::remove_if(all_.begin(), all_.end(),
                                  [](const auto& c) { return c->state() == async_connection::phase::gone; }),
                   all_.end());
    }
    /// True when hiredis is done with every connection.
    bool all_gone() const noexcept {
        return std::all_of(all_.begin(), all_.end(),
                           [](const auto& c) { return c->state() == async_connection::phase::gone; });
    }

    /// Frees every connection now: unanswered commands come back through connection_reply.
    void close_all() noexcept {
        for (auto& c : all_) c->close();
    }
    /// Closes every set-up connection once its commands are answered, and the others now.
    void close_all_when_idle() noexcept {
        for (auto& c : all_) {
            if (c->state() == async_connection::phase::ready)
                c->close_when_idle();
            else
                c->close();
        }
    }
    /// Deletes every connection (after close_all, once no hiredis callback can come).
    void clear() noexcept { all_.clear(); }

    /// The earliest deadline of a dial (a DNS answer, a set-up) or of a busy connection (its stall).
    clock::time_point earliest_deadline() const noexcept {
        clock::time_point next = clock::time_point::max();
        for (const node_entry& e : nodes_) {
            if (e.resolving) next = std::min(next, e.setup_deadline);
            if (e.spare.size() > spares_per_node) next = std::min(next, e.spare.front().since + spare_idle_time);
        }
        for (const auto& c : all_) {
            if (c->state() == async_connection::phase::setting_up) next = std::min(next, c->setup_deadline());
            if (const auto stall = c->stall_deadline()) next = std::min(next, *stall);
        }
        return next;
    }
    /// What is due at `now`: looked at first, acted on after (acting runs callbacks, which may dial).
    struct due_now {
        std::vector<node_id> dns_late;                ///< lookups not answered within connect_timeout
        std::vector<async_connection*> stalled;       ///< busy, and no reply within command_timeout
        std::vector<async_connection*> setup_late;    ///< not set up within connect_timeout
    };
    due_now due(clock::time_point now) const {
        due_now out;
        for (node_id n = 0; n < nodes_.size(); ++n)
            if (nodes_[n].resolving && now >= nodes_[n].setup_deadline) out.dns_late.push_back(n);
        for (const auto& c : all_) {
            if (const auto stall = c->stall_deadline(); stall && now >= *stall) out.stalled.push_back(c.get());
            if (c->state() == async_connection::phase::setting_up && c->context() != nullptr && now >= c->setup_deadline())
                out.setup_late.push_back(c.get());
        }
        return out;
    }

private:
    /// Set up, not broken, not closing: it takes commands.
    static bool usable(const async_connection& c) noexcept {
        const redisAsyncContext* ac = c.context();
        return c.ready() && ac != nullptr && ac->c.err == 0 && (ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) == 0;
    }

    std::vector<std::unique_ptr<async_connection>> all_;  // every connection hiredis still knows, and dead ones
    std::vector<node_entry> nodes_;                        // by node_id
    bool any_gone_ = false;                                // collect() has work
};

}  // namespace addrmap::detail
