// tests/integration/stopped_node.hpp — a fixture node frozen with SIGSTOP for the length of a scope (it keeps
// its sockets: connects hang, reads get no reply), then SIGCONT and a wait until the cluster is whole again.
#pragma once

#include "node_control.hpp"

#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <sys/types.h>

namespace live {

class stopped_node {
public:
    explicit stopped_node(std::uint16_t port) : pid_(node_pid(port)) {
        if (pid_ <= 0 || ::kill(pid_, SIGSTOP) != 0)
            throw std::runtime_error("could not SIGSTOP the fixture node on port " + std::to_string(port));
    }
    stopped_node(const stopped_node&) = delete;
    stopped_node& operator=(const stopped_node&) = delete;
    ~stopped_node() { resume(); }

    /// SIGCONT, then waits until all six nodes are online and synced; true when they are.
    bool resume() {
        if (resumed_) return true;
        resumed_ = true;
        ::kill(pid_, SIGCONT);
        return cluster_script("ready 60 >/dev/null") == 0;
    }

private:
    pid_t pid_;
    bool resumed_ = false;
};

}  // namespace live
