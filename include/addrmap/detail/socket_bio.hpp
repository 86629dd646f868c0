// addrmap/detail/socket_bio.hpp — OpenSSL's socket BIO with its write done by send(MSG_NOSIGNAL), put on every
// connection after the handshake: a write to a node that went away then fails with EPIPE, never raises SIGPIPE.
#pragma once

#include <openssl/bio.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstring>

namespace addrmap::detail {

/// write(2) as OpenSSL's socket BIO does it, but with send(MSG_NOSIGNAL); retry flags as OpenSSL sets them.
inline int nosignal_socket_write(BIO* bio, const char* data, int length) {
    int fd = -1;
    if (length < 0 || BIO_get_fd(bio, &fd) < 0 || fd < 0) return -1;
    const ssize_t sent = ::send(fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
    BIO_clear_retry_flags(bio);
    if (sent <= 0 && BIO_sock_should_retry(static_cast<int>(sent))) BIO_set_retry_write(bio);
    return static_cast<int>(sent);
}

inline int nosignal_socket_puts(BIO* bio, const char* text) {
    return nosignal_socket_write(bio, text, static_cast<int>(std::strlen(text)));
}

/// The method, built once from BIO_s_socket() and kept for the process's life (like OpenSSL's own
/// static methods); nullptr only if OpenSSL could not allocate it.
inline const BIO_METHOD* nosignal_socket_method() {
    static BIO_METHOD* const method = [] {
        const BIO_METHOD* socket = BIO_s_socket();
        BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "addrmap socket (send with MSG_NOSIGNAL)");
        if (m == nullptr) return m;
        if (BIO_meth_set_write(m, &nosignal_socket_write) != 1 || BIO_meth_set_puts(m, &nosignal_socket_puts) != 1 ||
            BIO_meth_set_read(m, BIO_meth_get_read(socket)) != 1 ||
            BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(socket)) != 1 ||
            BIO_meth_set_create(m, BIO_meth_get_create(socket)) != 1 ||
            BIO_meth_set_destroy(m, BIO_meth_get_destroy(socket)) != 1) {
            BIO_meth_free(m);
            return static_cast<BIO_METHOD*>(nullptr);
        }
        return m;
    }();
    return method;
}

}  // namespace addrmap::detail
