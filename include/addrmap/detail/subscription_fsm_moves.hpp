// addrmap/detail/subscription_fsm_moves.hpp — subscription_fsm's longer rules: what a frame means, what a changed set of
// masters or a lost connection moves (and which gaps open), and which requests are due. No I/O.
#pragma once

#include <addrmap/detail/subscription_fsm.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

inline frame_verdict subscription_fsm::on_frame(node_id node, std::string_view node_name, pubsub_frame& f, clock::time_point now,
                       std::vector<pubsub_notice>& out, std::optional<clock::time_point> quiet_since) {
    const auto foreign = [&](const std::string& what) {
        return error(error_kind::protocol, "subscriber connection to " + std::string(node_name) + " sent " + what +
                                               ", which was not asked for there; the connection is dropped");
    };
    switch (f.kind) {
        case pubsub_frame_kind::pong: {
            // Settles the unsubscribe written before it (whatever of its answers a push took the place of),
            // then answers its PING.
            auto q = queues_.find(node);
            while (q != queues_.end() && !q->second.empty() && q->second.front().what == request_kind::unsubscribe) {
                end_remaining(node, q->second.front(), now, out);
                q->second.pop_front();
            }
            if (q == queues_.end() || q->second.empty() || q->second.front().what != request_kind::ping)
                throw foreign("a PING's answer");
            q->second.pop_front();
            return frame_verdict::consumed;
        }
        case pubsub_frame_kind::message: {
            const std::string_view name = f.family == pubsub_family::pattern ? f.pattern : f.channel;
            // Messages come in runs on one subscription: the last one found is looked at first.
            const auto it = last_message_.node == node && last_message_.family == f.family && last_message_.name == name &&
                                    last_message_.at->second.node == node
                                ? last_message_.at
                                : find_here(node, f.family, name);
            if (it != subs_.end()) last_message_ = message_hit{node, f.family, it->first.channel, it};
            if (it == subs_.end() || (it->second.state != phase::active && it->second.state != phase::unsubscribing)) {
                if (f.family == pubsub_family::sharded && draining(node, f.channel)) return frame_verdict::consumed;
                throw foreign("a message for " + quoted(name, 80));
            }
            // A node that is no longer a master repeats its new master's events (a replica fires them too): not
            // taken from it; its gap covers the time until its PUNSUBSCRIBE is answered.
            if (it->second.retiring) return frame_verdict::consumed;
            f.family = it->first.family;
            return frame_verdict::deliver;
        }
        case pubsub_frame_kind::subscribed: {
            if (!answers_head(node, request_kind::subscribe, f.family, f.channel))
                throw foreign("a confirmation of " + quoted(f.channel, 80));
            const auto it = find_here(node, f.family, f.channel);
            if (it != subs_.end() && it->second.state == phase::subscribing) {
                it->second.state = phase::active;
                it->second.step = 0;
                if (it->second.drains == 0) close_gap(it->first, it->second, now, out);
                out.push_back(notice(pubsub_notice::kind::subscribed, it->first, it->second));
            }
            return frame_verdict::consumed;  // unsubscribing meanwhile: its unsubscribe is on the way
        }
        case pubsub_frame_kind::unsubscribed: {
            if (f.channel.empty()) throw foreign("an unsubscribe of nothing");  // never asked: no bare UNSUBSCRIBE
            const auto it = find_here(node, f.family, f.channel);
            const bool ours_here = it != subs_.end();
            if (answers_head(node, request_kind::unsubscribe, f.family, f.channel)) {
                if (ours_here && it->second.state == phase::unsubscribing) end(it, now, out);
                return frame_verdict::consumed;
            }
            // Unasked: only Redis 7's push when a shard channel's slot moved (or its node was reset); Redis never
            // pushes a classic or pattern unsubscribe. A push may come for a channel being unsubscribed (it ends
            // it; its own answer, later, finds nothing) or for one already gone (ignored).
            if (f.family != pubsub_family::sharded) throw foreign("an unsubscribe of " + quoted(f.channel, 80));
            if (ours_here && it->second.state == phase::unsubscribing) {
                end(it, now, out);
            } else if (ours_here && it->second.state == phase::active) {
                // Asked again at once, once the map is refreshed.
                lost(it->second, "the server ended it (its slot moved: sunsubscribe from " + std::string(node_name) + ")",
                     std::min(quiet_since.value_or(now), now), now);
                refresh_wanted_ = true;
            }
            return frame_verdict::consumed;
        }
        case pubsub_frame_kind::error_reply: {
            // The answer to the oldest request on this connection: it replaces all that request's answers.
            auto q = queues_.find(node);
            if (q == queues_.end() || q->second.empty()) throw foreign("an error reply " + quoted(f.payload, 120));
            const refusal_kind why = refusal_of_text(f.payload);
            // An unsubscribe answered in full (pushes included) gets no error but a redirect: a PING never does.
            if (q->second.front().what == request_kind::unsubscribe && q->second.front().remaining.empty() &&
                why != refusal_kind::elsewhere && q->second.size() > 1) {
                end_remaining(node, q->second.front(), now, out);
                q->second.pop_front();
            }
            const outstanding head = std::move(q->second.front());
            q->second.pop_front();
            if (head.what == request_kind::ping) return frame_verdict::consumed;  // BUSY, LOADING: alive anyway
            if (head.what == request_kind::unsubscribe) {
                // The slot is not served there (it moved, or was deleted): nothing of it is subscribed there. A
                // CLUSTERDOWN for the whole cluster (cluster-allow-pubsubshard-when-down no) says nothing of that.
                if (why != refusal_kind::elsewhere || (f.payload.substr(0, 11) == "CLUSTERDOWN" &&
                                                       f.payload.find("Hash slot not served") == std::string_view::npos))
                    throw error(error_kind::protocol,
                                "subscriber connection to " + std::string(node_name) + " refused an unsubscribe (" +
                                    quoted(f.payload, 120) +
                                    "); the connection is dropped, so the server forgets its subscriptions");
                end_remaining(node, head, now, out);
                refresh_wanted_ = true;
                return frame_verdict::consumed;
            }
            // A final refusal of several channels may be for one of them: each is asked again on its own, and a
            // refusal then is its own.
            const bool split = why == refusal_kind::final && head.remaining.size() > 1;
            for (const std::string& channel : head.remaining) {
                const auto it = subs_.find(key_view{head.family, channel, node_of_key(head.family, node)});
                if (it == subs_.end() || it->second.node != node) continue;
                subscription& s = it->second;
                if (s.state != phase::subscribing) continue;
                if (split) {
                    s.alone = true;
                    retry_later(s, now);
                    continue;
                }
                if (why != refusal_kind::final) {  // asked again after a backoff (and a refresh, if it moved)
                    retry_later(s, now);
                    if (why == refusal_kind::elsewhere) refresh_wanted_ = true;
                    continue;
                }
                close_gap(it->first, s, now, out);
                // Not asked of that master again (ACLs are per node) until the user subscribes the pattern again.
                if (head.family == pubsub_family::master_pattern && master_patterns_.count(channel) != 0)
                    refused_on_.emplace(channel, node);
                pubsub_notice n = notice(pubsub_notice::kind::refused, it->first, s);
                n.cause = quoted(f.payload, 200) + " from " + std::string(node_name);
                out.push_back(std::move(n));
                erase_sub(it);
            }
            return frame_verdict::consumed;
        }
    }
    return frame_verdict::consumed;
}

