// addrmap/cluster_scan.hpp — every key of the cluster exactly once, also while slots move: keys are read slot by
// slot (CLUSTER GETKEYSINSLOT) from the node that holds them, following MIGRATING/IMPORTING and new owners.
//
// Why exactly once: a key belongs to one slot, each slot is finished before the cursor moves past it, and
// within a slot the keys read from several nodes (a slot caught mid-migration) are merged without duplicates.
// Why none is missed: after reading a slot from node X, X itself is asked (CLUSTER NODES) whether it still owns
// the slot and is not migrating it; if not, the node the keys went to is read next. Keys of a slot only move
// from the migrating node to the importing one, so reading the source before the target sees every key that
// existed before the scan reached the slot (a key moved in between is read twice and kept once).
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/scan_fsm.hpp>
#include <addrmap/pipeline.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap {

/// A cursor over every key of the cluster (see the top of this file for the guarantee). Keys written or
/// deleted while the scan runs may or may not be returned; every key that exists from the scan's start
/// to its end is returned exactly once. Memory: the keys of one step at a time.
///
/// The blocking driver of detail::scan_fsm: it carries out what the machine says with `Cluster`'s command_on,
/// refresh and refresh_if_due, and decides nothing itself.
template <class Cluster>
class cluster_scan {
public:
    /// Throws error{config} unless slots_per_step, keys_per_request and max_hops are >= 1.
    explicit cluster_scan(Cluster& cluster, cluster_scan_options options = {}) : cluster_(cluster), scan_(options) {}

    /// Appends the keys of the next slots to `keys`; false (and nothing appended) once every slot was read.
    /// A failed request or refresh (or a bad reply) throws, appends nothing and leaves the cursor at the step's
    /// first slot: calling next() again reads that step again, from the map as it then is.
    bool next(std::vector<std::string>& keys) {
        using kind = detail::scan_action::kind;
        while (true) {
            const detail::scan_action a = scan_.next(cluster_.core());
            switch (a.what) {
                case kind::done: return false;
                case kind::step_done: scan_.take_keys(keys); return true;
                case kind::refresh_if_due: reporting_failure([&] { refresh_if_due(cluster_); }); break;
                case kind::refresh: reporting_failure([&] { cluster_.refresh(); }); break;
                case kind::send: {
                    const std::vector<std::string_view> args(a.args.begin(), a.args.end());
                    const call_options& call = scan_.options().call;
                    reply_ptr r = reporting_failure([&] { return cluster_.command_on(a.at, args, call); });
                    scan_.on_reply(*r);
                    break;
                }
            }
        }
    }

    /// The next slot to read; slot_count (16384) once done.
    std::uint32_t cursor() const noexcept { return scan_.cursor(); }
    /// Slots read from more than one node because they moved (or were moving) while the scan reached them.
    std::uint64_t slots_followed() const noexcept { return scan_.slots_followed(); }
    /// Requests sent (GETKEYSINSLOT and CLUSTER NODES).
    std::uint64_t requests() const noexcept { return scan_.requests(); }

private:
    /// Runs `io`; if it throws, the machine learns that its action failed (the step is abandoned) and the
    /// exception goes on to the caller.
    template <class Io>
    auto reporting_failure(Io&& io) {
        try {
            return io();
        } catch (...) {
            scan_.on_failed();
            throw;
        }
    }

    Cluster& cluster_;
    detail::scan_fsm scan_;
};

}  // namespace addrmap
