// examples/async_azure_libuv.cpp — the Azure seed scenario written async, on a libuv loop: identity's tls_name error
// arrives in the callback; ip_to_hostname maps every reported IP back to the seed's name; a worker thread uses futures.
//
// usage: async_azure_libuv --seed HOST:PORT --cacert FILE --hostname NAME
#include <addrmap/addrmap.hpp>
#include <addrmap/loops/libuv.hpp>

#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: async_azure_libuv --seed HOST:PORT --cacert FILE --hostname NAME\n";

/// Runs the loop until `done` is true (checked every millisecond).
template <class Done>
void run_until(uv_loop_t* loop, Done done) {
    uv_timer_t tick{};
    uv_timer_init(loop, &tick);
    tick.data = &done;
    uv_timer_start(&tick, [](uv_timer_t* t) { if ((*static_cast<Done*>(t->data))()) uv_stop(t->loop); }, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
}

}  // namespace

int main(int argc, char** argv) {
    // Azure: --seed NAME.REGION.redisenterprise.cache.azure.net:10000.
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname"}, {}, usage);
    if (!flags) return 2;
    const std::string hostname = flags->at("--hostname");
    uv_loop_t loop;
    uv_loop_init(&loop);
    int status = 1;
    {
        std::cout << "1. identity, async: the certificate carries names, the cluster reports IPs\n";
        addrmap::identity_async_cluster as_reported(flags->options, addrmap::on_libuv(&loop));
        bool refused = false, answered = false;
        as_reported.command("user:0", [&](addrmap::outcome o) {
            answered = true;
            refused = !o && o.failure()->kind() == addrmap::error_kind::tls_name;
            std::cout << "   " << (o ? std::string("unexpected reply") : "refused in the callback: " + std::string(o.failure()->what())) << "\n";
        }, "GET %s", "user:0");
        run_until(&loop, [&] { return answered; });

        std::cout << "2. ip_to_hostname(\"" << hostname << "\"), async: every reported IP dialed and verified as " << hostname << "\n";
        addrmap::ip_to_hostname_async_cluster cluster(flags->options, addrmap::on_libuv(&loop),
                                                      addrmap::ip_to_hostname(hostname));
        // A worker thread submits; the loop thread (this one) runs the loop and delivers.
        std::atomic<int> ok{0};
        std::atomic<bool> worker_done{false};
        std::thread worker([&] {
            std::vector<addrmap::reply_future> sets;
            for (int i = 0; i < 300; ++i) {
                const std::string key = "user:" + std::to_string(i);
                sets.push_back(cluster.submit(key, "SET %s %s", key.c_str(), ("value-of-" + key).c_str()));
            }
            for (auto& f : sets) ok += f.get_outcome().ok() ? 1 : 0;
            worker_done = true;
        });
        run_until(&loop, [&] { return worker_done.load(); });
        worker.join();
        int masters = 0;
        for (const auto& node : cluster.nodes())
            if (node.role == addrmap::node_role::master && !node.slots.empty() && node.connected && node.tls_name == hostname)
                ++masters;
        std::cout << "   300 SETs from a worker thread through futures: " << ok.load() << " OK, over " << masters
                  << " masters\n";
        if (refused && ok == 300 && masters == 3) {
            std::cout << "OK: async SET on 3 masters, each reported IP verified as " << hostname << "\n";
            status = 0;
        }
    }
    for (int i = 0; i < 4; ++i) uv_run(&loop, UV_RUN_NOWAIT);  // libuv frees closed handles here
    uv_loop_close(&loop);
    return status;
}
