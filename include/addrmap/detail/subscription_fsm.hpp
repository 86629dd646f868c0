// addrmap/detail/subscription_fsm.hpp — a cluster subscriber's rules without I/O: which (S|P)SUBSCRIBE goes where
// (one slot per SSUBSCRIBE), what each frame from a node means, when a lost subscription is asked for again, its gaps.
#pragma once

#include <addrmap/detail/backoff.hpp>
#include <addrmap/detail/node_registry.hpp>  // node_id
#include <addrmap/detail/pubsub_frames.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/reply_rules.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// A (S|P)SUBSCRIBE or (S|P)UNSUBSCRIBE for the driver to write. Sharded: every channel in `slot`, for that slot's
/// owner; classic and pattern: `slot` is -1, for the subscriber's classic node; master_pattern: for `node`.
struct pubsub_request {
    bool subscribe = true;
    pubsub_family family = pubsub_family::classic;
    int slot = -1;
    std::vector<std::string> channels;
    /// Write PING right after it. An unsubscribe's answers look like the server's own pushes (and an error reply
    /// replaces them all): everything before the pong belongs to it.
    bool ping_after = false;
    /// An unsubscribe: the node to write it to (where its subscriptions are). A subscribe from due(): no_node, for
    /// the driver to route, but for a pattern on every master: that master.
    node_id node = no_node;
};

/// What the user is told, besides messages.
struct pubsub_notice {
    enum class kind {
        subscribed,  ///< confirmed by the server (first time, or again after a gap)
        gap,         ///< it was not active from `start` to `end` (messages published then were not received)
        ended,       ///< unsubscribed as asked, or the subscriber closed
        refused,     ///< the server refused it for good (`cause`: its error); it is no longer wanted
    };
    kind what = kind::subscribed;
    pubsub_family family = pubsub_family::classic;
    std::string channel;
    std::string cause;  ///< gap: why it stopped; refused: the server's text (escaped); ended: why, when not asked
    std::string node;   ///< a pattern on every master: the master it is about (escaped)
    std::chrono::steady_clock::time_point start{}, end{};
};

/// What to do with a frame's message.
enum class frame_verdict { deliver, consumed };

/// One subscriber's state. The driver keeps at most one subscriber connection per node and calls connection_lost()
/// before it dials that node again: frames are matched to requests per node, in order.
class subscription_fsm {
public:
    using clock = std::chrono::steady_clock;

    subscription_fsm(std::chrono::milliseconds min_backoff, std::chrono::milliseconds max_backoff, std::uint64_t seed)
        : backoff_(min_backoff, max_backoff, seed) {}
    // Not copied nor moved: it keeps an iterator into its own map (the last message's subscription).
    subscription_fsm(const subscription_fsm&) = delete;
    subscription_fsm& operator=(const subscription_fsm&) = delete;

    // ---- the user ------------------------------------------------------------------------------------------
    /// The user subscribes. Channels already wanted stay as they are; the others are due now (see due()). A pattern
    /// on every master is wanted on each master of the last map (see masters_changed()), and on those to come.
    void subscribe(pubsub_family family, const std::vector<std::string>& channels, clock::time_point now) {
        for (const std::string& channel : channels) {
            if (channel.empty()) throw error(error_kind::config, "a channel name must not be empty");
            // One PSUBSCRIBE of a pattern on a connection is one subscription: a pattern cannot be both (nor one
            // while the other is still being unsubscribed).
            const bool clash = family == pubsub_family::pattern ? on_some_master(channel)
                               : family == pubsub_family::master_pattern
                                   ? subs_.count(key_view{pubsub_family::pattern, channel, no_node}) != 0
                                   : false;
            if (clash)
                throw error(error_kind::config, "the pattern " + quoted(channel, 80) +
                                                    " cannot be subscribed both on every master and as a pattern (nor "
                                                    "one while the other is still being unsubscribed)");
            if (family != pubsub_family::master_pattern) {
                want_entry(key{family, channel, no_node}, now, {});
                continue;
            }
            master_patterns_.insert(channel);
            forget_refusals(channel);  // asked again: the masters that refused it are asked too
            for (const auto& [m, name] : masters_)
                if (refused_on_.count({channel, m}) == 0) want_entry(key{family, channel, m}, now, name);
        }
    }
    /// The user unsubscribes: the requests to write now (for those out on a node). A subscription not sent yet ends
    /// at once; one with an open gap has the gap reported, ending now.
    std::vector<pubsub_request> unsubscribe(pubsub_family family, const std::vector<std::string>& channels,
                                            clock::time_point now, std::vector<pubsub_notice>& out) {
        unsubscribe_batch batch;
        for (const std::string& channel : channels) {
            if (family != pubsub_family::master_pattern) {
                const auto it = subs_.find(key_view{family, channel, no_node});
                if (it != subs_.end()) unwant_entry(it, now, out, batch);
                continue;
            }
            master_patterns_.erase(channel);
            forget_refusals(channel);
            for (auto it = subs_.lower_bound(key_view{family, channel, 0}); it != subs_.end() &&
                                                                          it->first.family == family && it->first.channel == channel;)
                unwant_entry(it++, now, out, batch);  // erases at most `it` itself
        }
        return send(batch);
    }

