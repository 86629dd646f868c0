// examples/static_table.cpp — an explicit table from each reported IP:port to where to dial and which name
// to verify (a separate TLS name per entry if needed), and the report of entries that matched no node.
//
// usage: static_table --seed IP:PORT --cacert FILE [--table TEXT]
//   --table  ip[:port]=host[:port][/tls=name] entries separated by ',' ';' or newlines, e.g.
//            "127.0.0.1:7000=localhost,127.0.0.1:7001=127.0.0.1/tls=node2.redis.test,10.9.9.9=stale.example.com"
//            Without it the table is built in C++ (static_table::entry) for the local cluster: six nodes on
//            consecutive ports from the seed's.
#include <addrmap/addrmap.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: static_table --seed IP:PORT --cacert FILE [--table TEXT]\n";

// The same kind of table in C++: each node by its IP:port, two with a TLS name other than the dial host,
// and one entry for an address the cluster never reports.
addrmap::static_table table_in_code(std::uint16_t first_port) {
    std::vector<addrmap::static_table::entry> entries;
    for (int i = 0; i < 6; ++i) {
        const std::string from = "127.0.0.1:" + std::to_string(first_port + i);
        if (i == 1) entries.push_back({from, "127.0.0.1", "node2.redis.test"});  // dial the IP, verify a name
        else if (i == 2) entries.push_back({from, "localhost", "node3.redis.test"});
        else entries.push_back({from, "localhost"});  // TLS name = the target host
    }
    entries.push_back({"10.9.9.9", "stale.example.com"});
    return addrmap::static_table(entries);
}

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {}, {{"--table", ""}}, usage);
    if (!flags) return 2;
    const std::string table_text = flags->at("--table");

    try {
        // on_miss::fail (the default): a node the table does not know stops connect() with its address,
        // instead of being dialed as reported and failing verification later.
        auto table = table_text.empty() ? table_in_code(addrmap::parse_address(flags->at("--seed"), "--seed").port)
                                        : addrmap::static_table::parse(table_text);
        std::cout << "table with " << table.size() << " entries, "
                  << (table_text.empty() ? "built in C++" : "parsed from --table: " + table_text) << "\n";

        // The seed, an IP:port in the table, goes through the policy like every node.
        addrmap::static_table_cluster cluster(flags->options, std::move(table));
        cluster.connect();
        auto set = cluster.command("greeting", "SET %s %s", "greeting", "hello");
        auto get = cluster.command("greeting", "GET %s", "greeting");
        const bool answered = set->type == REDIS_REPLY_STATUS && get->type == REDIS_REPLY_STRING;
        std::cout << "SET/GET greeting: " << (answered ? get->str : "no answer") << "\n\n";

        std::printf("%-18s %-8s %-18s %-18s %s\n", "reported", "role", "dialed", "tls name", "verified");
        for (const auto& node : cluster.nodes()) {
            if (node.role == addrmap::node_role::seed) continue;
            std::printf("%-18s %-8s %-18s %-18s %s\n", addrmap::to_string(node.reported).c_str(),
                        addrmap::to_string(node.role), addrmap::format_host_port(node.dial_host, node.port).c_str(),
                        node.tls_name.c_str(), node.connected ? "yes" : "not yet");
        }

        // Entries no reported address used: after connect(), a stale or mistyped entry shows up here. (So does
        // a replica's entry while it is still in its initial sync: the cluster reports it only when online.)
        const auto unmatched = cluster.policy().unmatched_entries();
        std::cout << "\n" << unmatched.size() << " table entries matched no reported node:\n";
        for (const auto& entry : unmatched) std::cout << "  unmatched: " << entry << "\n";
        return answered ? 0 : 1;
    } catch (const addrmap::error& e) {
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }
}
