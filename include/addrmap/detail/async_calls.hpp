// addrmap/detail/async_calls.hpp — the async cluster's calls: each call's state and callback, the queue of calls not
// in flight (oldest first, counted per slot), the calls out per slot, and the deadlines in the order they fall due.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/async_lease.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/slot_order.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/slot.hpp>

#include <bitset>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// Called once per command with its outcome: the reply (which may be a Redis error reply) or an
/// addrmap::error. Runs on the loop thread. Exceptions it throws are caught and given to the error handler.
using async_callback = std::function<void(outcome)>;

namespace detail {

class async_connection;

/// A command's name for messages ('GET'), escaped, or "the command" (RESP or hiredis-formatted text).
inline std::string command_label(std::string_view command) {
    const std::string_view name = command_name(command);
    return name.empty() ? std::string("the command") : escaped(name, 40);
}

struct async_call;

/// What async_call holds besides its state, command, callback and lease: plain values only, so that a call taken back
/// into the pool is reset by one assignment (async_call::reset). (Not asserted trivially copyable: with checked
/// iterators, as under _GLIBCXX_DEBUG, the multimap iterator is not, and the assignment is right either way.)
struct async_call_marks {
    using clock = std::chrono::steady_clock;
    std::uint64_t seq = 0;
    std::uint64_t refresh_attempt = 0;  // nonzero: the driver's own CLUSTER SHARDS/SLOTS
    node_id waiting_for = no_node;      // a connection being set up
    node_id sent_to = no_node;
    node_id charged_to = no_node;       // the node whose bound (cluster_options::max_calls_per_node) counts it
    bool in_flight = false;
    bool dedicated = false;  // runs on a connection of its own (a blocking command, not WAIT)
    // How long its reply may take once sent, when that may pass command_timeout (a blocking command's wait, a WAIT,
    // call_options::reply_timeout): its connection does not count as stalled before it.
    std::optional<std::chrono::milliseconds> stall_allowance;
    async_connection* own = nullptr;  // its dedicated connection, dialed or taken from the node's spares
    bool opens_lease = false;         // the lease's first call (routed; the others follow it)
    bool quiet_loss = false;          // a MULTI or queued step: EXEC's loss is the one stats() counts
    bool ordered = false;   // counted by the per-slot order rule while in flight (not a replica read, not dedicated)
    bool in_waiting = false;
    bool finished = false;  // the callback ran (or waits for the walk's end); a reply still to come is dropped
    bool callback_deferred = false;  // ended inside a walk: its callback runs at the walk's end
    bool live = false;      // in the deadline structures
    async_call* prev = nullptr;  // live calls with the default deadline, in deadline order
    async_call* next = nullptr;
    std::multimap<clock::time_point, async_call*>::iterator custom;
    bool has_custom = false;
};

/// One command of the async cluster, from start() until its callback ran and no reply is still to come.
struct async_call : async_call_marks {
    call_state state;
    std::string command;  // RESP; call_state::command views it. Its buffer stays with the call in the pool.
    async_callback callback;
    std::shared_ptr<async_lease> lease;  // a transaction's call: on the lease's connection, its reply as it is

    std::string_view text() const noexcept { return command; }
    /// The command's name for messages ('GET'), or "the command".
    std::string name() const { return command_label(state.command); }

    /// As a new call, for the pool: the command's buffer is kept for the next encoding unless it is larger than
    /// `kept_capacity` (a 1 MB value once must not keep a megabyte per pooled call).
    void reset(std::size_t kept_capacity) noexcept {
        static_cast<async_call_marks&>(*this) = async_call_marks{};
        state = call_state{};
        if (command.capacity() > kept_capacity) std::string().swap(command);  // (assigning would keep the buffer)
        command.clear();
        callback = nullptr;
        lease.reset();
    }
};

/// The bookkeeping of every call (the loop thread only). No decisions: the cluster core makes those.
class async_calls {
public:
    using clock = std::chrono::steady_clock;
    using queue = std::map<std::uint64_t, async_call*>;

    async_calls() { free_.reserve(max_pooled); }  // so that release() never allocates
    async_calls(const async_calls&) = delete;
    async_calls& operator=(const async_calls&) = delete;
    ~async_calls() {
        for (async_call* c : free_) delete c;
    }

