// examples/azure_ip_to_hostname.cpp — the Azure shape: seed by name, the cluster reports IPs, ip_to_hostname
// maps every IP back to the name, so the name-only certificate verifies; dialing the IPs as reported must fail.
//
// usage: azure_ip_to_hostname --seed HOST:PORT --cacert FILE --hostname NAME
//
// Azure Cache for Redis Enterprise: seed NAME.REGION.redisenterprise.cache.azure.net:10000, the cluster then
// reports node IPs with other ports, and every certificate carries *.REGION.redisenterprise.cache.azure.net
// only. Here the local cluster plays that part: seed localhost:PORT, nodes report 127.0.0.1, certificates
// carry DNS:localhost and DNS:*.redis.test.
#include <addrmap/addrmap.hpp>

#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: azure_ip_to_hostname --seed HOST:PORT --cacert FILE --hostname NAME\n";

// One key per master that serves slots: try "user:0", "user:1", ... until each master has one.
std::vector<std::pair<std::string, addrmap::node_info>> one_key_per_master(
    const std::vector<addrmap::node_info>& nodes) {
    std::vector<std::pair<std::string, addrmap::node_info>> picked;
    for (const auto& node : nodes) {
        if (node.role != addrmap::node_role::master || node.slots.empty()) continue;
        for (int i = 0;; ++i) {
            std::string key = "user:" + std::to_string(i);
            const auto slot = addrmap::key_slot(key);
            bool mine = false;
            for (const auto& range : node.slots) mine = mine || range.contains(slot);
            if (mine) {
                picked.emplace_back(std::move(key), node);
                break;
            }
        }
    }
    return picked;
}

}  // namespace

int main(int argc, char** argv) {
    // Azure: --seed NAME.REGION.redisenterprise.cache.azure.net:10000. Verification is always on: chain and name.
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname"}, {}, usage);
    if (!flags) return 2;
    const std::string hostname = flags->at("--hostname");

    try {
        std::cout << "1. identity: dial and verify what the cluster reports (its IPs)\n";
        try {
            addrmap::identity_cluster as_reported(flags->options);
            as_reported.connect();
            std::cout << "   unexpected: a certificate carried the reported IP\n";
            return 1;
        } catch (const addrmap::error& e) {
            std::cout << "   refused (" << e.kind() << "): " << e.what() << "\n";
            if (e.kind() != addrmap::error_kind::tls_name) return 1;
        }

        std::cout << "2. ip_to_hostname(\"" << hostname << "\"): every reported IP is dialed and verified as "
                  << hostname << "\n";
        addrmap::ip_to_hostname_cluster cluster(flags->options, addrmap::ip_to_hostname(hostname));
        cluster.connect();
        int ok = 0;
        const auto keys = one_key_per_master(cluster.nodes());
        for (const auto& [key, node] : keys) {
            const std::string value = "value-of-" + key;
            auto set = cluster.command(key, "SET %s %s", key.c_str(), value.c_str());
            auto get = cluster.command(key, "GET %s", key.c_str());
            const bool same = get->type == REDIS_REPLY_STRING && value == get->str;
            std::cout << "   " << key << " on master " << addrmap::to_string(node.reported) << " -> dialed "
                      << addrmap::format_host_port(node.dial_host, node.port) << ", TLS name " << node.tls_name
                      << ": SET " << (set->type == REDIS_REPLY_STATUS ? set->str : "failed") << ", GET "
                      << (same ? "matches" : "differs") << "\n";
            if (set->type == REDIS_REPLY_STATUS && same && node.tls_name == hostname) ++ok;
        }
        if (keys.size() < 2 || ok != static_cast<int>(keys.size())) {
            std::cout << "FAILED: " << ok << " of " << keys.size() << " masters answered SET/GET\n";
            return 1;
        }
        std::cout << "OK: SET/GET on " << ok << " masters, each reported IP verified as " << hostname << "\n";
        return 0;
    } catch (const addrmap::error& e) {
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }
}
