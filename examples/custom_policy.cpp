// examples/custom_policy.cpp — writing your own policy: a small class (a per-node certificate name chosen by
// port, dialing the reported IP) and a lambda (every node to one hostname), each driving a basic_cluster.
//
// usage: custom_policy --seed HOST:PORT --cacert FILE --hostname NAME --node-domain DOMAIN
//   the class names the node on the seed's port node1.DOMAIN, the next port node2.DOMAIN, ... (six nodes);
//   the lambda maps every node to NAME.
#include <addrmap/addrmap.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "example_flags.hpp"

namespace {

constexpr const char* usage =
    "usage: custom_policy --seed HOST:PORT --cacert FILE --hostname NAME --node-domain DOMAIN\n";

// A policy is any type with `addrmap::endpoint map(const addrmap::node_address&) const`.
// The names are built once, in the constructor, so map() allocates nothing and returns views.
class per_node_names {
public:
    per_node_names(std::uint16_t first_port, int count, const std::string& domain) {
        for (int i = 0; i < count; ++i)
            names_.emplace(static_cast<std::uint16_t>(first_port + i), "node" + std::to_string(i + 1) + "." + domain);
    }

    addrmap::endpoint map(const addrmap::node_address& address) const {
        const auto it = names_.find(address.port);
        if (it == names_.end())
            throw addrmap::error(addrmap::error_kind::topology,
                                 "per_node_names has no name for " + addrmap::to_string(address));
        // Both strings outlive the endpoint: address.host is the caller's, it->second is ours (the cluster
        // stores this policy and copies what it keeps). A name built here would need endpoint::owning.
        return addrmap::endpoint(address.host, address.port, it->second);
    }

private:
    std::map<std::uint16_t, std::string> names_;
};
static_assert(addrmap::is_mapping_policy_v<per_node_names>);

// The same generic code runs any policy: basic_cluster<Policy> stores it by value.
template <class Policy>
std::vector<addrmap::node_info> connect_with(const addrmap::cluster_options& options, Policy policy) {
    addrmap::basic_cluster<Policy> cluster(options, std::move(policy));
    cluster.connect();  // every master is dialed and verified here
    auto set = cluster.command("greeting", "SET %s %s", "greeting", "hello");
    auto get = cluster.command("greeting", "GET %s", "greeting");
    if (set->type != REDIS_REPLY_STATUS || get->type != REDIS_REPLY_STRING) return {};
    std::vector<addrmap::node_info> nodes;
    for (auto& node : cluster.nodes()) {
        if (node.role == addrmap::node_role::seed) continue;
        std::printf("   %-16s %-7s -> dial %s, %s %s\n", addrmap::to_string(node.reported).c_str(),
                    addrmap::to_string(node.role), addrmap::format_host_port(node.dial_host, node.port).c_str(),
                    node.connected ? "verified as" : "will verify", node.tls_name.c_str());
        nodes.push_back(std::move(node));
    }
    std::printf("   SET/GET greeting: %s\n", get->str);
    return nodes;
}

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname", "--node-domain"}, {}, usage);
    if (!flags) return 2;
    const std::string hostname = flags->at("--hostname"), domain = flags->at("--node-domain");

    try {
        std::cout << "1. class per_node_names: dial the reported IP, verify node<N>." << domain << "\n";
        const std::uint16_t first_port = addrmap::parse_address(flags->at("--seed"), "--seed").port;
        const auto by_class = connect_with(flags->options, per_node_names(first_port, 6, domain));

        // A lambda is a policy too. It views its own copy of the name, which lives inside the cluster.
        std::cout << "2. lambda: every node to " << hostname << "\n";
        const auto to_one_name = [name = hostname](const addrmap::node_address& address) {
            return addrmap::endpoint(name, address.port, name);
        };
        const auto by_lambda = connect_with(flags->options, to_one_name);

        bool ok = !by_class.empty() && !by_lambda.empty();
        for (const auto& node : by_class) ok = ok && node.dial_host == node.reported.host;
        for (const auto& node : by_lambda) ok = ok && node.dial_host == hostname && node.tls_name == hostname;
        std::cout << (ok ? "OK: both policies connected with verification on\n" : "FAILED: unexpected mapping\n");
        return ok ? 0 : 1;
    } catch (const addrmap::error& e) {
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }
}
