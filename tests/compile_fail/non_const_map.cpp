// tests/compile_fail/non_const_map.cpp — must not compile: `map` is not const.
// The library maps through a const policy, so a mutating map is refused with the policy message.
#include <addrmap/policy.hpp>

struct counting_policy {
    int calls = 0;
    addrmap::endpoint map(const addrmap::node_address& address) {  // missing const
        ++calls;
        return addrmap::endpoint(address.host, address.port, address.host);
    }
};

int main() {
    const counting_policy policy;
    const addrmap::node_address address{"10.0.0.1", 7000, {}};
    return addrmap::map_address(policy, address).port() == 7000 ? 0 : 1;
}
