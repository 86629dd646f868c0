// tests/integration/cluster_hostile.cpp — a node that sends invalid topology or redirects over TLS: the adapter
// reports what was wrong, keeps its previous slot map, and keeps serving (what the fuzzers check offline).
#include "cluster_test_support.hpp"
#include "hostile_node.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/test/unit_test.hpp>

#include <netdb.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using slot_map = std::vector<std::pair<std::string, std::vector<addrmap::slot_range>>>;

template <class Cluster>
slot_map slot_map_of(const Cluster& cluster) {
    slot_map out;
    for (const addrmap::node_info& node : cluster.nodes())
        if (!node.slots.empty()) out.emplace_back(addrmap::to_string(node.reported), node.slots);
    return out;
}

std::string get(addrmap::ip_to_hostname_cluster& cluster, const char* key) {
    auto reply = cluster.command(key, "GET %s", key);
    return reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : std::string("<not a string>");
}

struct bad_reply {
    const char* what;
    std::string bytes;
    addrmap::error_kind kind;    // of the error inside the refresh failure
    const char* must_mention;    // the part of the message that says what was wrong
};

std::vector<bad_reply> bad_slots_replies(std::uint16_t port) {
    const std::string node = "*2\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(port) + "\r\n";
    using k = addrmap::error_kind;
    return {
        {"overlapping ranges", "*2\r\n*3\r\n:0\r\n:100\r\n" + node + "*3\r\n:50\r\n:16383\r\n" + node, k::protocol,
         "slot 50"},
        {"slot past 16383", "*1\r\n*3\r\n:0\r\n:99999\r\n" + node, k::protocol, "99999"},
        {"negative port", "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:-1\r\n", k::protocol, "-1"},
        {"not an array", "+OK\r\n", k::protocol, "status"},
        {"no slots", "*0\r\n", k::topology, "no slots"},
        {"node is a nested array", "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n*1\r\n:1\r\n:7000\r\n", k::protocol, "array"},
        {"host is not an address", "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$5\r\na b c\r\n:7000\r\n", k::protocol, "a b c"},
        {"error reply", "-ERR not today\r\n", k::server, "not today"},  // a refusal that would repeat
        {"bytes that are not RESP", "!!!\r\n", k::protocol, "unreadable reply"},
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_hostile)

BOOST_AUTO_TEST_CASE(invalid_topology_is_named_and_the_previous_slot_map_stays) {
    live::hostile_node node;
    const std::string seed = "localhost:" + std::to_string(node.port());
    addrmap::ip_to_hostname_cluster cluster(live::cluster_options({seed}), addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    BOOST_REQUIRE_EQUAL(cluster.command("k", "SET k %s", "kept")->type, REDIS_REPLY_STATUS);
    const slot_map before = slot_map_of(cluster);
    BOOST_REQUIRE_EQUAL(before.size(), 1u);
    BOOST_REQUIRE_EQUAL(before[0].first, "127.0.0.1:" + std::to_string(node.port()));

    for (const bad_reply& bad : bad_slots_replies(node.port())) {
        BOOST_TEST_CONTEXT(bad.what) {
            node.set_slots_reply(bad.bytes);
            const int asked = node.slots_requests();
            try {
                cluster.refresh();
                BOOST_ERROR("refresh accepted " << bad.what);
            } catch (const addrmap::error& e) {
                const std::string message = e.what();
                BOOST_TEST_MESSAGE(bad.what << " -> " << message);
                BOOST_TEST(e.kind() == addrmap::error_kind::topology);  // "could not refresh ... from any node"
                BOOST_TEST(message.find(std::string(to_string(bad.kind)) + ":") != std::string::npos, message);
                BOOST_TEST(message.find(bad.must_mention) != std::string::npos, message);
                BOOST_TEST(message.find("127.0.0.1:" + std::to_string(node.port())) != std::string::npos, message);
            }
            BOOST_TEST(node.slots_requests() > asked);  // the bad bytes really crossed the wire
            BOOST_TEST((slot_map_of(cluster) == before));
            BOOST_TEST(get(cluster, "k") == "kept");  // still routed by the previous map
        }
    }
    node.set_slots_reply(node.valid_slots_reply());
    BOOST_CHECK_NO_THROW(cluster.refresh());
    BOOST_TEST((slot_map_of(cluster) == before));
}

BOOST_AUTO_TEST_CASE(malformed_redirects_are_protocol_errors_quoting_the_text) {
    live::hostile_node node;
    addrmap::ip_to_hostname_cluster cluster(live::cluster_options({"localhost:" + std::to_string(node.port())}),
                                            addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    const slot_map before = slot_map_of(cluster);
    for (const char* redirect : {"MOVED 99999 127.0.0.1:7000", "ASK 12 [zz]:7000", "MOVED 12 127.0.0.1:0"}) {
        BOOST_TEST_CONTEXT(redirect) {
            node.set_get_reply("-" + std::string(redirect) + "\r\n");
            try {
                cluster.command("k", "GET k");
                BOOST_ERROR("a malformed redirect was followed");
            } catch (const addrmap::error& e) {
                BOOST_TEST(e.kind() == addrmap::error_kind::protocol);
                BOOST_TEST(std::string(e.what()).find(redirect) != std::string::npos, e.what());
            }
            BOOST_TEST((slot_map_of(cluster) == before));
        }
    }
    node.set_get_reply("");
    BOOST_TEST(get(cluster, "missing") == "<not a string>");  // nil: the node still answers
}

BOOST_AUTO_TEST_CASE(a_topology_with_an_unmappable_node_changes_nothing) {
    live::hostile_node node;
    const std::string self = "127.0.0.1:" + std::to_string(node.port());
    // The table knows only this node; on_miss::fail makes any other node unmappable.
    addrmap::static_table_cluster by_ip(live::cluster_options({self}),
                                        addrmap::static_table::parse(self + "=localhost", addrmap::on_miss::fail));
    by_ip.connect();
    const std::string low_key = "{" + live::tag_for_slot(5) + "}x";  // a slot the bad topology moves
    BOOST_REQUIRE_EQUAL(by_ip.command(low_key, "SET %s %s", low_key.c_str(), "kept")->type, REDIS_REPLY_STATUS);
    const slot_map before = slot_map_of(by_ip);

    // Valid RESP and a valid layout, but slots 0-99 now belong to 127.0.0.2:7000, which no entry maps.
    const std::string me = "*2\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(node.port()) + "\r\n";
    node.set_slots_reply("*2\r\n*3\r\n:0\r\n:99\r\n*2\r\n$9\r\n127.0.0.2\r\n:7000\r\n*3\r\n:100\r\n:16383\r\n" + me);
    try {
        by_ip.refresh();
        BOOST_ERROR("a topology with an unmappable node was installed");
    } catch (const addrmap::error& e) {
        BOOST_TEST(e.kind() == addrmap::error_kind::topology);
        BOOST_TEST(std::string(e.what()).find("no entry for 127.0.0.2:7000") != std::string::npos, e.what());
        BOOST_TEST(std::string(e.what()).find("reported by " + self + " in CLUSTER SLOTS") != std::string::npos, e.what());
    }
    BOOST_TEST((slot_map_of(by_ip) == before));
    // Still routed by the previous map: the slot's old owner answers.
    auto reply = by_ip.command(low_key, "GET %s", low_key.c_str());
    BOOST_REQUIRE_EQUAL(reply->type, REDIS_REPLY_STRING);
    BOOST_TEST(std::string(reply->str, reply->len) == "kept");
}

// ---- hostile hosts on the wire (issue 12): a second listener on 127.0.0.2 counts every TCP connection and
// every AUTH, so "nothing connected to it and no AUTH was sent" is measured, not assumed.
namespace {

using namespace std::string_literals;

constexpr const char* other_ip = "127.0.0.2";

/// The client of these tests: seeds by name, maps only 127.0.0.1 (to "localhost"), sends a password.
struct guarded_client {
    explicit guarded_client(const live::hostile_node& node)
        : cluster(options_for(node), addrmap::ip_to_hostname("localhost", addrmap::ip_to_hostname::mode::dial_hostname,
                                                             "127.0.0.1/32")) {}

    static addrmap::cluster_options options_for(const live::hostile_node& node) {
        addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node.port())});
        options.password = "not-for-strangers";
        options.deadline = std::chrono::milliseconds(2000);
        options.min_backoff = std::chrono::milliseconds(1);
        return options;
    }

    addrmap::ip_to_hostname_cluster cluster;
};

std::string get_value(addrmap::ip_to_hostname_cluster& cluster, const std::string& key) {
    auto reply = cluster.command(key, "GET %s", key.c_str());
    return reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : std::string("<not a string>");
}

struct hostile_host {
    const char* what;
    std::string host;          // raw bytes, as the node sends them
    addrmap::error_kind kind;  // protocol: the grammar refuses it; topology: the policy does
    const char* must_mention;  // how the message shows what was wrong
};

std::vector<hostile_host> hostile_hosts() {
    using k = addrmap::error_kind;
    return {
        {"NUL after an IP", "127.0.0.2\0"s, k::protocol, "'127.0.0.2\\x00'"},
        {"NUL then a name", "127.0.0.2\0.attacker.example.net"s, k::protocol, "unexpected byte 0x00"},
        {"escape sequence", "127.0.0.2\x1b[2J", k::protocol, "unexpected byte 0x1B"},
        {"control byte", "127.0.0.2\x01", k::protocol, "unexpected byte 0x01"},
        {"trailing space", "127.0.0.2 ", k::protocol, "unexpected character ' '"},
        {"zone id", "127.0.0.2%lo", k::protocol, "unexpected character '%'"},
        {"resolver's hex form of 127.0.0.2", "0x7f.0.0.2", k::protocol, "resolver reads as an IP address"},
        {"resolver's short form of 127.0.0.2", "127.2", k::protocol, "looks like an IPv4 address"},
        {"foreign name", "attacker.example.net", k::topology, "'attacker.example.net' is not an allowed name"},
        {"name the certificate carries, not allowed", "evil.redis.test", k::topology,
         "'evil.redis.test' is not an allowed name"},
        {"IP outside the only-list", other_ip, k::topology, "is outside that list"},
    };
}

/// Printable ASCII only (newlines allowed: refresh() lists one node per line).
bool printable(const std::string& message) {
    for (char c : message)
        if ((c < 0x20 && c != '\n') || c >= 0x7f) return false;
    return true;
}

/// What the first node's slot map looks like from the client.
template <class Cluster>
std::vector<std::string> node_table(const Cluster& cluster) {
    std::vector<std::string> out;
    for (const addrmap::node_info& node : cluster.nodes()) {
        std::string row = addrmap::to_string(node.reported) + " -> " + node.dial_host + ":" + std::to_string(node.port);
        for (const auto& r : node.slots) row += " " + std::to_string(r.first) + "-" + std::to_string(r.last);
        out.push_back(row);
    }
    return out;
}

}  // namespace

