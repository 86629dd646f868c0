// addrmap/detail/subscriber_io.hpp — basic_subscriber's I/O, each step detail/subscription_fsm.hpp's decision: its
// connections dialed, written and read (frames parsed into the per-connection slab), the topology read, the waits.
#pragma once

#include <addrmap/subscriber.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace addrmap {

template <class Policy, class Observer>
inline auto basic_subscriber<Policy, Observer>::parse_one(node_id n, sub_link& link, pubsub_event* into) -> parsed {
    redisContext* c = link.connection.get();
    void* raw = nullptr;
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
        if (link.shape.refused) back_off(n, link.read_at);
        lose(n, link.shape.refused ? detail::refused_frame_shape : why_lost(c), std::min(link.quiet_at, link.read_at));
        return parsed::nothing;
    }
    if (raw == nullptr) return parsed::nothing;
    const redisReply& reply = *static_cast<const redisReply*>(raw);  // in the link's slab until its next frame
    const clock::time_point now = link.read_at;
    std::vector<detail::pubsub_notice>& notices = notices_;
    notices.clear();  // none left from a call that threw
    try {
        detail::pubsub_frame f = detail::read_pubsub_frame(reply, link.name);
        if (f.kind == detail::pubsub_frame_kind::pong) {
            link.ping_sent.reset();
            link.last_pong = now;
            backoffs_.erase(n);  // it answers: a drop before this one no longer counts against it
        }
        const detail::frame_verdict verdict = fsm_.on_frame(n, link.name, f, now, notices, link.quiet_at);
        if (!notices.empty()) queue(notices);
        if (verdict == detail::frame_verdict::deliver) {
            if (events_.empty() && into != nullptr) {  // the usual case: no queue, the reply freed before the next
                detail::fill_message(*into, f);
                link.slab.reset();  // a large frame is not held after it was copied
                return parsed::delivered;
            }
            pubsub_event queued;  // a copy: the slab is reused for the next frame
            detail::fill_message(queued, f);
            events_.push(std::move(queued));
        }
        link.slab.reset();
    } catch (const error& e) {
        queue(notices);
        back_off(n, now);  // a node that confirms and then misbehaves is not redialed at once, every time
        lose(n, e.what(), std::min(link.quiet_at, now));  // what it sent since it was last quiet is suspect
        return parsed::nothing;
    }
    return parsed::queued;
}

template <class Policy, class Observer>
inline void basic_subscriber<Policy, Observer>::tend(clock::time_point deadline) {
    flush_pending();
    if (fsm_.take_refresh_wanted()) refresh_wanted_ = true;
    clock::time_point now = clock::now();
    check_health(now);
    if (fsm_.wants_any() && map_known_right_at_ && health_interval().count() > 0 &&
        now - *map_known_right_at_ >= health_interval())
        refresh_wanted_ = true;
    if ((refresh_wanted_ || !cluster_.core_.has_topology()) && fsm_.wants_any() && now >= next_refresh_at_) {
        refresh(std::max(deadline, now + cluster_.options_.tls.connect_timeout));
        now = clock::now();
    }
    if (!cluster_.core_.has_topology()) return;  // nothing can be routed yet
    std::vector<detail::pubsub_request> due = fsm_.due(now);
    if (due.empty()) return;
    // Every request is sent() or not_sent() before the fsm hears anything else (a dial that fails only marks its
    // node; what was queued is written after the batch). A node is dialed at most once here.
    std::optional<error> lasting;  // a dial failure that would repeat: the caller's to know, after the batch
    std::vector<node_id> tried;
    for (std::size_t i = 0; i < due.size(); ++i) {
        const detail::pubsub_request& r = due[i];
        const node_id n = route(r, now);
        sub_link* link = nullptr;
        if (n != no_node && std::find(tried.begin(), tried.end(), n) == tried.end()) {
            link = link_to(n, lasting);
            if (link == nullptr) tried.push_back(n);
        } else if (n != no_node) {
            const auto it = links_.find(n);
            link = it == links_.end() ? nullptr : &it->second;
        }
        if (link == nullptr || !append(*link, detail::resp_of(r))) {
            fsm_.not_sent(r, clock::now());
            refresh_wanted_ = true;
            if (r.family == pubsub_family::classic || r.family == pubsub_family::pattern) classic_node_ = no_node;  // another, next time
            continue;
        }
        fsm_.sent(r, n);
    }
    flush_pending();
    if (lasting) throw *lasting;
}

