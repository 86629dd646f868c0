// examples/existing_hiredis_code.cpp — code written against plain hiredis (redisContext*, redisCommand) keeps
// working: context_for_key(key) hands it the verified TLS connection of the master that owns the key.
//
// usage: existing_hiredis_code --seed HOST:PORT --cacert FILE --hostname NAME
#include <addrmap/addrmap.hpp>

#include <hiredis/hiredis.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: existing_hiredis_code --seed HOST:PORT --cacert FILE --hostname NAME\n";

// ---- the application's existing hiredis code, unchanged: it knows nothing about clusters or addrmap ----

struct free_reply {
    void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using owned_reply = std::unique_ptr<redisReply, free_reply>;

bool save_user(redisContext* c, const std::string& key, const std::string& name) {
    owned_reply reply(static_cast<redisReply*>(redisCommand(c, "SET %s %s", key.c_str(), name.c_str())));
    return reply && reply->type == REDIS_REPLY_STATUS;
}

std::string load_user(redisContext* c, const std::string& key) {
    owned_reply reply(static_cast<redisReply*>(redisCommand(c, "GET %s", key.c_str())));
    return reply && reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : std::string();
}

// ---------------------------------------------------------------------------------------------------------

// The node table row of the connection `c` (hiredis keeps the dialed host and port in the context).
// The seed is skipped: it is the same server under the name it was given, with a connection of its own.
const addrmap::node_info* node_of(const std::vector<addrmap::node_info>& nodes, const redisContext* c) {
    for (const auto& node : nodes)
        if (node.role != addrmap::node_role::seed && node.connected && node.port == c->tcp.port &&
            node.dial_host == c->tcp.host)
            return &node;
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname"}, {}, usage);
    if (!flags) return 2;
    // Our own writes on these contexts go through OpenSSL's write(2): a dead peer would raise SIGPIPE.
    // addrmap guards only its own I/O, so a hiredis program ignores SIGPIPE as it always should.
    std::signal(SIGPIPE, SIG_IGN);

    try {
        addrmap::ip_to_hostname_cluster cluster(flags->options, addrmap::ip_to_hostname(flags->at("--hostname")));
        cluster.connect();

        std::set<const redisContext*> contexts;
        int saved = 0;
        for (int i = 0; i < 12; ++i) {
            const std::string key = "user:" + std::to_string(i);
            redisContext* c = cluster.context_for_key(key);  // do not redisFree it: the cluster owns it
            const std::string name = "name-" + std::to_string(i);
            const bool ok = save_user(c, key, name) && load_user(c, key) == name;
            const auto nodes = cluster.nodes();
            const addrmap::node_info* node = node_of(nodes, c);
            if (!ok || node == nullptr || !node->handshake) {
                std::cout << "FAILED: " << key << " did not round-trip on a verified connection\n";
                return 1;
            }
            // Print the first key of each connection: which node, and what its TLS handshake verified.
            if (contexts.insert(c).second) {
                std::cout << key << ": redisCommand on " << c->tcp.host << ":" << c->tcp.port << " (reported "
                          << addrmap::to_string(node->reported) << "), " << node->handshake->protocol << " "
                          << node->handshake->cipher << ", certificate verified for '" << node->tls_name << "'\n";
            }
            ++saved;
        }
        std::size_t masters = 0;
        for (const auto& node : cluster.nodes())
            if (node.role == addrmap::node_role::master && !node.slots.empty()) ++masters;
        if (contexts.size() != masters) {
            std::cout << "FAILED: the keys reached " << contexts.size() << " of " << masters << " masters\n";
            return 1;
        }
        std::cout << "OK: " << saved << " keys saved and loaded by plain hiredis calls on " << contexts.size()
                  << " verified TLS contexts, one per master\n";
        return 0;
    } catch (const addrmap::error& e) {
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }
}
