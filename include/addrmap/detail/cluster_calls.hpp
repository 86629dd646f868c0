// addrmap/detail/cluster_calls.hpp — basic_cluster's I/O, each step the core's decision: a dial (every address of the
// name, verified), one call to its end, one wave of a pipeline, one topology refresh.
#pragma once

#include <addrmap/cluster.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace addrmap {

template <class Policy, class Observer>
inline tls_connection basic_cluster<Policy, Observer>::dial(node_id n, clock::time_point deadline) {
    const core_node& node = core_.ensure_mapped(n);
    const auto left = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    };
    if (left().count() <= 0)
        throw error(error_kind::timeout, "no time left in the call's deadline to connect to " + to_string(node.reported));
    const std::vector<std::string> addresses =
        detail::resolve_within(node.dial_host, std::min(left(), options_.tls.connect_timeout));
    const endpoint mapped(node.dial_host, node.port, node.tls_name);
    const std::size_t seed_number = detail::configured_seed_number(core_, n);
    std::optional<error> last;
    for (const std::string& address : addresses) {
        if (left().count() <= 0) break;
        try {
            const node_address& first_seed = core_.node(core_.seed(0)).reported;
            const dial_limits limits{address, left(), seed_number, first_seed.host, first_seed.port};
            tls_connection fresh = connect_tls(tls_, node.reported, mapped, limits);
            fresh.set_io_deadline(deadline);
            detail::make_ready(fresh, node, options_);
            dialed_address_ = address;
            return fresh;
        } catch (const error& e) {
            if (!cluster_core::is_reachability_error(e)) throw;
            last = e;  // try the name's next address
        }
    }
    if (last) throw *last;
    throw error(error_kind::timeout, "no time left in the call's deadline to connect to " + to_string(node.reported));
}

template <class Policy, class Observer>
inline reply_ptr basic_cluster<Policy, Observer>::drive_call(call_state& c) {
    while (true) {
        const core_decision d = core_.next(c, clock::now());
        switch (d.what) {
            case core_decision::kind::fail: throw *c.failure;
            case core_decision::kind::wait: std::this_thread::sleep_until(d.until); continue;
            case core_decision::kind::refresh: refresh_within(c.deadline); continue;
            case core_decision::kind::send: break;
        }
        redisContext* ctx = nullptr;
        try {
            ctx = link(d.node, c.deadline);
        } catch (const error& e) {
            if (core_.on_not_sent(c, d.node, e, clock::now()) == core_verdict::fail) throw *c.failure;
            continue;
        }
        links_[d.node]->set_io_deadline(d.reply_by);  // the core's: shorter than the call's for a replica read
        if (c.reply_timeout) links_[d.node]->set_reply_timeout(c.reply_timeout);
        core_.on_send(c);
        ++core_.stats().round_trips;
        if (d.asking) redisAppendFormattedCommand(ctx, asking_command, asking_length);
        redisAppendFormattedCommand(ctx, c.command.data(), c.command.size());
        bool ok = true;
        const std::size_t written = flush(ctx, ok);
        const std::size_t command_start = d.asking ? asking_length : 0;
        reply_ptr reply;
        if (ok) {
            void* raw = nullptr;
            if (d.asking && redisGetReply(ctx, &raw) == REDIS_OK) reply_ptr asking_reply(static_cast<redisReply*>(raw));
            if (ctx->err == 0 && redisGetReply(ctx, &raw) == REDIS_OK) reply.reset(static_cast<redisReply*>(raw));
        }
        core_verdict verdict;
        if (reply) {
            verdict = core_.on_reply(c, d.node, *reply, cluster_core::read_clock);
        } else if (!ok && written <= command_start) {
            const error e(error_kind::connect, "lost the connection to " + to_string(core_.node(d.node).reported) +
                                                   " before the command was written: " + why_lost(ctx));
            drop(d.node);
            core_.on_disconnected(d.node, e.message());
            verdict = core_.on_not_sent(c, d.node, e, clock::now());
        } else {
            const std::string why = why_lost(ctx);
            drop(d.node);
            verdict = core_.on_lost_after_write(c, d.node, why, clock::now());
        }
        if (verdict == core_verdict::done) return reply;
        if (verdict == core_verdict::fail) throw *c.failure;
    }
}

