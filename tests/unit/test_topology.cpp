// tests/unit/test_topology.cpp — CLUSTER SLOTS / CLUSTER SHARDS / MOVED / ASK parsing, on replies
// captured from Redis 7.0.15 (tests/data/*.resp) and on hand-made malformed ones with exact messages.
#include <addrmap/topology.hpp>

#include "resp_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using addrmap::error;
using addrmap::error_kind;
using addrmap::node_address;
using addrmap::node_health;
using addrmap::port_preference;
using addrmap::redirect;
using addrmap::slot_range;
using addrmap::topology;
using namespace addrmap_test;

const std::string id_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string id_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const std::string id_c = "cccccccccccccccccccccccccccccccccccccccc";

// A CLUSTER SLOTS node and entry.
std::string slots_node(std::string_view host, long long port, std::string_view id) {
    return arr({bulk(host), num(port), bulk(id), arr({})});
}
std::string slots_entry(long long first, long long last, const std::string& master, const std::string& replicas = "",
                        std::size_t replica_count = 0) {
    return "*" + std::to_string(3 + replica_count) + "\r\n" + num(first) + num(last) + master + replicas;
}

// A CLUSTER SHARDS node (RESP2 flat key/value array) and shard.
std::string shards_node(std::string_view id, long long port, std::string_view role, std::string_view health = "online") {
    return arr({bulk("id"), bulk(id), bulk("port"), num(port), bulk("ip"), bulk("10.0.0.1"), bulk("endpoint"),
                bulk("10.0.0.1"), bulk("role"), bulk(role), bulk("replication-offset"), num(0), bulk("health"),
                bulk(health)});
}
std::string shards_shard(const std::string& slots, const std::string& nodes) {
    return arr({bulk("slots"), slots, bulk("nodes"), nodes});
}

topology slots_of(const std::string& resp) {
    auto reply = parse_resp(resp);
    return addrmap::parse_cluster_slots(reply.get());
}
topology shards_of(const std::string& resp, port_preference ports = port_preference::tls) {
    auto reply = parse_resp(resp);
    return addrmap::parse_cluster_shards(reply.get(), ports);
}
topology slots_file(const std::string& name) { return slots_of(read_data_file(name)); }
topology shards_file(const std::string& name, port_preference ports = port_preference::tls) {
    return shards_of(read_data_file(name), ports);
}

/// Shards in slot order, so replies listing them in different orders compare equal.
topology sorted(topology t) {
    std::sort(t.shards.begin(), t.shards.end(),
              [](const addrmap::shard& a, const addrmap::shard& b) { return a.ranges.front().first < b.ranges.front().first; });
    return t;
}

node_address addr(std::string host, std::uint16_t port, std::string hostname = "") {
    return node_address{std::move(host), port, std::move(hostname)};
}

/// Runs `parse` and returns what() of the addrmap::error it throws ("" if none, "<kind>" if another kind).
template <class Parse>
std::string failure_of(Parse parse, error_kind expected_kind = error_kind::protocol) {
    try {
        parse();
    } catch (const error& e) {
        if (e.kind() != expected_kind) return std::string("wrong kind: ") + e.what();
        return e.what();
    }
    return "";
}

struct malformed_case {
    const char* name;
    std::string resp;
    std::string message;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_topology)

// ---- captured replies -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cluster_slots_from_redis_7) {
    // 3 masters + 3 replicas; 29001 owns two ranges (10 slots were resharded to it), so two
    // entries merge into one shard. Every node announced a hostname (cluster-announce-hostname).
    const topology t = slots_file("cluster-slots-redis7.resp");
    BOOST_TEST_REQUIRE(t.shards.size() == 3u);
    BOOST_TEST(t.covered_slots() == 16384u);

    const addrmap::shard& first = t.shards[0];
    BOOST_TEST((first.master == addr("127.0.0.1", 29001, "node-1.redis.test")));
    BOOST_TEST(first.master_id == "4f5685ace399b14a264e3c4443727b1e79792032");
    BOOST_TEST((first.master_health == node_health::online));
    BOOST_TEST((first.ranges == std::vector<slot_range>{{0, 5460}, {10923, 10932}}));
    BOOST_TEST_REQUIRE(first.replicas.size() == 1u);
    BOOST_TEST((first.replicas[0] == addr("127.0.0.1", 29004, "node-4.redis.test")));

    BOOST_TEST((t.shards[1].master == addr("127.0.0.1", 29002, "node-2.redis.test")));
    BOOST_TEST((t.shards[1].ranges == std::vector<slot_range>{{5461, 10922}}));
    BOOST_TEST((t.shards[2].master == addr("127.0.0.1", 29003, "node-3.redis.test")));
    BOOST_TEST((t.shards[2].ranges == std::vector<slot_range>{{10933, 16383}}));
    BOOST_TEST((t.shards[2].replicas == std::vector<node_address>{addr("127.0.0.1", 29006, "node-6.redis.test")}));
}

