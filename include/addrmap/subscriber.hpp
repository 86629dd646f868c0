// addrmap/subscriber.hpp — basic_subscriber<Policy>: classic, pattern and sharded pub/sub on a TLS cluster, blocking,
// for one thread; the I/O of detail/subscription_fsm.hpp, which decides where each subscription goes and what is a gap.
//
// Not thread-safe: one thread calls everything (typically a loop around next()).
#pragma once

#include <addrmap/cluster.hpp>
#include <addrmap/detail/handshake_errors.hpp>  // describe_route
#include <addrmap/detail/pubsub_frames.hpp>
#include <addrmap/detail/subscription_fsm.hpp>
#include <addrmap/pubsub.hpp>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap {

/// A subscriber on the cluster reached through `Policy`, over connections of its own: one per node it subscribes on,
/// verified like every other. Sharded channels go to their slot's master, one SSUBSCRIBE per slot; channels and
/// patterns go to one master, chosen again when that node is lost. Its own basic_cluster (same options and policy)
/// reads the topology; a lost node, a pushed `sunsubscribe`, a MOVED or a changed map moves a subscription to its new
/// owner after a backoff, and the time it was not active is reported as a gap.
///
/// Nothing happens on the wire outside next(): subscribe() and unsubscribe() record what is wanted, next() dials,
/// writes, reads and reports, one event at a time, in the order each connection received them.
template <class Policy = identity>
class basic_subscriber {
public:
    using clock = std::chrono::steady_clock;

    /// Parses the seeds and sets up TLS (error{config} for bad options). No I/O.
    explicit basic_subscriber(cluster_options options, Policy policy = Policy{})
        : cluster_(std::move(options), std::move(policy)), fsm_(fsm_of(cluster_.options())) {}
    basic_subscriber(cluster_options options, tls_context tls, Policy policy = Policy{})
        : cluster_(std::move(options), std::move(tls), std::move(policy)), fsm_(fsm_of(cluster_.options())) {}

    basic_subscriber(const basic_subscriber&) = delete;
    basic_subscriber& operator=(const basic_subscriber&) = delete;
    /// Closes its connections: the servers forget its subscriptions. No event is reported any more.
    ~basic_subscriber() = default;

    /// SUBSCRIBE (classic channels), PSUBSCRIBE (patterns), SSUBSCRIBE (shard channels, grouped by slot): sent by the
    /// next next(). A channel already wanted stays as it is. error{config} for an empty name.
    void subscribe(const std::vector<std::string>& channels) { want(pubsub_family::classic, channels); }
    void psubscribe(const std::vector<std::string>& patterns) { want(pubsub_family::pattern, patterns); }
    void ssubscribe(const std::vector<std::string>& channels) { want(pubsub_family::sharded, channels); }

    /// Stops the subscriptions: each reports `ended` once its node confirms (messages until then are delivered), or at
    /// once when it was not out on a node. A channel not subscribed is ignored.
    void unsubscribe(const std::vector<std::string>& channels) { unwant(pubsub_family::classic, channels); }
    void punsubscribe(const std::vector<std::string>& patterns) { unwant(pubsub_family::pattern, patterns); }
    void sunsubscribe(const std::vector<std::string>& channels) { unwant(pubsub_family::sharded, channels); }

    /// The next event, waiting at most `timeout` for one (0: only what is already there); nullopt when none came.
    /// Meanwhile it reads the topology when needed, sends what is due, and reads every subscriber connection.
    std::optional<pubsub_event> next(std::chrono::milliseconds timeout) {
        const clock::time_point deadline = clock::now() + std::max(timeout, std::chrono::milliseconds(0));
        while (true) {
            if (!events_.empty()) {
                pubsub_event e = std::move(events_.front());
                events_.pop_front();
                return e;
            }
            tend(deadline);
            if (!events_.empty()) continue;
            // What OpenSSL or hiredis holds already is not seen by poll().
            for (auto it = links_.begin(); it != links_.end();) {
                const node_id n = (it++)->first;
                if (has_buffered(n)) read_from(n);
            }
            if (!events_.empty()) continue;
            const clock::time_point now = clock::now();
            if (now >= deadline) return std::nullopt;
            wait_for_input(std::min(deadline, wake_at(now)));
        }
    }

