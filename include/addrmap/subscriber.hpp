// addrmap/subscriber.hpp — basic_subscriber<Policy>: classic, pattern and sharded pub/sub on a TLS cluster, blocking,
// for one thread; the I/O of detail/subscription_fsm.hpp, which decides where each subscription goes and what is a gap.
//
// Not thread-safe: one thread calls everything (typically a loop around next()).
#pragma once

#include <addrmap/cluster.hpp>
#include <addrmap/detail/frame_slab.hpp>
#include <addrmap/detail/handshake_errors.hpp>  // describe_route
#include <addrmap/detail/pubsub_frames.hpp>
#include <addrmap/detail/subscriber_route.hpp>
#include <addrmap/detail/subscription_fsm.hpp>
#include <addrmap/pubsub.hpp>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap {

/// A subscriber on the cluster reached through `Policy`, over connections of its own: one per node it subscribes on,
/// verified like every other. Sharded channels go to their slot's master (or, under cluster_options::read_from, to one
/// of its replicas), one SSUBSCRIBE per slot; channels and
/// patterns go to one master, chosen again when that node is lost. Its own basic_cluster (same options and policy)
/// reads the topology; a lost node, a pushed `sunsubscribe`, a MOVED or a changed map moves a subscription to its new
/// owner after a backoff, and the time it was not active is reported as a gap. A pattern on every master (keyspace
/// notifications, which a cluster node publishes for its own keys only) follows the set of masters.
///
/// Nothing happens on the wire outside next(): subscribe() and unsubscribe() record what is wanted, next() dials,
/// writes, reads and reports, one event at a time, in the order each connection received them.
/// Observer (observer.hpp): its cluster's; it also hears of each gap (subscription_gap_event) as it is queued.
template <class Policy = identity, class Observer = no_observer>
class basic_subscriber {
public:
    using clock = std::chrono::steady_clock;

    /// Parses the seeds and sets up TLS (error{config} for bad options). No I/O.
    explicit basic_subscriber(cluster_options options, Policy policy = Policy{}, Observer observer = Observer{})
        : cluster_(std::move(options), std::move(policy), std::move(observer)), fsm_(fsm_of(cluster_.options())) {}
    basic_subscriber(cluster_options options, tls_context tls, Policy policy = Policy{}, Observer observer = Observer{})
        : cluster_(std::move(options), std::move(tls), std::move(policy), std::move(observer)),
          fsm_(fsm_of(cluster_.options())) {}

    basic_subscriber(const basic_subscriber&) = delete;
    basic_subscriber& operator=(const basic_subscriber&) = delete;
    /// Closes its connections: the servers forget its subscriptions. No event is reported any more.
    ~basic_subscriber() = default;

    /// SUBSCRIBE (classic channels), PSUBSCRIBE (patterns), SSUBSCRIBE (shard channels, grouped by slot): sent by the
    /// next next(). A channel already wanted stays as it is. error{config} for an empty name.
    void subscribe(const std::vector<std::string>& channels) { want(pubsub_family::classic, channels); }
    void psubscribe(const std::vector<std::string>& patterns) { want(pubsub_family::pattern, patterns); }
    void ssubscribe(const std::vector<std::string>& channels) { want(pubsub_family::sharded, channels); }
    /// PSUBSCRIBE on every master serving slots, and on each that becomes one (a failover, a new node): keyspace and
    /// keyevent notifications (`__keyspace@0__:*`), which each node publishes for its own keys. Events about it carry
    /// the master in `node`; a master new to the map reports a gap from the map before until it confirms, one that no
    /// longer is ends (`ended`, `cause` says why). error{config} for a pattern also subscribed with psubscribe().
    void psubscribe_every_master(const std::vector<std::string>& patterns) { want(pubsub_family::master_pattern, patterns); }

    /// Stops the subscriptions: each reports `ended` once its node confirms (messages until then are delivered), or at
    /// once when it was not out on a node. A channel not subscribed is ignored.
    void unsubscribe(const std::vector<std::string>& channels) { unwant(pubsub_family::classic, channels); }
    void punsubscribe(const std::vector<std::string>& patterns) { unwant(pubsub_family::pattern, patterns); }
    void sunsubscribe(const std::vector<std::string>& channels) { unwant(pubsub_family::sharded, channels); }
    void punsubscribe_every_master(const std::vector<std::string>& patterns) { unwant(pubsub_family::master_pattern, patterns); }