    // ---- the driver ----------------------------------------------------------------------------------------
    /// The subscribes due now, one request per slot (sharded) or per family (classic, pattern), each channel once.
    /// The driver writes each on a connection and tells sent(), or not_sent() when it could not, before it calls
    /// anything else (no user code runs between: an unsubscribe() then would be a driver's bug, and throws).
    std::vector<pubsub_request> due(clock::time_point now);
    /// `r` (from due()) was written to `node`.
    void sent(const pubsub_request& r, node_id node) {
        for (const std::string& channel : r.channels) {
            const auto it = subs_.find(key_view{r.family, channel, r.node});
            if (it == subs_.end() || it->second.state != phase::routing) continue;
            it->second.state = phase::subscribing;
            it->second.node = node;
        }
        sent_to(node, r);
    }
    /// `r` (from due()) could not be written (no connection, no owner known): tried again after a backoff.
    void not_sent(const pubsub_request& r, clock::time_point now) {
        for (const std::string& channel : r.channels) {
            const auto it = subs_.find(key_view{r.family, channel, r.node});
            if (it != subs_.end() && it->second.state == phase::routing) retry_later(it->second, now);
        }
    }
    /// What kept these from being sent (after not_sent()) is gone — the connection to `node` they wait for is set
    /// up: those still waiting are due at `now` instead of after their backoff.
    void due_now(pubsub_family family, const std::vector<std::string>& channels, node_id node, clock::time_point now) {
        for (const std::string& channel : channels) {
            const auto it = subs_.find(key_view{family, channel, family == pubsub_family::master_pattern ? node : no_node});
            if (it != subs_.end() && it->second.state == phase::pending) pending_from(it->second, std::min(it->second.not_before, now));
        }
    }
    /// When due() may next have something (none: nothing waits). Never later than the truth; it may be earlier (a
    /// subscription that was waiting ended meanwhile), and due() then finds nothing and sets it right.
    std::optional<clock::time_point> next_due() const noexcept { return earliest_pending_; }
    /// The driver wrote a PING of its own (a health check) on the connection to `node`.
    void pinged(node_id node) { queues_[node].push_back(outstanding{request_kind::ping, pubsub_family::classic, {}, {}}); }

    /// Whether something asked for a topology refresh since the last call (a pushed sunsubscribe, a redirect, a lost
    /// connection): the owners of the slots may have changed.
    bool take_refresh_wanted() noexcept { return std::exchange(refresh_wanted_, false); }

    /// A frame came on the connection to `node` (`node_name`: as the user knows it, escaped, for messages). A message is
    /// `deliver` when its subscription is active there; anything a server does not send a subscriber in that state
    /// (a message or confirmation for what was not asked there, an unsolicited classic unsubscribe) throws
    /// error{protocol}: the driver drops the connection, then calls connection_lost().
    /// `quiet_since`: the last time the driver saw the connection with nothing to read. A pushed sunsubscribe was sent
    /// after that, so the subscription was active until then: its gap starts there rather than when the push was read
    /// (a message published on the new owner in between would otherwise fall outside every gap). None: `now`.
    /// A message of a pattern on every master is delivered with `f.family` set to master_pattern.
    frame_verdict on_frame(node_id node, std::string_view node_name, pubsub_frame&& f, clock::time_point now,
                           std::vector<pubsub_notice>& out, std::optional<clock::time_point> quiet_since = std::nullopt) {
        return on_frame(node, node_name, f, now, out, quiet_since);
    }
    frame_verdict on_frame(node_id node, std::string_view node_name, pubsub_frame& f, clock::time_point now,
                           std::vector<pubsub_notice>& out, std::optional<clock::time_point> quiet_since = std::nullopt);

