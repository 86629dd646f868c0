// addrmap/detail/pipeline_wave.hpp — one wave of the blocking driver's pipeline, without its I/O: which entries go
// now and to which node (grouped per node, per-slot order kept), which wait for the next wave, and each one's outcome.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/detail/slot_order.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/slot.hpp>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// The driver asks held() then route() for each pending entry, in the order added; then, for each group, writes
/// its entries (appended() for each), reads their replies and reports each verdict (settle(), or done() for a
/// reply); then sleeps until idle_until() if set, and sends again() in the next wave.
///
/// The order rules: entries of one slot keep their order, so once one waits, the later ones wait with it (else a
/// retried SET k 1 could run after the SET k 2 added behind it, whose backoff happened to end first). And the
/// per-slot order rule (slot_order.hpp) within the wave: an entry of a slot whose older entry goes to another node
/// in this wave (an ASK target, a MOVED's new owner) waits for the next wave, since the two nodes run their shares
/// at the same time. And an entry with several keys whose last answer was ASK or TRYAGAIN (slot_moving) travels alone
/// in its slot: the newer entries of the slot wait for the next wave, since the server, mid-move, can refuse one
/// entry and run the next (an MSET with its keys split, then a SET of one key). Entries that meet a migration
/// together on first contact share one connection and the server's answers; that is the one place where an entry
/// with several keys can still be overtaken by a newer one of its slot. Every entry counted in `order` is back when
/// the wave ends (its destructor).
class pipeline_wave {
public:
    using clock = std::chrono::steady_clock;

    /// One node's share of the wave, in the order added.
    struct group {
        node_id node = no_node;
        std::vector<std::size_t> entries;  // indexes into the calls
        std::vector<bool> asking;          // send ASKING before the entry
        std::vector<std::size_t> ends;     // byte offset where each entry's command ends
        clock::time_point reply_by = clock::time_point::max();  // the earliest of the entries' (core's)
        bool written = false;
        std::size_t bytes = 0;

        /// The next entry was appended: `asking_bytes` of ASKING (0 if none), then `command_bytes` of command.
        void appended(std::size_t asking_bytes, std::size_t command_bytes) {
            bytes += asking_bytes + command_bytes;
            ends.push_back(bytes);
        }
        /// After a write that stopped at `written` bytes: was the k-th entry's command all sent (it may have run)?
        /// A command cut short cannot have run (the server waits for the rest of it), nor can anything after it.
        bool wholly_written(std::size_t k, std::size_t written) const noexcept { return ends[k] <= written; }
    };

    /// `expected`: how many entries will be routed (the vectors are sized once for up to a few thousand: a wave costs
    /// O(nodes) allocations, not O(log N) per node and vector).
    pipeline_wave(std::vector<call_state>& calls, std::vector<std::optional<outcome>>& results, slot_order& order,
                  std::size_t expected = 0)
        : calls_(calls), results_(results), order_(order), expected_(expected) {
        ordered_slots_.reserve(std::min<std::size_t>(expected, 4096));
        groups_.reserve(8);
    }
    pipeline_wave(const pipeline_wave&) = delete;
    pipeline_wave& operator=(const pipeline_wave&) = delete;
    ~pipeline_wave() {
        for (int slot : ordered_slots_) order_.back(slot);
    }

    /// True (and the entry waits for the next wave) when an older entry of its slot waits already.
    bool held(std::size_t i) {
        if (!is_held(calls_[i].slot)) return false;
        again_.push_back(i);
        return true;
    }

    /// The core's decision for entry `i`: it fails, waits (for the next wave), or joins its node's group.
    void route(std::size_t i, const core_decision& d) {
        call_state& c = calls_[i];
        switch (d.what) {
            case core_decision::kind::fail: results_[i].emplace(*c.failure); return;
            case core_decision::kind::refresh:  // due again already: the next wave refreshes first
            case core_decision::kind::wait:
                if (d.what == core_decision::kind::wait) wake_ = wake_ ? std::max(*wake_, d.until) : d.until;
                hold(c.slot);
                again_.push_back(i);
                return;
            case core_decision::kind::send: break;
        }
        if (!c.replica_read && c.slot >= 0) {
            if (order_.must_wait(c.slot, d.node)) {
                hold(c.slot);
                again_.push_back(i);
                return;
            }
            ordered_slots_.push_back(c.slot);
            order_.out(c.slot, d.node);
            // The slot is being moved: the server may refuse this entry (TRYAGAIN: its keys are split) and run a
            // newer one of the slot written behind it on the same connection. It travels alone in its slot.
            if (c.slot_moving) hold(c.slot);
        }
        auto g = std::find_if(groups_.begin(), groups_.end(), [&](const group& x) { return x.node == d.node; });
        if (g == groups_.end()) {
            g = groups_.insert(groups_.end(), group());
            g->node = d.node;
            // Sized once for a batch of a few thousand, whichever node gets it; a larger one grows (O(log N) times).
            const std::size_t room = std::min<std::size_t>(expected_, 4096);
            g->entries.reserve(room);
            g->asking.reserve(room);
            g->ends.reserve(room);
        }
        g->entries.push_back(i);
        g->asking.push_back(d.asking);
        g->reply_by = std::min(g->reply_by, d.reply_by);
    }

    std::vector<group>& groups() noexcept { return groups_; }

    /// What the core said of entry `i` after its send: retried in the next wave, or failed.
    void settle(core_verdict v, std::size_t i) {
        if (v == core_verdict::retry) again_.push_back(i);
        if (v == core_verdict::fail) results_[i].emplace(*calls_[i].failure);
    }
    /// Entry `i`'s reply is the caller's.
    void done(std::size_t i, reply_ptr reply) { results_[i].emplace(std::move(reply)); }
    void done(std::size_t i, arena_reply reply) { results_[i].emplace(std::move(reply)); }

    /// When nothing was sent: the time the last waiting entry may go. Entries back off together, so the next wave
    /// carries them all (waking at the first would send them one by one as each one's jittered wait ends: a round
    /// trip per entry). No wait is longer than the longest backoff, and none passes the deadline.
    std::optional<clock::time_point> idle_until() const {
        return groups_.empty() ? wake_ : std::nullopt;
    }

    /// The entries to send again, in the order they were added.
    std::vector<std::size_t> again() const {
        std::vector<std::size_t> out = again_;
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    bool is_held(int slot) const { return slot >= 0 && held_slots_.test(static_cast<std::size_t>(slot)); }
    void hold(int slot) {
        if (slot >= 0) held_slots_.set(static_cast<std::size_t>(slot));
    }

    std::vector<call_state>& calls_;
    std::vector<std::optional<outcome>>& results_;
    slot_order& order_;
    std::size_t expected_;
    std::bitset<slot_count> held_slots_;
    std::vector<int> ordered_slots_;
    std::vector<group> groups_;
    std::vector<std::size_t> again_;
    std::optional<clock::time_point> wake_;
};

}  // namespace addrmap::detail