    /// The next event, waiting at most `timeout` for one (0: what is there now, and what one look at every connection
    /// finds); nullopt when none came. Meanwhile it reads the topology when needed, sends what is due and reads every
    /// subscriber connection. A dial or a topology read in progress may hold it up to tls.connect_timeout, a write to a
    /// node that does not read up to tls.command_timeout; reads never wait. A dial that fails for a reason that would
    /// repeat (a certificate, the policy, AUTH) is thrown here, after everything else due was sent; its subscriptions
    /// are asked for again after their backoff.
    std::optional<pubsub_event> next(std::chrono::milliseconds timeout) {
        pubsub_event e;
        if (next(e, timeout)) return e;
        return std::nullopt;
    }
    /// The same into `into` (false: none came): its strings keep their capacity, so a loop that reuses one event
    /// allocates nothing per message.
    bool next(pubsub_event& into, std::chrono::milliseconds timeout) {
        // What is queued, or already read, first: the usual case under traffic, with no clock reading.
        if (events_.pop_into(into) || parse_buffered(into)) return true;
        const clock::time_point deadline = detail::saturating_add(clock::now(), std::max(timeout, std::chrono::milliseconds(0)));
        while (true) {
            if (events_.pop_into(into)) return true;
            if (parse_buffered(into)) return true;  // frames already read come first, one at a time
            tend(deadline);
            if (!events_.empty()) continue;
            const clock::time_point now = clock::now();
            // Always one look (a zero wait at the deadline), so next(0) reads what came.
            wait_for_input(now >= deadline ? now : std::min(deadline, wake_at(now)));
            if (!events_.empty()) continue;
            if (parse_buffered(into)) return true;
            if (clock::now() >= deadline) return false;
        }
    }

    /// Closes every subscriber connection: each subscription ends (an open gap is reported first, ending now), and
    /// the events are there for next(). The subscriber may subscribe again afterwards.
    void disconnect() {
        absorb_read();  // the messages already read are delivered before the ends
        std::vector<detail::pubsub_notice> notices;
        fsm_.close(clock::now(), notices);
        links_.clear();
        classic_node_ = no_node;
        queue(notices);
    }

    /// How many subscriptions are wanted (in any state; a pattern on every master counts once), and whether one is
    /// confirmed now (a pattern on every master: on each master of the last map).
    std::size_t subscriptions() const { return fsm_.size(); }
    bool active(pubsub_family family, std::string_view channel) const { return fsm_.active(family, channel); }
    /// The node each subscriber connection goes to, as reported by the cluster (for tests and diagnostics).
    std::vector<node_address> connected_nodes() const {
        std::vector<node_address> out;
        for (const auto& [n, link] : links_) out.push_back(link.connection.reported());
        return out;
    }
    /// The cluster whose map it follows (its node table, its policy).
    const basic_cluster<Policy, Observer>& cluster() const noexcept { return cluster_; }
    Observer& observer() noexcept { return cluster_.observer(); }

private:
    /// What one redisBufferRead() takes at most (hiredis reads into a 16 KB buffer).
    static constexpr std::size_t full_read_bytes = 16 * 1024;

    struct sub_link {
        tls_connection connection;
        std::string name;  ///< "node <reported> ... -> <dialed>", escaped: how messages name it
        /// The last time poll() found nothing to read on it and OpenSSL held nothing: whatever it reads later was sent
        /// after that (on loopback; elsewhere, up to the network's delay).
        clock::time_point quiet_at;
        clock::time_point read_at;  ///< when its last read brought something (the time of the frames it holds)
        clock::time_point last_pong;  ///< when a PING was last answered (or it was dialed)
        std::optional<clock::time_point> ping_sent;  ///< a health PING out, unanswered since then
        /// OpenSSL holds part of a record and the last read brought nothing: what it holds is not readable until the
        /// socket is (poll() says so), so it is not read again at once.
        bool stalled = false;
        /// The last read filled hiredis's read buffer: more is likely waiting, and is read without a poll() first.
        bool read_full = false;
        detail::frame_shape_guard shape;  ///< its reader's privdata (the link stays where it is in links_)
        detail::frame_slab slab;          ///< where its reader builds each frame (shape.slab)
    };
    /// A node whose dial failed, or whose connection was dropped for what it sent: not dialed again before `until`.
    struct node_backoff {
        int step = 0;
        clock::time_point until{};
    };

