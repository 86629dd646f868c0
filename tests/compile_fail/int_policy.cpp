// tests/compile_fail/int_policy.cpp — must not compile: an int is not a mapping policy.
// Guards the trait against accepting any type just because first_match can store it.
#include <addrmap/policies/first_match.hpp>

int main() {
    const addrmap::first_match<int> policy{42};
    return policy.map(addrmap::node_address{"10.0.0.1", 7000, {}}).port() == 7000 ? 0 : 1;
}
