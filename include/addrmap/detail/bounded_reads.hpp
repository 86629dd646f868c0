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
/// as for any read error. The bytes a read brings are counted before hiredis keeps them, so a frame never holds more
/// than the bound; a line without an end, more than max_frame_line and one read (16 KB).
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
        if (guard != nullptr && frame_overrun(*r, *guard, 0)) return fail(c, "a frame longer than the subscriber takes");
        const ssize_t n = original->read(c, buf, cap);
        // What it brought counts before hiredis keeps it: the bound holds when the node stops right past it, too.
        if (n > 0 && guard != nullptr && frame_overrun(*r, *guard, static_cast<std::size_t>(n)))
            return fail(c, "a frame longer than the subscriber takes");
        return n;
    }
    /// What hiredis's own read does on an error: the context's error, which its disconnect hands on.
    static ssize_t fail(redisContext* c, const char* why) noexcept {
        c->err = REDIS_ERR_PROTOCOL;
        std::snprintf(c->errstr, sizeof c->errstr, "%s", why);
        return -1;
    }
};

}  // namespace addrmap::detail