BOOST_AUTO_TEST_CASE(cluster_shards_from_redis_7) {
    const topology t = shards_file("cluster-shards-redis7.resp");
    BOOST_TEST_REQUIRE(t.shards.size() == 3u);
    BOOST_TEST(t.covered_slots() == 16384u);
    const addrmap::shard* owner = t.owner_of(10925);
    BOOST_TEST_REQUIRE(owner != nullptr);
    BOOST_TEST((owner->master == addr("127.0.0.1", 29001, "node-1.redis.test")));
    BOOST_TEST((owner->ranges == std::vector<slot_range>{{0, 5460}, {10923, 10932}}));
    BOOST_TEST((owner->replicas == std::vector<node_address>{addr("127.0.0.1", 29004, "node-4.redis.test")}));
}

BOOST_AUTO_TEST_CASE(slots_and_shards_of_the_same_cluster_agree) {
    const char* pairs[][2] = {
        {"cluster-slots-redis7.resp", "cluster-shards-redis7.resp"},
        {"cluster-slots-redis7-resp3.resp", "cluster-shards-redis7-resp3.resp"},
        {"cluster-slots-hostname-endpoint.resp", "cluster-shards-hostname-endpoint.resp"},
        {"cluster-slots-unknown-endpoint.resp", "cluster-shards-unknown-endpoint.resp"},
        {"cluster-slots-after-failover.resp", "cluster-shards-after-failover.resp"},
        {"cluster-slots-tls-only.resp", "cluster-shards-tls-only.resp"},
    };
    for (const auto& pair : pairs) {
        BOOST_TEST_CONTEXT(pair[0] << " vs " << pair[1]) {
            BOOST_TEST((sorted(slots_file(pair[0])) == sorted(shards_file(pair[1]))));
        }
    }
}

BOOST_AUTO_TEST_CASE(resp3_replies_parse_like_resp2) {
    BOOST_TEST((slots_file("cluster-slots-redis7-resp3.resp") == slots_file("cluster-slots-redis7.resp")));
    BOOST_TEST((shards_file("cluster-shards-redis7-resp3.resp") == shards_file("cluster-shards-redis7.resp")));
}

BOOST_AUTO_TEST_CASE(preferred_endpoint_hostname) {
    // The endpoint is the announced hostname ("ip" moves to the metadata); node 5 announced
    // none, so Redis reports "?".
    const topology t = slots_file("cluster-slots-hostname-endpoint.resp");
    BOOST_TEST_REQUIRE(t.shards.size() == 3u);
    BOOST_TEST((t.shards[0].master == addr("node-1.redis.test", 29001, "node-1.redis.test")));
    BOOST_TEST((t.shards[0].master.kind() == addrmap::host_kind::name));
    BOOST_TEST_REQUIRE(t.shards[1].replicas.size() == 1u);
    BOOST_TEST((t.shards[1].replicas[0] == addr("?", 29005)));
    BOOST_TEST(!t.shards[1].replicas[0].host_known());
}