    static detail::subscription_fsm fsm_of(const cluster_options& o) {
        return detail::subscription_fsm(o.min_backoff, o.max_backoff, seed());
    }
    static std::uint64_t seed() { return static_cast<std::uint64_t>(clock::now().time_since_epoch().count()); }

    void want(pubsub_family family, const std::vector<std::string>& channels) {
        fsm_.subscribe(family, channels, clock::now());
        if (family == pubsub_family::master_pattern) refresh_wanted_ = true;  // the masters now, not the last map's
    }
    /// Records the unsubscribe; its requests are queued on their connections and written by the next next().
    void unwant(pubsub_family family, const std::vector<std::string>& channels) {
        absorb_read();  // what the nodes sent before this call is theirs to settle first (a pushed sunsubscribe, say)
        std::vector<detail::pubsub_notice> notices;
        const std::vector<detail::pubsub_request> requests = fsm_.unsubscribe(family, channels, clock::now(), notices);
        queue(notices);
        queue_requests(requests);
    }

    void queue(std::vector<detail::pubsub_notice>& notices) {
        if constexpr (observes_v<Observer, subscription_gap_event>)
            for (const detail::pubsub_notice& n : notices)
                if (n.what == detail::pubsub_notice::kind::gap) {
                    const pubsub_event gap = detail::event_of(detail::pubsub_notice(n));
                    cluster_.core_.events().emit(subscription_gap_event{gap});
                }
        events_.push(notices);
    }

    /// Writes what was queued, reads the topology when it is wanted (and allowed), sends what is due, PINGs.
    void tend(clock::time_point deadline);

    /// Where a request goes: its slot's master or, under read_from, a replica of it (sharded), its master (a pattern
    /// on every master), or the one node of the classic and pattern subscriptions (subscriber_route.hpp).
    node_id route(const detail::pubsub_request& r, clock::time_point now) {
        const cluster_core& core = cluster_.core_;
        if (r.slot >= 0) return shard_node(r.slot, now);
        if (r.family == pubsub_family::master_pattern)
            return core.exists(r.node) && core.node(r.node).in_topology && !backing_off(r.node, now) ? r.node : no_node;
        return classic_node_ = detail::classic_subscriber_node(core, classic_node_, [&](node_id n) { return backing_off(n, now); });
    }
    node_id shard_node(int slot, clock::time_point now) const {
        return detail::shard_subscriber_node(cluster_.core_, slot, cluster_.options_.read_from, now,
                                             [&](node_id n) { return backing_off(n, now); });
    }
    bool backing_off(node_id n, clock::time_point now) const {
        if (n == no_node) return false;
        const auto it = backoffs_.find(n);
        return it != backoffs_.end() && now < it->second.until && links_.count(n) == 0;
    }
    void back_off(node_id n, clock::time_point now) {
        node_backoff& b = backoffs_[n];
        b.until = detail::saturating_add(now, node_backoff_.delay(b.step));
    }

    /// The subscriber connection to `n`, dialed if there is none (its own deadline: now + connect_timeout); nullptr
    /// when the dial failed: the node backs off, a failure that would repeat goes to `lasting`.
    sub_link* link_to(node_id n, std::optional<error>& lasting);

    /// Queues `command` on `link` (written by flush_pending()); false when it could not (no memory).
    bool append(sub_link& link, const std::string& command) {
        if (redisAppendFormattedCommand(link.connection.get(), command.data(), command.size()) != REDIS_OK) return false;
        return true;
    }
    /// Queues requests the fsm recorded as written to their nodes (unsubscribes): a connection that cannot take one is
    /// dropped, so the server forgets what it was to end.
    void queue_requests(const std::vector<detail::pubsub_request>& requests) {
        for (const detail::pubsub_request& r : requests) {
            const auto it = links_.find(r.node);
            if (it == links_.end()) continue;  // cannot be: a lost connection moved its subscriptions off the node
            if (!append(it->second, detail::resp_of(r))) lose(r.node, "no memory to queue an unsubscribe", clock::now());
        }
    }

