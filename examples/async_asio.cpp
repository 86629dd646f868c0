// examples/async_asio.cpp — the async cluster on a boost::asio::io_context, for services built on Asio: every
// reported IP dialed by name and verified, a SET and GET per key from callbacks, and a worker thread using futures.
//
// usage: async_asio --seed HOST:PORT --cacert FILE --hostname NAME
#include <addrmap/addrmap.hpp>
#include <addrmap/loops/asio.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "example_flags.hpp"

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(
        argc, argv, {"--hostname"}, {}, "usage: async_asio --seed HOST:PORT --cacert FILE --hostname NAME\n");
    if (!flags) return 2;
    addrmap::cluster_options options = flags->options;
    options.deadline = std::chrono::seconds(10);  // within the 20 s the loop runs: the worker's futures all end
    const std::string hostname = flags->at("--hostname");
    boost::asio::io_context io;  // run by this thread only: the cluster's callbacks come here
    int status = 1;
    {
        addrmap::ip_to_hostname_async_cluster cluster(options, addrmap::on_asio(io), addrmap::ip_to_hostname(hostname));
        // 1. Callbacks on the io_context's thread: SET, then GET each key back.
        int read_back = 0, failed = 0;
        for (int i = 0; i < 100; ++i) {
            const std::string key = "asio:" + std::to_string(i);
            cluster.command(key, [&, key](addrmap::outcome set) {
                if (!set) return (void)(++failed, std::cerr << set.failure()->what() << '\n');
                cluster.command(key, [&, key](addrmap::outcome get) {
                    if (get && std::string(get->str, get->len) == "v-" + key) ++read_back; else ++failed;
                }, "GET %s", key.c_str());
            }, "SET %s %s", key.c_str(), ("v-" + key).c_str());
        }
        // 2. A worker thread submits; futures wait there, never on the io_context's thread.
        std::atomic<int> worker_ok{0};
        std::atomic<bool> worker_done{false};
        std::thread worker([&] {
            std::vector<addrmap::reply_future> incrs;
            for (int i = 0; i < 100; ++i) incrs.push_back(cluster.submit("asio:counter", "INCR %s", "asio:counter"));
            for (auto& f : incrs) worker_ok += f.get_outcome().ok() ? 1 : 0;
            worker_done = true;
        });
        // Run the io_context until both are done (a 1 ms check; bounded at 20 s).
        boost::asio::steady_timer check(io);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        std::function<void()> arm = [&] {
            check.expires_after(std::chrono::milliseconds(1));
            check.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                if ((read_back + failed == 100 && worker_done) || std::chrono::steady_clock::now() > until) return io.stop();
                arm();
            });
        };
        arm();
        io.run();
        worker.join();
        int masters = 0;
        for (const auto& node : cluster.nodes())
            if (node.role == addrmap::node_role::master && !node.slots.empty() && node.connected && node.tls_name == hostname)
                ++masters;
        std::cout << "100 SET+GET from callbacks: " << read_back << " read back; 100 INCR from a worker thread: "
                  << worker_ok.load() << " OK; " << masters << " masters verified as " << hostname << "\n";
        if (read_back == 100 && worker_ok == 100 && masters == 3) {
            std::cout << "OK: the async cluster on Boost.Asio, 3 masters verified as " << hostname << "\n";
            status = 0;
        }
    }
    io.restart();
    io.poll();  // what the cluster's destruction left queued
    return status;
}