    /// Closes every subscriber connection: each subscription ends (an open gap is reported first, ending now), and
    /// the events are there for next(). The subscriber may subscribe again afterwards.
    void disconnect() {
        std::vector<detail::pubsub_notice> notices;
        fsm_.close(clock::now(), notices);
        for (auto& [n, link] : links_) cluster_.core_.on_closed(n);
        links_.clear();
        classic_node_ = no_node;
        queue(notices);
    }

    /// How many subscriptions are wanted (in any state), and whether one is confirmed now.
    std::size_t subscriptions() const noexcept { return fsm_.size(); }
    bool active(pubsub_family family, std::string_view channel) const { return fsm_.active(family, channel); }
    /// The node each subscriber connection goes to, as reported by the cluster (for tests and diagnostics).
    std::vector<node_address> connected_nodes() const {
        std::vector<node_address> out;
        for (const auto& [n, link] : links_) out.push_back(link.connection.reported());
        return out;
    }
    /// The cluster whose map it follows (its node table, its policy).
    const basic_cluster<Policy>& cluster() const noexcept { return cluster_; }

private:
    struct sub_link {
        tls_connection connection;
        std::string name;  ///< "node <reported> ... -> <dialed>", escaped: how messages name it
        /// The last time poll() found nothing to read on it: whatever it reads later was sent after that.
        clock::time_point quiet_at;
        clock::time_point last_read;  ///< when bytes last came (or it was dialed)
        std::optional<clock::time_point> ping_sent;  ///< a health PING out, unanswered since then
    };

    static detail::subscription_fsm fsm_of(const cluster_options& o) {
        return detail::subscription_fsm(o.min_backoff, o.max_backoff,
                                        static_cast<std::uint64_t>(clock::now().time_since_epoch().count()));
    }

    void want(pubsub_family family, const std::vector<std::string>& channels) {
        fsm_.subscribe(family, channels, clock::now());
    }
    void unwant(pubsub_family family, const std::vector<std::string>& channels) {
        std::vector<detail::pubsub_notice> notices;
        std::vector<detail::pubsub_request> requests = fsm_.unsubscribe(family, channels, clock::now(), notices);
        queue(notices);
        write_all(requests);
    }

    void queue(std::vector<detail::pubsub_notice>& notices) {
        for (detail::pubsub_notice& n : notices) events_.push_back(detail::event_of(std::move(n)));
        notices.clear();
    }

    /// Reads the topology when it is wanted (and the rate limit allows), then sends what is due.
    void tend(clock::time_point deadline) {
        if (fsm_.take_refresh_wanted()) refresh_wanted_ = true;
        clock::time_point now = clock::now();
        check_health(now);
        if (fsm_.size() > 0 && map_known_right_at_ && health_interval().count() > 0 &&
            now - *map_known_right_at_ >= health_interval())
            refresh_wanted_ = true;
        if ((refresh_wanted_ || !cluster_.core_.has_topology()) && now >= next_refresh_at_) {
            refresh(std::max(deadline, now + cluster_.options_.tls.connect_timeout));
            now = clock::now();
        }
        if (!cluster_.core_.has_topology()) return;  // nothing can be routed yet
        std::vector<detail::pubsub_request> due = fsm_.due(now);
        if (due.empty()) return;
        // Every request is sent() or not_sent() before the fsm hears anything else: a dial that fails only marks its
        // node, and writes are flushed (and their failures handled) after the batch.
        std::vector<node_id> written;
        for (const detail::pubsub_request& r : due) {
            const node_id n = route(r);
            sub_link* link = n == no_node ? nullptr : link_to(n, now);
            if (link == nullptr) {
                fsm_.not_sent(r, now);
                refresh_wanted_ = true;
                if (r.slot < 0) classic_node_ = no_node;  // another node, next time
                continue;
            }
            append(*link, r);
            fsm_.sent(r, n);
            written.push_back(n);
        }
        flush_all(written);
    }

    /// Where a request goes: its slot's master (sharded), or the one node of the classic and pattern subscriptions.
    node_id route(const detail::pubsub_request& r) {
        if (r.slot >= 0) return cluster_.core_.owner(r.slot);
        if (classic_node_ == no_node) classic_node_ = cluster_.core_.owner(-1);
        return classic_node_;
    }