    /// Writes what every connection has queued, each bounded by command_timeout (a node that reads nothing is lost).
    void flush_pending() {
        for (auto it = links_.begin(); it != links_.end();) {
            const node_id n = it->first;
            sub_link& link = (it++)->second;
            redisContext* c = link.connection.get();
            if (sdslen(c->obuf) == 0) continue;
            const clock::time_point until = clock::now() + cluster_.options_.tls.command_timeout;
            link.connection.set_io_deadline(until);
            int done = 0;
            while (!done) {
                if (redisBufferWrite(c, &done) != REDIS_OK) {
                    lose(n, why_lost(c), clock::now());
                    break;
                }
                if (!done && clock::now() >= until) {
                    lose(n, "it took nothing of what was written within command_timeout (" +
                                std::to_string(cluster_.options_.tls.command_timeout.count()) + " ms)", clock::now());
                    break;
                }
            }
        }
    }

    /// hiredis's own reply functions (to check the reader is hiredis's), and the subscriber's: each frame is built into
    /// its link's frame_slab, reused for the next frame (parse_one copies what it keeps), an array no pub/sub frame is
    /// is refused (frame_array_allowed), and what the frame in progress holds is counted (count_frame_element).
    static const redisReplyObjectFunctions* base_functions() noexcept { return detail::hiredis_reply_functions(); }
    /// A zeroed reply of `type` in the frame's slab (a top-level one begins a frame: the slab is reused), put in its
    /// parent's slot as hiredis's own functions do.
    static redisReply* make(const redisReadTask* task, int type) noexcept {
        const auto* guard = static_cast<const detail::frame_shape_guard*>(task->privdata);
        if (guard == nullptr || guard->slab == nullptr) return nullptr;  // not our reader's task: hiredis fails the read
        detail::frame_slab& slab = *guard->slab;
        if (task->parent == nullptr) slab.reset();
        auto* r = static_cast<redisReply*>(slab.allocate(sizeof(redisReply)));
        if (r == nullptr) return nullptr;
        std::memset(r, 0, sizeof *r);
        r->type = type;
        if (task->parent != nullptr) static_cast<redisReply*>(task->parent->obj)->element[task->idx] = r;
        return r;
    }
    static char* copy(const redisReadTask* task, const char* s, std::size_t n) noexcept {
        if (n == SIZE_MAX) return nullptr;
        auto* out = static_cast<char*>(static_cast<detail::frame_shape_guard*>(task->privdata)->slab->allocate(n + 1));
        if (out == nullptr) return nullptr;
        if (n != 0) std::memcpy(out, s, n);
        out[n] = '\0';
        return out;
    }
    static void* create_frame_array(const redisReadTask* task, std::size_t elements) {
        if (!detail::frame_array_allowed(task, elements)) return nullptr;  // hiredis fails the read
        redisReply* r = make(task, task->type);
        if (r == nullptr) return nullptr;
        if (elements > 0) {
            r->element = static_cast<redisReply**>(
                static_cast<detail::frame_shape_guard*>(task->privdata)->slab->allocate(elements * sizeof(redisReply*)));
            if (r->element == nullptr) return nullptr;
        }
        r->elements = elements;
        detail::count_frame_element(task, 0);  // a frame begins (an empty one ends at once)
        return r;
    }
    static void* create_string(const redisReadTask* task, char* str, std::size_t len) {
        if (task->type == REDIS_REPLY_VERB && len < 4) return nullptr;  // hiredis's reader refuses it first
        redisReply* r = make(task, task->type);
        if (r == nullptr) return nullptr;
        const std::size_t skip = task->type == REDIS_REPLY_VERB ? 4 : 0;  // "txt:" of a verbatim string
        r->str = copy(task, str + skip, len - skip);
        if (r->str == nullptr) return nullptr;
        r->len = len - skip;
        if (skip != 0) std::memcpy(r->vtype, str, 3);
        detail::count_frame_element(task, len);
        return r;
    }
    static void* create_integer(const redisReadTask* task, long long value) {
        redisReply* r = make(task, REDIS_REPLY_INTEGER);
        if (r == nullptr) return nullptr;
        r->integer = value;
        detail::count_frame_element(task, 0);
        return r;
    }
    static void* create_double(const redisReadTask* task, double value, char* str, std::size_t len) {
        redisReply* r = make(task, REDIS_REPLY_DOUBLE);
        if (r == nullptr) return nullptr;
        r->dval = value;
        r->str = copy(task, str, len);
        if (r->str == nullptr) return nullptr;
        r->len = len;
        detail::count_frame_element(task, len);
        return r;
    }
    static void* create_nil(const redisReadTask* task) {
        redisReply* r = make(task, REDIS_REPLY_NIL);
        if (r != nullptr) detail::count_frame_element(task, 0);
        return r;
    }
    static void* create_bool(const redisReadTask* task, int value) {
        redisReply* r = make(task, REDIS_REPLY_BOOL);
        if (r == nullptr) return nullptr;
        r->integer = value != 0;
        detail::count_frame_element(task, 0);
        return r;
    }
    /// hiredis frees a reply it was building after an error, and one nobody took: the slab keeps it until the next frame.
    static void free_object(void*) noexcept {}
    static redisReplyObjectFunctions* shape_checking_functions() {
        static redisReplyObjectFunctions functions = {&create_string, &create_frame_array, &create_integer, &create_double,
                                                      &create_nil,    &create_bool,        &free_object};
        return &functions;
    }

