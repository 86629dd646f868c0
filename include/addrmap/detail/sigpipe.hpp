// addrmap/detail/sigpipe.hpp — keeps a write to a dead node from killing the process with SIGPIPE.
// OpenSSL's stock socket BIO writes with write(2) (no MSG_NOSIGNAL): both dialers block SIGPIPE while it is in use.
#pragma once

#include <cerrno>
#include <csignal>
#include <ctime>

#include <pthread.h>

namespace addrmap::detail {

/// While alive, SIGPIPE raised by this thread's socket writes is blocked and then discarded, so the
/// write fails with EPIPE (a lost connection the adapter handles) instead of ending the process.
/// The process's own SIGPIPE disposition is never changed; a SIGPIPE already pending is left alone.
class sigpipe_guard {
public:
    sigpipe_guard() noexcept {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
        if (!was_pending_) active_ = pthread_sigmask(SIG_BLOCK, &pipe_, &previous_) == 0;
    }
    ~sigpipe_guard() {
        if (!active_) return;
        sigset_t pending;
        sigemptyset(&pending);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
            const timespec no_wait{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &no_wait) == -1 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
    sigset_t pipe_{};
    sigset_t previous_{};
    bool was_pending_ = false;
    bool active_ = false;
};

}  // namespace addrmap::detail
