// addrmap/detail/pubsub_frames.hpp — what a subscriber connection's reply is (RESP2): a subscription confirmed or
// ended, a message, a PING's answer, or an error reply; anything else is refused, naming the node that sent it.
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/topology.hpp>  // detail::is_string_reply, string_of, reply_type_name

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// Which subscriptions a frame is about: SUBSCRIBE's channels, PSUBSCRIBE's patterns, SSUBSCRIBE's shard channels.
/// `master_pattern` is never a frame's: a pattern the subscriber PSUBSCRIBEs on every master (keyspace notifications
/// are per node in a cluster); its frames say `pattern`.
enum class pubsub_family { classic, pattern, sharded, master_pattern };

/// The family a request of `f` is written, and answered, as.
constexpr pubsub_family wire_family(pubsub_family f) noexcept {
    return f == pubsub_family::master_pattern ? pubsub_family::pattern : f;
}

enum class pubsub_frame_kind {
    subscribed,    ///< (p|s)subscribe: `channel` is now subscribed; `count` subscriptions on the connection
    unsubscribed,  ///< (p|s)unsubscribe: asked for, or (sunsubscribe) pushed by the server when the slot moved
    message,       ///< message, pmessage (with `pattern`), smessage
    pong,          ///< PING's answer: `*2 pong <arg>` while subscribed, `+PONG` once the last subscription is gone
    error_reply,   ///< an error reply (a refused SSUBSCRIBE: MOVED, CROSSSLOT, ...): `payload` is its text
};

/// One frame. The views point into the reply, which must outlive them.
struct pubsub_frame {
    pubsub_frame_kind kind = pubsub_frame_kind::pong;
    pubsub_family family = pubsub_family::classic;
    std::string_view channel;  ///< the channel, or the pattern of (p)subscribe/(p)unsubscribe; empty: none (nil)
    std::string_view pattern;  ///< pmessage: the pattern that matched
    std::string_view payload;  ///< message: the message; pong: PING's argument; error_reply: the text
    long long count = 0;       ///< subscribed/unsubscribed: the connection's subscriptions after it
};

namespace pubsub_frame_detail {

inline bool is_text(const redisReply* r) noexcept { return r != nullptr && is_string_reply(r); }

struct frame_word {
    std::string_view word;
    pubsub_frame_kind kind;
    pubsub_family family;
    std::size_t elements;
};
/// The server's words, as it writes them (lower case); nothing else is a frame. Messages first: they are most frames.
inline constexpr frame_word frame_words[] = {
    {"smessage", pubsub_frame_kind::message, pubsub_family::sharded, 3},
    {"message", pubsub_frame_kind::message, pubsub_family::classic, 3},
    {"pmessage", pubsub_frame_kind::message, pubsub_family::pattern, 4},
    {"subscribe", pubsub_frame_kind::subscribed, pubsub_family::classic, 3},
    {"psubscribe", pubsub_frame_kind::subscribed, pubsub_family::pattern, 3},
    {"ssubscribe", pubsub_frame_kind::subscribed, pubsub_family::sharded, 3},
    {"unsubscribe", pubsub_frame_kind::unsubscribed, pubsub_family::classic, 3},
    {"punsubscribe", pubsub_frame_kind::unsubscribed, pubsub_family::pattern, 3},
    {"sunsubscribe", pubsub_frame_kind::unsubscribed, pubsub_family::sharded, 3},
    {"pong", pubsub_frame_kind::pong, pubsub_family::classic, 2},
};

}  // namespace pubsub_frame_detail