template <class Policy, class Observer>
inline auto basic_subscriber<Policy, Observer>::link_to(node_id n, std::optional<error>& lasting) -> sub_link* {
    if (const auto it = links_.find(n); it != links_.end()) return &it->second;
    try {
        try {
            tls_connection fresh = cluster_.dial(n, clock::now() + cluster_.options_.tls.connect_timeout);
            cluster_.core_.tell_connection_opened(n, fresh.handshake(), cluster_.dialed_address_);
            // Non-blocking from here: a read takes what is there (a TLS record half here waits for the next read),
            // a write waits at most command_timeout for room.
            fresh.get()->flags &= ~REDIS_BLOCK;
            const std::string name = detail::describe_route(fresh.reported(), fresh.mapped());
            const clock::time_point at = clock::now();
            redisReader* reader = fresh.get()->reader;
            if (reader == nullptr || base_functions() == nullptr || reader->fn != base_functions())
                throw error(error_kind::config, "a subscriber connection's reader is not hiredis's own (an on_connect hook "
                                                "replaced its reply functions)");
            if (!detail::reader_between_replies(*reader))
                throw error(error_kind::config, "an on_connect hook left a reply half read on a subscriber connection");
            reader->ridx = -1;  // a hook that looked for more may have left a root task begun without our privdata
            reader->fn = shape_checking_functions();
            sub_link& link = links_.emplace(n, sub_link{std::move(fresh), name, at, at, at, std::nullopt, false, false, {}, {}}).first->second;
            link.shape.max_frame = max_frame_bytes_;
            link.shape.slab = &link.slab;
            link.connection.get()->reader->privdata = &link.shape;
            return &link;
        } catch (const error&) {
            throw;
        } catch (const std::exception& e) {  // on_connect's own exception, say
            throw error(error_kind::config, "setting up a subscriber connection to " +
                                                detail::escaped(to_string(cluster_.core_.node(n).reported), 300) +
                                                " threw: " + detail::escaped(e.what(), 300));
        }
    } catch (const error& e) {
        cluster_.core_.on_dial_failed(n, e, clock::now());
        back_off(n, clock::now());
        if (!cluster_core::is_reachability_error(e) && !lasting) lasting = e;
        return nullptr;
    }
}

template <class Policy, class Observer>
inline void basic_subscriber<Policy, Observer>::wait_for_input(clock::time_point until) {
    std::vector<pollfd>& fds = poll_fds_;
    std::vector<node_id>& nodes = poll_nodes_;
    fds.clear();
    nodes.clear();
    bool buffered = false;  // OpenSSL holds records poll() cannot see: no wait
    for (const auto& [n, link] : links_) {
        fds.push_back(pollfd{link.connection.get()->fd, POLLIN, 0});
        nodes.push_back(n);
        buffered = buffered || (!link.stalled && link.connection.has_buffered_input());
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now());
    const int timeout = buffered ? 0 : static_cast<int>(std::clamp<long long>(left.count(), 0, 60000));
    const clock::time_point polled_at = clock::now();
    const int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout);
    if (ready < 0) return;  // interrupted: nothing learned
    // A socket poll() did not report, and whose OpenSSL holds nothing, was empty from polled_at on (all of them
    // were to the end, if none was reported).
    const clock::time_point quiet_at = ready == 0 ? clock::now() : polled_at;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        const auto it = links_.find(nodes[i]);
        if (it == links_.end()) continue;
        sub_link& link = it->second;
        const bool pending = !link.stalled && link.connection.has_buffered_input();
        if (fds[i].revents == 0 && !pending) {
            // Quiet only if nothing it sent is unread: no part of a frame in hiredis's reader, none in OpenSSL.
            const redisReader* r = link.connection.get()->reader;
            if (!link.connection.has_buffered_input() && r->pos == r->len) link.quiet_at = quiet_at;
            continue;
        }
        link.stalled = false;  // the socket has something: what OpenSSL holds may be whole now
        if (fds[i].revents != 0) it->second.connection.expect_input();
        read_from(nodes[i]);
    }
}

