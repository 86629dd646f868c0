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
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
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

/// The same cursor for the async cluster (basic_async_cluster): next(done) reads the next step from the loop and
/// calls `done` once, on the loop thread, with the step's keys (`more` true), with nothing once every slot was read
/// (`more` false), or with the error that ended the step (the cursor then stays at the step's first slot: call next()
/// again to read it again, from the map as it then is). One next() at a time; the scan and its cluster must outlive
/// the callback. The async driver of detail::scan_fsm: the machine decides, this only carries it out.
template <class AsyncCluster>
class async_cluster_scan {
public:
    using step_callback = std::function<void(const error* failure, std::vector<std::string> keys, bool more)>;

    /// Throws error{config} unless slots_per_step, keys_per_request and max_hops are >= 1.
    explicit async_cluster_scan(AsyncCluster& cluster, cluster_scan_options options = {})
        : cluster_(cluster), scan_(options) {}
    async_cluster_scan(const async_cluster_scan&) = delete;
    async_cluster_scan& operator=(const async_cluster_scan&) = delete;

    /// Reads the next step; see the class comment. A second next() while one runs ends with error{config}.
    void next(step_callback done) {
        if (done_) {
            const error busy(error_kind::config, "async_cluster_scan::next() while the previous next() is still running: "
                                                 "call it again from that one's callback");
            if (done) done(&busy, {}, true);
            return;
        }
        done_ = std::move(done);
        advance();
    }

    /// The next slot to read; slot_count (16384) once done.
    std::uint32_t cursor() const noexcept { return scan_.cursor(); }
    /// Slots read from more than one node because they moved (or were moving) while the scan reached them.
    std::uint64_t slots_followed() const noexcept { return scan_.slots_followed(); }
    /// Requests sent (GETKEYSINSLOT and CLUSTER NODES).
    std::uint64_t requests() const noexcept { return scan_.requests(); }

private:
    /// Carries out what the machine says until it waits for the loop (a request, a refresh) or the step ends.
    void advance() {
        using kind = detail::scan_action::kind;
        try {
            while (true) {
                detail::scan_action a = scan_.next(cluster_.core());
                switch (a.what) {
                    case kind::done: return finish(nullptr, {}, false);
                    case kind::step_done: {
                        std::vector<std::string> keys;
                        scan_.take_keys(keys);
                        return finish(nullptr, std::move(keys), true);
                    }
                    case kind::refresh_if_due:
                        if (!cluster_.core().refresh_due(std::chrono::steady_clock::now())) continue;
                        return refresh();
                    case kind::refresh: return refresh();
                    case kind::send: {
                        const std::vector<std::string_view> args(a.args.begin(), a.args.end());
                        // The machine owns the request's text until on_reply/on_failed: `a` is a copy for the call.
                        cluster_.command_on(a.at, args, [this](outcome o) { answered(std::move(o)); }, scan_.options().call);
                        return;
                    }
                }
            }
        } catch (const error& e) {  // a bad reply, a slot with no owner: the machine abandoned the step
            finish(&e, {}, true);
        }
    }

    /// Reads the topology (connect(): the best node, then the masters). One that fails ends the step only when there
    /// is no map at all (refresh_if_due's rule); else the machine looks at the map again (a slot still without an
    /// owner ends the step with error{topology}).
    void refresh() {
        cluster_.connect([this](const error* e) {
            if (e != nullptr && !cluster_.core().has_topology()) {
                scan_.on_failed();
                const error failure = *e;
                return finish(&failure, {}, true);
            }
            advance();
        });
    }

    void answered(outcome o) {
        if (!o.ok()) {
            scan_.on_failed();
            const error failure = *o.failure();
            return finish(&failure, {}, true);
        }
        try {
            scan_.on_reply(*o.reply());
        } catch (const error& e) {
            return finish(&e, {}, true);
        }
        advance();
    }

    void finish(const error* failure, std::vector<std::string> keys, bool more) {
        step_callback done = std::move(done_);
        done_ = nullptr;
        if (done) done(failure, std::move(keys), more);
    }

    AsyncCluster& cluster_;
    detail::scan_fsm scan_;
    step_callback done_;
};

}  // namespace addrmap
