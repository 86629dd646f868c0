// tests/compile_fail/try_map_without_map.cpp — must not compile: only try_map, no map.
// try_map is an optional extra for composition; every policy must still answer through map.
#include <addrmap/policies/first_match.hpp>
#include <addrmap/policies/identity.hpp>

#include <optional>

struct partial_only_policy {
    std::optional<addrmap::endpoint> try_map(const addrmap::node_address&) const { return std::nullopt; }
};

int main() {
    const addrmap::first_match<partial_only_policy, addrmap::identity> policy{partial_only_policy{},
                                                                            addrmap::identity{}};
    return policy.map(addrmap::node_address{"10.0.0.1", 7000, {}}).port() == 7000 ? 0 : 1;
}
