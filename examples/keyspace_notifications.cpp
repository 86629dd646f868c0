// examples/keyspace_notifications.cpp — keyspace notifications from a whole cluster: each node publishes the events of
// its own keys, so the pattern is PSUBSCRIBEd on every master. Usage: keyspace_notifications --seed HOST:PORT --cacert CA
#include "example_flags.hpp"

#include <addrmap/addrmap.hpp>

#include <chrono>
#include <iostream>
#include <set>
#include <string>

constexpr const char* usage =
    "usage: keyspace_notifications --seed HOST:PORT --cacert CA_FILE [--hostname NAME]";

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {}, {{"--hostname", "localhost"}}, usage);
    if (!flags) return 2;
    const addrmap::ip_to_hostname names(flags->at("--hostname"));
    addrmap::basic_cluster<addrmap::ip_to_hostname> cluster(flags->options, names);
    cluster.connect();

    // Notifications are off by default. Managed services set them in their console (CONFIG may be refused there);
    // here every node, replicas too (one may become a master), publishes string commands' keyspace events.
    for (const auto& node : addrmap::fan_out(cluster, {"CONFIG", "SET", "notify-keyspace-events", "K$"},
                                             addrmap::fan_out_to::all_nodes)) {
        if (!node.result || node.result.reply()->type == REDIS_REPLY_ERROR) {
            std::cout << "FAILED: could not enable notifications on " << addrmap::to_string(node.node) << '\n';
            return 1;
        }
    }

    // One subscription, asked of each master, and of each node that becomes one later (a failover, a new shard).
    addrmap::basic_subscriber<addrmap::ip_to_hostname> sub(flags->options, names);
    const std::string pattern = "__keyspace@0__:example-ks:*";
    sub.psubscribe_every_master({pattern});
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    addrmap::pubsub_event e;
    while (!sub.active(addrmap::pubsub_family::master_pattern, pattern) && std::chrono::steady_clock::now() < until)
        if (sub.next(e, std::chrono::milliseconds(200)) && e.what == addrmap::pubsub_event::kind::subscribed)
            std::cout << "subscribed on " << e.node << '\n';

    // Keys in 12 slots, spread over the masters: each SET is reported by the master that holds the key.
    std::set<std::string> expected;
    for (int i = 0; i < 12; ++i) {
        const std::string key = "example-ks:{" + std::to_string(i) + "}";
        cluster.command(key, "SET %s %d", key.c_str(), i);
        expected.insert("__keyspace@0__:" + key);
    }
    std::size_t received = 0;
    while (!expected.empty() && std::chrono::steady_clock::now() < until) {
        if (!sub.next(e, std::chrono::milliseconds(200))) continue;
        if (e.what == addrmap::pubsub_event::kind::message && e.payload == "set" && expected.erase(e.channel) == 1) {
            std::cout << e.channel << ": " << e.payload << '\n';
            ++received;
        } else if (e.what == addrmap::pubsub_event::kind::subscribed) {
            std::cout << "subscribed on " << e.node << '\n';
        } else if (e.what == addrmap::pubsub_event::kind::gap) {  // a master changed: its events meanwhile were missed
            std::cout << "gap on " << e.node << ": " << e.cause << '\n';
        }
    }
    addrmap::fan_out(cluster, {"CONFIG", "SET", "notify-keyspace-events", ""}, addrmap::fan_out_to::all_nodes);
    std::cout << (expected.empty() ? "OK: " + std::to_string(received) + " keyspace events from every master"
                                   : "FAILED: events missing")
              << '\n';
    return expected.empty() ? 0 : 1;
}
