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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
/// again to read it again, from the map as it then is). One next() at a time. The async driver of
/// detail::scan_fsm: the machine decides, this only carries it out.
///
/// The cluster must outlive the scan. Destroying the scan while a step is out is allowed: its answers are then
/// dropped, and `done` never runs. `done`
/// may run inside next() when the cluster refuses at once (closed, overloaded): retry on a later loop turn (e.g.
/// from when_room()), not from inside that callback.
template <class AsyncCluster>
class async_cluster_scan {
public:
    using step_callback = std::function<void(const error* failure, std::vector<std::string> keys, bool more)>;

    /// Throws error{config} unless slots_per_step, keys_per_request and max_hops are >= 1.
    explicit async_cluster_scan(AsyncCluster& cluster, cluster_scan_options options = {})
        : cluster_(cluster), scan_(options) {}
    async_cluster_scan(const async_cluster_scan&) = delete;
    async_cluster_scan& operator=(const async_cluster_scan&) = delete;

    /// Reads the next step; see the class comment. A next() while one runs ends at once with error{config} (in its
    /// own callback; the running one goes on).
    void next(step_callback done) {
        if (running_) {
            const error busy(error_kind::config, "async_cluster_scan::next() while the previous next() is still running: "
                                                 "call it again from that one's callback");
            if (done) done(&busy, {}, true);
            return;
        }
        running_ = true;
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
    /// How a step ended: its keys, the end of the scan, or an error (the machine has abandoned the step).
    struct step_end {
        std::optional<error> failure;
        std::vector<std::string> keys;
        bool more = true;
    };

    /// Carries out what the machine says until it waits for the loop (a request, a refresh) or the step ends; the
    /// user's callback runs after the machine is left alone (never inside the try).
    void advance() {
        using kind = detail::scan_action::kind;
        std::optional<step_end> ended;
        try {
            while (!ended) {
                detail::scan_action a = scan_.next(cluster_.core());
                if (a.what == kind::done) {
                    ended.emplace();
                    ended->more = false;
                } else if (a.what == kind::step_done) {
                    ended.emplace();
                    scan_.take_keys(ended->keys);
                } else if (a.what == kind::refresh_if_due && !cluster_.core().refresh_due(std::chrono::steady_clock::now())) {
                    continue;
                } else if (a.what == kind::refresh_if_due || a.what == kind::refresh) {
                    cluster_.refresh([alive = std::weak_ptr<char>(alive_), this, token = ++token_](const error* e) {
                        if (!alive.expired() && token == token_) refreshed(e);
                    });
                    return;
                } else {
                    const std::vector<std::string_view> args(a.args.begin(), a.args.end());
                    cluster_.command_on(a.at, args, [alive = std::weak_ptr<char>(alive_), this, token = ++token_](outcome o) {
                        if (!alive.expired() && token == token_) answered(std::move(o));
                    }, scan_.options().call);
                    return;
                }
            }
        } catch (const error& e) {  // a bad reply, a slot with no owner: the machine abandoned the step
            ended.emplace();
            ended->failure = e;
        } catch (...) {  // not the scan's (out of memory): the step is dropped, next() works again, it goes on up
            abandon();
            throw;
        }
        finish(std::move(*ended));
    }

    /// A refresh that failed ends the step only when there is no map at all (refresh_if_due's rule); else the machine
    /// looks at the map again (a slot still without an owner ends the step with error{topology}).
    void refreshed(const error* e) {
        if (e != nullptr && !cluster_.core().has_topology()) return failed(*e);
        advance();
    }

    void answered(outcome o) {
        if (!o.ok()) return failed(*o.failure());
        std::optional<error> bad;
        try {
            scan_.on_reply(*o.reply());
        } catch (const error& e) {  // the machine abandoned the step
            bad = e;
        } catch (...) {
            abandon();
            throw;
        }
        if (bad) {
            step_end end;
            end.failure = std::move(bad);
            return finish(std::move(end));
        }
        advance();
    }

    void failed(const error& why) {
        scan_.on_failed();
        step_end end;
        end.failure = why;
        finish(std::move(end));
    }

    /// An exception that is not the scan's own ends the step without a callback; next() may be called again.
    void abandon() noexcept {
        scan_.on_failed();
        ++token_;
        running_ = false;
        done_ = nullptr;
    }

    /// The step is over: the callback runs last, so it may call next() again.
    void finish(step_end end) {
        ++token_;  // nothing of this step may still be taken for an answer
        running_ = false;
        step_callback done = std::exchange(done_, nullptr);
        if (done) done(end.failure ? &*end.failure : nullptr, std::move(end.keys), end.more);
    }

    AsyncCluster& cluster_;
    detail::scan_fsm scan_;
    step_callback done_;
    bool running_ = false;
    std::uint64_t token_ = 0;                              // the request or refresh whose answer is awaited
    std::shared_ptr<char> alive_ = std::make_shared<char>();  // callbacks that outlive the scan see it expired
};

}  // namespace addrmap
