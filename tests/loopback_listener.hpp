// tests/loopback_listener.hpp — a TCP listener of a test's own on 127.0.0.1, on an ephemeral port (parallel runs
// never collide); shared by the unit, integration and async tests that play the peer themselves.
#pragma once

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace addrmap_test {

/// Listens on 127.0.0.1 (port chosen by the kernel) until destroyed. `receive_buffer` > 0 sets SO_RCVBUF, which
/// the connections it accepts inherit.
struct loopback_listener {
    explicit loopback_listener(int backlog = 1, int receive_buffer = 0) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        BOOST_REQUIRE(fd >= 0);
        if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        BOOST_REQUIRE(::listen(fd, backlog) == 0);
        BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port = ntohs(address.sin_port);
    }
    ~loopback_listener() {
        if (fd >= 0) ::close(fd);
    }
    loopback_listener(const loopback_listener&) = delete;
    loopback_listener& operator=(const loopback_listener&) = delete;

    int fd = -1;
    std::uint16_t port = 0;
};

}  // namespace addrmap_test
