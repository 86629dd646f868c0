// tests/integration/own_sockets.hpp — the TCP sockets this test process holds to given ports, by state, read from
// /proc: so a test can wait until the server's close of its connections (CLIENT KILL) has reached the client side.
#pragma once

#include <chrono>
#include <cstdint>
#include <dirent.h>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace live {

/// /proc/net/tcp's state codes.
enum class tcp_state { established = 0x01, close_wait = 0x08 };

/// The inodes of the sockets this process has open.
inline std::set<unsigned long> own_socket_inodes() {
    std::set<unsigned long> inodes;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return inodes;
    while (const dirent* entry = ::readdir(dir)) {
        char target[64] = {};
        const std::string link = std::string("/proc/self/fd/") + entry->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        const std::string text(target, static_cast<std::size_t>(n));
        if (text.rfind("socket:[", 0) == 0) inodes.insert(std::stoul(text.substr(8)));
    }
    ::closedir(dir);
    return inodes;
}

/// How many TCP sockets of this process, connected to `port` (IPv4 or IPv6), are in `state`.
inline int own_sockets_to(std::uint16_t port, tcp_state state) {
    const std::set<unsigned long> mine = own_socket_inodes();
    int count = 0;
    for (const char* table : {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, st, queues, timer, retransmits, uid, timeout;
            unsigned long inode = 0;
            fields >> slot >> local >> remote >> st >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            const std::size_t colon = remote.rfind(':');
            if (colon == std::string::npos || mine.count(inode) == 0) continue;
            if (std::stoul(remote.substr(colon + 1), nullptr, 16) == port &&
                std::stoul(st, nullptr, 16) == static_cast<unsigned long>(state))
                ++count;
        }
    }
    return count;
}

/// Polls until this process holds at most `established` open connections to each of `ports` (the ones the test keeps,
/// such as its admin connections): every other one has seen the server's close (it is in CLOSE_WAIT or gone).
/// Bounded by `limit`; true when it happened.
inline bool wait_until_closed_by_servers(const std::vector<std::uint16_t>& ports, int established,
                                         std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (true) {
        bool all = true;
        for (std::uint16_t port : ports) all = all && own_sockets_to(port, tcp_state::established) <= established;
        if (all) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling the kernel's state, not waiting for luck
    }
}

}  // namespace live