/// Set as a subscriber connection's reader privdata (redisReader::privdata, handed to every read task): whether the
/// reader refused to build a reply no pub/sub frame is.
class frame_slab;
struct frame_shape_guard {
    bool refused = false;
    frame_slab* slab = nullptr;  ///< the blocking subscriber's: where its reader builds each frame (frame_slab.hpp)
    std::size_t max_frame = 0;  ///< cluster_options::subscriber_max_frame_bytes (frame_overrun checks it); 0: none
    std::size_t built = 0;      ///< bytes of the elements of the frame being read that hiredis has built already
    enum class overrun { none, frame, line } over = overrun::none;  ///< why the connection was failed, if it was
};
/// Counts an element hiredis builds on a subscriber connection (its reader's element functions call it), for the
/// frame bound: hiredis moves past each element it builds, so the bytes it holds unread are only the element in
/// progress, and a frame of four elements just under the bound would hold four times as much. The frame's last
/// element ends the count (the frame is a reply now, handed out); a top-level reply is a frame of its own.
inline void count_frame_element(const redisReadTask* task, std::size_t bytes) noexcept {
    auto* guard = static_cast<frame_shape_guard*>(task->privdata);
    if (guard == nullptr) return;
    const redisReadTask* frame = task->parent;
    if (frame == nullptr || (frame->parent == nullptr && task->idx + 1 >= frame->elements)) {
        guard->built = 0;
    } else {
        guard->built += bytes;
    }
}
/// The longest line (a reply's first line, a bulk string's length) a subscriber connection takes unended. hiredis
/// looks for a line's end through every unread byte on every read, so a line that never ends would cost time
/// growing with the square of its length; no reply a subscriber reads has a line near this long.
inline constexpr std::size_t max_frame_line = 64 * 1024;
/// Whether a subscriber connection's reader, about to read again with every whole frame it held parsed (both drivers
/// read only then: hiredis's async read parses all it can, the blocking subscriber reads when it has handed out all
/// it parsed), holds more than `guard` allows: the frame in progress (its built elements and the unread bytes) past
/// max_frame, or a line without an end past max_frame_line. Records why in the guard. Checked before each read, so a
/// frame holds at most max_frame and one read (16 KB).
inline bool frame_overrun(const redisReader& r, frame_shape_guard& guard) noexcept {
    const std::size_t unread = r.len - r.pos;
    if (guard.max_frame != 0 && guard.built + unread > guard.max_frame) {
        guard.over = frame_shape_guard::overrun::frame;
        return true;
    }
    // hiredis's position is at the item in progress, or just past its type byte (a bulk string's length line stays
    // unread until its whole body has come): the CRLF that ends its first line must come within a few bytes. A bare
    // LF is no end to hiredis, which would search on through every byte.
    constexpr std::size_t line_start = 64;
    if (unread > max_frame_line) {
        const char* p = r.buf + r.pos;
        for (std::size_t i = 0; i < line_start; ++i)
            if (p[i] == '\r' && p[i + 1] == '\n') return false;
        guard.over = frame_shape_guard::overrun::line;
        return true;
    }
    return false;
}
/// Whether a subscriber connection's reader may build this array. A pub/sub frame is one flat array of at most four
/// elements; a nested array, or a huge one whose elements hiredis would build one by one without any bound on memory
/// (its unread bytes stay few), is refused before it is built, and hiredis fails the read (REDIS_ERR_OOM).
inline bool frame_array_allowed(const redisReadTask* task, std::size_t elements) noexcept {
    if (task->parent == nullptr && elements <= 4) return true;
    if (task->privdata != nullptr) static_cast<frame_shape_guard*>(task->privdata)->refused = true;
    return false;
}
/// hiredis's own reply functions (one static table, the same for every reader it creates), read once, thread-safely,
/// from a reader made for the purpose; null if none could be made. A subscriber connection whose reader has another
/// table (an on_connect hook's) is not read as a subscriber's.
inline const redisReplyObjectFunctions* hiredis_reply_functions() noexcept {
    static const redisReplyObjectFunctions* const functions = [] {
        redisReader* r = redisReaderCreate();
        const redisReplyObjectFunctions* f = r != nullptr ? r->fn : nullptr;
        if (r != nullptr) redisReaderFree(r);
        return f;
    }();
    return functions;
}
/// cluster_options::subscriber_max_frame_bytes, checked when a subscriber is made: error{config} below 4096 (a
/// confirmation with a long channel name would not fit).
inline std::size_t checked_max_frame_bytes(std::size_t bytes) {
    if (bytes < 4096)
        throw error(error_kind::config, "cluster_options::subscriber_max_frame_bytes is " + std::to_string(bytes) +
                                            ": at least 4096 (the default, 512 MB and 64 KB, fits any message of a "
                                            "server with the default proto-max-bulk-len)");
    return bytes;
}
/// Why a connection failed by frame_overrun is dropped.
inline std::string overrun_cause(const frame_shape_guard& guard) {
    if (guard.over == frame_shape_guard::overrun::line)
        return "it sent a line no reply has (over " + std::to_string(max_frame_line) +
               " bytes without an end); the connection is dropped";
    return "it sent a frame longer than the subscriber takes (over " + std::to_string(guard.max_frame) +
           " bytes, cluster_options::subscriber_max_frame_bytes); the connection is dropped";
}
/// Why a connection whose reader refused an array is dropped.
inline constexpr const char* refused_frame_shape =
    "it sent an array no pub/sub frame is (nested, or of more than 4 elements); the connection is dropped";