    /// Why a read or write on `c` failed, for messages.
    static std::string why_lost(const redisContext* c) {
        if (c->err == REDIS_ERR_PROTOCOL) return "it sent bytes that are not RESP (" + detail::escaped(c->errstr, 200) + ")";
        return "the connection was lost (" + detail::escaped(c->errstr[0] != '\0' ? c->errstr : "closed", 200) + ")";
    }

    /// Reads what `n`'s connection has, without waiting, into hiredis's reader; parse_buffered() hands its frames to the
    /// fsm, one at a time as next() needs them. Replies are not piled up: each is freed before the next is made, so
    /// the allocator reuses one reply's memory for the next, as a plain redisGetReply loop does.
    void read_from(node_id n);

    /// Hands the fsm every whole frame already read, queuing its events (messages too): before a user's call changes
    /// what is wanted, what the nodes sent before it is settled in order.
    void absorb_read() {
        for (std::size_t i = 0; i < to_parse_.size(); ++i) {
            const node_id n = to_parse_[i];
            while (true) {
                const auto it = links_.find(n);
                if (it == links_.end() || parse_one(n, it->second, nullptr) == parsed::nothing) break;
            }
        }
    }

    /// Hands the fsm the frames already read, until one gives an event, which is moved into `into` (true), or none is
    /// left (false). A connection whose reader is drained is read again at once while OpenSSL holds records it read
    /// ahead (poll() cannot see them), or when its last read filled hiredis's buffer (a backlog: the recv is tried
    /// before any poll), at most `max_reads_per_look` times: a flood does not hold next() from its other duties, nor
    /// from the other connections.
    bool parse_buffered(pubsub_event& into);
    enum class parsed { nothing, queued, delivered };
    /// Hands the fsm `n`'s next whole frame. A message, with nothing queued before it, goes straight into `into`
    /// (delivered), unless `into` is null; what else it gives is queued. Nothing: its reader holds no whole frame, or
    /// the connection was dropped for one (a frame the fsm or the reader refuses drops it there, and nothing after it
    /// is delivered).
    parsed parse_one(node_id n, sub_link& link, pubsub_event* into);

    /// The connection to `n` is gone (`why`, escaped): closed, and its subscriptions down from `at`, or from the last
    /// read that brought something if that was earlier: what the server accepted after it may have died with it (a
    /// master SIGKILLed between answering a SPUBLISH and writing the message to its subscribers).
    void lose(node_id n, const std::string& why, clock::time_point at) {
        const auto it = links_.find(n);
        if (it != links_.end()) at = std::min(at, it->second.read_at);
        const std::string name = it != links_.end() ? it->second.name : name_of(n);
        if (it != links_.end()) links_.erase(it);
        if (classic_node_ == n) classic_node_ = no_node;
        std::vector<detail::pubsub_notice> notices;
        fsm_.connection_lost(n, name, why, std::min(at, clock::now()), notices);
        queue(notices);
        refresh_wanted_ = true;
    }
    std::string name_of(node_id n) const { return detail::subscriber_node_name(cluster_.core_, n); }