BOOST_AUTO_TEST_CASE(preferred_endpoint_unknown) {
    // CLUSTER SLOTS sends a nil endpoint, CLUSTER SHARDS an empty one: both are "unknown host".
    for (const topology& t : {slots_file("cluster-slots-unknown-endpoint.resp"),
                              shards_file("cluster-shards-unknown-endpoint.resp")}) {
        BOOST_TEST(t.shards.size() == 3u);
        for (const addrmap::shard& s : t.shards) {
            BOOST_TEST(s.master.host == "");
            BOOST_TEST(!s.master.host_known());
            BOOST_TEST(!s.master.hostname.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(after_failover) {
    // 29003 was killed and 29006 took over; CLUSTER SHARDS still lists 29003 (health "fail",
    // role master) in a shard without slots, which is dropped.
    const topology t = shards_file("cluster-shards-after-failover.resp");
    BOOST_TEST(t.shards.size() == 3u);
    const addrmap::shard* owner = t.owner_of(16383);
    BOOST_TEST_REQUIRE(owner != nullptr);
    BOOST_TEST((owner->master == addr("127.0.0.1", 29006, "node-6.redis.test")));
    BOOST_TEST(owner->replicas.empty());
}

BOOST_AUTO_TEST_CASE(tls_only_cluster_ports) {
    // Nodes started with --port 0: CLUSTER SHARDS sends no "port", only "tls-port". The replica
    // 29010 also has plaintext port 29000.
    const topology tls = shards_file("cluster-shards-tls-only.resp");
    BOOST_TEST_REQUIRE(tls.owner_of(0) != nullptr);
    BOOST_TEST(tls.owner_of(0)->master.port == 29007);
    BOOST_TEST((tls.owner_of(0)->replicas == std::vector<node_address>{addr("127.0.0.1", 29010)}));

    const topology plain = shards_file("cluster-shards-tls-only.resp", port_preference::plaintext);
    BOOST_TEST(plain.owner_of(0)->master.port == 29007);  // no plaintext port: falls back
    BOOST_TEST((plain.owner_of(0)->replicas == std::vector<node_address>{addr("127.0.0.1", 29000)}));

    // CLUSTER SLOTS picks the port for the connection it came on: over plaintext, the replica's
    // plaintext port, but the TLS port of TLS-only masters.
    const topology slots = slots_file("cluster-slots-plaintext-on-mixed-node.resp");
    BOOST_TEST(slots.owner_of(0)->master.port == 29007);
    BOOST_TEST((slots.owner_of(0)->replicas == std::vector<node_address>{addr("127.0.0.1", 29000)}));
}

// ---- hand-made valid replies --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(partial_coverage_and_owner_table) {
    const topology t = slots_of(arr({slots_entry(0, 100, slots_node("10.0.0.1", 7000, id_a)),
                                     slots_entry(200, 200, slots_node("10.0.0.2", 7001, id_b)),
                                     slots_entry(16383, 16383, slots_node("10.0.0.1", 7000, id_a))}));
    BOOST_TEST(t.shards.size() == 2u);
    BOOST_TEST(t.covered_slots() == 103u);
    const addrmap::slot_owner_table owners = t.slot_owners();
    BOOST_TEST(owners[0] == 0);
    BOOST_TEST(owners[100] == 0);
    BOOST_TEST(owners[101] == -1);
    BOOST_TEST(owners[200] == 1);
    BOOST_TEST(owners[16383] == 0);
    BOOST_TEST(t.owner_of(150) == nullptr);
    bool table_matches_lookup = true;
    for (std::size_t slot = 0; slot < addrmap::slot_count; ++slot) {
        const addrmap::shard* owner = t.owner_of(static_cast<std::uint16_t>(slot));
        const int index = owner ? static_cast<int>(owner - t.shards.data()) : -1;
        if (owners[slot] != index) table_matches_lookup = false;
    }
    BOOST_TEST(table_matches_lookup);
}

BOOST_AUTO_TEST_CASE(ranges_are_sorted_within_a_shard) {
    const topology t = shards_of(arr({shards_shard(arr({num(9000), num(9999), num(0), num(10)}),
                                                   arr({shards_node(id_a, 7000, "master")}))}));
    BOOST_TEST((t.shards.at(0).ranges == std::vector<slot_range>{{0, 10}, {9000, 9999}}));
}

BOOST_AUTO_TEST_CASE(old_servers_and_extra_fields) {
    // Redis 3: [ip, port] without ID: entries of the same address merge. Newer servers may add
    // node elements and metadata keys we do not know; they are ignored.
    const topology old = slots_of(arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000)})),
                                       slots_entry(2, 3, arr({bulk("10.0.0.1"), num(7000)}))}));
    BOOST_TEST(old.shards.size() == 1u);
    BOOST_TEST(old.shards[0].master_id == "");
    const topology newer = slots_of(arr({slots_entry(
        0, 1,
        arr({bulk("10.0.0.1"), num(7000), bulk(id_a),
             arr({bulk("future"), arr({num(1), arr({})}), bulk("hostname"), bulk("n1.example")}), bulk("extra")}))}));
    BOOST_TEST((newer.shards.at(0).master == addr("10.0.0.1", 7000, "n1.example")));
    const topology resp3_meta = slots_of(
        arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), bulk(id_a), map({bulk("hostname"), bulk("h")})}))}));
    BOOST_TEST(resp3_meta.shards.at(0).master.hostname == "h");
}

