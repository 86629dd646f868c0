// examples/keep_ip_verify_name.cpp — dial the IPs the cluster reports but require the certificate to carry a
// name: ip_to_hostname in mode::dial_ip_verify_hostname. No DNS is involved, so the name need not resolve.
//
// usage: keep_ip_verify_name --seed HOST:PORT --cacert FILE --hostname NAME
//
// Right when DNS for the certificate's name is missing or points elsewhere (a private endpoint, a test
// setup): the local cluster's certificate carries *.redis.test, and node.redis.test has no DNS record.
#include <addrmap/addrmap.hpp>

#include <netdb.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: keep_ip_verify_name --seed HOST:PORT --cacert FILE --hostname NAME\n";

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname"}, {}, usage);
    if (!flags) return 2;
    const std::string hostname = flags->at("--hostname");

    // Only to make the point: the name does not have to resolve (addrmap itself never looks it up).
    addrinfo* found = nullptr;
    const int lookup = ::getaddrinfo(hostname.c_str(), nullptr, nullptr, &found);
    if (found != nullptr) ::freeaddrinfo(found);
    std::cout << "DNS lookup of " << hostname << ": "
              << (lookup == 0 ? "resolves (not needed here)" : ::gai_strerror(lookup)) << "\n";

    using mode = addrmap::ip_to_hostname::mode;
    try {
        addrmap::ip_to_hostname_cluster cluster(flags->options,
                                                addrmap::ip_to_hostname(hostname, mode::dial_ip_verify_hostname));
        cluster.connect();
        auto set = cluster.command("greeting", "SET %s %s", "greeting", "hello");
        auto get = cluster.command("greeting", "GET %s", "greeting");
        const bool answered = set->type == REDIS_REPLY_STATUS && get->type == REDIS_REPLY_STRING;
        std::cout << "SET/GET greeting: " << (answered ? get->str : "no answer") << "\n\n";

        std::printf("%-18s %-8s %-18s %-16s %s\n", "reported", "role", "dialed", "tls name", "certificate carries");
        bool all_kept_ip = true;
        for (const auto& node : cluster.nodes()) {
            if (node.role == addrmap::node_role::seed) continue;
            std::printf("%-18s %-8s %-18s %-16s %s\n", addrmap::to_string(node.reported).c_str(),
                        addrmap::to_string(node.role), addrmap::format_host_port(node.dial_host, node.port).c_str(),
                        node.tls_name.c_str(),
                        node.handshake ? joined(node.handshake->certificate_names).c_str() : "(not connected yet)");
            all_kept_ip = all_kept_ip && node.dial_host == node.reported.host && node.tls_name == hostname;
        }
        if (!answered || !all_kept_ip) {
            std::cout << "FAILED: a node was not dialed at its reported IP with TLS name " << hostname << "\n";
            return 1;
        }
        std::cout << "\nOK: every node dialed at its reported IP, certificate verified as " << hostname
                  << " (no DNS lookup)\n";
        return 0;
    } catch (const addrmap::error& e) {
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }
}