inline std::vector<pubsub_request> subscription_fsm::masters_changed(std::map<node_id, std::string> masters, std::optional<clock::time_point> since,
                                            clock::time_point now, std::vector<pubsub_notice>& out) {
    const bool first_map = masters_.empty();
    const std::map<node_id, std::string> before = std::exchange(masters_, std::move(masters));
    unsubscribe_batch batch;
    for (auto it = subs_.begin(); it != subs_.end();) {
        const key& k = it->first;
        subscription& s = it->second;
        if (k.family != pubsub_family::master_pattern) {
            ++it;
            continue;
        }
        if (masters_.count(k.node) != 0) {
            // A master again while its PUNSUBSCRIBE is out: asked for again once that is answered.
            if (s.retiring && master_patterns_.count(k.channel) != 0) s.resubscribe_after_unsubscribe = true;
            ++it;
            continue;
        }
        s.resubscribe_after_unsubscribe = false;
        if (s.retiring) {
            ++it;
            continue;
        }
        s.retiring = true;
        if (s.state == phase::pending) {
            end(it++, now, out);
            continue;
        }
        if (s.state == phase::active && !s.gap_start) {
            s.gap_start = now;
            s.gap_cause = s.node_name + " is no longer a master (its events are not taken from a replica)";
        }
        if (s.state != phase::unsubscribing) {  // subscribing or active: the unsubscribe follows on its connection
            s.state = phase::unsubscribing;
            batch.add(s.node, k);
        }
        ++it;
    }
    for (const std::string& pattern : master_patterns_)
        for (const auto& [m, name] : masters_) {
            if (refused_on_.count({pattern, m}) != 0) continue;
            const bool fresh = subs_.count(key_view{pubsub_family::master_pattern, pattern, m}) == 0;
            want_entry(key{pubsub_family::master_pattern, pattern, m}, now, name);
            // New to the map (not merely asked again): what its keys did meanwhile was not received.
            if (!fresh || first_map || !since || before.count(m) != 0) continue;
            subscription& s = subs_.find(key_view{pubsub_family::master_pattern, pattern, m})->second;
            s.gap_start = std::min(*since, now);
            s.gap_cause = name + " became a master (what its keys did since the map before was not received)";
        }
    return send(batch);
}