/// Reads `reply`, received on a subscriber connection to `node` (as the user knows it: "reported -> dialed"), as a
/// frame. Throws error{protocol} naming the node and quoting what came for anything a server does not send there:
/// not an array, an unknown kind, a wrong number of elements, an element of the wrong type, a negative count.
inline pubsub_frame read_pubsub_frame(const redisReply& reply, std::string_view node) {
    namespace d = pubsub_frame_detail;
    const auto refuse = [&](const std::string& what) -> error {
        return error(error_kind::protocol, "subscriber connection to " + std::string(node) + " sent " + what +
                                               ": not a pub/sub frame; the connection is dropped");
    };
    pubsub_frame f;
    if (reply.type == REDIS_REPLY_ERROR) {
        f.kind = pubsub_frame_kind::error_reply;
        f.payload = string_of(&reply);
        return f;
    }
    // A connection whose last subscription ended (a pushed sunsubscribe with count 0) is no longer in subscribed mode:
    // Redis answers its PING as any connection's.
    if (reply.type == REDIS_REPLY_STATUS && string_of(&reply) == "PONG") return f;
    if (reply.type != REDIS_REPLY_ARRAY && reply.type != REDIS_REPLY_PUSH)
        throw refuse(std::string(reply_type_name(reply.type)) + " reply where an array belongs");
    if (reply.elements == 0 || reply.element == nullptr || !d::is_text(reply.element[0]))
        throw refuse("an array of " + std::to_string(reply.elements) + " without a kind");
    const std::string_view word = string_of(reply.element[0]);
    const d::frame_word* known = nullptr;
    for (const auto& w : d::frame_words)
        if (w.word == word) {
            known = &w;
            break;
        }
    if (known == nullptr) throw refuse("a frame of unknown kind " + quoted(word, 40));
    if (reply.elements != known->elements)
        throw refuse(quoted(word, 40) + " with " + std::to_string(reply.elements) + " elements (" +
                     std::to_string(known->elements) + " expected)");
    f.kind = known->kind;
    f.family = known->family;
    const redisReply* const* e = reply.element;
    switch (f.kind) {
        case pubsub_frame_kind::subscribed:
        case pubsub_frame_kind::unsubscribed: {
            // UNSUBSCRIBE with nothing subscribed names no channel (nil); a subscription always names one.
            const bool nil_allowed = f.kind == pubsub_frame_kind::unsubscribed && e[1] != nullptr && e[1]->type == REDIS_REPLY_NIL;
            if (!nil_allowed && (!d::is_text(e[1]) || e[1]->len == 0))
                throw refuse(quoted(word, 40) + " without a channel");
            if (!nil_allowed) f.channel = string_of(e[1]);
            if (e[2] == nullptr || e[2]->type != REDIS_REPLY_INTEGER || e[2]->integer < 0)
                throw refuse(quoted(word, 40) + " without a subscription count");
            f.count = e[2]->integer;
            return f;
        }
        case pubsub_frame_kind::message: {
            const std::size_t at = f.family == pubsub_family::pattern ? 2 : 1;
            for (std::size_t i = 1; i < reply.elements; ++i)
                if (!d::is_text(e[i])) throw refuse(quoted(word, 40) + " with an element that is not a string");
            if (e[at]->len == 0) throw refuse(quoted(word, 40) + " without a channel");
            if (f.family == pubsub_family::pattern) f.pattern = string_of(e[1]);
            f.channel = string_of(e[at]);
            f.payload = string_of(e[at + 1]);
            return f;
        }
        case pubsub_frame_kind::pong:
            if (!d::is_text(e[1])) throw refuse("\"pong\" with an element that is not a string");
            f.payload = string_of(e[1]);
            return f;
        case pubsub_frame_kind::error_reply: break;
    }
    throw refuse("an unreadable frame");
}

}  // namespace addrmap::detail
