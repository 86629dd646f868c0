// examples/replica_reads.cpp — reads served by replicas (cluster_options::read_from), writes by masters, a
// script loaded on every master with fan_out(), and every key counted once with cluster_scan.
//
// usage: replica_reads --seed HOST:PORT --cacert FILE --hostname NAME
#include <addrmap/addrmap.hpp>

#include <iostream>
#include <string>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: replica_reads --seed HOST:PORT --cacert FILE --hostname NAME\n";

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname"}, {}, usage);
    if (!flags) return 2;
    try {
        addrmap::cluster_options options = flags->options;
        // Reads go to a replica of the key's master; when none answers, to the master itself.
        options.read_from = addrmap::read_preference::replica_preferred;
        addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname(flags->at("--hostname")));
        cluster.connect();

        const int keys = 30;
        for (int i = 0; i < keys; ++i) {
            const std::string key = "example:replica:" + std::to_string(i);
            cluster.command(key, "SET %s %d", key.c_str(), i);
        }
        // Replicas apply writes asynchronously: WAIT until each master's replica has them before reading there.
        for (const auto& acked : addrmap::fan_out(cluster, {"WAIT", "1", "2000"}))
            if (!acked.result.ok() || acked.result->integer < 1) {
                std::cerr << "a replica of " << addrmap::to_string(acked.node) << " did not acknowledge the writes\n";
                return 1;
            }
        int correct = 0;
        for (int i = 0; i < keys; ++i) {
            const std::string key = "example:replica:" + std::to_string(i);
            addrmap::reply_ptr value = cluster.command(key, "GET %s", key.c_str());
            correct += value->type == REDIS_REPLY_STRING && std::stoi(std::string(value->str, value->len)) == i;
        }
        const auto& stats = cluster.stats();
        std::cout << correct << "/" << keys << " reads correct; " << stats.replica_sends << " sent to replicas, "
                  << stats.replica_fallbacks << " fell back to a master\n";

        // One SCRIPT LOAD per master; EVALSHA then works for any key.
        std::string sha;
        for (const auto& loaded : addrmap::fan_out(cluster, {"SCRIPT", "LOAD", "return #KEYS"})) {
            if (!loaded.result.ok()) {
                std::cerr << addrmap::to_string(loaded.node) << ": " << loaded.result.failure()->what() << "\n";
                return 1;
            }
            sha.assign(loaded.result->str, loaded.result->len);
        }
        addrmap::reply_ptr one = cluster.command("example:replica:0", "EVALSHA %s 1 example:replica:0", sha.c_str());

        // Every key of the cluster, each once, slot by slot.
        addrmap::cluster_scan<addrmap::ip_to_hostname_cluster> scan(cluster);
        std::vector<std::string> batch;
        while (scan.next(batch)) {
        }
        int ours = 0;
        for (const std::string& key : batch) ours += key.rfind("example:replica:", 0) == 0;
        std::cout << "scan: " << ours << " of our keys among " << batch.size() << "\n";

        if (correct == keys && stats.replica_sends == static_cast<std::uint64_t>(keys) && one->integer == 1 &&
            ours == keys)
            std::cout << "OK: " << keys << " reads from replicas, writes and EVALSHA on masters, scan found each key once\n";
        else
            return 1;
    } catch (const addrmap::error& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
