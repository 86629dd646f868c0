// addrmap/detail/call_bound.hpp — the async cluster's bound on calls held, in total and per node (so one stalled node
// cannot take all of it): who may come in, why one may not, and who waited for room and may now be told. No I/O.
#pragma once

#include <addrmap/detail/node_registry.hpp>
#include <addrmap/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// Counts the calls an async cluster holds (started, callback not run yet): all of them, and those charged to each
/// node. The total is thread-safe (submit() reserves its place from any thread before posting, so the mailbox is
/// bounded too); everything else runs on the loop thread.
class call_bound {
public:
    /// Throws error{config} for a zero bound (every call would be refused). A per-node bound above the total is
    /// the total.
    call_bound(std::size_t max_total, std::size_t max_per_node) : max_total_(max_total), max_per_node_(max_per_node) {
        if (max_total_ == 0)
            throw error(error_kind::config, "cluster_options::max_calls is 0: every call would be refused (give a bound, e.g. 65536)");
        if (max_per_node_ == 0)
            throw error(error_kind::config,
                        "cluster_options::max_calls_per_node is 0: every call would be refused (give a bound, e.g. 16384)");
        if (max_per_node_ > max_total_) max_per_node_ = max_total_;
    }
    call_bound(const call_bound&) = delete;
    call_bound& operator=(const call_bound&) = delete;

    std::size_t max_total() const noexcept { return max_total_; }
    std::size_t max_per_node() const noexcept { return max_per_node_; }
    /// Calls held (and places reserved by submit() for calls still on their way to the loop).
    std::size_t held() const noexcept { return total_.load(std::memory_order_relaxed); }
    std::size_t held_for(node_id node) const noexcept {
        return node < per_node_.size() ? per_node_[node] : 0;
    }

    /// Any thread: takes a place in the total, or false when the total is reached.
    bool reserve() noexcept {
        std::size_t now = total_.load(std::memory_order_relaxed);
        do {
            if (now >= max_total_) return false;
        } while (!total_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
        return true;
    }
    /// Any thread: a call was refused at the total before it reached the loop (submit()); the loop thread adds these
    /// to cluster_stats::overloaded (take_refused_off_loop), since the stats are the loop thread's.
    /// Returns the count before this one (0: the loop has not been told yet).
    std::uint64_t refused_off_loop() noexcept { return refused_off_loop_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t take_refused_off_loop() noexcept { return refused_off_loop_.exchange(0, std::memory_order_relaxed); }
    /// Gives back a place reserve() took (the call was refused or ended).
    void unreserve() noexcept { total_.fetch_sub(1, std::memory_order_relaxed); }

    /// Loop thread, with a place reserved: charges the call to `node` (no_node: to none), or false when the node's
    /// own bound is reached (the place stays reserved: the caller gives it back).
    bool charge(node_id node) {
        if (node == no_node) return true;
        if (node >= per_node_.size()) per_node_.resize(static_cast<std::size_t>(node) + 1, 0);
        if (per_node_[node] >= max_per_node_) return false;
        ++per_node_[node];
        return true;
    }
    /// A held call is routed to `to` rather than the node it was charged to: its node's count follows it (no refusal:
    /// it was admitted already), so a node's count is what is out to it or waiting for it.
    void recharge(node_id from, node_id to) {
        if (from == to) return;
        if (from != no_node && from < per_node_.size() && per_node_[from] > 0) --per_node_[from];
        if (to == no_node) return;
        if (to >= per_node_.size()) per_node_.resize(static_cast<std::size_t>(to) + 1, 0);
        ++per_node_[to];
    }
    /// The call charged to `node` is gone (its object released): its place and its node's are free again.
    void release(node_id node) noexcept {
        if (node != no_node && node < per_node_.size() && per_node_[node] > 0) --per_node_[node];
        unreserve();
    }

    /// The message of a call refused because the total is reached (`what` names the command).
    std::string total_refusal(const std::string& what) const {
        return "the async cluster already holds " + std::to_string(max_total_) +
               " calls (cluster_options::max_calls): " + what +
               " was not sent, it did not run. Wait for room (when_room) or raise the bound";
    }
    /// The same for a node's own bound (`node_text` names the node, escaped by the caller).
    std::string node_refusal(const std::string& what, const std::string& node_text) const {
        return "the async cluster already holds " + std::to_string(max_per_node_) + " calls for node " + node_text +
               " (cluster_options::max_calls_per_node; is it stalled?): " + what +
               " was not sent, it did not run. Wait for room (when_room) or raise the bound";
    }

    // ---- waiting for room: one-shot callbacks run once at most three quarters of a bound is held ----------

    /// `ready` runs (from the driver, never inside this call) once at most three quarters of the total is held, and
    /// for a node (not no_node) at most three quarters of its own bound too: room for a burst, not for one call.
    void when_room(node_id node, std::function<void()> ready) { waiters_.push_back({node, std::move(ready)}); }
    bool has_waiters() const noexcept { return !waiters_.empty(); }
    /// The waiters whose room has come, taken out in the order they came.
    std::vector<std::function<void()>> take_ready() {
        std::vector<std::function<void()>> out;
        if (waiters_.empty() || held() > low_water(max_total_)) return out;
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            if (it->node == no_node || held_for(it->node) <= low_water(max_per_node_)) {
                out.push_back(std::move(it->ready));
                it = waiters_.erase(it);
            } else {
                ++it;
            }
        }
        return out;
    }
    /// Every waiter, taken out (the cluster closes: they are told there is nothing to wait for).
    std::vector<std::function<void()>> take_all() {
        std::vector<std::function<void()>> out;
        for (auto& w : waiters_) out.push_back(std::move(w.ready));
        waiters_.clear();
        return out;
    }

private:
    /// Three quarters of `bound`, and below it for a bound under 4 (else a full bound would already be "room").
    static std::size_t low_water(std::size_t bound) noexcept { return bound - std::max<std::size_t>(1, bound / 4); }

    struct waiter {
        node_id node;
        std::function<void()> ready;
    };

    std::size_t max_total_;
    std::size_t max_per_node_;
    std::atomic<std::size_t> total_{0};
    std::atomic<std::uint64_t> refused_off_loop_{0};
    std::vector<std::uint32_t> per_node_;
    std::vector<waiter> waiters_;
};

}  // namespace addrmap::detail
