// examples/pubsub.cpp — a shard-channel subscriber on its own thread and a publisher: messages, and the subscriber's
// news (subscribed, gaps, ended) from one loop around next(). Usage: pubsub --seed HOST:PORT --cacert CA [--hostname N]
#include "example_flags.hpp"

#include <addrmap/addrmap.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

constexpr const char* usage = "usage: pubsub --seed HOST:PORT --cacert CA_FILE [--hostname NAME]";

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {}, {{"--hostname", "localhost"}}, usage);
    if (!flags) return 2;
    const addrmap::ip_to_hostname names(flags->at("--hostname"));

    // The subscriber: its own connections, one per node it subscribes on; everything happens in next().
    std::atomic<bool> subscribed{false};
    std::atomic<int> received{0};
    std::thread listener([&] {
        addrmap::basic_subscriber<addrmap::ip_to_hostname> sub(flags->options, names);
        sub.ssubscribe({"orders{eu}", "orders{us}"});  // shard channels: each SSUBSCRIBE goes to its slot's owner
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (received < 6 && std::chrono::steady_clock::now() < until) {
            const std::optional<addrmap::pubsub_event> e = sub.next(std::chrono::milliseconds(500));
            if (!e) continue;
            using kind = addrmap::pubsub_event::kind;
            switch (e->what) {
                case kind::message:
                    std::cout << e->channel << ": " << e->payload << '\n';
                    ++received;
                    break;
                case kind::subscribed:
                    std::cout << "subscribed to " << e->channel << '\n';
                    if (sub.active(addrmap::pubsub_family::sharded, "orders{eu}") &&
                        sub.active(addrmap::pubsub_family::sharded, "orders{us}"))
                        subscribed = true;
                    break;
                case kind::gap:  // not active for a while: messages published then were not received
                    std::cout << "gap on " << e->channel << ": " << e->cause << '\n';
                    break;
                case kind::ended:
                case kind::refused: std::cout << e->channel << " ended: " << e->cause << '\n'; break;
            }
        }
    });

    addrmap::basic_cluster<addrmap::ip_to_hostname> publisher(flags->options, names);
    publisher.connect();
    while (!subscribed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (int i = 1; i <= 3; ++i)
        for (const char* channel : {"orders{eu}", "orders{us}"})  // SPUBLISH is routed by the channel's slot
            publisher.command(channel, "SPUBLISH %s order-%d", channel, i);
    listener.join();
    std::cout << (received == 6 ? "OK: 6 messages received" : "FAILED: messages missing") << '\n';
    return received == 6 ? 0 : 1;
}
