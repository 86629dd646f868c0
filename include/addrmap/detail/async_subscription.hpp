// addrmap/detail/async_subscription.hpp — one async subscriber's I/O on the loop: its connections (one per node), the
// frames read from them without hiredis's callback list, and its events, handed to the user outside hiredis.
#pragma once

#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/bounded_reads.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/handshake_errors.hpp>
#include <addrmap/detail/pubsub_frames.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/subscriber_route.hpp>
#include <addrmap/detail/subscription_fsm.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pubsub.hpp>

#include <hiredis/async.h>

#include <openssl/ssl.h>
#include <poll.h>

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace addrmap::detail {

class async_subscription;

/// What an async subscription needs from the driver it runs on (async_driver is one). Loop thread only.
class async_subscription_host {
public:
    using clock = std::chrono::steady_clock;
    virtual const cluster_core& subscription_core() const = 0;
    /// A connection of `owner`'s own to node `n`, dialed as a blocking command's is; its set-up is reported to `owner`.
    /// nullptr while node `n`'s own connection is being set up (node_ready() says when). Throws what a dial throws;
    /// never calls `owner` back from inside.
    virtual async_connection* open_subscriber_connection(node_id n, async_subscription& owner, clock::time_point now) = 0;
    /// `owner` closes `c` itself (its destructor, disconnect()): the driver forgets whose it was.
    virtual void forget_subscriber_connection(const async_connection& c) = 0;
    /// A subscriber's dial failed with `why`: the user's news (the node's state stays its shared connection's to tell).
    virtual void report_subscriber_failure(const error& why) = 0;
    /// Reads the topology (joining a refresh that runs); then `owner.refreshed(installed)`, unless `owner` is gone.
    virtual void refresh_for(async_subscription& owner) = 0;
    /// Runs `owner.run()` from the loop soon, outside every hiredis callback.
    virtual void wake(async_subscription& owner) = 0;
    /// A callback of the user's threw: reported as the cluster reports such errors.
    virtual void subscriber_callback_threw(const char* what) = 0;

protected:
    ~async_subscription_host() = default;
};

/// One subscriber on the loop: the fsm's I/O. Frames are read inside hiredis (each reply of a subscriber connection is
/// handed to us as a push, see install_reader), fed to the fsm there, and the events they make are delivered by run(),
/// which the host calls from the loop: user code never runs inside hiredis, and a connection is closed only from there.
class async_subscription {
public:
    using clock = std::chrono::steady_clock;
    using event_handler = std::function<void(const pubsub_event&)>;

    async_subscription(async_subscription_host& host, const cluster_options& options, event_handler on_event)
        : host_(&host),
          health_interval_(options.subscriber_health_interval),
          command_timeout_(options.tls.command_timeout),
          refresh_min_interval_(options.refresh_min_interval),
          max_frame_bytes_(checked_max_frame_bytes(options.subscriber_max_frame_bytes)),
          read_from_(options.read_from),
          fsm_(options.min_backoff, options.max_backoff, static_cast<std::uint64_t>(clock::now().time_since_epoch().count())),
          on_event_(std::move(on_event)),
          node_backoff_(options.min_backoff, options.max_backoff, static_cast<std::uint64_t>(clock::now().time_since_epoch().count()) + 1) {}
    async_subscription(const async_subscription&) = delete;
    async_subscription& operator=(const async_subscription&) = delete;
    /// Closes its connections; no event is delivered after it.
    ~async_subscription() {
        *alive_ = false;
        close_all();
    }

    /// A token that is false once this subscription is destroyed (for callbacks that may outlive it).
    std::shared_ptr<const bool> alive_token() const { return alive_; }

    // ---- the user (loop thread) ----------------------------------------------------------------------------
    void subscribe(pubsub_family family, const std::vector<std::string>& channels) {
        fsm_.subscribe(family, channels, clock::now());
        if (family == pubsub_family::master_pattern) refresh_wanted_ = true;  // the masters now, not the last map's
        wake();
    }
    void unsubscribe(pubsub_family family, const std::vector<std::string>& channels) {
        std::vector<pubsub_notice> notices;
        const std::vector<pubsub_request> requests = fsm_.unsubscribe(family, channels, clock::now(), notices);
        queue(notices);
        write_unsubscribes(requests);
        wake();
    }
    /// Every subscription ends (gaps still open first); the connections close. Events follow from the loop.
    void disconnect() {
        std::vector<pubsub_notice> notices;
        fsm_.close(clock::now(), notices);
        queue(notices);
        close_all();
        classic_node_ = no_node;
        wake();
    }
    std::size_t size() const { return fsm_.size(); }
    bool active(pubsub_family family, std::string_view channel) const { return fsm_.active(family, channel); }
    /// The nodes it has a connection set up to, as the cluster reports them.
    std::vector<node_address> connected_nodes() const {
        std::vector<node_address> out;
        if (host_ == nullptr) return out;
        for (const auto& [n, l] : links_)
            if (l.ready && !l.doomed && host_->subscription_core().exists(n)) out.push_back(host_->subscription_core().node(n).reported);
        return out;
    }

    // ---- the host (loop thread, outside hiredis) --------------------------------------------------------------
    /// What is due: connections to close or open, the map to read, requests to send, health PINGs; then the events.
    void run() {
        wake_requested_ = false;
        if (host_ == nullptr) return;
        const std::shared_ptr<bool> alive = alive_;
        close_doomed();
        tend(clock::now());
        // Dial failures are the user's news (on_error), told here, outside the subscription's own bookkeeping.
        for (const error& e : std::exchange(failures_, {})) {
            if (host_ == nullptr) return;
            host_->report_subscriber_failure(e);
            if (!*alive) return;
        }
        deliver();
    }
    /// When run() is next due without any input (max: never).
    clock::time_point wake_at(clock::time_point now) const {
        if (host_ == nullptr) return clock::time_point::max();
        clock::time_point at = clock::time_point::max();
        const bool routable = host_->subscription_core().has_topology();
        if (routable)
            if (const auto due = fsm_.next_due()) at = std::min(at, *due);
        if ((refresh_wanted_ || !routable) && !refreshing_ && fsm_.wants_any()) at = std::min(at, next_refresh_at_);
        if (health_interval_.count() > 0) {
            for (const auto& [n, l] : links_)
                if (l.ready && !l.doomed) at = std::min(at, l.ping_sent ? *l.ping_sent + command_timeout_ : l.last_pong + health_interval_);
            if (fsm_.wants_any() && !refreshing_)
                at = std::min(at, std::max(next_refresh_at_, map_known_right_at_ ? *map_known_right_at_ + health_interval_
                                                                                  : clock::time_point{}));
        }
        return at == clock::time_point::max() ? at : std::max(at, now);
    }
    bool wants_run() const noexcept { return wake_requested_; }

    void connection_ready(async_connection& c) {
        link* l = link_of(c);
        if (l == nullptr) return;
        const clock::time_point now = clock::now();
        if (const char* why = install_reader(c, *l)) {
            doom(c.node(), std::string("its replies could not be read as a subscriber's (") + why + ")", now);
            wake();
            return;
        }
        l->ready = true;
        l->quiet_at = l->last_pong = l->heard_at = now;
        for (const auto& [family, channels] : l->waiting) fsm_.due_now(family, channels, c.node(), now);
        l->waiting.clear();
        wake();
    }
    void connection_failed(async_connection& c, const error& why) {
        link* l = link_of(c);
        if (l == nullptr) return;
        const node_id n = c.node();
        links_.erase(n);
        back_off(n, clock::now());  // nothing was sent on it: what waited for it backs off and goes again
        if (classic_node_ == n) classic_node_ = no_node;
        refresh_wanted_ = true;
        failures_.push_back(why);
        wake();
    }
    void connection_gone(async_connection& c) {
        link* l = link_of(c);
        if (l == nullptr) return;
        const node_id n = c.node();
        const clock::time_point now = clock::now();
        if (l->ready && !l->doomed) {
            const bool overrun = l->shape.over != frame_shape_guard::overrun::none;
            if (l->shape.refused || overrun) {  // what it sent since it was last quiet is suspect, and it is not
                back_off(n, now);                // redialed at once
                lost(n, *l, l->shape.refused ? std::string(refused_frame_shape) : overrun_cause(l->shape),
                     std::min(l->quiet_at, now));
            } else {
                lost(n, *l, c.why_lost(), now);
            }
        }
        links_.erase(n);
        wake();
    }
    /// Node `n` could not be connected (its own connection, which a subscriber connection may be waiting for): that link
    /// goes and the node backs off, so what waited for it is routed again (the classic subscriptions to another master
    /// while it backs off) instead of waiting on a node that does not answer. (The cluster tells the user why.)
    void node_failed(node_id n) {
        const auto it = links_.find(n);
        if (it == links_.end() || it->second.connection != nullptr) return;  // its own connection decides
        links_.erase(it);
        back_off(n, clock::now());
        if (classic_node_ == n) classic_node_ = no_node;
        refresh_wanted_ = true;
        wake();
    }
    /// Node `n`'s own connection is set up: a subscriber connection waiting for it can be dialed.
    void node_ready(node_id n) {
        const auto it = links_.find(n);
        if (it != links_.end() && it->second.connection == nullptr) wake();
    }
    /// The topology refresh asked for ended.
    void refreshed(bool installed);
    /// The driver is being destroyed: its connections are closed by it, nothing is asked of it any more.
    void host_gone() noexcept {
        host_ = nullptr;
        links_.clear();
    }
    /// Whether the driver is still there (host_gone() was not called).
    bool attached() const noexcept { return host_ != nullptr; }

private:
    /// What the reader needs to hand a reply to its subscription.
    struct reader_hook {
        async_subscription* self;
        node_id node;
    };
    struct link {
        async_connection* connection = nullptr;  ///< nullptr: waiting for the node's own connection to be set up
        bool ready = false;
        bool doomed = false;  ///< refused a frame or its PING went unanswered: closed from run(), nothing more read
        std::string name;     ///< how messages name the node (escaped)
        std::string doom_reason;
        clock::time_point quiet_at{}, last_pong{};
        clock::time_point heard_at{};  ///< when its last frame came (or it was set up)
        std::optional<clock::time_point> ping_sent;
        std::vector<std::pair<pubsub_family, std::vector<std::string>>> waiting;  ///< not sent for want of it
        std::unique_ptr<reader_hook> hook;
        frame_shape_guard shape;  ///< its reader's privdata (the link stays where it is in links_)
    };

    // ---- reading, inside hiredis ------------------------------------------------------------------------------
    // hiredis's async reader hands every reply to a callback from its list, and a reply with none in a context not in
    // its own subscribed mode ends the connection (an error) or fails an assertion. A subscriber connection's replies
    // are read here instead: its reader marks every top-level reply as a push (the type it had is kept in `dval`,
    // which no RESP2 reply uses), and a context's push callback takes every push before hiredis looks for a callback.
    static constexpr double type_mark = 1e9;
    static void mark(void* obj, const redisReadTask* task) noexcept {
        if (obj == nullptr || task->parent != nullptr) return;
        auto* r = static_cast<redisReply*>(obj);
        r->dval = type_mark + r->type;
        r->type = REDIS_REPLY_PUSH;
    }
    static void unmark(redisReply* r) noexcept {
        if (r->type == REDIS_REPLY_PUSH && r->dval >= type_mark) {
            r->type = static_cast<int>(r->dval - type_mark);
            r->dval = 0;
        }
    }
    static const redisReplyObjectFunctions* hiredis_functions() noexcept { return hiredis_reply_functions(); }
    static void* create_string(const redisReadTask* t, char* s, std::size_t n) {
        void* o = hiredis_functions()->createString(t, s, n);
        count_frame_element(t, n);
        mark(o, t);
        return o;
    }
    static void* create_array(const redisReadTask* t, std::size_t n) {
        if (!frame_array_allowed(t, n)) return nullptr;  // no pub/sub frame: hiredis fails the read
        void* o = hiredis_functions()->createArray(t, n);
        count_frame_element(t, 0);  // a frame begins (an empty one ends at once)
        mark(o, t);
        return o;
    }
    static void* create_integer(const redisReadTask* t, long long v) {
        void* o = hiredis_functions()->createInteger(t, v);
        count_frame_element(t, 0);
        mark(o, t);
        return o;
    }
    static void* create_double(const redisReadTask* t, double v, char* s, std::size_t n) {
        void* o = hiredis_functions()->createDouble(t, v, s, n);
        count_frame_element(t, n);
        mark(o, t);
        return o;
    }
    static void* create_nil(const redisReadTask* t) {
        void* o = hiredis_functions()->createNil(t);
        count_frame_element(t, 0);
        mark(o, t);
        return o;
    }
    static void* create_bool(const redisReadTask* t, int v) {
        void* o = hiredis_functions()->createBool(t, v);
        count_frame_element(t, 0);
        mark(o, t);
        return o;
    }
    static void free_object(void* o) {
        if (o == nullptr) return;
        unmark(static_cast<redisReply*>(o));
        freeReplyObject(o);
    }
    static redisReplyObjectFunctions* marking_functions() noexcept {
        static redisReplyObjectFunctions functions = {create_string, create_array, create_integer, create_double,
                                                      create_nil,    create_bool,  free_object};
        return &functions;
    }
    static void pushed(void* privdata, void* raw) {
        auto* r = static_cast<redisReply*>(raw);
        unmark(r);
        reply_ptr reply(r);
        const auto* hook = static_cast<const reader_hook*>(privdata);
        if (hook == nullptr) return;
        try {  // nothing may unwind through hiredis and the loop's C frames
            hook->self->on_reply(hook->node, std::move(reply));
        } catch (...) {  // no memory for the event: the connection cannot be trusted to have lost nothing
            try {
                hook->self->doom(hook->node, "no memory to keep a frame it sent; the connection is dropped", clock::now());
            } catch (...) {  // not even for that: the health PING finds it
            }
        }
    }

    /// Makes `c`'s reader hand every reply to on_reply (see above) and bounds its frames; why it cannot, or nullptr.
    const char* install_reader(async_connection& c, link& l);

    /// One reply of node `n`'s subscriber connection (inside hiredis: no user code, no close here).
    void on_reply(node_id n, reply_ptr reply);
    /// After the last whole reply of a read: if neither hiredis, OpenSSL nor the socket holds anything more, the
    /// connection was quiet at `now` (whatever comes later was sent after it).
    static void note_if_quiet(link& l, clock::time_point now) {
        if (l.connection == nullptr) return;
        redisAsyncContext* ac = l.connection->context();
        if (ac == nullptr || ac->c.reader == nullptr || ac->c.reader->pos < ac->c.reader->len) return;
        SSL* ssl = l.connection->ssl();
        if (ssl != nullptr && SSL_has_pending(ssl) == 1) return;
        pollfd p{ac->c.fd, POLLIN, 0};
        if (::poll(&p, 1, 0) == 0) l.quiet_at = now;
    }

    // ---- what run() does -------------------------------------------------------------------------------------
    void tend(clock::time_point now);
    /// Where a slot's SSUBSCRIBEs go: its master, or under read_from a replica of it (subscriber_route.hpp).
    node_id shard_node(int slot, clock::time_point now) const {
        return shard_subscriber_node(host_->subscription_core(), slot, read_from_, now,
                                     [&](node_id n) { return backing_off(n, now); });
    }
    /// Where classic channels and patterns go: the node they are on while it stays (subscriber_route.hpp).
    node_id classic_node(clock::time_point now) {
        return classic_node_ = classic_subscriber_node(host_->subscription_core(), classic_node_,
                                                       [&](node_id n) { return backing_off(n, now); });
    }
    /// A node dropped lately is not dialed again before its backoff ends (one with a connection is not set aside).
    bool backing_off(node_id n, clock::time_point now) const {
        const auto b = backoffs_.find(n);
        return b != backoffs_.end() && now < b->second.until && links_.count(n) == 0;
    }
    /// The link to `n`, its connection dialed if there is none; nullptr when the dial failed.
    link* link_to(node_id n, clock::time_point now) {
        auto it = links_.find(n);
        if (it == links_.end()) {
            if (const auto b = backoffs_.find(n); b != backoffs_.end() && now < b->second.until) return nullptr;
            it = links_.emplace(n, link{}).first;
            const cluster_core& core = host_->subscription_core();
            it->second.name = subscriber_node_name(core, n);
            if (!open(n, it->second, now)) return nullptr;
        }
        return &it->second;
    }
    /// Dials `l`'s connection (or leaves it waiting for the node's own); false, with `l` gone, when the dial failed.
    bool open(node_id n, link& l, clock::time_point now) {
        try {
            l.connection = host_->open_subscriber_connection(n, *this, now);
            return true;
        } catch (const error& e) {
            links_.erase(n);
            if (classic_node_ == n) classic_node_ = no_node;
            back_off(n, now);
            failures_.push_back(e);
            if (e.kind() == error_kind::closed) end_all();
            return false;
        }
    }
    /// The cluster will not dial any more (it was disconnected): every subscription ends.
    void end_all() {
        std::vector<pubsub_notice> notices;
        fsm_.close(clock::now(), notices);
        queue(notices);
    }

    void check_health(clock::time_point now) {
        if (health_interval_.count() <= 0) return;
        for (auto& [n, l] : links_) {
            if (!l.ready || l.doomed) continue;
            if (l.ping_sent) {
                if (now - *l.ping_sent >= command_timeout_)
                    doom(n, "it did not answer a PING within command_timeout (" + std::to_string(command_timeout_.count()) +
                                " ms): a hung node, or a network cut; the connection is dropped", now);
                continue;
            }
            if (now - l.last_pong < health_interval_) continue;  // traffic or not: a PING per interval
            append(l, "*1\r\n$4\r\nPING\r\n");
            fsm_.pinged(n);
            l.ping_sent = now;
        }
    }

    void write_unsubscribes(const std::vector<pubsub_request>& requests) {
        for (const pubsub_request& r : requests) {
            const auto it = links_.find(r.node);
            if (it == links_.end() || !it->second.ready || it->second.doomed) continue;  // lost: nothing is subscribed there
            append(it->second, resp_of(r));
        }
    }
    /// Queues `command` on `l`'s connection (the loop writes it); nothing when it is closing (its loss is reported).
    static void append(link& l, const std::string& command) {
        redisAsyncContext* ac = l.connection != nullptr ? l.connection->context() : nullptr;
        if (ac == nullptr || (ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) != 0) return;
        if (redisAppendFormattedCommand(&ac->c, command.data(), command.size()) != REDIS_OK) throw std::bad_alloc();
        if (ac->ev.addWrite != nullptr) ac->ev.addWrite(ac->ev.data);
    }

    /// `n`'s connection is no longer trusted (`why`, escaped): its subscriptions are down from now, it is closed from
    /// run(), and nothing more is read from it.
    void doom(node_id n, const std::string& why, clock::time_point now) {
        const auto it = links_.find(n);
        if (it == links_.end() || it->second.doomed) return;
        link& l = it->second;
        if (l.ready) lost(n, l, why, now);
        l.doomed = true;
        l.doom_reason = why;
        wake();
    }
    void back_off(node_id n, clock::time_point now) {
        node_backoff& b = backoffs_[n];
        b.until = saturating_add(now, node_backoff_.delay(b.step));
    }
    /// The connection to `n` is gone: its subscriptions are down from `now`, or from the last frame it sent if that was
    /// earlier (what the server accepted after it may have died with it: a master SIGKILLed between answering a
    /// SPUBLISH and writing the message to its subscribers).
    void lost(node_id n, link& l, const std::string& why, clock::time_point now) {
        std::vector<pubsub_notice> notices;
        fsm_.connection_lost(n, l.name, why, std::min(now, l.heard_at), notices);
        queue(notices);
        refresh_wanted_ = true;
        if (classic_node_ == n) classic_node_ = no_node;
    }
    void close_doomed() {
        std::vector<async_connection*> closing;
        for (auto& [n, l] : links_)
            if (l.doomed && l.connection != nullptr) closing.push_back(l.connection);
        for (async_connection* c : closing) {
            const std::string why = links_[c->node()].doom_reason;
            c->close_because(why);  // connection_gone erases the link (no second loss: it is doomed)
        }
    }
    void close_all() {
        std::vector<async_connection*> closing;
        for (auto& [n, l] : links_)
            if (l.connection != nullptr) closing.push_back(l.connection);
        links_.clear();  // first: their connection_gone finds no link (the fsm was told, or closes)
        for (async_connection* c : closing) {
            if (host_ != nullptr) host_->forget_subscriber_connection(*c);
            c->close_because("the subscriber closed it");
        }
    }

    void queue(std::vector<pubsub_notice>& notices) {
        events_.push(notices);
    }
    void deliver() {
        const std::shared_ptr<bool> alive = alive_;
        pubsub_event e;  // one for the batch: a message's strings reuse its capacity
        while (events_.pop_into(e)) {
            if (!on_event_) continue;
            try {
                on_event_(e);
            } catch (...) {
                if (*alive && host_ != nullptr) host_->subscriber_callback_threw("a subscriber's event callback");
            }
            if (!*alive) return;  // destroyed by its callback: nothing of it is touched any more
        }
    }
    void wake() {
        if (wake_requested_ || host_ == nullptr) return;
        wake_requested_ = true;
        host_->wake(*this);
    }
    link* link_of(const async_connection& c) {
        const auto it = links_.find(c.node());
        return it != links_.end() && it->second.connection == &c ? &it->second : nullptr;
    }

    async_subscription_host* host_;
    std::chrono::milliseconds health_interval_, command_timeout_, refresh_min_interval_;
    std::size_t max_frame_bytes_;  ///< cluster_options::subscriber_max_frame_bytes
    read_preference read_from_;  ///< where shard channels are subscribed (subscriber_route.hpp)
    subscription_fsm fsm_;
    event_handler on_event_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::map<node_id, link> links_;
    /// A node whose dial failed or whose connection was dropped for what it sent: not dialed again before `until`.
    struct node_backoff {
        int step = 0;
        clock::time_point until{};
    };
    std::map<node_id, node_backoff> backoffs_;
    std::vector<error> failures_;  ///< dial failures to report from run()
    backoff node_backoff_;
    pubsub_event_queue events_;
    node_id classic_node_ = no_node;
    bool wake_requested_ = false;
    bool refresh_wanted_ = false;
    bool refreshing_ = false;
    clock::time_point next_refresh_at_{}, refresh_started_at_{};
    std::optional<clock::time_point> map_known_right_at_;
};

}  // namespace addrmap::detail

// The longer members, by concern.
#include <addrmap/detail/async_subscription_io.hpp>
