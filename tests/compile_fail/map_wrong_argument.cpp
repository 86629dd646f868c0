// tests/compile_fail/map_wrong_argument.cpp — must not compile: `map` takes a string, not a node_address.
// A policy sees the whole reported address (host, port, announced hostname), never just the host.
#include <addrmap/policies/first_match.hpp>

#include <string>

struct host_only_policy {
    addrmap::endpoint map(const std::string& host) const { return addrmap::endpoint(host, 6379, host); }
};

int main() {
    const addrmap::first_match<host_only_policy> policy{host_only_policy{}};
    return policy.map(addrmap::node_address{"10.0.0.1", 7000, {}}).port() == 7000 ? 0 : 1;
}
