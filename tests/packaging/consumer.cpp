// tests/packaging/consumer.cpp — the program every packaging consumer builds: it includes the umbrella
// and uses a policy, proving the installed or added-as-subdirectory package is complete.
#include <addrmap/addrmap.hpp>

#include <iostream>

int main() {
    const addrmap::node_address reported{"10.0.0.7", 7001, {}};
    const auto mapped = addrmap::map_address(addrmap::identity{}, reported);
    std::cout << "addrmap " << ADDRMAP_VERSION_MAJOR << '.' << ADDRMAP_VERSION_MINOR << '.' << ADDRMAP_VERSION_PATCH
              << ": " << addrmap::to_string(reported) << " -> " << addrmap::to_string(mapped) << '\n';
    return mapped.port() == 7001 && mapped.tls_name() == "10.0.0.7" ? 0 : 1;
}
