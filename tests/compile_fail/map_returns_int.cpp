// tests/compile_fail/map_returns_int.cpp — must not compile: `map` returns int, not an endpoint.
// first_match checks each policy type first, so the user sees the one policy message.
#include <addrmap/policies/first_match.hpp>

struct port_only_policy {
    int map(const addrmap::node_address& address) const { return address.port; }
};

int main() {
    const addrmap::first_match<port_only_policy> policy{port_only_policy{}};
    return policy.map(addrmap::node_address{"10.0.0.1", 7000, {}}).port() == 7000 ? 0 : 1;
}