    /// The connection to `node` is gone (`why`: escaped): what was active there is down from `now` (a gap opens),
    /// what was being subscribed is asked for again after a backoff, what was being unsubscribed has ended.
    void connection_lost(node_id node, std::string_view node_name, std::string_view why, clock::time_point now,
                         std::vector<pubsub_notice>& out);

    /// A refresh installed a new map at `now` (`why`: what changed, escaped; `since`: when the map before it was last
    /// known right, as the gap's start). A shard channel active or being subscribed on a node that no longer owns its
    /// slot (`owner_of(slot)`; no_node: the map names no owner, and nothing moves) is down and due again, for its new
    /// owner. Redis pushes sunsubscribe when a slot moves, but a master cut off from the cluster pushes nothing:
    /// without this, what the new owner publishes meanwhile would fall outside every gap. Returns the SUNSUBSCRIBEs for
    /// the old nodes (written as unsubscribe()'s are). Until one is settled, that node's messages for its channels are
    /// dropped, and the channel's gap stays open past its new confirmation: it ends when both are done.
    std::vector<pubsub_request> owners_changed(const std::function<node_id(int)>& owner_of, std::string_view why,
                                               clock::time_point since, clock::time_point now) {
        unsubscribe_batch batch;  // the map was just refreshed: this asks for no other refresh
        for (auto& [k, s] : subs_) {
            if (k.family != pubsub_family::sharded || (s.state != phase::active && s.state != phase::subscribing))
                continue;
            const node_id owner = owner_of(slot_of(k));
            if (owner == s.node || owner == no_node) continue;
            batch.add(s.node, k);
            ++draining_[{s.node, k.channel}];
            ++s.drains;
            lost(s, "the map gives its slot to another node now (" + std::string(why) + ")", std::min(since, now), now);
        }
        return send(batch);
    }

    /// A map was installed at `now`. `masters`: its masters, each with its name as the user knows it (escaped);
    /// `since`: when the map before it was last known right (none: it is the first). Each pattern on every master is
    /// wanted on each master: one new to the map is asked for, with a gap from `since` to its confirmation when a map
    /// was known before (its keys' events, from a failover or a new node, were not received meanwhile); one that is no
    /// longer a master ends there (`ended`, after a gap from now: a replica repeats its master's events, so nothing
    /// is taken from it meanwhile), or, if it is a master again before that, is asked for again with its gap open.
    /// Returns the PUNSUBSCRIBEs for those.
    std::vector<pubsub_request> masters_changed(std::map<node_id, std::string> masters, std::optional<clock::time_point> since,
                                                clock::time_point now, std::vector<pubsub_notice>& out);

    /// The subscriber closes (unsubscribe-all, destroy, disconnect): every open gap ends now and is reported, then
    /// every subscription ends.
    void close(clock::time_point now, std::vector<pubsub_notice>& out) {
        for (auto& [k, s] : subs_) {
            close_gap(k, s, now, out);
            out.push_back(notice(pubsub_notice::kind::ended, k, s));
        }
        subs_.clear();
        last_message_ = message_hit{};
        master_patterns_.clear();
        refused_on_.clear();
        queues_.clear();
        draining_.clear();
        earliest_pending_.reset();
    }

    /// Whether anything is wanted, or still being ended on a node.
    bool wants_any() const noexcept { return !subs_.empty() || !master_patterns_.empty(); }
    /// How many subscriptions are wanted (a pattern on every master: once, while wanted) or, but for a pattern on
    /// every master, still being ended; for the user and tests.
    std::size_t size() const {
        std::size_t n = master_patterns_.size();
        for (const auto& [k, s] : subs_) n += k.family != pubsub_family::master_pattern;
        return n;
    }
    /// Whether (family, channel) is confirmed on a node (a pattern on every master: on every master of the last map).
    bool active(pubsub_family family, std::string_view channel) const {
        if (family != pubsub_family::master_pattern) {
            const auto it = subs_.find(key_view{family, channel, no_node});
            return it != subs_.end() && it->second.state == phase::active;
        }
        if (masters_.empty() || master_patterns_.count(channel) == 0) return false;
        for (const auto& [m, name] : masters_) {
            const auto it = subs_.find(key_view{family, channel, m});
            if (it == subs_.end() || it->second.state != phase::active) return false;
        }
        return true;
    }

private:
    enum class phase {
        pending,        ///< wanted, waiting for due() (first time, or after a loss and its backoff)
        routing,        ///< handed out by due(), not yet sent() or not_sent()
        subscribing,    ///< written to `node`, confirmation awaited
        active,         ///< confirmed on `node`
        unsubscribing,  ///< the user's unsubscribe written to `node`; messages still come until it is confirmed
    };
    /// A subscription: (family, channel), and for a pattern on every master the master (no_node for the others).
    struct key {
        pubsub_family family;
        std::string channel;
        node_id node = no_node;
    };
    /// A key to look up without building a string (a message's channel, on every message).
    struct key_view {
        pubsub_family family;
        std::string_view channel;
        node_id node = no_node;
    };
    struct key_less {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(const A& a, const B& b) const noexcept {
            if (a.family != b.family) return a.family < b.family;
            const int c = std::string_view(a.channel).compare(std::string_view(b.channel));
            return c != 0 ? c < 0 : a.node < b.node;
        }
    };

