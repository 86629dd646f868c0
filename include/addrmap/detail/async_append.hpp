// addrmap/detail/async_append.hpp — queues an encoded command on a hiredis async context as redisAsyncFormattedCommand
// does, without reading the command again: the cluster's connections send only commands it encoded and checked itself.
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean

#include <hiredis/async.h>

#include <cstddef>

namespace addrmap::detail {

/// Appends `command` (RESP, complete) to `ac`'s output and its callback to the replies list, then asks the event
/// adapter to write: what redisAsyncFormattedCommand does for a command that is not (P)SUBSCRIBE, (P)UNSUBSCRIBE or
/// MONITOR. hiredis's own function first parses the command again to look for those (a third of the cost of a SET
/// in flight, measured with callgrind: docs/benchmarks.md, "The reply path"); the cluster refuses them before encoding
/// (connection_state_commands.hpp), so that look finds nothing. On a context in subscribed or monitor mode (plain
/// hiredis code in on_async_connect could put it there) hiredis's function is used, which files callbacks apart.
/// The callback entry is hiredis's allocator's, as hiredis frees it once the reply came. REDIS_ERR as hiredis's:
/// the context is closing, or out of memory.
inline int append_async_command(redisAsyncContext* ac, redisCallbackFn* fn, void* privdata, const char* command,
                                std::size_t length) noexcept {
    redisContext* c = &ac->c;
    if ((c->flags & (REDIS_DISCONNECTING | REDIS_FREEING)) != 0) return REDIS_ERR;
    if ((c->flags & (REDIS_SUBSCRIBED | REDIS_MONITORING)) != 0)
        return redisAsyncFormattedCommand(ac, fn, privdata, command, length);
    auto* cb = static_cast<redisCallback*>(hi_calloc(1, sizeof(redisCallback)));
    if (cb == nullptr) return REDIS_ERR;
    cb->fn = fn;
    cb->privdata = privdata;
    cb->pending_subs = 1;  // as hiredis sets it (read for subscriptions only)
    if (redisAppendFormattedCommand(c, command, length) != REDIS_OK) {
        hi_free(cb);
        return REDIS_ERR;
    }
    (ac->replies.head == nullptr ? ac->replies.head : ac->replies.tail->next) = cb;
    ac->replies.tail = cb;
    // hiredis's _EL_ADD_WRITE: its command timeout (if plain hiredis code set one) restarts, then write interest.
    const struct timeval* timeout = (c->flags & REDIS_CONNECTED) != 0 ? c->command_timeout : c->connect_timeout;
    if (ac->ev.scheduleTimer != nullptr && timeout != nullptr && (timeout->tv_sec != 0 || timeout->tv_usec != 0))
        ac->ev.scheduleTimer(ac->ev.data, *timeout);
    if (ac->ev.addWrite != nullptr) ac->ev.addWrite(ac->ev.data);
    return REDIS_OK;
}

}  // namespace addrmap::detail