BOOST_AUTO_TEST_CASE(ipv6_and_unknown_hosts) {
    const topology t = slots_of(arr({slots_entry(0, 1, slots_node("::1", 7000, id_a), slots_node("", 7001, id_b), 1),
                                     slots_entry(2, 3, slots_node("?", 7002, id_c))}));
    BOOST_TEST((t.shards.at(0).master.kind() == addrmap::host_kind::ipv6));
    BOOST_TEST(t.shards.at(0).replicas.at(0).host == "");
    BOOST_TEST(t.shards.at(1).master.host == "?");
}

BOOST_AUTO_TEST_CASE(shards_master_and_replica_selection) {
    // Failed/loading replicas are dropped (like CLUSTER SLOTS); a failed master is kept but
    // marked; of two masters the online one wins; RESP3 maps are accepted.
    const topology t = shards_of(arr({shards_shard(
        arr({num(0), num(16383)}),
        arr({shards_node(id_a, 7000, "master", "fail"), shards_node(id_b, 7001, "replica", "loading"),
             shards_node(id_c, 7002, "replica", "online"), shards_node(id_c, 7003, "slave", "failed")}))}));
    BOOST_TEST((t.shards.at(0).master_health == node_health::failed));
    BOOST_TEST(t.shards[0].master.port == 7000);
    BOOST_TEST((t.shards[0].replicas == std::vector<node_address>{addr("10.0.0.1", 7002)}));

    const topology two = shards_of(arr({shards_shard(
        arr({num(0), num(16383)}), arr({shards_node(id_a, 7000, "master", "fail"), shards_node(id_b, 7001, "master")}))}));
    BOOST_TEST(two.shards.at(0).master_id == id_b);

    const topology resp3 = shards_of(arr({map({bulk("slots"), arr({num(5), num(6)}), bulk("nodes"),
                                               arr({map({bulk("id"), bulk(id_a), bulk("tls-port"), num(7443), bulk("ip"),
                                                         bulk("10.0.0.9"), bulk("role"), bulk("master")})})})}));
    BOOST_TEST((resp3.shards.at(0).master == addr("10.0.0.9", 7443)));  // no endpoint: ip
    BOOST_TEST((resp3.shards.at(0).ranges == std::vector<slot_range>{{5, 6}}));
}

BOOST_AUTO_TEST_CASE(no_slots_is_a_topology_error) {
    const char* slots_message =
        "addrmap: topology: CLUSTER SLOTS: the cluster has no slots assigned to any node (not set up yet? run "
        "CLUSTER ADDSLOTS or redis-cli --cluster create)";
    BOOST_TEST(failure_of([] { slots_of("*0\r\n"); }, error_kind::topology) == slots_message);
    BOOST_TEST(failure_of([] { shards_of(arr({shards_shard(arr({}), arr({shards_node(id_a, 7000, "master")}))})); },
                          error_kind::topology) ==
               "addrmap: topology: CLUSTER SHARDS: the cluster has no slots assigned to any node (not set up yet? run "
               "CLUSTER ADDSLOTS or redis-cli --cluster create)");
    BOOST_TEST(failure_of([] { slots_of("-ERR This instance has cluster support disabled\r\n"); },
                          error_kind::topology) ==
               "addrmap: topology: CLUSTER SLOTS failed: the server replied 'ERR This instance has cluster support "
               "disabled'");
}

