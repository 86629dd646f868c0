// addrmap/detail/async_subscription_io.hpp — async_subscription's loop work: tending its connections (what the fsm says
// is due), a connection's frames, a refresh's end, the reader it installs on a subscriber connection.
#pragma once

#include <addrmap/detail/async_subscription.hpp>

#include <utility>

namespace addrmap::detail {

inline void async_subscription::tend(clock::time_point now) {
    if (fsm_.take_refresh_wanted()) refresh_wanted_ = true;
    check_health(now);
    // Never read by us yet (the cluster's connect() read it): stale, so the periodic reads start.
    if (fsm_.wants_any() && health_interval_.count() > 0 &&
        (!map_known_right_at_ || now - *map_known_right_at_ >= health_interval_))
        refresh_wanted_ = true;
    const cluster_core& core = host_->subscription_core();
    if ((refresh_wanted_ || !core.has_topology()) && !refreshing_ && now >= next_refresh_at_ && fsm_.wants_any()) {
        refreshing_ = true;
        refresh_started_at_ = now;
        host_->refresh_for(*this);  // may end inside (after the cluster's disconnect()): refreshed() only notes it
        if (host_ == nullptr) return;
    }
    std::vector<node_id> waiting;  // for the node's own connection; open() may erase a link
    for (const auto& [n, l] : links_)
        if (l.connection == nullptr) waiting.push_back(n);
    for (const node_id n : waiting)
        if (const auto it = links_.find(n); it != links_.end()) open(n, it->second, now);
    if (!core.has_topology()) return;
    const std::vector<pubsub_request> due = fsm_.due(now);
    // Each is sent() or not_sent() before the fsm hears anything else: opening a connection calls nothing back.
    for (const pubsub_request& r : due) {
        const bool on_classic_node = r.family == pubsub_family::classic || r.family == pubsub_family::pattern;
        const node_id n = r.slot >= 0                                   ? shard_node(r.slot, now)
                          : !on_classic_node && core.exists(r.node) && core.node(r.node).in_topology ? r.node
                          : on_classic_node                            ? classic_node(now)
                                                                       : no_node;
        link* l = n == no_node ? nullptr : link_to(n, now);
        if (l == nullptr) {
            fsm_.not_sent(r, now);
            refresh_wanted_ = true;
            if (on_classic_node) classic_node_ = no_node;
            continue;
        }
        if (!l->ready || l->doomed) {
            fsm_.not_sent(r, now);
            if (std::find(l->waiting.begin(), l->waiting.end(), std::make_pair(r.family, r.channels)) == l->waiting.end())
                l->waiting.emplace_back(r.family, r.channels);
            continue;
        }
        append(*l, resp_of(r));
        fsm_.sent(r, n);
    }
}

inline void async_subscription::on_reply(node_id n, reply_ptr reply) {
    const auto it = links_.find(n);
    if (it == links_.end() || it->second.doomed) return;  // nothing after a refused frame is delivered
    link& l = it->second;
    const clock::time_point now = clock::now();
    l.heard_at = now;
    std::vector<pubsub_notice> notices;
    try {
        pubsub_frame f = read_pubsub_frame(*reply, l.name);
        if (f.kind == pubsub_frame_kind::pong) {
            l.ping_sent.reset();
            l.last_pong = now;
            backoffs_.erase(n);  // it answers: a drop before this one no longer counts against it
        }
        const frame_verdict verdict = fsm_.on_frame(n, l.name, f, now, notices, l.quiet_at);
        queue(notices);
        if (verdict == frame_verdict::deliver) events_.push_message(std::move(reply), f);
    } catch (const error& e) {
        queue(notices);
        back_off(n, now);  // a node that confirms and then misbehaves is not redialed at once, every time
        doom(n, e.what(), std::min(l.quiet_at, now));  // what it sent since it was last seen quiet is suspect
    }
    if (fsm_.take_refresh_wanted()) refresh_wanted_ = true;
    note_if_quiet(l, now);
    wake();
}

inline void async_subscription::refreshed(bool installed) {
    refreshing_ = false;
    const clock::time_point now = clock::now();
    next_refresh_at_ = now + refresh_min_interval_;
    if (installed && host_ != nullptr) {
        refresh_wanted_ = false;
        const clock::time_point since = map_known_right_at_.value_or(refresh_started_at_);
        map_known_right_at_ = now;
        const cluster_core& core = host_->subscription_core();
        for (auto& [n, l] : links_)
            if ((!core.exists(n) || !core.node(n).in_topology) && l.ready && !l.doomed) doom(n, "the node left the topology", since);
        const std::vector<pubsub_request> moves =
            fsm_.owners_changed([this, now](int slot) { return shard_node(slot, now); }, "a topology refresh", since, now);
        write_unsubscribes(moves);
        std::vector<pubsub_notice> notices;
        const std::vector<pubsub_request> retired = fsm_.masters_changed(subscriber_masters(core), since, now, notices);
        queue(notices);
        write_unsubscribes(retired);
    }
    wake();
}

inline const char* async_subscription::install_reader(async_connection& c, link& l) {
    redisAsyncContext* ac = c.context();
    constexpr const char* not_own = "hiredis's reader is not its own";
    if (ac == nullptr || ac->c.reader == nullptr || ac->c.reader->fn == nullptr) return not_own;
    redisReader* reader = ac->c.reader;
    if (reader->fn->freeObject != &freeReplyObject) return not_own;
    if (hiredis_functions() == nullptr || hiredis_functions() != reader->fn) return not_own;
    redisContextFuncs* bounded = bounded_reads::table_for(ac->c.funcs);
    if (bounded == nullptr) return "no bounded read for a fifth kind of hiredis function table";
    l.hook = std::make_unique<reader_hook>(reader_hook{this, c.node()});
    reader->fn = marking_functions();
    l.shape.max_frame = max_frame_bytes_;
    reader->privdata = &l.shape;
    ac->c.funcs = bounded;
    ac->c.privdata = l.hook.get();
    ac->c.free_privdata = nullptr;
    ac->c.push_cb = &async_subscription::pushed;
    return nullptr;
}

}  // namespace addrmap::detail
