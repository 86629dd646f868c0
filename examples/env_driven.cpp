// examples/env_driven.cpp — the mapping comes from ADDRMAP_* environment variables (addrmap::env), so a
// deployment changes it without a rebuild; a mistake in a variable is refused when the policy is built.
//
// usage: ADDRMAP_TABLE=... ADDRMAP_HOSTNAME=... ADDRMAP_MODE=... env_driven --seed HOST:PORT --cacert FILE
//   ADDRMAP_TABLE     static_table entries, e.g. "10.0.0.1:7000=node1.example.com,10.0.0.2=n2.example.com/tls=x"
//   ADDRMAP_HOSTNAME  ip_to_hostname's name for IPs the table does not list
//   ADDRMAP_MODE      dial_hostname (default) or dial_ip (dial the reported IP, verify ADDRMAP_HOSTNAME)
//   ADDRMAP_ONLY      restrict the hostname rule to these IPs/CIDRs;  ADDRMAP_ON_MISS  fail (default) or pass_through
#include <addrmap/addrmap.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: env_driven --seed HOST:PORT --cacert FILE  (mapping from ADDRMAP_* variables)\n";

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {}, {}, usage);
    if (!flags) return 2;

    std::cout << "mapping from the environment:\n";
    for (const char* name : {"ADDRMAP_TABLE", "ADDRMAP_HOSTNAME", "ADDRMAP_MODE", "ADDRMAP_ONLY", "ADDRMAP_ON_MISS"})
        if (const char* value = std::getenv(name)) std::cout << "  " << name << "=" << value << "\n";

    try {
        // Read once, here: validated now, never consulted again (build it before starting threads).
        addrmap::env_cluster cluster(flags->options, addrmap::env::from_process());
        cluster.connect();
        auto set = cluster.command("greeting", "SET %s %s", "greeting", "hello");
        auto get = cluster.command("greeting", "GET %s", "greeting");
        const bool answered = set->type == REDIS_REPLY_STATUS && get->type == REDIS_REPLY_STRING;
        std::cout << "SET/GET greeting: " << (answered ? get->str : "no answer") << "\n\n";

        std::printf("%-18s %-8s %-18s %s\n", "reported", "role", "dialed", "tls name");
        for (const auto& node : cluster.nodes()) {
            if (node.role == addrmap::node_role::seed) continue;
            std::printf("%-18s %-8s %-18s %s\n", addrmap::to_string(node.reported).c_str(),
                        addrmap::to_string(node.role), addrmap::format_host_port(node.dial_host, node.port).c_str(),
                        node.tls_name.c_str());
        }
        for (const auto& entry : cluster.policy().unmatched_entries())
            std::cout << "ADDRMAP_TABLE entry matched no node: " << entry << "\n";
        if (!answered) return 1;
    } catch (const addrmap::error& e) {
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }

    // The same policy from a map instead of the process environment, with a typo in the table: the
    // constructor throws, naming the variable, the entry, its text and the column.
    std::cout << "\na malformed ADDRMAP_TABLE is refused before anything is dialed:\n";
    const std::map<std::string, std::string> broken{
        {"ADDRMAP_TABLE", "127.0.0.1:7000=localhost,10.0.0.x=node2.redis.test"}};
    try {
        const addrmap::env policy(broken);
        std::cout << "  unexpected: accepted\n";
        return 1;
    } catch (const addrmap::error& e) {
        std::cout << "  " << e.what() << "\n";
        return e.kind() == addrmap::error_kind::config ? 0 : 1;
    }
}