// The "0 connections, 0 AUTH" assertions below can fail: a client allowed to reach 127.0.0.2 does connect and
// authenticate there, and the counters see it.
BOOST_AUTO_TEST_CASE(the_second_listener_counts_a_legitimate_redirect) {
    BOOST_REQUIRE_MESSAGE(live::hostile_node::bindable(other_ip), "127.0.0.2 is not bindable here");
    live::hostile_node node;
    live::hostile_node other(other_ip);
    addrmap::cluster_options options = guarded_client::options_for(node);
    // Dial what is reported, verify "localhost": 127.0.0.2 is allowed.
    addrmap::ip_to_hostname_cluster cluster(
        options, addrmap::ip_to_hostname("localhost", addrmap::ip_to_hostname::mode::dial_ip_verify_hostname));
    cluster.connect();
    BOOST_TEST(node.auths() >= 1);
    BOOST_TEST(node.auths() == node.connections());  // every connection authenticated, once
    BOOST_TEST(other.connections() == 0);
    node.set_get_reply("-MOVED " + std::to_string(addrmap::key_slot("k")) + " " + other.address() + "\r\n");
    BOOST_TEST(get_value(cluster, "k") == "<not a string>");  // nil, from 127.0.0.2
    BOOST_TEST(other.connections() == 1);
    BOOST_TEST(other.auths() == 1);
    BOOST_TEST(cluster.stats().moved >= 1u);  // a refresh in between may hand the slot back once more
}

