// addrmap/detail/socket_bio.hpp — the socket BIO put on every connection after the handshake: writes use
// send(MSG_NOSIGNAL) (a node that went away gives EPIPE, never SIGPIPE), and reads and writes wait at most until
// the deadline a driver armed, so no reply, however slowly it dribbles in, holds a call past its deadline.
#pragma once

#include <openssl/bio.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace addrmap::detail {

// Built from scratch rather than from BIO_s_socket()'s functions: the BIO_meth_get_* getters are deprecated
// from OpenSSL 3.5. One read BIO and one write BIO per connection share one socket_io_state.

/// The socket and the deadline of the call in progress (armed by the driver, see tls_connection::set_io_deadline).
struct socket_io_state {
    int fd = -1;
    bool armed = false;
    bool eof = false;
    std::chrono::steady_clock::time_point deadline{};
    /// While armed, each wait for bytes to read also ends this long after it began (command_timeout, or a
    /// call's reply_timeout): the socket's own SO_RCVTIMEO is never reached once poll decides. 0: no limit.
    std::chrono::milliseconds read_timeout{0};
    /// Set by a driver whose own poll() just found the socket readable: the next read tries recv at once, without a
    /// poll of its own (a subscriber's reads, one per poll, would otherwise poll twice). Used once.
    bool readable = false;
};

inline socket_io_state* io_state_of(BIO* bio) noexcept { return static_cast<socket_io_state*>(BIO_get_data(bio)); }

/// Waits until the socket is ready for `events`, at most until the armed deadline. False when the time is
/// up (errno = EAGAIN, which hiredis reports as "Resource temporarily unavailable", i.e. a timeout).
inline bool wait_until_ready(const socket_io_state& io, short events) noexcept {
    if (!io.armed) return true;  // plain blocking I/O, bounded per call by the socket timeouts
    auto until = io.deadline;
    if ((events & POLLIN) != 0 && io.read_timeout.count() > 0) {
        const auto now = std::chrono::steady_clock::now();
        // Compared in ms first, so a huge timeout is never converted to the clock's ticks (it would overflow).
        if (std::chrono::duration_cast<std::chrono::milliseconds>(until - now) > io.read_timeout)
            until = now + io.read_timeout;
    }
    while (true) {
        // Past the deadline, what is already there is still taken (a zero-timeout look), nothing is waited for.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        const int wait_ms = left.count() <= 0 ? 0 : static_cast<int>(left.count() < INT_MAX ? left.count() : INT_MAX);
        pollfd p{};
        p.fd = io.fd;
        p.events = events;
        const int ready = ::poll(&p, 1, wait_ms);
        if (ready > 0) return true;
        if (ready < 0 && errno != EINTR) return true;  // let recv/send report the error itself
        if (ready == 0 && wait_ms == 0) break;
    }
    errno = EAGAIN;
    return false;
}

/// recv(2) as OpenSSL's socket BIO does it, retry and EOF flags included, within the armed deadline.
inline int deadline_socket_read(BIO* bio, char* data, int length) {
    socket_io_state* io = io_state_of(bio);
    if (io == nullptr || length < 0 || BIO_get_init(bio) == 0) return -1;
    BIO_clear_retry_flags(bio);
    const bool hinted = std::exchange(io->readable, false);
    ssize_t got = hinted ? ::recv(io->fd, data, static_cast<std::size_t>(length), MSG_DONTWAIT) : -1;
    const bool empty = hinted && got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    if (empty && io->armed && io->deadline <= std::chrono::steady_clock::now()) {
        BIO_set_retry_read(bio);  // a look that found nothing: a zero-timeout poll would only say so again
        errno = EAGAIN;
        return -1;
    }
    if (!hinted || empty) {
        if (!wait_until_ready(*io, POLLIN)) {
            BIO_set_retry_read(bio);
            return -1;
        }
        got = ::recv(io->fd, data, static_cast<std::size_t>(length), 0);
    }
    if (got <= 0) {
        if (BIO_sock_should_retry(static_cast<int>(got)))
            BIO_set_retry_read(bio);
        else if (got == 0)
            io->eof = true;
    }
    return static_cast<int>(got);
}