template <class Policy, class Observer>
inline std::vector<std::size_t> basic_cluster<Policy, Observer>::wave(std::vector<call_state>& calls, const std::vector<std::size_t>& pending,
                              std::vector<std::optional<outcome>>& results) {
    // Refresh (when due) before routing anything, so no entry is routed to a node the refresh forgets.
    const clock::time_point deadline = calls[pending.front()].deadline;
    if (clock::now() < deadline && core_.refresh_due(clock::now())) refresh_within(deadline);
    detail::pipeline_wave this_wave(calls, results, wave_order_, pending.size());
    const clock::time_point routed_at = clock::now();  // once a wave: routing all of it takes microseconds
    for (std::size_t i : pending)
        if (!this_wave.held(i)) this_wave.route(i, core_.next(calls[i], routed_at));
    // Write every node's share first, so all nodes work while we read from the first.
    for (auto& g : this_wave.groups()) {
        redisContext* ctx = nullptr;
        try {
            ctx = link(g.node, deadline);
        } catch (const error& e) {
            for (std::size_t i : g.entries) this_wave.settle(core_.on_not_sent(calls[i], g.node, e, clock::now()), i);
            continue;
        }
        links_[g.node]->set_io_deadline(std::min(deadline, g.reply_by));
        const auto& reply_timeout = calls[g.entries.front()].reply_timeout;  // one per pipeline
        if (reply_timeout) links_[g.node]->set_reply_timeout(reply_timeout);
        ++core_.stats().round_trips;
        for (std::size_t k = 0; k < g.entries.size(); ++k) {
            call_state& c = calls[g.entries[k]];
            core_.on_send(c);
            if (g.asking[k]) redisAppendFormattedCommand(ctx, asking_command, asking_length);
            redisAppendFormattedCommand(ctx, c.command.data(), c.command.size());
            g.appended(g.asking[k] ? asking_length : 0, c.command.size());
        }
        bool ok = true;
        const std::size_t written = flush(ctx, ok);
        if (ok) {
            g.written = true;
            continue;
        }
        // Entries wholly written may have run; the rest were never sent.
        const std::string why = why_lost(ctx);
        const error unsent(error_kind::connect, "lost the connection to " + to_string(core_.node(g.node).reported) +
                                                    " before the command was written: " + why);
        drop(g.node);
        core_.on_disconnected(g.node, why);
        for (std::size_t k = 0; k < g.entries.size(); ++k) {
            const std::size_t i = g.entries[k];
            const core_verdict v = g.wholly_written(k, written)
                                       ? core_.on_lost_after_write(calls[i], g.node, why, clock::now())
                                       : core_.on_not_sent(calls[i], g.node, unsent, clock::now());
            this_wave.settle(v, i);
        }
    }
    for (auto& g : this_wave.groups()) {
        if (!g.written) continue;
        redisContext* ctx = links_[g.node]->get();
        std::size_t k = 0;
        {
            // The replies are built into shared blocks (detail/reply_arena.hpp): O(1) allocations a read.
            const detail::reply_builder::installed into_blocks(reply_builder_, ctx);
            for (; k < g.entries.size(); ++k) {
                void* raw = nullptr;
                if (g.asking[k] && redisGetReply(ctx, &raw) == REDIS_OK)
                    detail::arena_reply asking_reply(static_cast<redisReply*>(raw));
                if (ctx->err != 0 || redisGetReply(ctx, &raw) != REDIS_OK) break;
                detail::arena_reply reply(static_cast<redisReply*>(raw));
                const std::size_t i = g.entries[k];
                const core_verdict v = core_.on_reply(calls[i], g.node, *reply.get(), cluster_core::read_clock);
                if (v == core_verdict::done) this_wave.done(i, std::move(reply));
                this_wave.settle(v, i);
            }
        }
        if (k == g.entries.size()) continue;
        const std::string why = why_lost(ctx);
        drop(g.node);
        for (; k < g.entries.size(); ++k) {
            const std::size_t i = g.entries[k];
            this_wave.settle(core_.on_lost_after_write(calls[i], g.node, why, clock::now()), i);
        }
    }
    if (const auto wake = this_wave.idle_until()) std::this_thread::sleep_until(*wake);
    return this_wave.again();
}

template <class Policy, class Observer>
inline std::optional<error> basic_cluster<Policy, Observer>::run_refresh(clock::time_point deadline, std::string* failures) {
    detail::topology_refresh refresh(core_, no_cluster_shards_, clock::now());
    using step = detail::topology_refresh::step;
    step s = refresh.start(clock::now());
    while (s == step::ask) {
        if (clock::now() >= deadline) {
            s = refresh.give_up(clock::now());
            break;
        }
        const node_id n = refresh.queried();
        redisContext* c = nullptr;
        try {
            c = link(n, deadline);
        } catch (const error& e) {  // the dial failed: the node is down for the core (not a lost answer)
            core_.on_dial_failed(n, e, clock::now());
            s = refresh.on_failure(e, clock::now());
            continue;
        }
        try {
            const reply_ptr reply = ask(n, c, refresh.query().name());  // a lost answer: on_disconnected
            s = refresh.on_reply(*reply, clock::now());
        } catch (const error& e) {
            s = refresh.on_failure(e, clock::now());
        }
    }
    if (failures != nullptr) *failures += refresh.failures();
    if (s == step::installed) {
        for (node_id gone : refresh.connections_to_close()) {
            const bool had_link = gone < links_.size() && static_cast<bool>(links_[gone]);
            drop(gone);
            if (had_link && core_.exists(gone)) core_.on_closed(gone);  // a seed: no longer connected
        }
        return std::nullopt;
    }
    return refresh.first_error();
}

}  // namespace addrmap