BOOST_AUTO_TEST_CASE(hostile_redirect_targets_reach_nothing_and_send_no_auth) {
    BOOST_REQUIRE_MESSAGE(live::hostile_node::bindable(other_ip), "127.0.0.2 is not bindable here");
    // The resolver really reads these "names" as 127.0.0.2: refusing them before DNS is what protects.
    for (const char* form : {"0x7f.0.0.2", "127.2"}) {
        addrinfo hints{};
        hints.ai_family = AF_INET;
        addrinfo* found = nullptr;
        BOOST_REQUIRE_EQUAL(::getaddrinfo(form, nullptr, &hints, &found), 0);
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
        ::freeaddrinfo(found);
        BOOST_TEST(std::string(text) == other_ip, form);
    }
    live::hostile_node node;
    live::hostile_node other(other_ip);
    guarded_client client(node);
    addrmap::ip_to_hostname_cluster& cluster = client.cluster;
    cluster.connect();
    BOOST_REQUIRE_EQUAL(cluster.command("k", "SET k %s", "kept")->type, REDIS_REPLY_STATUS);
    const auto before = node_table(cluster);
    const std::string sender = node.address();
    const std::string slot = std::to_string(addrmap::key_slot("k"));
    for (const hostile_host& bad : hostile_hosts()) {
        for (const char* verb : {"MOVED", "ASK"}) {
            BOOST_TEST_CONTEXT(verb << " to " << bad.what) {
                node.set_get_reply("-" + std::string(verb) + " " + slot + " " + bad.host + ":" +
                                   std::to_string(other.port()) + "\r\n");
                try {
                    (void)cluster.command("k", "GET k");
                    BOOST_ERROR("the redirect was followed");
                } catch (const addrmap::error& e) {
                    const std::string message = e.what();
                    BOOST_TEST_MESSAGE(message);
                    BOOST_TEST((e.kind() == bad.kind), message);
                    BOOST_TEST(message.find(bad.must_mention) != std::string::npos, message);
                    // Names the node that sent it, and how.
                    const std::string from = bad.kind == addrmap::error_kind::protocol
                                                 ? "reply from " + sender + ": malformed " + verb
                                                 : "reported by " + sender + " in " + verb;
                    BOOST_TEST(message.find(from) != std::string::npos, message);
                    BOOST_TEST(printable(message), message);
                }
                BOOST_TEST(other.connections() == 0);
                BOOST_TEST(other.auths() == 0);
                BOOST_TEST((node_table(cluster) == before));
                node.set_get_reply("");
                BOOST_TEST(get_value(cluster, "k") == "kept");  // the previous slot map still routes
            }
        }
    }
    node.set_set_reply("-MOVED " + slot + " attacker.example.net:" + std::to_string(other.port()) + "\r\n");
    BOOST_CHECK_THROW(cluster.command("k", "SET k %s", "v"), addrmap::error);
    node.set_set_reply("");
    BOOST_TEST(cluster.command("k", "SET k %s", "again")->type == REDIS_REPLY_STATUS);
    BOOST_TEST(get_value(cluster, "k") == "again");
    BOOST_TEST(node.auths() == node.connections());  // every connection to the approved node authenticated once
    BOOST_TEST(other.connections() == 0);
    BOOST_TEST(other.auths() == 0);
}