    void refresh(clock::time_point deadline);

    /// Waits for input until `until` (a zero wait when it has passed), then reads every connection that has some.
    void wait_for_input(clock::time_point until);

    /// When something is due without input: a subscription's backoff ends (once a map can route it), a wanted refresh
    /// is allowed, a connection needs a PING or its PING's answer is late, the map is due to be read again.
    clock::time_point wake_at(clock::time_point now) const {
        clock::time_point at = clock::time_point::max();
        if (cluster_.core_.has_topology())
            if (const auto due = fsm_.next_due()) at = std::min(at, *due);
        if ((refresh_wanted_ || !cluster_.core_.has_topology()) && fsm_.wants_any()) at = std::min(at, next_refresh_at_);
        const auto every = health_interval();
        if (every.count() > 0) {
            for (const auto& [n, link] : links_)
                at = std::min(at, link.ping_sent ? *link.ping_sent + cluster_.options_.tls.command_timeout
                                                 : link.last_pong + every);
            if (fsm_.wants_any() && map_known_right_at_) at = std::min(at, std::max(next_refresh_at_, *map_known_right_at_ + every));
        }
        return std::max(at, now);
    }

    std::chrono::milliseconds health_interval() const noexcept { return cluster_.options_.subscriber_health_interval; }

    /// PINGs each connection once per health_interval() (traffic or not: a node that streams but answers nothing is
    /// as lost as a silent one); drops those whose PING went unanswered for command_timeout.
    void check_health(clock::time_point now) {
        const auto every = health_interval();
        if (every.count() <= 0) return;
        for (auto it = links_.begin(); it != links_.end();) {
            const node_id n = it->first;
            sub_link& link = (it++)->second;
            if (link.ping_sent) {
                const auto waited = cluster_.options_.tls.command_timeout;
                if (now - *link.ping_sent >= waited)
                    lose(n, "it did not answer a PING within command_timeout (" + std::to_string(waited.count()) +
                                " ms): a hung node, or a network cut; the connection is dropped", now);
                continue;
            }
            if (now - link.last_pong < every) continue;
            if (!append(link, "*1\r\n$4\r\nPING\r\n")) continue;  // no memory now: the next look tries again
            fsm_.pinged(n);
            link.ping_sent = now;
        }
    }

    basic_cluster<Policy, Observer> cluster_;
    /// cluster_options::subscriber_max_frame_bytes: a node whose unread frame grows past it is dropped rather than let
    /// memory grow without end.
    std::size_t max_frame_bytes_ = detail::checked_max_frame_bytes(cluster_.options_.subscriber_max_frame_bytes);
    detail::subscription_fsm fsm_;
    std::map<node_id, sub_link> links_;
    detail::pubsub_event_queue events_;
    std::vector<node_id> to_parse_;  ///< connections whose reader may hold whole frames, in the order they were read
    int reads_this_look_ = 0;        ///< parse_buffered()'s reads without a poll() since the last
    std::vector<detail::pubsub_notice> notices_;  ///< parse_one()'s, kept: no allocation per frame
    std::vector<pollfd> poll_fds_;    // wait_for_input's, kept: no allocation per wait
    std::vector<node_id> poll_nodes_;
    std::map<node_id, node_backoff> backoffs_;
    detail::backoff node_backoff_{cluster_.options_.min_backoff, cluster_.options_.max_backoff, seed()};
    detail::backoff refresh_backoff_{cluster_.options_.min_backoff, cluster_.options_.max_backoff, seed()};
    int refresh_step_ = 0;
    node_id classic_node_ = no_node;
    bool refresh_wanted_ = false;
    clock::time_point next_refresh_at_{};
    std::optional<clock::time_point> map_known_right_at_;
};

using subscriber = basic_subscriber<identity>;

}  // namespace addrmap

// The longer members, by concern.
#include <addrmap/detail/subscriber_io.hpp>