    /// A fresh call (reused from earlier ones: no allocation in the steady state).
    async_call* make() {
        if (free_.empty()) return new async_call();
        async_call* c = free_.back();
        free_.pop_back();
        return c;
    }
    /// A fresh call holding `command` (RESP).
    async_call* make(std::string command) {
        async_call* c = make();
        c->command = std::move(command);
        return c;
    }
    void release(async_call* c) noexcept {
        if (free_.size() >= max_pooled) {
            delete c;
            return;
        }
        c->reset(kept_command_capacity);  // its buffer is kept for the next call's encoding (call_draft)
        free_.push_back(c);
    }
    /// The largest command buffer a pooled call keeps, and how many calls the pool keeps.
    static constexpr std::size_t kept_command_capacity = 4096;
    static constexpr std::size_t max_pooled = 1024;

    // ---- deadlines: calls with the default deadline end in the order they started (a list), others in a map

    void track_deadline(async_call* c, bool custom) {
        c->live = true;
        if (custom) {
            c->custom = custom_deadlines_.emplace(c->state.deadline, c);
            c->has_custom = true;
            return;
        }
        c->prev = tail_;
        c->next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = c;
        tail_ = c;
    }
    void untrack_deadline(async_call* c) {
        if (!c->live) return;
        c->live = false;
        if (c->has_custom) {
            custom_deadlines_.erase(c->custom);
            c->has_custom = false;
            return;
        }
        (c->prev != nullptr ? c->prev->next : head_) = c->next;
        (c->next != nullptr ? c->next->prev : tail_) = c->prev;
        c->prev = c->next = nullptr;
    }
    /// Calls whose deadline is at or before `now`.
    std::vector<async_call*> due(clock::time_point now) const {
        std::vector<async_call*> out;
        for (async_call* c = head_; c != nullptr && c->state.deadline <= now; c = c->next) out.push_back(c);
        for (auto it = custom_deadlines_.begin(); it != custom_deadlines_.end() && it->first <= now; ++it)
            out.push_back(it->second);
        return out;
    }
    std::optional<clock::time_point> earliest_deadline() const {
        std::optional<clock::time_point> at;
        if (head_ != nullptr) at = head_->state.deadline;
        if (!custom_deadlines_.empty() && (!at || custom_deadlines_.begin()->first < *at))
            at = custom_deadlines_.begin()->first;
        return at;
    }

    // ---- the queue of calls not in flight, oldest first -------------------------------------------------