    /// The subscriber connection to `n`, dialed if there is none; nullptr when the dial failed (the node is marked).
    sub_link* link_to(node_id n, clock::time_point now) {
        if (const auto it = links_.find(n); it != links_.end()) return &it->second;
        try {
            tls_connection fresh = cluster_.dial(n, now + cluster_.options_.tls.connect_timeout);
            const std::string name = detail::describe_route(fresh.reported(), fresh.mapped());
            const clock::time_point at = clock::now();
            return &links_.emplace(n, sub_link{std::move(fresh), name, at, at, std::nullopt}).first->second;
        } catch (const error& e) {
            cluster_.core_.on_dial_failed(n, e, clock::now());
            return nullptr;
        }
    }

    static void append(sub_link& link, const detail::pubsub_request& r) {
        const std::string command = detail::resp_of(r);
        if (redisAppendFormattedCommand(link.connection.get(), command.data(), command.size()) != REDIS_OK)
            throw std::bad_alloc();
    }

    void write_all(const std::vector<detail::pubsub_request>& requests) {
        // Each goes where its subscriptions are (the fsm says where).
        std::vector<node_id> written;
        for (const detail::pubsub_request& r : requests) {
            const node_id n = r.node;
            const auto it = links_.find(n);
            if (it == links_.end()) continue;  // cannot be: a lost connection moved its subscriptions off the node
            append(it->second, r);
            written.push_back(n);
        }
        flush_all(written);
    }

    void flush_all(std::vector<node_id>& nodes) {
        std::sort(nodes.begin(), nodes.end());
        nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
        for (const node_id n : nodes) {
            const auto it = links_.find(n);
            if (it == links_.end()) continue;
            redisContext* c = it->second.connection.get();
            it->second.connection.set_io_deadline(clock::now() + cluster_.options_.tls.command_timeout);
            int done = 0;
            while (!done)
                if (redisBufferWrite(c, &done) != REDIS_OK) {
                    lose(n, cluster_.why_lost(c));
                    break;
                }
        }
    }

    bool has_buffered(node_id n) const {
        const auto it = links_.find(n);
        if (it == links_.end()) return false;
        return it->second.connection.has_buffered_input();
    }