BOOST_AUTO_TEST_CASE(hostile_topology_hosts_reach_nothing_and_keep_the_slot_map) {
    BOOST_REQUIRE_MESSAGE(live::hostile_node::bindable(other_ip), "127.0.0.2 is not bindable here");
    for (const bool shards : {false, true}) {
        const char* command = shards ? "CLUSTER SHARDS" : "CLUSTER SLOTS";
        live::hostile_node node;
        live::hostile_node other(other_ip);
        if (shards) node.set_shards_reply(node.valid_shards_reply());
        guarded_client client(node);
        addrmap::ip_to_hostname_cluster& cluster = client.cluster;
        cluster.connect();
        const std::string low_key = "{" + live::tag_for_slot(5) + "}x";  // a slot the bad topology would move
        BOOST_REQUIRE_EQUAL(cluster.command(low_key, "SET %s %s", low_key.c_str(), "kept")->type, REDIS_REPLY_STATUS);
        const auto before = node_table(cluster);
        for (const hostile_host& bad : hostile_hosts()) {
            BOOST_TEST_CONTEXT(command << " naming " << bad.what) {
                const std::vector<live::hostile_node::owner> owners = {{0, 99, bad.host, other.port()},
                                                                       {100, 16383, node.ip(), node.port()}};
                if (shards)
                    node.set_shards_reply(live::hostile_node::shards_reply(owners));
                else
                    node.set_slots_reply(live::hostile_node::slots_reply(owners));
                try {
                    cluster.refresh();
                    BOOST_ERROR("the topology was installed");
                } catch (const addrmap::error& e) {
                    const std::string message = e.what();
                    BOOST_TEST_MESSAGE(message);
                    BOOST_TEST(message.find(std::string(to_string(bad.kind)) + ": ") != std::string::npos, message);
                    BOOST_TEST(message.find(bad.must_mention) != std::string::npos, message);
                    const std::string from = bad.kind == addrmap::error_kind::protocol
                                                 ? std::string(command) + " reply from " + node.address()
                                                 : "reported by " + node.address() + " in " + command;
                    BOOST_TEST(message.find(from) != std::string::npos, message);
                    BOOST_TEST(printable(message), message);
                }
                BOOST_TEST((node_table(cluster) == before));
                BOOST_TEST(get_value(cluster, low_key) == "kept");  // slot 5 still goes to the old owner
                BOOST_TEST(other.connections() == 0);
                BOOST_TEST(other.auths() == 0);
            }
        }
        // The first discovery is held to the same rules: a client that meets such a topology at connect()
        // fails naming the node, and dials nothing it reported.
        node.set_slots_reply(live::hostile_node::slots_reply({{0, 16383, "127.0.0.2\0"s, other.port()}}));
        node.set_shards_reply(shards ? live::hostile_node::shards_reply({{0, 16383, "127.0.0.2\0"s, other.port()}})
                                     : std::string());
        guarded_client fresh(node);
        try {
            fresh.cluster.connect();
            BOOST_ERROR("connect() accepted a topology naming 127.0.0.2\\0");
        } catch (const addrmap::error& e) {
            BOOST_TEST((e.kind() == addrmap::error_kind::protocol), e.what());
            // The seed, as the user named it, sent the reply.
            BOOST_TEST(std::string(e.what()).find("reply from localhost:" + std::to_string(node.port())) !=
                           std::string::npos,
                       e.what());
        }
        BOOST_TEST(other.connections() == 0);
        BOOST_TEST(other.auths() == 0);
    }
}

