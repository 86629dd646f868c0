// addrmap/pubsub.hpp — what a cluster subscriber hands its user: a message, or news of a subscription (confirmed, not
// active for a while — a gap —, ended, refused). Both subscribers (blocking and async) use these types.
#pragma once

#include <addrmap/detail/command.hpp>  // format_argv
#include <addrmap/detail/pubsub_frames.hpp>
#include <addrmap/detail/subscription_fsm.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

/// SUBSCRIBE's channels (classic), PSUBSCRIBE's patterns (pattern), SSUBSCRIBE's shard channels (sharded), and
/// patterns PSUBSCRIBEd on every master (master_pattern: keyspace notifications).
using pubsub_family = detail::pubsub_family;

/// One thing a subscriber reports, in the order it learned it.
struct pubsub_event {
    enum class kind {
        message,     ///< published on `channel` (matched by `pattern`, for a pattern subscription): `payload`
        subscribed,  ///< the server confirmed `channel` (first time, or again after a gap)
        gap,         ///< `channel` was not active from `start` to `end`: messages published then were not received
        ended,       ///< unsubscribed as asked, or the subscriber was disconnected or destroyed
        refused,     ///< the server refused `channel` for good (`cause`); it is no longer wanted
    };
    kind what = kind::message;
    pubsub_family family = pubsub_family::classic;
    /// message: the channel it was published on; otherwise the channel (or, for pattern, the pattern) it is about.
    std::string channel;
    std::string pattern;  ///< message of a pattern subscription: the pattern that matched
    std::string payload;  ///< message: the message, byte for byte
    std::string cause;    ///< gap: why it stopped; refused: the server's answer;
                          ///< ended: why, when the user did not ask (a pattern's node is no longer a master)
    std::string node;     ///< a pattern on every master, but for a message: the master it is about
    std::chrono::steady_clock::time_point start{}, end{};  ///< gap: the interval

    bool is_message() const noexcept { return what == kind::message; }
};

namespace detail {
inline pubsub_event event_of(pubsub_notice&& n) {
    pubsub_event e;
    switch (n.what) {
        case pubsub_notice::kind::subscribed: e.what = pubsub_event::kind::subscribed; break;
        case pubsub_notice::kind::gap: e.what = pubsub_event::kind::gap; break;
        case pubsub_notice::kind::ended: e.what = pubsub_event::kind::ended; break;
        case pubsub_notice::kind::refused: e.what = pubsub_event::kind::refused; break;
    }
    e.family = n.family;
    e.channel = std::move(n.channel);
    e.cause = std::move(n.cause);
    e.node = std::move(n.node);
    e.start = n.start;
    e.end = n.end;
    return e;
}
/// `to` becomes `from`, keeping its capacity (cheaper than assign() for the short strings of every message).
inline void copy_into(std::string& to, std::string_view from) {
    if (to.size() != from.size()) to.resize(from.size());
    if (!from.empty()) std::memcpy(&to[0], from.data(), from.size());
}
/// `into` becomes the message `f` carries (its strings keep their capacity).
inline void fill_message(pubsub_event& into, const pubsub_frame& f) {
    into.what = pubsub_event::kind::message;
    into.family = f.family;
    copy_into(into.channel, f.channel);
    copy_into(into.pattern, f.pattern);
    copy_into(into.payload, f.payload);
    into.cause.clear();
    into.node.clear();
    into.start = into.end = {};
}
/// A subscriber's events in order, kept cheaply: a message stays the reply it came in (its frame's views point into
/// it) until it is handed out, and pop_into() fills the caller's event, whose strings keep their capacity from one
/// message to the next; the other events wait in a vector of their own. Vectors used as queues: nothing is allocated
/// per event once they have grown.
class pubsub_event_queue {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    void push(pubsub_event&& e) {
        items_.push_back(item{reply_ptr(), pubsub_frame{}, others_.size()});
        others_.push_back(std::move(e));
    }
    /// The fsm's notices, in order (the vector is left empty for the next call).
    void push(std::vector<pubsub_notice>& notices) {
        for (pubsub_notice& n : notices) push(event_of(std::move(n)));
        notices.clear();
    }
    void push_message(reply_ptr reply, const pubsub_frame& f) { items_.push_back(item{std::move(reply), f, 0}); }
    /// Moves the oldest event into `into` (false: none).
    bool pop_into(pubsub_event& into) {
        if (empty()) return false;
        item& i = items_[head_++];
        if (i.reply) {
            fill_message(into, i.frame);
            i.reply.reset();
        } else {
            into = std::move(others_[i.other]);
        }
        if (empty()) {
            items_.clear();  // keeps its capacity
            others_.clear();
            head_ = 0;
        }
        return true;
    }

private:
    struct item {
        reply_ptr reply;     ///< a message: the reply it came in
        pubsub_frame frame;  ///< a message: views into `reply`
        std::size_t other;   ///< anything else: its index in others_
    };
    std::vector<item> items_;
    std::vector<pubsub_event> others_;
    std::size_t head_ = 0;
};

/// The command a request is written as: (S|P)(UN)SUBSCRIBE and its channels, then PING when it asks for one (RESP).
inline std::string resp_of(const pubsub_request& r) {
    static constexpr const char* names[2][3] = {{"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"},
                                                {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"}};
    std::vector<std::string_view> args{names[r.subscribe ? 1 : 0][static_cast<int>(wire_family(r.family))]};
    for (const std::string& c : r.channels) args.emplace_back(c);
    std::string out = format_argv(args);
    if (r.ping_after) out += "*1\r\n$4\r\nPING\r\n";
    return out;
}
}  // namespace detail

}  // namespace addrmap
