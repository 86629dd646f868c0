// tests/compile_fail/mutable_lambda.cpp — must not compile: a mutable lambda cannot be called on a const object.
// Policies are called through const references and may be shared, so hidden state must be explicit.
#include <addrmap/policies/first_match.hpp>

int main() {
    int calls = 0;
    auto policy = [calls](const addrmap::node_address& address) mutable {
        ++calls;
        return addrmap::endpoint(address.host, address.port, address.host);
    };
    const addrmap::first_match composed{policy};
    return composed.map(addrmap::node_address{"10.0.0.1", 7000, {}}).port() == 7000 ? 0 : 1;
}