    struct subscription {
        phase state = phase::pending;
        node_id node = no_node;
        clock::time_point not_before{};
        int step = 0;  ///< backoff steps since it was last active
        std::optional<clock::time_point> gap_start;  ///< it had been active, and is not since then
        std::string gap_cause;
        bool resubscribe_after_unsubscribe = false;  ///< subscribed again while its unsubscribe was out
        int drains = 0;  ///< SUNSUBSCRIBEs on nodes it moved away from, not settled yet: its gap stays open
        bool alone = false;  ///< refused in a request with others: asked for in a request of its own from then on
        bool retiring = false;   ///< a pattern on a node that is no longer a master: being ended there
        std::string node_name;   ///< a pattern on every master: its master, as the user knows it (escaped)
    };
    using subscription_map = std::map<key, subscription, key_less>;
    enum class request_kind { subscribe, unsubscribe, ping };
    /// A request written on a connection, and the channels whose answer has not come yet (in order).
    struct outstanding {
        request_kind what;
        pubsub_family family;
        std::deque<std::string> remaining;
        std::vector<std::string> settles;  ///< an unsubscribe: all its channels (what it stops draining)
    };
    /// The one way a subscription is erased: the message lookup's memory of it goes with it.
    void erase_sub(subscription_map::iterator it) {
        if (last_message_.node != no_node && last_message_.at == it) last_message_ = message_hit{};
        subs_.erase(it);
    }
    /// Whether a pattern on every master `pattern` has an entry on some node (wanted, or still being unsubscribed).
    bool on_some_master(const std::string& pattern) const {
        const auto it = subs_.lower_bound(key_view{pubsub_family::master_pattern, pattern, 0});
        return master_patterns_.count(pattern) != 0 ||
               (it != subs_.end() && it->first.family == pubsub_family::master_pattern && it->first.channel == pattern);
    }
    void forget_refusals(const std::string& pattern) {
        for (auto it = refused_on_.lower_bound({pattern, 0}); it != refused_on_.end() && it->first == pattern;) it = refused_on_.erase(it);
    }
    static node_id node_of_key(pubsub_family family, node_id node) noexcept {
        return family == pubsub_family::master_pattern ? node : no_node;
    }
    /// The subscription a frame of `family` (as written on the wire) names on the connection to `node`, if any.
    subscription_map::iterator find_here(node_id node, pubsub_family family, std::string_view name) {
        auto it = subs_.find(key_view{family, name, no_node});
        if (it != subs_.end() && it->second.node == node) return it;
        if (family != pubsub_family::pattern) return subs_.end();
        it = subs_.find(key_view{pubsub_family::master_pattern, name, node});
        return it != subs_.end() && it->second.node == node ? it : subs_.end();
    }
    /// Wants `k`: a new one is due at `now`; one being unsubscribed is asked for again once that is done.
    void want_entry(key k, clock::time_point now, const std::string& node_name) {
        auto [it, added] = subs_.try_emplace(std::move(k));
        if (!added) {
            if (it->second.state == phase::unsubscribing && !it->second.retiring) it->second.resubscribe_after_unsubscribe = true;
            return;
        }
        it->second.node_name = node_name;
        pending_from(it->second, now);
    }
    bool draining(node_id node, std::string_view channel) const {
        return draining_.count({node, std::string(channel)}) != 0;
    }
    /// One SUNSUBSCRIBE of `channel` on a node it moved away from is settled (answered, or the connection is gone).
    void drain_settled(const std::string& channel, clock::time_point now, std::vector<pubsub_notice>& out) {
        const auto it = subs_.find(key_view{pubsub_family::sharded, channel, no_node});
        if (it == subs_.end() || it->second.drains == 0) return;
        if (--it->second.drains == 0 && it->second.state == phase::active) close_gap(it->first, it->second, now, out);
    }
    /// What an error reply to a (S|P)SUBSCRIBE says: the slot is served elsewhere or not at all (MOVED, ASK,
    /// CLUSTERDOWN: ask again after a refresh), the node is not ready (TRYAGAIN, LOADING, MASTERDOWN, BUSY: after a
    /// backoff), or no for good (NOPERM, ERR ...: the subscription ends).
    enum class refusal_kind { elsewhere, not_now, final };