// ---- malformed replies --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(malformed_cluster_slots) {
    const std::string ok_master = slots_node("10.0.0.1", 7000, id_a);
    const std::string ok_entry = slots_entry(0, 10, ok_master);
    const malformed_case cases[] = {
        {"not an array", ":1\r\n", "CLUSTER SLOTS: expected an array, got an integer"},
        {"nil reply", "*-1\r\n", "CLUSTER SLOTS: expected an array, got nil"},
        {"entry not an array", arr({ok_entry, bulk("x")}),
         "CLUSTER SLOTS entry #2: expected an array [start, end, master, replicas...], got a string"},
        {"entry too short", arr({arr({num(0), num(1)})}),
         "CLUSTER SLOTS entry #1: expected at least 3 elements (start, end, master), got 2"},
        {"start not an integer", arr({arr({bulk("0"), num(1), ok_master})}),
         "CLUSTER SLOTS entry #1: slot range start: expected an integer, got a string"},
        {"negative start", arr({slots_entry(-1, 1, ok_master)}),
         "CLUSTER SLOTS entry #1: slot range start -1 is outside 0..16383"},
        {"end past 16383", arr({slots_entry(0, 16384, ok_master)}),
         "CLUSTER SLOTS entry #1: slot range end 16384 is outside 0..16383"},
        {"end wraps to 0 as uint16", arr({slots_entry(0, 65536, ok_master)}),
         "CLUSTER SLOTS entry #1: slot range end 65536 is outside 0..16383"},
        {"huge start", arr({slots_entry(9223372036854775807LL, 1, ok_master)}),
         "CLUSTER SLOTS entry #1: slot range start 9223372036854775807 is outside 0..16383"},
        {"start > end", arr({ok_entry, slots_entry(11, 20, ok_master), slots_entry(5000, 4000, ok_master)}),
         "CLUSTER SLOTS entry #3: slot range 5000-4000 has start > end"},
        {"overlap", arr({slots_entry(0, 100, ok_master), slots_entry(50, 60, slots_node("10.0.0.2", 7001, id_b))}),
         "CLUSTER SLOTS entry #2: slot range 50-60 overlaps entry #1 at slot 50"},
        {"master not an array", arr({arr({num(0), num(1), bulk("10.0.0.1:7000")})}),
         "CLUSTER SLOTS entry #1 master: expected an array [host, port, id, metadata], got a string"},
        {"master too short", arr({slots_entry(0, 1, arr({bulk("10.0.0.1")}))}),
         "CLUSTER SLOTS entry #1 master: expected at least 2 elements (host, port), got 1"},
        {"host is an integer", arr({slots_entry(0, 1, arr({num(10), num(7000)}))}),
         "CLUSTER SLOTS entry #1 master: host: expected a string, got an integer"},
        {"host with a space", arr({slots_entry(0, 1, slots_node("bad host", 7000, id_a))}),
         "CLUSTER SLOTS entry #1 master: host 'bad host' is neither an IP address nor a valid DNS name: "
         "unexpected character ' '; expected letters, digits, '-', '_' or '.'"},
        {"host with control bytes", arr({slots_entry(0, 1, slots_node("a\r\nb", 7000, id_a))}),
         "CLUSTER SLOTS entry #1 master: host 'a\\x0d\\x0ab' is neither an IP address nor a valid DNS name: "
         "unexpected byte 0x0D; expected letters, digits, '-', '_' or '.'"},
        {"port 0", arr({slots_entry(0, 1, slots_node("10.0.0.1", 0, id_a))}),
         "CLUSTER SLOTS entry #1 master: port 0 is outside 1..65535"},
        {"port 65536", arr({slots_entry(0, 1, slots_node("10.0.0.1", 65536, id_a))}),
         "CLUSTER SLOTS entry #1 master: port 65536 is outside 1..65535"},
        {"port as string", arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), bulk("7000")}))}),
         "CLUSTER SLOTS entry #1 master: port: expected an integer, got a string"},
        {"replica port negative",
         arr({slots_entry(0, 1, ok_master, slots_node("10.0.0.1", 7001, id_b) + slots_node("10.0.0.1", -5, id_c), 2)}),
         "CLUSTER SLOTS entry #1 replica #2: port -5 is outside 1..65535"},
        {"id is an array", arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), arr({})}))}),
         "CLUSTER SLOTS entry #1 master: node id: expected a string, got an array"},
        {"odd metadata", arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), bulk(id_a), arr({bulk("hostname")})}))}),
         "CLUSTER SLOTS entry #1 master: metadata has 1 elements, but key/value pairs need an even number"},
        {"metadata not a map", arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), bulk(id_a), num(3)}))}),
         "CLUSTER SLOTS entry #1 master: expected metadata (an array of key/value pairs or a map), got an integer"},
        {"hostname not a string",
         arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), bulk(id_a), arr({bulk("hostname"), num(1)})}))}),
         "CLUSTER SLOTS entry #1 master: metadata hostname: expected a string, got an integer"},
        {"hostname invalid",
         arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), bulk(id_a), arr({bulk("hostname"), bulk("-x")})}))}),
         "CLUSTER SLOTS entry #1 master: hostname '-x' is neither an IP address nor a valid DNS name: a label may "
         "not start with '-'"},
        {"deep nesting", arr({arr({arr({arr({arr({arr({arr({num(1)})})})})})})}),
         "CLUSTER SLOTS entry #1: expected at least 3 elements (start, end, master), got 1"},
        {"same node, two addresses",
         arr({slots_entry(0, 1, ok_master), slots_entry(2, 3, slots_node("10.0.0.9", 7000, id_a))}),
         "CLUSTER SLOTS entry #2 master: node 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is reported as 10.0.0.9:7000 "
         "here but as 10.0.0.1:7000 in entry #1"},
        {"same address, two hostnames (no IDs)",
         arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000)})),
              slots_entry(2, 3, arr({bulk("10.0.0.1"), num(7000), nil(), arr({})}))}),
         "CLUSTER SLOTS entry #2 master: node id: expected a string, got nil"},
        {"same address, two hostnames",
         arr({slots_entry(0, 1, arr({bulk("10.0.0.1"), num(7000), bulk(""), arr({bulk("hostname"), bulk("a")})})),
              slots_entry(2, 3, arr({bulk("10.0.0.1"), num(7000), bulk(""), arr({bulk("hostname"), bulk("b")})}))}),
         "CLUSTER SLOTS entry #2 master: node '10.0.0.1 7000' is reported as 10.0.0.1:7000 (hostname b) here but as "
         "10.0.0.1:7000 (hostname a) in entry #1"},
        {"long text is cut", arr({slots_entry(0, 1, slots_node(std::string(300, 'x'), 7000, id_a))}),
         "CLUSTER SLOTS entry #1 master: host '" + std::string(160, 'x') +
             "...' (300 bytes) is neither an IP address nor a valid DNS name: name is longer than 253 characters"},
    };
    for (const malformed_case& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST(failure_of([&] { slots_of(c.resp); }) == "addrmap: protocol: " + c.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_cluster_shards) {
    const std::string ok_nodes = arr({shards_node(id_a, 7000, "master")});
    auto node_with = [](std::initializer_list<std::string> pairs) { return arr({shards_shard(arr({num(0), num(1)}), arr({arr(pairs)}))}); };
    const malformed_case cases[] = {
        {"not an array", bulk("x"), "CLUSTER SHARDS: expected an array, got a string"},
        {"shard not pairs", arr({num(1)}),
         "CLUSTER SHARDS shard #1: expected shard (an array of key/value pairs or a map), got an integer"},
        {"shard odd", arr({arr({bulk("slots")})}),
         "CLUSTER SHARDS shard #1: shard has 1 elements, but key/value pairs need an even number"},
        {"shard key not a string", arr({arr({num(1), num(2)})}), "CLUSTER SHARDS shard #1: key: expected a string, got an integer"},
        {"no slots", arr({arr({bulk("nodes"), ok_nodes})}), "CLUSTER SHARDS shard #1: has no 'slots'"},
        {"no nodes", arr({arr({bulk("slots"), arr({})})}), "CLUSTER SHARDS shard #1: has no 'nodes'"},
        {"slots not an array", arr({shards_shard(num(1), ok_nodes)}),
         "CLUSTER SHARDS shard #1: slots: expected an array, got an integer"},
        {"odd slots", arr({shards_shard(arr({num(1)}), ok_nodes)}),
         "CLUSTER SHARDS shard #1: slots has 1 elements, but start/end pairs need an even number"},
        {"start > end", arr({shards_shard(arr({num(0), num(5), num(10), num(9)}), ok_nodes)}),
         "CLUSTER SHARDS shard #1: slot range 10-9 has start > end"},
        {"overlap across shards",
         arr({shards_shard(arr({num(0), num(100)}), ok_nodes),
              shards_shard(arr({num(100), num(200)}), arr({shards_node(id_b, 7001, "master")}))}),
         "CLUSTER SHARDS shard #2: slot range 100-200 overlaps shard #1 at slot 100"},
        {"nodes not an array", arr({shards_shard(arr({num(0), num(1)}), bulk("x"))}),
         "CLUSTER SHARDS shard #1: nodes: expected an array, got a string"},
        {"no master", arr({shards_shard(arr({num(0), num(1)}), arr({shards_node(id_a, 7000, "replica")}))}),
         "CLUSTER SHARDS shard #1: owns slots but lists no node with role 'master'"},
        {"bad role", arr({shards_shard(arr({num(0), num(1)}), arr({shards_node(id_a, 7000, "boss")}))}),
         "CLUSTER SHARDS shard #1 node #1: role 'boss' is neither 'master' nor 'replica'"},
        {"no role", node_with({bulk("ip"), bulk("10.0.0.1"), bulk("port"), num(7000)}),
         "CLUSTER SHARDS shard #1 node #1: has no 'role'"},
        {"no port at all", node_with({bulk("ip"), bulk("10.0.0.1"), bulk("role"), bulk("master")}),
         "CLUSTER SHARDS shard #1 node #1: has neither 'port' nor 'tls-port'"},
        {"both ports 0", node_with({bulk("ip"), bulk("10.0.0.1"), bulk("port"), num(0), bulk("tls-port"), num(0), bulk("role"), bulk("master")}),
         "CLUSTER SHARDS shard #1 node #1: has neither 'port' nor 'tls-port'"},
        {"tls-port too big", node_with({bulk("tls-port"), num(70000)}),
         "CLUSTER SHARDS shard #1 node #1: tls-port 70000 is outside 1..65535"},
        {"no host", node_with({bulk("port"), num(7000), bulk("role"), bulk("master")}),
         "CLUSTER SHARDS shard #1 node #1: has neither 'endpoint' nor 'ip'"},
        {"endpoint not a string", node_with({bulk("endpoint"), nil()}),
         "CLUSTER SHARDS shard #1 node #1: endpoint: expected a string, got nil"},
        {"bad endpoint", node_with({bulk("endpoint"), bulk("a_b..c"), bulk("port"), num(1), bulk("role"), bulk("master")}),
         "CLUSTER SHARDS shard #1 node #1: endpoint 'a_b..c' is neither an IP address nor a valid DNS name: empty "
         "label (a leading dot or two dots in a row)"},
        {"bad hostname", node_with({bulk("hostname"), bulk("x y")}),
         "CLUSTER SHARDS shard #1 node #1: hostname 'x y' is neither an IP address nor a valid DNS name: "
         "unexpected character ' '; expected letters, digits, '-', '_' or '.'"},
        {"node not pairs", arr({shards_shard(arr({num(0), num(1)}), arr({num(5)}))}),
         "CLUSTER SHARDS shard #1 node #1: expected node (an array of key/value pairs or a map), got an integer"},
    };
    for (const malformed_case& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST(failure_of([&] { shards_of(c.resp); }) == "addrmap: protocol: " + c.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(null_reply_pointer) {
    BOOST_TEST(failure_of([] { addrmap::parse_cluster_slots(nullptr); }) == "addrmap: protocol: CLUSTER SLOTS: no reply");
    BOOST_TEST(failure_of([] { addrmap::parse_cluster_shards(nullptr); }) == "addrmap: protocol: CLUSTER SHARDS: no reply");
}

// Byte-flips and truncations of the captured replies: whatever hiredis accepts must either
// parse or throw addrmap::error — never crash, hang or throw anything else (run under ASan/UBSan).
BOOST_AUTO_TEST_CASE(mutated_captures_never_crash) {
    const char* files[] = {"cluster-slots-redis7.resp", "cluster-shards-redis7.resp", "cluster-shards-redis7-resp3.resp",
                           "cluster-slots-unknown-endpoint.resp", "cluster-shards-tls-only.resp"};
    std::mt19937 rng(12345);
    std::size_t parsed = 0, rejected = 0, unreadable = 0, other = 0;
    for (const char* file : files) {
        const std::string original = read_data_file(file);
        for (int round = 0; round < 400; ++round) {
            std::string bytes = original;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int f = 0; f < flips; ++f) {
                const std::size_t at = rng() % bytes.size();
                bytes[at] = "0123456789-*:$%?\r\n"[rng() % 18];
            }
            addrmap::detail::reply_ptr reply;
            try {
                reply = parse_resp(bytes);
            } catch (const std::runtime_error&) {
                ++unreadable;
                continue;
            }
            for (int which = 0; which < 2; ++which) {
                try {
                    if (which == 0) addrmap::parse_cluster_slots(reply.get());
                    else addrmap::parse_cluster_shards(reply.get());
                    ++parsed;
                } catch (const error&) {
                    ++rejected;
                } catch (...) {
                    ++other;
                }
            }
        }
    }
    BOOST_TEST(other == 0u);
    BOOST_TEST(rejected > 0u);
    BOOST_TEST_MESSAGE("mutations: parsed " << parsed << ", rejected " << rejected << ", unreadable " << unreadable);
}

// ---- MOVED / ASK --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(redirects) {
    struct valid_case {
        const char* text;
        redirect::kind type;
        unsigned slot;
        const char* host;
        unsigned port;
    };
    const valid_case cases[] = {
        {"MOVED 3999 127.0.0.1:6381", redirect::kind::moved, 3999, "127.0.0.1", 6381},
        {"ASK 3999 127.0.0.1:6381", redirect::kind::ask, 3999, "127.0.0.1", 6381},
        {"ASK 3999 ::1:7002", redirect::kind::ask, 3999, "::1", 7002},
        {"MOVED 1 2001:db8::1:7000", redirect::kind::moved, 1, "2001:db8::1", 7000},
        {"MOVED 0 [::1]:7000", redirect::kind::moved, 0, "::1", 7000},
        {"MOVED 3999 :6381", redirect::kind::moved, 3999, "", 6381},
        {"MOVED 3999 ?:6381", redirect::kind::moved, 3999, "?", 6381},
        {"MOVED 16383 node-3.redis.test:29003", redirect::kind::moved, 16383, "node-3.redis.test", 29003},
        {"MOVED 12182 :29003", redirect::kind::moved, 12182, "", 29003},  // seen with unknown-endpoint
        {"MOVED 00012 a:1", redirect::kind::moved, 12, "a", 1},
    };
    for (const valid_case& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            const std::optional<redirect> r = addrmap::parse_redirect(c.text);
            BOOST_TEST_REQUIRE(r.has_value());
            BOOST_TEST((r->type == c.type));
            BOOST_TEST(r->slot == c.slot);
            BOOST_TEST(r->target.host == c.host);
            BOOST_TEST(r->target.port == c.port);
            BOOST_TEST(r->target.hostname == "");
        }
    }
}

BOOST_AUTO_TEST_CASE(non_redirect_errors) {
    const char* texts[] = {"ERR foo",
                           "TRYAGAIN Multiple keys request during rehashing of slot",
                           "CLUSTERDOWN Hash slot not served",
                           "CROSSSLOT Keys in request don't hash to the same slot",
                           "MOVEDX 1 a:1",
                           "ASKING",
                           "moved 1 a:1",
                           "-MOVED 1 a:1",
                           ""};
    for (const char* text : texts) {
        BOOST_TEST_CONTEXT("'" << text << "'") { BOOST_TEST(!addrmap::parse_redirect(text).has_value()); }
    }
}

BOOST_AUTO_TEST_CASE(malformed_redirects) {
    struct bad_case {
        std::string text;
        std::string message;
    };
    const bad_case cases[] = {
        {"MOVED", "malformed MOVED redirect 'MOVED': expected 'MOVED <slot> <host>:<port>'"},
        {"ASK ", "malformed ASK redirect 'ASK ': expected 'ASK <slot> <host>:<port>'"},
        {"MOVED 3999", "malformed MOVED redirect 'MOVED 3999': expected 'MOVED <slot> <host>:<port>'"},
        {"MOVED 16384 a:1", "malformed MOVED redirect 'MOVED 16384 a:1': slot '16384' is not a number from 0 to 16383"},
        {"MOVED -1 a:1", "malformed MOVED redirect 'MOVED -1 a:1': slot '-1' is not a number from 0 to 16383"},
        {"ASK 999999 a:1", "malformed ASK redirect 'ASK 999999 a:1': slot '999999' is not a number from 0 to 16383"},
        {"MOVED  1 a:1", "malformed MOVED redirect 'MOVED  1 a:1': slot '' is not a number from 0 to 16383"},
        {"MOVED 1 127.0.0.1",
         "malformed MOVED redirect 'MOVED 1 127.0.0.1': target '127.0.0.1': expected ':port' (host:port)"},
        {"MOVED 1 127.0.0.1:0",
         "malformed MOVED redirect 'MOVED 1 127.0.0.1:0': target '127.0.0.1:0': port '0' is not a number from 1 to 65535"},
        {"ASK 1 a:65536", "malformed ASK redirect 'ASK 1 a:65536': target 'a:65536': port '65536' is not a number from 1 to 65535"},
        {"MOVED 1 a:1 extra",
         "malformed MOVED redirect 'MOVED 1 a:1 extra': target 'a:1 extra': port '1 extra' is not a number from 1 to 65535"},
        {"MOVED 1 bad host:1",
         "malformed MOVED redirect 'MOVED 1 bad host:1': target 'bad host:1': 'bad host' is neither an IP address nor a "
         "valid DNS name: unexpected character ' '; expected letters, digits, '-', '_' or '.'"},
        {"MOVED 1 1:2:3",
         "malformed MOVED redirect 'MOVED 1 1:2:3': target '1:2:3': '1:2' is not an IPv6 address"},
        {std::string("ASK 1 a\0b:1", 11),
         "malformed ASK redirect 'ASK 1 a\\x00b:1': target 'a\\x00b:1': 'a\\x00b' is neither an IP address nor a valid DNS "
         "name: unexpected byte 0x00; expected letters, digits, '-', '_' or '.'"},
    };
    for (const bad_case& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            BOOST_TEST(failure_of([&] { addrmap::parse_redirect(c.text); }) == "addrmap: protocol: " + c.message);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
