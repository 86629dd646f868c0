// addrmap/detail/burst_write_link.hpp — the decisions of a hiredis event adapter that writes once per burst: the
// commands queued while the loop runs callbacks go out in one write after one more poll (used by loops/).
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean

#include <hiredis/async.h>

#include <sys/time.h>

#include <algorithm>

namespace addrmap::detail {

/// hiredis asks its adapter for write interest on every command it queues and drops it once the output is written.
/// hiredis's libuv and libevent adapters turn each of those into a change of the socket's poll set: libuv's
/// uv_poll_start takes the fd out of epoll and puts it back (two epoll_ctl a round trip), libevent's changelist one
/// or two. This link keeps the poll set at "read" and, when hiredis wants to write, schedules one flush for after
/// the loop's next poll, which does not block (a zero timeout): the replies that poll finds run their callbacks
/// first, and the commands they queue join the same write. That is when libev, whose adapter arms write interest,
/// writes too; flushing before the poll instead (once the turn's callbacks had run) measured slower than hiredis's
/// adapters (docs/benchmarks.md, "Per loop"). Only a write the socket cannot take whole (a full send buffer, the connect not
/// done yet) arms write interest.
///
/// `Loop` provides the mechanics: poll(read, write) sets the socket's interest, schedule_flush() makes on_flush()
/// run once after the loop's next poll (which must not block) and returns false if it cannot, start_timer(tv) makes
/// on_timeout() run once after tv (given clamped()), stop() stops all of them and lets go of the socket (hiredis
/// closes the fd next), destroy() frees the link (it may do so later, once the loop has let go of its handles).
template <class Loop>
class burst_write_link {
public:
    burst_write_link(const burst_write_link&) = delete;
    burst_write_link& operator=(const burst_write_link&) = delete;

protected:
    explicit burst_write_link(redisAsyncContext* context) : context_(context) {}
    ~burst_write_link() = default;

    /// Whether a link may attach to `context`: there is one, and no adapter has attached to it yet.
    static bool attachable(const redisAsyncContext* context) {
        return context != nullptr && context->ev.data == nullptr;
    }

    /// Hands the context's events to this link (its ev.data and callbacks).
    void install() {
        context_->ev.data = this;
        context_->ev.addRead = &burst_write_link::add_read;
        context_->ev.delRead = &burst_write_link::del_read;
        context_->ev.addWrite = &burst_write_link::add_write;
        context_->ev.delWrite = &burst_write_link::del_write;
        context_->ev.cleanup = &burst_write_link::cleanup;
        context_->ev.scheduleTimer = &burst_write_link::schedule_timer;
    }

    // ---- the loop's events (Loop's callbacks call these) ------------------------------------------------------
    /// The flush scheduled when hiredis first wanted to write this turn.
    void on_flush() {
        flush_scheduled_ = false;
        if (context_ == nullptr || !writing_) return;  // written meanwhile (a readiness event came first)
        const entered guard(*this);
        flushing_ = true;
        redisAsyncHandleWrite(context_);  // may free the context: cleanup() runs inside
        flushing_ = false;
        if (context_ != nullptr && writing_) {  // the socket took part of it, or is not connected yet
            pollout_ = true;
            update();
        }
    }
    /// The socket is readable and/or writable.
    void on_ready(bool readable, bool writable) {
        const entered guard(*this);
        if (readable && context_ != nullptr) redisAsyncHandleRead(context_);
        if (writable && context_ != nullptr) redisAsyncHandleWrite(context_);
    }
    /// The loop stopped watching the socket on an error (libuv does on POLLERR, and hiredis may read only part of what
    /// is left): hiredis sees the error or the data, and the socket is watched again while the context lives.
    void on_poll_error() {
        const entered guard(*this);
        polled_read_ = polled_write_ = false;
        if (context_ != nullptr) redisAsyncHandleRead(context_);
        if (context_ != nullptr && writing_) redisAsyncHandleWrite(context_);
        if (context_ != nullptr) update();
    }
    void on_timeout() {
        const entered guard(*this);
        if (context_ != nullptr) redisAsyncHandleTimeout(context_);
    }