    static int slot_of(const key& k) noexcept {
        return k.family == pubsub_family::sharded ? static_cast<int>(key_slot(k.channel)) : -1;
    }
    static pubsub_notice notice(pubsub_notice::kind what, const key& k, const subscription& s) {
        pubsub_notice n;
        n.what = what;
        n.family = k.family;
        n.channel = k.channel;
        n.node = s.node_name;
        return n;
    }
    static refusal_kind refusal_of_text(std::string_view text) {
        if (looks_like_redirect(text)) return refusal_kind::elsewhere;
        switch (refusal_of(text)) {  // the core's word list (reply_rules.hpp)
            case refusal::clusterdown: return refusal_kind::elsewhere;
            case refusal::tryagain:
            case refusal::loading:
            case refusal::masterdown:
            case refusal::busy: return refusal_kind::not_now;
            case refusal::noauth:
            case refusal::none: break;
        }
        return refusal_kind::final;
    }

    /// The (S|P)UNSUBSCRIBEs to write: one per node, family and slot, each with its PING after it.
    struct unsubscribe_batch {
        std::map<std::tuple<node_id, pubsub_family, int>, pubsub_request> by_node;
        void add(node_id node, const key& k) {
            pubsub_request& r = by_node[{node, k.family, slot_of(k)}];
            r.subscribe = false;
            r.ping_after = true;
            r.family = k.family;
            r.slot = slot_of(k);
            r.channels.push_back(k.channel);
        }
    };
    /// The user no longer wants `it`: it ends at once if it is not on a node, else its unsubscribe joins `batch`.
    void unwant_entry(subscription_map::iterator it, clock::time_point now, std::vector<pubsub_notice>& out,
                      unsubscribe_batch& batch) {
        subscription& s = it->second;
        s.resubscribe_after_unsubscribe = false;
        if (s.state == phase::unsubscribing) return;
        if (s.state == phase::routing) throw std::logic_error("subscription_fsm: unsubscribe() between due() and sent()");
        close_gap(it->first, s, now, out);
        if (s.state == phase::pending) {
            out.push_back(notice(pubsub_notice::kind::ended, it->first, s));
            erase_sub(it);
            return;
        }
        // Subscribing or active on a node: the unsubscribe goes to the same connection, after the subscribe.
        s.state = phase::unsubscribing;
        batch.add(s.node, it->first);
    }
    /// Records the batch's requests as written (the driver writes them next) and hands them out.
    std::vector<pubsub_request> send(const unsubscribe_batch& batch) {
        std::vector<pubsub_request> requests;
        for (const auto& [where, r] : batch.by_node) {
            requests.push_back(r);
            requests.back().node = std::get<0>(where);
            sent_to(std::get<0>(where), r);
        }
        return requests;
    }