namespace {
std::atomic<int> sigpipes{0};
extern "C" void count_sigpipe(int) { sigpipes.fetch_add(1); }
}  // namespace

// With SIGPIPE at its default (fatal) action, a write to a node that closed its end must fail as a lost
// connection — through the adapter and through plain hiredis on context_for_key — and never raise SIGPIPE.
BOOST_AUTO_TEST_CASE(writes_to_a_node_that_went_away_raise_no_sigpipe) {
    struct sigaction counting {}, previous{};
    counting.sa_handler = &count_sigpipe;
    sigemptyset(&counting.sa_mask);
    BOOST_REQUIRE_EQUAL(sigaction(SIGPIPE, &counting, &previous), 0);
    sigpipes = 0;
    {
        std::optional<live::hostile_node> node;
        node.emplace();
        addrmap::cluster_options options = live::cluster_options({"localhost:" + std::to_string(node->port())});
        options.deadline = std::chrono::milliseconds(500);
        options.min_backoff = std::chrono::milliseconds(1);
        addrmap::ip_to_hostname_cluster cluster(options, addrmap::ip_to_hostname("localhost"));
        cluster.connect();
        redisContext* c = cluster.context_for_key("k");
        BOOST_REQUIRE(c != nullptr);
        node.reset();  // closes every connection the node accepted
        // Write without reading: the first write reaches the closed peer, which answers with a reset; a later
        // write then fails with EPIPE, the moment write(2) would raise SIGPIPE.
        bool write_failed = false;
        for (int attempt = 0; attempt < 20 && !write_failed; ++attempt) {
            BOOST_REQUIRE_EQUAL(redisAppendCommand(c, "SET k %s", "v"), REDIS_OK);
            int done = 0;
            while (!done && !write_failed) write_failed = redisBufferWrite(c, &done) != REDIS_OK;
            if (!write_failed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        BOOST_TEST(write_failed);
        BOOST_TEST(c->err == REDIS_ERR_IO);
        BOOST_TEST(std::string(c->errstr).find("pipe") != std::string::npos, c->errstr);  // "Broken pipe"
        BOOST_CHECK_THROW(cluster.command("k", "SET k %s", "v"), addrmap::error);
    }
    BOOST_TEST(sigpipes.load() == 0);
    sigaction(SIGPIPE, &previous, nullptr);
}

BOOST_AUTO_TEST_CASE(a_question_mark_host_is_an_unknown_node_never_dialed) {
    // Redis sends '?' for a node that announces hostnames but has none: "an unknown node, not necessarily the
    // same node as the one serving the current command". Dialing the reporter's host instead would reach the
    // wrong node (or a port that happens to listen there): `decoy` is that port, on the reporter's host, so a
    // client that dialed it would be seen.
    live::hostile_node node;
    live::hostile_node decoy(node.ip().c_str());
    const std::string unknown = "?:" + std::to_string(decoy.port());
    addrmap::ip_to_hostname_cluster cluster(live::cluster_options({"localhost:" + std::to_string(node.port())}),
                                            addrmap::ip_to_hostname("localhost"));
    cluster.connect();
    BOOST_REQUIRE_EQUAL(cluster.command("k", "SET k %s", "kept")->type, REDIS_REPLY_STATUS);
    const slot_map before = slot_map_of(cluster);
    // A master reported as '?': the view is refused, naming the node and the fix.
    node.set_slots_reply(live::hostile_node::slots_reply({{0, 99, "?", decoy.port()}, {100, 16383, node.ip(), node.port()}}));
    try {
        cluster.refresh();
        BOOST_ERROR("a view with a '?' master was installed");
    } catch (const addrmap::error& e) {
        const std::string what = e.what();
        BOOST_TEST(e.kind() == addrmap::error_kind::topology);
        BOOST_TEST(what.find(unknown) != std::string::npos, what);
        BOOST_TEST(what.find("cluster-announce-hostname") != std::string::npos, what);
    }
    BOOST_TEST(node.slots_requests() > 0);  // the '?' crossed the wire
    BOOST_TEST((slot_map_of(cluster) == before));
    // A MOVED to '?': the call fails as not run; nothing is dialed for it. (Counted from here: the refused refresh
    // above may dial the seed, whose connection closed once the first view was installed.)
    const int accepted = node.connections();
    node.set_slots_reply(node.valid_slots_reply());
    node.set_get_reply("-MOVED " + std::to_string(addrmap::key_slot("k")) + " " + unknown + "\r\n");
    try {
        cluster.command("k", "GET k");
        BOOST_ERROR("a MOVED to '?' was followed");
    } catch (const addrmap::error& e) {
        const std::string what = e.what();
        BOOST_TEST(e.kind() == addrmap::error_kind::topology);
        BOOST_TEST(what.find("cluster-announce-hostname") != std::string::npos, what);
        BOOST_TEST(what.find("MOVED") != std::string::npos, what);
    }
    BOOST_TEST(node.connections() == accepted);  // no new connection to the reporter
    BOOST_TEST(decoy.connections() == 0);        // nor to the reporter's host at the '?' port: '?' was never dialed
    node.set_get_reply("");
    BOOST_TEST(get(cluster, "k") == "kept");
}

BOOST_AUTO_TEST_SUITE_END()