/// write(2) as OpenSSL's socket BIO does it, but with send(MSG_NOSIGNAL), within the armed deadline.
inline int nosignal_socket_write(BIO* bio, const char* data, int length) {
    socket_io_state* io = io_state_of(bio);
    if (io == nullptr || length < 0 || BIO_get_init(bio) == 0) return -1;
    BIO_clear_retry_flags(bio);
    // The socket buffer almost always has room: try without waiting, and poll only when it is full.
    ssize_t sent = ::send(io->fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL | (io->armed ? MSG_DONTWAIT : 0));
    if (sent < 0 && io->armed && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_until_ready(*io, POLLOUT)) {
            BIO_set_retry_write(bio);
            return -1;
        }
        sent = ::send(io->fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
    }
    if (sent <= 0 && BIO_sock_should_retry(static_cast<int>(sent))) BIO_set_retry_write(bio);
    return static_cast<int>(sent);
}

inline int nosignal_socket_puts(BIO* bio, const char* text) {
    return nosignal_socket_write(bio, text, static_cast<int>(std::strlen(text)));
}

inline long nosignal_socket_ctrl(BIO* bio, int command, long number, void* pointer) {
    socket_io_state* io = io_state_of(bio);
    switch (command) {
        case BIO_C_GET_FD:
            if (BIO_get_init(bio) == 0 || io == nullptr) return -1;
            if (pointer != nullptr) *static_cast<int*>(pointer) = io->fd;
            return io->fd;
        case BIO_CTRL_EOF: return io != nullptr && io->eof ? 1 : 0;
        case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(bio);
        case BIO_CTRL_SET_CLOSE: BIO_set_shutdown(bio, static_cast<int>(number)); return 1;
        case BIO_CTRL_FLUSH:
        case BIO_CTRL_DUP: return 1;
        default: return 0;  // pending counts, KTLS queries, ...: nothing buffered, no kernel TLS
    }
}

inline int nosignal_socket_create(BIO* bio) {
    BIO_set_data(bio, nullptr);
    BIO_set_init(bio, 0);
    return 1;
}

inline int nosignal_socket_destroy(BIO* bio) {
    if (bio == nullptr) return 0;
    BIO_set_init(bio, 0);
    return 1;
}

/// Points a BIO of nosignal_socket_method() at `io` (which must outlive it); the fd is never closed here.
inline void attach_socket_io(BIO* bio, socket_io_state* io) noexcept {
    BIO_set_data(bio, io);
    BIO_set_shutdown(bio, BIO_NOCLOSE);
    BIO_set_init(bio, 1);
}

/// The method, built once and kept for the process's life (like OpenSSL's own static methods);
/// nullptr only if OpenSSL could not allocate it.
inline const BIO_METHOD* nosignal_socket_method() {
    static BIO_METHOD* const method = [] {
        const int index = BIO_get_new_index();
        if (index == -1) return static_cast<BIO_METHOD*>(nullptr);
        BIO_METHOD* m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                     "addrmap socket (deadline-bounded, send with MSG_NOSIGNAL)");
        if (m == nullptr) return m;
        if (BIO_meth_set_write(m, &nosignal_socket_write) != 1 || BIO_meth_set_read(m, &deadline_socket_read) != 1 ||
            BIO_meth_set_puts(m, &nosignal_socket_puts) != 1 ||
            BIO_meth_set_ctrl(m, &nosignal_socket_ctrl) != 1 ||
            BIO_meth_set_create(m, &nosignal_socket_create) != 1 ||
            BIO_meth_set_destroy(m, &nosignal_socket_destroy) != 1) {
            BIO_meth_free(m);
            return static_cast<BIO_METHOD*>(nullptr);
        }
        return m;
    }();
    return method;
}

}  // namespace addrmap::detail