    /// hiredis's timeout as a loop can take it: a negative part is 0, whole seconds in tv_usec are carried over, and
    /// tv_sec is capped at 100 years (a huge one meant as "never" must not overflow the loop's clock arithmetic).
    static timeval clamped(timeval tv) {
        constexpr long long max_seconds = 100LL * 365 * 24 * 3600;
        const long long usec = tv.tv_usec > 0 ? static_cast<long long>(tv.tv_usec) : 0;
        long long seconds = tv.tv_sec > 0 ? static_cast<long long>(tv.tv_sec) : 0;
        seconds = std::min(seconds, max_seconds) + std::min(usec / 1000000, max_seconds);
        timeval out{};
        out.tv_sec = static_cast<decltype(out.tv_sec)>(seconds);
        out.tv_usec = static_cast<decltype(out.tv_usec)>(usec % 1000000);
        return out;
    }

    /// The interest Loop::poll was last told (a wait the loop keeps renewing stops once it is no longer wanted).
    bool polled_read() const { return polled_read_; }
    bool polled_write() const { return polled_write_; }

private:
    Loop& loop() { return static_cast<Loop&>(*this); }
    static burst_write_link& of(void* data) { return *static_cast<burst_write_link*>(data); }

    /// While the loop's callback runs hiredis, cleanup() must not free the link under it: the outermost guard does.
    struct entered {
        explicit entered(burst_write_link& link) : link(link) { ++link.depth_; }
        ~entered() {
            if (--link.depth_ == 0 && link.released_) link.loop().destroy();
        }
        entered(const entered&) = delete;
        entered& operator=(const entered&) = delete;
        burst_write_link& link;
    };

    /// Interest as hiredis wants it: read when it reads, write only while a flush left bytes behind.
    void update() {
        const bool read = reading_, write = writing_ && pollout_;
        if (read == polled_read_ && write == polled_write_) return;
        polled_read_ = read;
        polled_write_ = write;
        loop().poll(read, write);
    }

    static void add_read(void* data) {
        burst_write_link& me = of(data);
        me.reading_ = true;
        me.update();
    }
    static void del_read(void* data) {
        burst_write_link& me = of(data);
        me.reading_ = false;
        me.update();
    }
    static void add_write(void* data) {
        burst_write_link& me = of(data);
        me.writing_ = true;
        // Inside a flush, or with write interest armed, the socket's readiness takes it from here.
        if (me.flushing_ || me.pollout_ || me.flush_scheduled_) return;
        me.flush_scheduled_ = true;
        if (me.loop().schedule_flush()) return;
        me.flush_scheduled_ = false;  // the loop could not (out of memory): wait for the socket instead
        me.pollout_ = true;
        me.update();
    }
    static void del_write(void* data) {
        burst_write_link& me = of(data);
        me.writing_ = false;
        me.pollout_ = false;
        me.update();
    }
    static void schedule_timer(void* data, timeval tv) { of(data).loop().start_timer(clamped(tv)); }
    /// hiredis frees the context (it closes the fd itself).
    static void cleanup(void* data) {
        burst_write_link& me = of(data);
        me.context_->ev = {};  // nothing reaches the link through the context any more
        me.context_ = nullptr;
        me.reading_ = me.writing_ = me.pollout_ = false;
        me.loop().stop();
        if (me.depth_ > 0)
            me.released_ = true;  // the outermost guard destroys it
        else
            me.loop().destroy();
    }

protected:
    redisAsyncContext* context_;

private:
    bool reading_ = false, writing_ = false;
    bool pollout_ = false;  ///< a flush could not write everything: wait for the socket
    bool flush_scheduled_ = false, flushing_ = false;
    bool polled_read_ = false, polled_write_ = false;  ///< what Loop::poll was last told
    int depth_ = 0;          ///< the loop's callbacks running hiredis, nested
    bool released_ = false;  ///< cleanup() came while depth_ > 0
};

}  // namespace addrmap::detail
