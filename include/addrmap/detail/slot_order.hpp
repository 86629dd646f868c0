// addrmap/detail/slot_order.hpp — the per-slot order rule both drivers keep: a call of a slot waits while an older
// call of that slot is out on another connection. I/O-free; a channel is whatever the driver writes on.
#pragma once

#include <addrmap/slot.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace addrmap::detail {

/// Calls written on one channel (one TCP stream) run in the order written, so they need nothing. A call of a slot
/// about to go on another channel than an older call of the slot still out (the old owner before a refresh, an
/// ASK target, a connection being replaced) could run first: it must wait until that older call is back. Reads a
/// replica may serve are not counted (reads need no order among themselves, and replica reads give up
/// read-your-writes anyway). Memory is taken on first use.
class slot_order {
public:
    using channel = std::uintptr_t;  // a node id or a connection's address: only compared

    /// True when a call of `slot` must not go on `on` yet.
    bool must_wait(int slot, channel on) const noexcept {
        if (slot < 0 || out_.empty()) return false;
        const auto s = static_cast<std::size_t>(slot);
        return out_[s] > 0 && channel_[s] != on;
    }
    /// True while a call of `slot` counted by out() is not back.
    bool has_out(int slot) const noexcept {
        return slot >= 0 && !out_.empty() && out_[static_cast<std::size_t>(slot)] > 0;
    }
    /// A call of `slot` was written on `on`.
    void out(int slot, channel on) {
        if (slot < 0) return;
        if (out_.empty()) out_.assign(slot_count, 0), channel_.assign(slot_count, 0);
        const auto s = static_cast<std::size_t>(slot);
        if (out_[s]++ == 0)
            channel_[s] = on;
        else if (channel_[s] != on)
            channel_[s] = mixed;
    }
    /// A call of `slot` counted by out() came back (its reply, or its loss).
    void back(int slot) noexcept {
        if (slot < 0 || out_.empty()) return;
        const auto s = static_cast<std::size_t>(slot);
        if (out_[s] > 0 && --out_[s] == 0) channel_[s] = 0;
    }

private:
    static constexpr channel mixed = ~channel{0};  // out on more than one channel
    std::vector<std::uint32_t> out_;
    std::vector<channel> channel_;
};

}  // namespace addrmap::detail
