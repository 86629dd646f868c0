// examples/quick_start.cpp — the README's quick start, verbatim (a test checks they match).
// Seed by name, every reported IP mapped to that name, chain and name verified.
#include <addrmap/addrmap.hpp>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 4) return 2;  // quick_start SEED_HOST:PORT CA_FILE HOSTNAME
    addrmap::cluster_options options;
    options.seeds = {argv[1]};     // e.g. "NAME.REGION.redisenterprise.cache.azure.net:10000"
    options.tls.ca_file = argv[2];  // verification is always on: chain and name
    // The cluster reports IPs; dial each by this name and check the certificate against it.
    addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname(argv[3]));
    cluster.connect();
    auto set = cluster.command("greeting", "SET %s %s", "greeting", "hello");
    auto get = cluster.command("greeting", "GET %s", "greeting");
    std::cout << get->str << '\n';
    redisContext* c = cluster.context_for_key("greeting");  // plain hiredis code keeps working
    return set->type == REDIS_REPLY_STATUS && c != nullptr ? 0 : 1;
}