    queue& waiting() noexcept { return waiting_; }
    void enqueue(async_call* c) {
        c->in_waiting = true;
        waiting_.emplace(c->seq, c);
        if (c->state.slot >= 0) ++waiting_in_slot_[static_cast<std::size_t>(c->state.slot)];
    }
    queue::iterator dequeue(queue::iterator it) {
        async_call* c = it->second;
        c->in_waiting = false;
        if (c->state.slot >= 0) --waiting_in_slot_[static_cast<std::size_t>(c->state.slot)];
        return waiting_.erase(it);
    }
    /// Walks the queue oldest first: `route(c)` says whether `c` left it (sent, or ended). Once a call of a slot
    /// stays, the slot is held for the rest of the walk, so calls of one slot leave in the order they were made;
    /// a held call past its deadline is given to `expired(c)` and leaves. Either may end calls (not start them).
    template <class Route, class Expired>
    void walk(clock::time_point now, Route&& route, Expired&& expired) {
        held_.reset();
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            async_call* c = it->second;
            const int slot = c->state.slot;
            if (slot >= 0 && held_.test(static_cast<std::size_t>(slot))) {
                if (now >= c->state.deadline) {  // held behind an older call, out of time: end it
                    it = dequeue(it);
                    expired(c);
                } else {
                    ++it;
                }
                continue;
            }
            if (route(c)) {
                it = dequeue(it);
            } else {
                if (slot >= 0) held_.set(static_cast<std::size_t>(slot));
                ++it;
            }
        }
    }
    /// The queued calls waiting for node `n`'s connection wait no more; those for which `leaves(c)` says so (it
    /// may end them, not start others) leave the queue.
    template <class Leaves>
    void stop_waiting_for(node_id n, Leaves&& leaves) {
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            async_call* c = it->second;
            if (c->waiting_for != n) {
                ++it;
                continue;
            }
            c->waiting_for = no_node;
            it = leaves(c) ? dequeue(it) : std::next(it);
        }
    }
    /// An older call of `slot` is queued (a newer one must queue behind it). Keyless (-1): never.
    bool slot_has_waiting(int slot) const noexcept {
        return slot >= 0 && waiting_in_slot_[static_cast<std::size_t>(slot)] > 0;
    }

    // ---- calls out per slot, and slots holding their queue until the older calls are back -------------

    /// `c` was handed to `connection`, to node `to` (the per-slot order rule counts it unless a replica may serve it).
    void sent(async_call* c, const async_connection* connection, node_id to) {
        c->in_flight = true;
        c->sent_to = to;
        const int slot = c->state.slot;
        // A dedicated call waits for the older calls of its slot, but newer ones (and retried ones) do not wait for
        // it: it may block until one of them (an LPUSH after a BLPOP) has run.
        if (slot < 0 || c->dedicated) return;
        ++out_in_slot_[static_cast<std::size_t>(slot)];
        c->ordered = !c->state.replica_read;
        if (c->ordered) order_.out(slot, reinterpret_cast<slot_order::channel>(connection));
        // It has several keys and met the move (ASK, TRYAGAIN): the server can refuse it and run a newer call of the
        // slot written behind it on the same connection. It travels alone: the slot's queue holds until it is back.
        if (c->ordered && c->state.slot_moving) holding_[static_cast<std::size_t>(slot)] = true;
    }
    /// `c` came back (reply or loss). True when its slot was holding and is now clear.
    bool came_back(const async_call* c) noexcept {
        const int slot = c->state.slot;
        if (slot < 0 || c->dedicated) return false;
        const auto s = static_cast<std::size_t>(slot);
        bool clear = false;
        if (c->ordered) {
            order_.back(slot);
            if (order_holding_[s] && !order_.has_out(slot)) order_holding_[s] = false, clear = true;
        }
        if (--out_in_slot_[s] == 0 && holding_[s]) holding_[s] = false, clear = true;
        return clear && !holding_[s] && !order_holding_[s];
    }
    /// Hold the slot's queue until the calls of it the order rule counts (not replica reads) are back.
    void hold_for_order(int slot) noexcept {
        if (order_.has_out(slot)) order_holding_[static_cast<std::size_t>(slot)] = true;
    }
    /// slot_order.hpp's rule: true when a call of `slot` must not go on `connection` yet.
    bool out_on_another_connection(int slot, const async_connection* connection) const noexcept {
        return order_.must_wait(slot, reinterpret_cast<slot_order::channel>(connection));
    }
    /// A call of `slot` is to be sent again while other calls of it are out: hold the slot's queue until they
    /// are back, so none of them is sent after a newer call.
    void hold_behind_calls_out(int slot) noexcept {
        if (slot >= 0 && out_in_slot_[static_cast<std::size_t>(slot)] > 0) holding_[static_cast<std::size_t>(slot)] = true;
    }
    bool draining(int slot) const noexcept {
        return slot >= 0 && (holding_[static_cast<std::size_t>(slot)] || order_holding_[static_cast<std::size_t>(slot)]);
    }

private:
    std::vector<async_call*> free_;
    async_call* head_ = nullptr;
    async_call* tail_ = nullptr;
    std::multimap<clock::time_point, async_call*> custom_deadlines_;
    queue waiting_;
    std::bitset<slot_count> held_;  // slots walk() holds in its current pass
    std::vector<std::uint32_t> waiting_in_slot_ = std::vector<std::uint32_t>(slot_count, 0);
    std::vector<std::uint32_t> out_in_slot_ = std::vector<std::uint32_t>(slot_count, 0);
    slot_order order_;
    std::vector<bool> order_holding_ = std::vector<bool>(slot_count, false);  // held by the order rule
    std::vector<bool> holding_ = std::vector<bool>(slot_count, false);
};

/// A call taken from the pool before start(), so that a printf-style command is encoded straight into the pooled
/// call's buffer (no allocation in the steady state). start() takes it; if it never does (the format is refused),
/// the call goes back to the pool.
class call_draft {
public:
    explicit call_draft(async_calls& calls) : calls_(&calls), call_(calls.make()) {}
    /// Owns `call` (made by `calls`) until take(): start() holds each call so until it is tracked, so that nothing
    /// thrown before that (out of memory) loses it.
    call_draft(async_calls& calls, async_call* call) noexcept : calls_(&calls), call_(call) {}
    call_draft(call_draft&& other) noexcept
        : calls_(other.calls_), call_(std::exchange(other.call_, nullptr)) {}
    call_draft& operator=(call_draft&&) = delete;
    ~call_draft() { release(); }
    /// Where the command is encoded (RESP).
    std::string& bytes() noexcept { return call_->command; }
    std::string_view text() const noexcept { return call_->command; }
    async_call* get() const noexcept { return call_; }
    async_call* take() noexcept { return std::exchange(call_, nullptr); }
    /// Gives the call back to the pool now.
    void release() noexcept {
        if (call_ != nullptr) calls_->release(std::exchange(call_, nullptr));
    }

private:
    async_calls* calls_;
    async_call* call_;
};

}  // namespace detail
}  // namespace addrmap
