// addrmap/detail/socket_bio.hpp — a minimal write-only socket BIO whose write is send(MSG_NOSIGNAL), put on every
// connection after the handshake: a write to a node that went away then fails with EPIPE, never raises SIGPIPE.
#pragma once

#include <openssl/bio.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace addrmap::detail {

// Built from scratch rather than from BIO_s_socket()'s functions: the BIO_meth_get_* getters are deprecated
// from OpenSSL 3.5, and OpenSSL only ever writes, flushes and asks for the fd through a write BIO.

inline int nosignal_bio_fd(BIO* bio) noexcept {
    return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

/// write(2) as OpenSSL's socket BIO does it, but with send(MSG_NOSIGNAL); retry flags as OpenSSL sets them.
inline int nosignal_socket_write(BIO* bio, const char* data, int length) {
    const int fd = nosignal_bio_fd(bio);
    if (length < 0 || fd < 0 || BIO_get_init(bio) == 0) return -1;
    const ssize_t sent = ::send(fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
    BIO_clear_retry_flags(bio);
    if (sent <= 0 && BIO_sock_should_retry(static_cast<int>(sent))) BIO_set_retry_write(bio);
    return static_cast<int>(sent);
}

inline int nosignal_socket_puts(BIO* bio, const char* text) {
    return nosignal_socket_write(bio, text, static_cast<int>(std::strlen(text)));
}

inline long nosignal_socket_ctrl(BIO* bio, int command, long number, void* pointer) {
    switch (command) {
        case BIO_C_SET_FD:  // BIO_set_fd: the fd in *pointer; the fd is never closed here (BIO_NOCLOSE only)
            BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(*static_cast<int*>(pointer))));
            BIO_set_shutdown(bio, static_cast<int>(number));
            BIO_set_init(bio, 1);
            return 1;
        case BIO_C_GET_FD:
            if (BIO_get_init(bio) == 0) return -1;
            if (pointer != nullptr) *static_cast<int*>(pointer) = nosignal_bio_fd(bio);
            return nosignal_bio_fd(bio);
        case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(bio);
        case BIO_CTRL_SET_CLOSE: BIO_set_shutdown(bio, static_cast<int>(number)); return 1;
        case BIO_CTRL_FLUSH:
        case BIO_CTRL_DUP: return 1;
        default: return 0;  // pending counts, KTLS queries, ...: nothing buffered, no kernel TLS
    }
}

inline int nosignal_socket_create(BIO* bio) {
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(-1)));
    BIO_set_init(bio, 0);
    return 1;
}

inline int nosignal_socket_destroy(BIO* bio) {
    if (bio == nullptr) return 0;
    BIO_set_init(bio, 0);
    return 1;
}

/// The method, built once and kept for the process's life (like OpenSSL's own static methods);
/// nullptr only if OpenSSL could not allocate it.
inline const BIO_METHOD* nosignal_socket_method() {
    static BIO_METHOD* const method = [] {
        const int index = BIO_get_new_index();
        if (index == -1) return static_cast<BIO_METHOD*>(nullptr);
        BIO_METHOD* m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                     "addrmap socket writer (send with MSG_NOSIGNAL)");
        if (m == nullptr) return m;
        if (BIO_meth_set_write(m, &nosignal_socket_write) != 1 || BIO_meth_set_puts(m, &nosignal_socket_puts) != 1 ||
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
