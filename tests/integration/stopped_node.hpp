// tests/integration/stopped_node.hpp — fixture nodes frozen with SIGSTOP for the length of a scope (they keep
// their sockets: connects hang, reads get no reply), then SIGCONT and a wait until the cluster is whole again.
#pragma once

#include "node_control.hpp"

#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

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

/// Several fixture nodes frozen together for the length of a scope, then all resumed before the wait for a whole
/// cluster (one stopped_node per node would wait for the cluster while the others are still frozen).
class stopped_nodes {
public:
    explicit stopped_nodes(const std::vector<std::uint16_t>& ports) {
        for (std::uint16_t port : ports) {
            const pid_t pid = node_pid(port);
            if (pid <= 0 || ::kill(pid, SIGSTOP) != 0) {
                resume();
                throw std::runtime_error("could not SIGSTOP the fixture node on port " + std::to_string(port));
            }
            pids_.push_back(pid);
        }
    }
    stopped_nodes(const stopped_nodes&) = delete;
    stopped_nodes& operator=(const stopped_nodes&) = delete;
    ~stopped_nodes() { resume(); }

    /// SIGCONT to every node, then waits until all six nodes are online and synced; true when they are.
    bool resume() {
        if (resumed_) return true;
        resumed_ = true;
        for (pid_t pid : pids_) ::kill(pid, SIGCONT);
        return cluster_script("ready 60 >/dev/null") == 0;
    }

private:
    std::vector<pid_t> pids_;
    bool resumed_ = false;
};

}  // namespace live
