// tests/compile_fail/lambda_takes_string.cpp — must not compile: the lambda takes a std::string.
// A callable policy must accept `const node_address&`; there is no conversion from it to a string.
#include <addrmap/policy.hpp>

#include <string>

int main() {
    const auto policy = [](const std::string& host) { return addrmap::endpoint::owning(host, 6379, host); };
    const addrmap::node_address address{"10.0.0.1", 7000, {}};
    return addrmap::map_address(policy, address).port() == 7000 ? 0 : 1;
}