    void sent_to(node_id node, const pubsub_request& r) {
        outstanding o{r.subscribe ? request_kind::subscribe : request_kind::unsubscribe, r.family, {}, {}};
        for (const std::string& c : r.channels) o.remaining.push_back(c);
        if (!r.subscribe) o.settles = r.channels;
        auto& q = queues_[node];
        if (!o.remaining.empty()) q.push_back(std::move(o));
        if (r.ping_after) q.push_back(outstanding{request_kind::ping, pubsub_family::classic, {}, {}});
    }
    /// Whether a confirmation of `channel` answers the oldest request on `node` (and moves it on).
    bool answers_head(node_id node, request_kind what, pubsub_family family, std::string_view channel) {
        auto q = queues_.find(node);
        if (q == queues_.end() || q->second.empty()) return false;
        outstanding& head = q->second.front();
        if (head.what != what || wire_family(head.family) != family || head.remaining.empty() || head.remaining.front() != channel)
            return false;
        head.remaining.pop_front();
        // An unsubscribe stays until the pong after it: a push may have stood in for one of its answers, and the
        // error that then answers it in their place is still to come.
        if (head.remaining.empty() && what != request_kind::unsubscribe) q->second.pop_front();
        return true;
    }
    /// The user's unsubscribe of `it` is done: it ends (and is wanted again if subscribed meanwhile).
    void end(subscription_map::iterator it, clock::time_point now, std::vector<pubsub_notice>& out) {
        const key k = it->first;
        const bool again = it->second.resubscribe_after_unsubscribe;
        if (again && it->second.retiring) {
            // Its node is a master again: no end for the user, but a new subscription there, its gap still open.
            subscription old = std::move(it->second);
            erase_sub(it);
            want_entry(k, now, old.node_name);
            subscription& fresh = subs_.find(key_view{k.family, k.channel, k.node})->second;
            fresh.gap_start = old.gap_start.value_or(now);
            fresh.gap_cause = old.gap_start ? std::move(old.gap_cause) : old.node_name + " was not a master for a while";
            return;
        }
        close_gap(k, it->second, now, out);
        pubsub_notice n = notice(pubsub_notice::kind::ended, k, it->second);
        if (it->second.retiring) n.cause = it->second.node_name + " is no longer a master";
        out.push_back(std::move(n));
        erase_sub(it);
        if (again) subscribe(k.family, {k.channel}, now);
    }
    /// The unsubscribe `o` on `node` is settled: what of it is still being unsubscribed there has ended.
    void end_remaining(node_id node, const outstanding& o, clock::time_point now, std::vector<pubsub_notice>& out) {
        for (const std::string& channel : o.settles) {
            const auto d = draining_.find({node, channel});
            if (d == draining_.end()) continue;  // the user's own unsubscribe
            if (--d->second == 0) draining_.erase(d);
            drain_settled(channel, now, out);
        }
        for (const std::string& channel : o.remaining) {
            const auto it = subs_.find(key_view{o.family, channel, node_of_key(o.family, node)});
            if (it != subs_.end() && it->second.node == node && it->second.state == phase::unsubscribing) end(it, now, out);
        }
    }
    void retry_later(subscription& s, clock::time_point now) {
        s.state = phase::pending;
        s.node = no_node;
        pending_from(s, saturating_add(now, backoff_.delay(s.step)));
    }
    /// `s` stopped being active (or being subscribed) on its node: a gap opens at `gap_from` if it was active, and
    /// it is due again at `again_at`.
    void lost(subscription& s, std::string cause, clock::time_point gap_from, clock::time_point again_at) {
        if (s.state == phase::active && !s.gap_start) {
            s.gap_start = gap_from;
            s.gap_cause = std::move(cause);
        }
        s.state = phase::pending;
        s.node = no_node;
        pending_from(s, again_at);
    }
    /// `s` is pending, due at `at` (the one place not_before is set: the earliest such time is kept).
    void pending_from(subscription& s, clock::time_point at) noexcept {
        s.not_before = at;
        if (!earliest_pending_ || at < *earliest_pending_) earliest_pending_ = at;
    }
    void close_gap(const key& k, subscription& s, clock::time_point now, std::vector<pubsub_notice>& out) {
        if (!s.gap_start) return;
        pubsub_notice n = notice(pubsub_notice::kind::gap, k, s);
        n.cause = std::move(s.gap_cause);
        n.start = *s.gap_start;
        n.end = now;
        out.push_back(std::move(n));
        s.gap_start.reset();
        s.gap_cause.clear();
    }

    subscription_map subs_;
    /// The subscription the last message was for (node no_node: none), kept until it is erased.
    struct message_hit {
        node_id node = no_node;
        pubsub_family family = pubsub_family::classic;
        std::string_view name;  ///< its key's channel (the map node's string, which does not move)
        subscription_map::iterator at{};
    } last_message_;
    std::set<std::string, std::less<>> master_patterns_;  ///< the patterns wanted on every master
    std::set<std::pair<std::string, node_id>> refused_on_;  ///< (pattern, master) refused for good: not asked again
    std::map<node_id, std::string> masters_;              ///< the last map's masters, and their names (escaped)
    std::optional<clock::time_point> earliest_pending_;  ///< no pending subscription is due before this
    std::map<node_id, std::deque<outstanding>> queues_;
    /// Shard channels being unsubscribed on nodes they moved away from, and how many such SUNSUBSCRIBEs are out there.
    std::map<std::pair<node_id, std::string>, int> draining_;
    backoff backoff_;
    bool refresh_wanted_ = false;
};

}  // namespace addrmap::detail

// The longer members, by concern.
#include <addrmap/detail/subscription_fsm_moves.hpp>
