// tests/packaging/shipped_consumer.cpp — the application packaging.shipped_prefix runs from a copied prefix: it
// calls hiredis and hiredis_ssl themselves and sets up a cluster offline, so it runs only if all of them load.
#include <addrmap/addrmap.hpp>
#include <hiredis/hiredis_ssl.h>

#include <iostream>
#include <string_view>

int main() {
    // hiredis_ssl's and hiredis's own functions: the loader found both libraries wherever the RUNPATH says.
    if (redisInitOpenSSL() != REDIS_OK) return 1;
    char* command = nullptr;
    const int length = redisFormatCommand(&command, "SET %s %s", "greeting", "hello");
    const bool formatted = length > 0 && std::string_view(command, static_cast<std::size_t>(length)) ==
                                             "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n";
    redisFreeCommand(command);

    // addrmap without I/O: a seed parsed, a cluster set up (options checked, TLS context made), an address mapped.
    addrmap::cluster_options options;
    options.seeds = {addrmap::to_string(addrmap::parse_address("node1.redis.test:7000"))};
    const addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname("node.redis.test"));
    const auto mapped = addrmap::map_address(cluster.policy(), addrmap::parse_address("10.0.0.7:7001"));
    std::cout << "shipped consumer: hiredis " << HIREDIS_MAJOR << '.' << HIREDIS_MINOR << '.' << HIREDIS_PATCH
              << (formatted ? " formats commands" : " formatted a wrong command") << "; 10.0.0.7:7001 -> "
              << addrmap::to_string(mapped) << '\n';
    return formatted && mapped.tls_name() == "node.redis.test" ? 0 : 1;
}
