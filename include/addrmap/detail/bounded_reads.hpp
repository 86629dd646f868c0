// addrmap/detail/bounded_reads.hpp — a hiredis function table whose read is refused once the context's reader holds
// more unread bytes than its subscriber allows: the async subscriber's bound on one frame (the blocking one reads itself).
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean
#include <addrmap/detail/pubsub_frames.hpp>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>

namespace addrmap::detail {

/// hiredis's async reader keeps every byte of a frame until the frame is whole, and calls nothing of ours before:
/// a node that announces a bulk string of a terabyte and sends it would grow memory without end. The async driver
/// reads through hiredis (redisAsyncHandleRead), so the bound sits in the read function hiredis calls: a context given
/// table_for(its table) reads as before while frame_overrun() allows (the reader's privdata must be the connection's
/// frame_shape_guard); then the read fails with a protocol error, the guard says why, and hiredis ends the connection
/// as for any read error. A frame holds at most the bound and one read (16 KB); a node that stops sending right past
/// the bound is not read again, and its health PING finds it.
class bounded_reads {
public:
    /// `original` with its read bounded: a table of static storage (hiredis frees the context after the subscriber may
    /// be gone, and calls its table then), one per kind of original table. nullptr if `original` has no read or is
    /// bounded already, or four kinds are taken already (hiredis has two, TCP and TLS).
    static redisContextFuncs* table_for(const redisContextFuncs* original) noexcept {
        if (original == nullptr || original->read == nullptr || original->read == &bounded_reads::read) return nullptr;
        const std::lock_guard<std::mutex> lock(mutex());
        for (slot& s : slots()) {
            const redisContextFuncs* o = s.original.load(std::memory_order_acquire);
            if (o == original) return &s.bounded;
            if (o == nullptr) {
                s.bounded = *original;
                s.bounded.read = &bounded_reads::read;
                s.original.store(original, std::memory_order_release);
                return &s.bounded;
            }
        }
        return nullptr;
    }

private:
    struct slot {
        std::atomic<const redisContextFuncs*> original{nullptr};
        redisContextFuncs bounded{};
    };
    static std::array<slot, 4>& slots() noexcept {
        static std::array<slot, 4> s;
        return s;
    }
    static std::mutex& mutex() noexcept {
        static std::mutex m;
        return m;
    }

    static ssize_t read(redisContext* c, char* buf, size_t cap) {
        const redisContextFuncs* original = nullptr;
        for (slot& s : slots())
            if (&s.bounded == c->funcs) {
                original = s.original.load(std::memory_order_acquire);
                break;
            }
        if (original == nullptr) return fail(c, "no read function");  // not one of ours: cannot happen
        redisReader* r = c->reader;
        auto* guard = r != nullptr ? static_cast<frame_shape_guard*>(r->privdata) : nullptr;
        // Before the read: hiredis has parsed every whole frame it held (after the read, whole frames that follow the
        // one in progress would count as part of it).
        if (guard != nullptr && frame_overrun(*r, *guard)) return fail(c, "a frame longer than the subscriber takes");
        return original->read(c, buf, cap);
    }
    /// What hiredis's own read does on an error: the context's error, which its disconnect hands on.
    static ssize_t fail(redisContext* c, const char* why) noexcept {
        c->err = REDIS_ERR_PROTOCOL;
        std::snprintf(c->errstr, sizeof c->errstr, "%s", why);
        return -1;
    }
};

}  // namespace addrmap::detail