template <class Policy, class Observer>
inline void basic_subscriber<Policy, Observer>::refresh(clock::time_point deadline) {
    const clock::time_point before = clock::now();
    const bool installed = cluster_.refresh_within(deadline);
    const clock::time_point now = clock::now();
    if (!installed) {  // wanted still: tried again after a backoff that grows while none answers
        next_refresh_at_ = std::max(now + cluster_.options_.refresh_min_interval,
                                    detail::saturating_add(now, refresh_backoff_.delay(refresh_step_)));
        return;
    }
    refresh_step_ = 0;
    next_refresh_at_ = now + cluster_.options_.refresh_min_interval;
    refresh_wanted_ = false;
    const clock::time_point since = map_known_right_at_.value_or(before);
    map_known_right_at_ = now;
    // Connections to nodes that left: their subscriptions are down from when the map was last known right.
    for (auto it = links_.begin(); it != links_.end();) {
        const node_id n = (it++)->first;
        if (!cluster_.core_.exists(n) || !cluster_.core_.node(n).in_topology) lose(n, "the node left the topology", since);
    }
    const auto owner_of = [this, now](int slot) { return shard_node(slot, now); };
    std::vector<detail::pubsub_request> moves = fsm_.owners_changed(owner_of, "a topology refresh", since, now);
    queue_requests(moves);
    std::vector<detail::pubsub_notice> notices;
    std::vector<detail::pubsub_request> retired =
        fsm_.masters_changed(detail::subscriber_masters(cluster_.core_), since, now, notices);
    queue(notices);
    queue_requests(retired);
    flush_pending();
}

template <class Policy, class Observer>
inline bool basic_subscriber<Policy, Observer>::parse_buffered(pubsub_event& into) {
    static constexpr int max_reads_per_look = 64;
    while (!to_parse_.empty()) {
        const node_id n = to_parse_.front();
        const auto it = links_.find(n);
        if (it == links_.end()) {
            to_parse_.erase(to_parse_.begin());
            continue;
        }
        const parsed what = parse_one(n, it->second, &into);  // may lose the link: `it` is not used after it
        if (what == parsed::delivered) return true;
        if (!events_.empty()) return events_.pop_into(into);
        if (what == parsed::queued) continue;
        const auto again = links_.find(n);
        if (again != links_.end() && !again->second.stalled &&
            (again->second.read_full || again->second.connection.has_buffered_input()) &&
            ++reads_this_look_ < max_reads_per_look) {
            if (!again->second.connection.has_buffered_input()) again->second.connection.expect_input();
            read_from(n);
            continue;
        }
        to_parse_.erase(std::find(to_parse_.begin(), to_parse_.end(), n));
    }
    reads_this_look_ = 0;
    return false;
}

template <class Policy, class Observer>
inline void basic_subscriber<Policy, Observer>::read_from(node_id n) {
    auto it = links_.find(n);
    if (it == links_.end()) return;
    sub_link& link = it->second;
    redisContext* c = link.connection.get();
    // Every whole frame it held is parsed (a read comes only then): what it holds is the frame in progress.
    if (detail::frame_overrun(*c->reader, link.shape)) {  // as for a frame of the wrong shape
        const clock::time_point now = clock::now();
        back_off(n, now);
        lose(n, detail::overrun_cause(link.shape), std::min(link.quiet_at, now));
        return;
    }
    link.connection.set_io_deadline(clock::now());  // a look: what is there, no wait
    const std::size_t before = c->reader->len;
    if (redisBufferRead(c) != REDIS_OK) {
        lose(n, why_lost(c), clock::now());
        return;
    }
    link.stalled = c->reader->len == before;
    link.read_full = c->reader->len - before >= full_read_bytes;
    if (link.stalled) return;
    link.read_at = clock::now();  // when what this read brought came: its frames' time
    if (std::find(to_parse_.begin(), to_parse_.end(), n) == to_parse_.end()) to_parse_.push_back(n);
}

}  // namespace addrmap