    /// Reads what `n`'s connection has (one read: poll() said it is readable, or OpenSSL holds bytes), and hands every
    /// whole frame to the fsm. A frame the fsm or the reader refuses drops the connection there: nothing after it is
    /// delivered.
    void read_from(node_id n) {
        auto it = links_.find(n);
        if (it == links_.end()) return;
        redisContext* c = it->second.connection.get();
        // A record may be half here: wait for its rest, bounded (a node that stalls mid-record is lost).
        it->second.connection.set_io_deadline(clock::now() + cluster_.options_.tls.command_timeout);
        if (redisBufferRead(c) != REDIS_OK) {
            lose(n, cluster_.why_lost(c));
            return;
        }
        it->second.last_read = clock::now();
        std::vector<detail::pubsub_notice> notices;
        while (true) {
            void* raw = nullptr;
            if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
                lose(n, cluster_.why_lost(c));
                return;
            }
            if (raw == nullptr) break;
            const reply_ptr reply(static_cast<redisReply*>(raw));
            try {
                const detail::pubsub_frame f = detail::read_pubsub_frame(*reply, it->second.name);
                const clock::time_point now = clock::now();
                if (f.kind == detail::pubsub_frame_kind::pong) it->second.ping_sent.reset();
                if (fsm_.on_frame(n, it->second.name, f, now, notices, it->second.quiet_at) ==
                    detail::frame_verdict::deliver) {
                    queue(notices);
                    events_.push_back(detail::event_of(f));
                } else {
                    queue(notices);
                }
            } catch (const error& e) {
                queue(notices);
                lose(n, e.what());
                return;
            }
        }
        queue(notices);
    }

    /// The connection to `n` is gone (`why`, escaped): closed, the core and the fsm told.
    void lose(node_id n, const std::string& why) {
        links_.erase(n);
        cluster_.core_.on_disconnected(n);
        if (classic_node_ == n) classic_node_ = no_node;
        std::vector<detail::pubsub_notice> notices;
        const std::string name = name_of(n);
        fsm_.connection_lost(n, name, why, clock::now(), notices);
        queue(notices);
        refresh_wanted_ = true;
    }
    std::string name_of(node_id n) const {
        if (!cluster_.core_.exists(n)) return "node #" + std::to_string(n);
        const core_node& node = cluster_.core_.node(n);
        return "node " + detail::escaped(to_string(node.reported), 300);
    }

    void refresh(clock::time_point deadline) {
        const clock::time_point before = clock::now();
        const bool installed = cluster_.refresh_within(deadline);
        const clock::time_point now = clock::now();
        next_refresh_at_ = now + cluster_.options_.refresh_min_interval;
        if (!installed) return;  // wanted still: tried again after the rate limit
        refresh_wanted_ = false;
        const clock::time_point since = map_known_right_at_.value_or(before);
        map_known_right_at_ = now;
        // Closed connections to nodes that left: their subscriptions go elsewhere.
        for (auto it = links_.begin(); it != links_.end();) {
            const node_id n = (it++)->first;
            if (!cluster_.core_.exists(n) || !cluster_.core_.node(n).in_topology) lose(n, "the node left the topology");
        }
        const auto owner_of = [this](int slot) { return cluster_.core_.owner(slot); };
        std::vector<detail::pubsub_request> moves = fsm_.owners_changed(owner_of, "a topology refresh", since, now);
        write_all(moves);
    }

    void wait_for_input(clock::time_point until) {
        std::vector<pollfd> fds;
        std::vector<node_id> nodes;
        for (const auto& [n, link] : links_) {
            fds.push_back(pollfd{link.connection.get()->fd, POLLIN, 0});
            nodes.push_back(n);
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()) +
                          std::chrono::milliseconds(1);  // rounded up: never a busy loop of 0 ms waits
        const int timeout = static_cast<int>(std::clamp<long long>(left.count(), 0, 60000));
        const clock::time_point polled_at = clock::now();
        const int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout);
        // A socket poll() did not report was empty from polled_at on (all of them were, to the end, if none was).
        const clock::time_point quiet_at = ready == 0 ? clock::now() : polled_at;
        if (ready < 0) return;  // interrupted: nothing learned
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents == 0) links_.at(nodes[i]).quiet_at = quiet_at;
        if (ready == 0) return;
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents != 0) read_from(nodes[i]);
    }

    /// When something is due without input: a subscription's backoff ends, a wanted refresh is allowed, a connection
    /// needs a PING or its PING's answer is late, the map is due to be read again.
    clock::time_point wake_at(clock::time_point now) const {
        clock::time_point at = clock::time_point::max();
        if (const auto due = fsm_.next_due()) at = std::min(at, std::max(*due, now));
        if (refresh_wanted_) at = std::min(at, std::max(next_refresh_at_, now));
        const auto every = health_interval();
        if (every.count() > 0) {
            for (const auto& [n, link] : links_)
                at = std::min(at, link.ping_sent ? *link.ping_sent + cluster_.options_.tls.command_timeout
                                                 : link.last_read + every);
            if (fsm_.size() > 0 && map_known_right_at_) at = std::min(at, *map_known_right_at_ + every);
        }
        return std::max(at, now);
    }

    std::chrono::milliseconds health_interval() const noexcept { return cluster_.options_.subscriber_health_interval; }

    /// PINGs the connections nothing came from for health_interval(); drops those whose PING went unanswered for
    /// command_timeout.
    void check_health(clock::time_point now) {
        const auto every = health_interval();
        if (every.count() <= 0) return;
        std::vector<node_id> pinged;
        for (auto it = links_.begin(); it != links_.end();) {
            const node_id n = it->first;
            sub_link& link = (it++)->second;
            if (link.ping_sent) {
                const auto waited = cluster_.options_.tls.command_timeout;
                if (now - *link.ping_sent >= waited)
                    lose(n, "it did not answer a PING within command_timeout (" + std::to_string(waited.count()) +
                                " ms): a hung node, or a network cut; the connection is dropped");
                continue;
            }
            if (now - link.last_read < every) continue;
            static constexpr char ping[] = "*1\r\n$4\r\nPING\r\n";
            if (redisAppendFormattedCommand(link.connection.get(), ping, sizeof ping - 1) != REDIS_OK) throw std::bad_alloc();
            fsm_.pinged(n);
            link.ping_sent = now;
            pinged.push_back(n);
        }
        flush_all(pinged);
    }

    basic_cluster<Policy> cluster_;
    detail::subscription_fsm fsm_;
    std::map<node_id, sub_link> links_;
    std::deque<pubsub_event> events_;
    node_id classic_node_ = no_node;
    bool refresh_wanted_ = false;
    clock::time_point next_refresh_at_{};
    std::optional<clock::time_point> map_known_right_at_;
};

using subscriber = basic_subscriber<identity>;

}  // namespace addrmap