inline void subscription_fsm::connection_lost(node_id node, std::string_view node_name, std::string_view why, clock::time_point now,
                     std::vector<pubsub_notice>& out) {
    queues_.erase(node);
    for (auto d = draining_.lower_bound({node, std::string()}); d != draining_.end() && d->first.first == node;) {
        const std::string channel = d->first.second;
        const int count = d->second;
        d = draining_.erase(d);
        for (int i = 0; i < count; ++i) drain_settled(channel, now, out);  // the server forgot them with it
    }
    for (auto it = subs_.begin(); it != subs_.end();) {
        subscription& s = it->second;
        if (s.node != node) {
            ++it;
            continue;
        }
        if (s.state == phase::unsubscribing) {
            const auto next = std::next(it);  // end() may add a subscription: map iterators stay valid
            end(it, now, out);
            it = next;
            continue;
        }
        const clock::time_point again_at = saturating_add(now, backoff_.delay(s.step));
        lost(s, "lost the connection to " + std::string(node_name) + ": " + std::string(why), now, again_at);
        refresh_wanted_ = true;
        ++it;
    }
}

inline std::vector<pubsub_request> subscription_fsm::due(clock::time_point now) {
    if (!earliest_pending_ || *earliest_pending_ > now) return {};  // the usual case, on every read: no scan
    earliest_pending_.reset();  // found again below, from what stays pending
    std::map<std::pair<pubsub_family, std::int64_t>, pubsub_request> grouped;
    int alone_count = 0;  // a group of its own for each channel asked for alone
    for (auto& [k, s] : subs_) {
        if (s.state != phase::pending) continue;
        if (s.not_before > now) {
            pending_from(s, s.not_before);
            continue;
        }
        s.state = phase::routing;
        // One refused with others (Redis refuses a whole SUBSCRIBE for one channel the ACL denies) goes alone.
        // A pattern on every master is grouped by its master; the others by slot (-1: classic, pattern).
        const std::int64_t where = s.alone ? 0x100000000LL + ++alone_count
                                   : k.family == pubsub_family::master_pattern ? static_cast<std::int64_t>(k.node)
                                                                                 : slot_of(k);
        pubsub_request& r = grouped[{k.family, where}];
        r.family = k.family;
        r.slot = slot_of(k);
        r.node = k.node;
        r.channels.push_back(k.channel);
    }
    std::vector<pubsub_request> out;
    for (auto& [where, r] : grouped) out.push_back(std::move(r));
    return out;
}

}  // namespace addrmap::detail
