// examples/async_quick_start.cpp — the README's async quick start, verbatim (a test checks they match).
// The seed scenario on a libevent loop: every reported IP dialed by name, chain and name verified, nothing blocks.
#include <addrmap/addrmap.hpp>
#include <addrmap/loops/libevent.hpp>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 4) return 2;  // async_quick_start SEED_HOST:PORT CA_FILE HOSTNAME
    addrmap::cluster_options options;
    options.seeds = {argv[1]};
    options.tls.ca_file = argv[2];
    event_base* base = event_base_new();
    int status = 1;
    {
        addrmap::ip_to_hostname_async_cluster cluster(options, addrmap::on_libevent(base), addrmap::ip_to_hostname(argv[3]));
        cluster.command("greeting", [&](addrmap::outcome set) {
            if (!set) return (void)(std::cerr << set.failure()->what() << '\n', event_base_loopbreak(base));
            cluster.command("greeting", [&](addrmap::outcome get) {
                if (get) std::cout << get->str << '\n', status = 0;
                event_base_loopbreak(base);
            }, "GET %s", "greeting");
        }, "SET %s %s", "greeting", "hello");
        event_base_dispatch(base);  // returns at loopbreak; the cluster is destroyed before the loop
    }
    event_base_free(base);
    return status;
}
