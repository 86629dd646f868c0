// tests/integration/node_control.hpp — killing a fixture node by PID, waiting for its replica to take over,
// and bringing it back, for the failover and delivery tests. Only the nodes scripts/cluster started are touched.
#pragma once

#include "admin_connection.hpp"
#include "cluster_test_support.hpp"

#include <addrmap/topology.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/types.h>
#include <thread>

namespace live {

/// The PID scripts/cluster recorded for the node on `port`, when that process is still the redis-server listening on
/// it (its /proc/<pid>/cmdline names redis-server and ":<port>", as scripts/cluster's own node_pid checks); else 0, so a
/// stale pid file whose number was reused by another process is never signalled.
inline pid_t node_pid(std::uint16_t port) {
    std::ifstream in(cluster_dir() + "/node-" + std::to_string(port) + "/redis.pid");
    long long recorded = 0;
    if (!(in >> recorded) || recorded <= 0) return 0;
    const pid_t pid = static_cast<pid_t>(recorded);
    std::ifstream proc("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    if (!proc) return 0;
    std::string cmdline((std::istreambuf_iterator<char>(proc)), std::istreambuf_iterator<char>());
    for (char& c : cmdline)
        if (c == '\0') c = ' ';
    const std::size_t server = cmdline.find("redis-server");
    if (server == std::string::npos) return 0;
    const std::string listen = ":" + std::to_string(port);
    for (std::size_t at = cmdline.find(listen, server); at != std::string::npos; at = cmdline.find(listen, at + 1)) {
        const std::size_t end = at + listen.size();
        if (end == cmdline.size() || cmdline[end] < '0' || cmdline[end] > '9') return pid;  // ":7620", not ":76201"
    }
    return 0;
}

/// Runs scripts/cluster with the fixture's environment; returns its exit status.
inline int cluster_script(const std::string& args) {
    const std::string command = "LOCAL_CLUSTER_PORT=" + std::to_string(cluster_port()) + " LOCAL_CLUSTER_DIR='" +
                                cluster_dir() + "' '" + source_dir() + "/scripts/cluster' " + args;
    return std::system(command.c_str());
}

/// The port of the master that serves `slot` in the adapter's node table (0 if none).
template <class Cluster>
std::uint16_t owner_port(const Cluster& cluster, std::uint16_t slot) {
    for (const auto& master : masters(cluster))
        for (const auto& range : master.slots)
            if (range.first <= slot && slot <= range.last) return master.reported.port;
    return 0;
}

/// How many connections named `name` (CLIENT SETNAME) the fixture's nodes hold, all six together.
inline int connections_named(const std::string& name) {
    int count = 0;
    for (std::uint16_t port : cluster_ports()) {
        admin_connection admin(port);
        auto list = admin.ok("CLIENT LIST");
        const std::string text(list->str, list->len);
        for (std::size_t at = text.find(" name=" + name + " "); at != std::string::npos;
             at = text.find(" name=" + name + " ", at + 1))
            ++count;
    }
    return count;
}

/// Polls connections_named(name) until it is `expected` (bounded by `limit`); the last count seen.
inline int wait_for_connections_named(const std::string& name, int expected,
                                      std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    int seen = connections_named(name);
    while (seen != expected && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        seen = connections_named(name);
    }
    return seen;
}

/// SIGKILLs the fixture node on `port` (it must be ours and alive). False if it could not.
inline bool kill_node(std::uint16_t port) {
    const pid_t pid = node_pid(port);
    return pid > 0 && ::kill(pid, 0) == 0 && ::kill(pid, SIGKILL) == 0;
}

/// Polls CLUSTER SHARDS on a live node until `slot` is served by an online master other than `dead_port`.
inline bool wait_until_taken_over(std::uint16_t dead_port, std::uint16_t slot,
                                  std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        for (std::uint16_t port : cluster_ports()) {
            if (port == dead_port) continue;
            try {
                admin_connection admin(port);
                auto reply = admin.run("CLUSTER SHARDS");
                if (reply->type != REDIS_REPLY_ARRAY) continue;
                const addrmap::topology topo = addrmap::parse_cluster_shards(reply.get());
                const addrmap::shard* s = topo.owner_of(slot);
                if (s != nullptr && s->master.port != dead_port && s->master_health == addrmap::node_health::online) {
                    auto info = admin.run("CLUSTER INFO");
                    if (std::string(info->str, info->len).find("cluster_state:ok") != std::string::npos) return true;
                }
                break;  // this node answered: ask again after a pause
            } catch (const std::exception&) {
                // a node may refuse while the cluster settles: ask the next one
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

/// Starts the node on `port` again (it rejoins as a replica) and waits until the cluster is as the
/// fixture left it: six nodes online, replicas synced. True when it is.
inline bool bring_back(std::uint16_t port) {
    if (cluster_script("start-node " + std::to_string(port) + " >/dev/null") != 0) return false;
    return cluster_script("ready 60 >/dev/null") == 0;
}

/// Brings a killed node back when the test ends, also when a failed REQUIRE ends it early.
class revive_on_exit {
public:
    explicit revive_on_exit(std::uint16_t port) : port_(port) {}
    revive_on_exit(const revive_on_exit&) = delete;
    revive_on_exit& operator=(const revive_on_exit&) = delete;
    /// Brings the node back now; true when the cluster is healthy again.
    bool now() {
        done_ = true;
        return bring_back(port_);
    }
    ~revive_on_exit() {
        if (!done_) bring_back(port_);
    }

private:
    std::uint16_t port_;
    bool done_ = false;
};

}  // namespace live
