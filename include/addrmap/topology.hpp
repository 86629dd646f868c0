// addrmap/topology.hpp — turns CLUSTER SLOTS / CLUSTER SHARDS replies and MOVED/ASK errors into data.
// No I/O: every byte is treated as hostile, so bad input throws error{protocol} naming where it was.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/handles.hpp>  // <hiredis/hiredis.h>, included warning-free
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace addrmap {

/// Slots first..last, both inclusive (as Redis reports them).
struct slot_range {
    std::uint16_t first = 0;
    std::uint16_t last = 0;

    std::size_t size() const noexcept { return last >= first ? std::size_t{last} - first + 1 : 0; }
    bool contains(std::uint16_t slot) const noexcept { return first <= slot && slot <= last; }

    friend bool operator==(const slot_range& a, const slot_range& b) noexcept {
        return a.first == b.first && a.last == b.last;
    }
    friend bool operator!=(const slot_range& a, const slot_range& b) noexcept { return !(a == b); }
};

/// Health of a node as CLUSTER SHARDS reports it. CLUSTER SLOTS reports none (it leaves out
/// failed replicas), so nodes from it are `online`.
enum class node_health {
    online,
    failed,   ///< "fail" (what Redis 7.0 sends) or "failed" (what its documentation says)
    loading,  ///< a replica still doing its initial sync
    unknown,  ///< a value this version does not know
};

/// One master, the slots it serves and its usable replicas.
struct shard {
    std::vector<slot_range> ranges;      ///< sorted, non-overlapping, never empty
    node_address master;
    std::string master_id;               ///< node ID; empty when the server did not send one
    node_health master_health = node_health::online;
    std::vector<node_address> replicas;  ///< online replicas only, as CLUSTER SLOTS lists them
    /// replica_ids[i] is replicas[i]'s node ID: what tells two replicas reported as "?" at one port apart. Empty
    /// entries, or fewer than replicas (a hand-built topology), where the server sent none: see replica_id().
    std::vector<std::string> replica_ids;

    /// The node ID of replicas[index], or "" when none is known.
    std::string_view replica_id(std::size_t index) const noexcept {
        return index < replica_ids.size() ? std::string_view(replica_ids[index]) : std::string_view();
    }

    friend bool operator==(const shard& a, const shard& b) noexcept {
        return a.ranges == b.ranges && a.master == b.master && a.master_id == b.master_id &&
               a.master_health == b.master_health && a.replicas == b.replicas && a.replica_ids == b.replica_ids;
    }
    friend bool operator!=(const shard& a, const shard& b) noexcept { return !(a == b); }
};

/// For each slot, the index of the owning shard in `topology::shards`, or -1 when uncovered.
using slot_owner_table = std::array<std::int16_t, slot_count>;

/// The cluster layout from one reply. Parsed topologies have at least one slot, and no slot is
/// claimed twice; slots may be uncovered (a cluster being set up or resharded).
struct topology {
    std::vector<shard> shards;

    /// Number of slots some shard owns (16384 when the cluster is fully covered).
    std::size_t covered_slots() const noexcept {
        std::size_t count = 0;
        for (const shard& s : shards)
            for (const slot_range& r : s.ranges) count += r.size();
        return count;
    }

    /// Slot → shard index table, for O(1) routing. Ranges past slot 16383 are clipped; if two
    /// shards claim a slot (only possible in a hand-built topology) the first one wins.
    slot_owner_table slot_owners() const noexcept {
        slot_owner_table owners;
        owners.fill(-1);
        constexpr std::size_t max_shards = 32767;  // what an int16_t index can name
        const std::size_t count = std::min(shards.size(), max_shards);
        for (std::size_t index = 0; index < count; ++index) {
            for (const slot_range& r : shards[index].ranges) {
                for (std::size_t slot = r.first; slot <= r.last && slot < slot_count; ++slot)
                    if (owners[slot] < 0) owners[slot] = static_cast<std::int16_t>(index);
            }
        }
        return owners;
    }

    /// The shard owning `slot`, or nullptr. Linear in the number of ranges; use slot_owners()
    /// when routing many commands.
    const shard* owner_of(std::uint16_t slot) const noexcept {
        for (const shard& s : shards)
            for (const slot_range& r : s.ranges)
                if (r.contains(slot)) return &s;
        return nullptr;
    }

    friend bool operator==(const topology& a, const topology& b) noexcept { return a.shards == b.shards; }
    friend bool operator!=(const topology& a, const topology& b) noexcept { return !(a == b); }
};

/// A MOVED or ASK error reply, parsed.
struct redirect {
    enum class kind { moved, ask };
    kind type = kind::moved;
    std::uint16_t slot = 0;
    node_address target;  ///< host may be "" or "?" (unknown: the node that sent the redirect)
};

/// Which port to take from CLUSTER SHARDS, which lists `port` (plaintext) and `tls-port`
/// separately. CLUSTER SLOTS has one port, chosen by the server for the connection it came on.
enum class port_preference {
    tls,        ///< tls-port, else port (a TLS client: what addrmap is for)
    plaintext,  ///< port, else tls-port
};

namespace detail {

/// "host:port" plus the announced hostname, escaped, for messages about reported nodes.
inline std::string describe(const node_address& address) {
    std::string out = escaped(to_string(address), 300);
    if (!address.hostname.empty()) out += " (hostname " + escaped(address.hostname, 300) + ")";
    return out;
}

/// Human name of a hiredis reply type, for "expected X, got Y".
inline const char* reply_type_name(int type) noexcept {
    switch (type) {
        case REDIS_REPLY_STRING: return "a string";
        case REDIS_REPLY_ARRAY: return "an array";
        case REDIS_REPLY_INTEGER: return "an integer";
        case REDIS_REPLY_NIL: return "nil";
        case REDIS_REPLY_STATUS: return "a status";
        case REDIS_REPLY_ERROR: return "an error";
        case REDIS_REPLY_DOUBLE: return "a double";
        case REDIS_REPLY_BOOL: return "a boolean";
        case REDIS_REPLY_MAP: return "a map";
        case REDIS_REPLY_SET: return "a set";
        case REDIS_REPLY_ATTR: return "an attribute";
        case REDIS_REPLY_PUSH: return "a push";
        case REDIS_REPLY_BIGNUM: return "a bignum";
        case REDIS_REPLY_VERB: return "a verbatim string";
        default: return "an unknown reply type";
    }
}

/// Where in a reply we are, turned into text only when something is wrong (no allocation on
/// the happy path). Numbers are 1-based, as redis-cli shows them.
struct reply_location {
    const char* command = "";        ///< "CLUSTER SLOTS"
    const char* item_name = nullptr; ///< "entry" / "shard"
    std::size_t item = 0;
    const char* node_name = nullptr; ///< "master" / "replica" / "node"
    std::size_t node = 0;            ///< 0: no number ("master")

    std::string describe() const {
        std::string out = command;
        if (item_name) out += std::string(" ") + item_name + " #" + std::to_string(item);
        if (node_name) {
            out += std::string(" ") + node_name;
            if (node != 0) out += " #" + std::to_string(node);
        }
        return out;
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw error(error_kind::protocol, describe() + ": " + what);
    }

    /// At the reply's element `index` (0-based), in none of its nodes yet.
    void enter_item(std::size_t index) noexcept {
        item = index + 1;
        leave_node();
    }
    /// Back at the item itself, out of its node.
    void leave_node() noexcept {
        node_name = nullptr;
        node = 0;
    }
};

inline bool is_string_reply(const redisReply* r) noexcept {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/// Children of an array/map/set, checked so that a null `element` with a non-zero count
/// (never made by hiredis, but cheap to refuse) cannot crash us.
inline const redisReply* child(const redisReply* r, std::size_t index, const reply_location& at) {
    if (r->element == nullptr || r->element[index] == nullptr) at.fail("reply element is missing (null)");
    return r->element[index];
}

inline std::string_view string_of(const redisReply* r) noexcept {
    if (r->str == nullptr) return {};
    return std::string_view(r->str, r->len);
}

inline std::string_view expect_string(const redisReply* r, const reply_location& at, const char* field) {
    if (!is_string_reply(r)) at.fail(std::string(field) + ": expected a string, got " + reply_type_name(r->type));
    return string_of(r);
}

inline long long expect_integer(const redisReply* r, const reply_location& at, const char* field) {
    if (r->type != REDIS_REPLY_INTEGER)
        at.fail(std::string(field) + ": expected an integer, got " + reply_type_name(r->type));
    return r->integer;
}

inline void expect_flat_pairs(const redisReply* r, const reply_location& at, const char* what) {
    if (r->type != REDIS_REPLY_ARRAY && r->type != REDIS_REPLY_MAP)
        at.fail(std::string("expected ") + what + " (an array of key/value pairs or a map), got " +
                reply_type_name(r->type));
    if (r->elements % 2 != 0)
        at.fail(std::string(what) + " has " + std::to_string(r->elements) +
                " elements, but key/value pairs need an even number");
}

inline std::uint16_t expect_slot(const redisReply* r, const reply_location& at, const char* field) {
    const long long value = expect_integer(r, at, field);
    if (value < 0 || value >= static_cast<long long>(slot_count))
        at.fail(std::string(field) + " " + std::to_string(value) + " is outside 0..16383");
    return static_cast<std::uint16_t>(value);
}

inline slot_range expect_range(const redisReply* first, const redisReply* last, const reply_location& at) {
    slot_range range;
    range.first = expect_slot(first, at, "slot range start");
    range.last = expect_slot(last, at, "slot range end");
    if (range.first > range.last)
        at.fail("slot range " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                " has start > end");
    return range;
}

/// A reported port: 1..65535, or 0 when `zero_means_absent` (CLUSTER SHARDS uses 0 for "none").
inline std::uint16_t expect_port(const redisReply* r, const reply_location& at, const char* field,
                                 bool zero_means_absent) {
    const long long value = expect_integer(r, at, field);
    if ((value == 0 && zero_means_absent) || (value >= 1 && value <= 65535)) return static_cast<std::uint16_t>(value);
    at.fail(std::string(field) + " " + std::to_string(value) + " is outside 1..65535");
}

/// A reported host: "" / "?" (unknown), an IP address (IPv6 unbracketed) or a DNS name: whatever
/// classify_host calls invalid (NUL, control bytes, spaces, zone ids, ...) fails the whole reply.
inline void check_reported_host(std::string_view host, const reply_location& at, const char* field) {
    if (classify_host(host) == host_kind::invalid)
        at.fail(std::string(field) + " " + invalid_host_message(host));
}

/// An announced hostname: empty (none), or a DNS name or IP address by the same grammar.
inline void check_announced_hostname(std::string_view hostname, const reply_location& at) {
    if (hostname.empty()) return;
    const host_kind kind = classify_host(hostname);
    if (kind == host_kind::unknown || kind == host_kind::invalid)
        at.fail("hostname " + (kind == host_kind::unknown ? quoted(hostname) + " is not a valid DNS name"
                                                            : invalid_host_message(hostname)));
}

/// Records which entry/shard claimed each slot so overlaps name both culprits.
class slot_claims {
public:
    slot_claims() : claimed_by_(slot_count, 0) {}

    void claim(slot_range range, std::size_t item, const reply_location& at) {
        for (std::size_t slot = range.first; slot <= range.last; ++slot) {
            if (claimed_by_[slot] != 0)
                at.fail("slot range " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                        " overlaps " + at.item_name + " #" + std::to_string(claimed_by_[slot]) + " at slot " +
                        std::to_string(slot));
            claimed_by_[slot] = item;
        }
        any_ = true;
    }
    bool any() const noexcept { return any_; }

private:
    std::vector<std::size_t> claimed_by_;  // 1-based item number, 0 = free
    bool any_ = false;
};

inline void finish_topology(topology& result, const slot_claims& claims, const char* command) {
    if (!claims.any())
        throw error(error_kind::topology, std::string(command) +
                                              ": the cluster has no slots assigned to any node "
                                              "(not set up yet? run CLUSTER ADDSLOTS or redis-cli --cluster create)");
    for (shard& s : result.shards)
        std::sort(s.ranges.begin(), s.ranges.end(),
                  [](const slot_range& a, const slot_range& b) { return a.first < b.first; });
}

/// One node of a CLUSTER SLOTS entry: [host, port, id?, metadata?, ...ignored].
inline void parse_slots_node(const redisReply* r, const reply_location& at, node_address& out, std::string& id) {
    if (r->type != REDIS_REPLY_ARRAY)
        at.fail(std::string("expected an array [host, port, id, metadata], got ") + reply_type_name(r->type));
    if (r->elements < 2)
        at.fail("expected at least 2 elements (host, port), got " + std::to_string(r->elements));

    // The preferred endpoint: an IP, the announced hostname, "?" (hostname preferred but not
    // set), "" (own IP not known yet) or nil (cluster-preferred-endpoint-type unknown-endpoint).
    const redisReply* host = child(r, 0, at);
    if (host->type == REDIS_REPLY_NIL) {
        out.host.clear();
    } else {
        const std::string_view text = expect_string(host, at, "host");
        check_reported_host(text, at, "host");
        out.host.assign(text.data(), text.size());
    }
    out.port = expect_port(child(r, 1, at), at, "port", false);
    out.hostname.clear();
    id.clear();
    if (r->elements >= 3) {
        const std::string_view text = expect_string(child(r, 2, at), at, "node id");
        id.assign(text.data(), text.size());
    }
    bool ip_announced = false;
    if (r->elements >= 4) {  // Redis 7: {"hostname": ..., "ip": ...}, a flat array in RESP2
        const redisReply* meta = child(r, 3, at);
        expect_flat_pairs(meta, at, "metadata");
        for (std::size_t i = 0; i < meta->elements; i += 2) {
            const std::string_view key = expect_string(child(meta, i, at), at, "metadata key");
            const redisReply* value = child(meta, i + 1, at);
            if (key == "hostname") {
                const std::string_view text = expect_string(value, at, "metadata hostname");
                check_announced_hostname(text, at);
                out.hostname.assign(text.data(), text.size());
            } else if (key == "ip") {
                // Sent when the endpoint is not the IP. node_address has no field for it: the
                // endpoint is what MOVED/ASK name, so it is what we match and map.
                check_reported_host(expect_string(value, at, "metadata ip"), at, "metadata ip");
                ip_announced = true;
            }  // other keys: newer servers; ignored
        }
    }
    // With cluster-preferred-endpoint-type hostname the endpoint *is* the announced hostname
    // and no separate "hostname" is sent; record it so SLOTS and SHARDS agree.
    if (ip_announced && out.hostname.empty() && out.kind() == host_kind::name) out.hostname = out.host;
}

inline node_health health_from_text(std::string_view text) noexcept {
    if (text == "online") return node_health::online;
    if (text == "fail" || text == "failed") return node_health::failed;
    if (text == "loading") return node_health::loading;
    return node_health::unknown;
}

/// One node of a CLUSTER SHARDS shard.
struct shards_node {
    node_address address;
    std::string id;
    bool is_master = false;
    node_health health = node_health::online;
};

inline shards_node parse_shards_node(const redisReply* r, const reply_location& at, port_preference ports) {
    expect_flat_pairs(r, at, "node");
    shards_node node;
    std::optional<std::string_view> endpoint, ip, role;
    std::uint16_t port = 0, tls_port = 0;
    for (std::size_t i = 0; i < r->elements; i += 2) {
        const std::string_view key = expect_string(child(r, i, at), at, "key");
        const redisReply* value = child(r, i + 1, at);
        if (key == "id") {
            const std::string_view text = expect_string(value, at, "id");
            node.id.assign(text.data(), text.size());
        } else if (key == "port") {
            port = expect_port(value, at, "port", true);
        } else if (key == "tls-port") {
            tls_port = expect_port(value, at, "tls-port", true);
        } else if (key == "ip") {
            ip = expect_string(value, at, "ip");
        } else if (key == "endpoint") {
            endpoint = expect_string(value, at, "endpoint");
        } else if (key == "hostname") {
            const std::string_view text = expect_string(value, at, "hostname");
            check_announced_hostname(text, at);
            node.address.hostname.assign(text.data(), text.size());
        } else if (key == "role") {
            role = expect_string(value, at, "role");
        } else if (key == "health") {
            node.health = health_from_text(expect_string(value, at, "health"));
        }  // replication-offset and newer keys: not needed for routing
    }
    const std::optional<std::string_view> host = endpoint ? endpoint : ip;
    if (!host) at.fail("has neither 'endpoint' nor 'ip'");
    check_reported_host(*host, at, endpoint ? "endpoint" : "ip");
    if (endpoint && ip) check_reported_host(*ip, at, "ip");
    node.address.host.assign(host->data(), host->size());

    // A TLS-only node (port 0) sends no "port" at all; a plaintext-only node no "tls-port".
    if (ports == port_preference::tls)
        node.address.port = tls_port != 0 ? tls_port : port;
    else
        node.address.port = port != 0 ? port : tls_port;
    if (node.address.port == 0) at.fail("has neither 'port' nor 'tls-port'");

    if (!role) at.fail("has no 'role'");
    if (*role == "master") {
        node.is_master = true;
    } else if (*role != "replica" && *role != "slave") {
        at.fail("role " + quoted(*role) + " is neither 'master' nor 'replica'");
    }
    return node;
}

/// The checks both parsers start with: a reply, not an error reply (the server refused: a topology
/// problem), and an array. Returns the location used to name later problems.
inline reply_location check_top_level(const redisReply* reply, const char* command) {
    reply_location at;
    at.command = command;
    if (reply == nullptr) at.fail("no reply");
    if (reply->type == REDIS_REPLY_ERROR)
        throw error(error_kind::topology, std::string(command) + " failed: the server replied " +
                                              quoted(string_of(reply)));
    if (reply->type != REDIS_REPLY_ARRAY) at.fail(std::string("expected an array, got ") + reply_type_name(reply->type));
    return at;
}

}  // namespace detail

/// Parses a CLUSTER SLOTS reply (RESP2 or RESP3): one entry per slot range,
/// [start, end, [host, port, id, metadata], replicas...]. Entries of the same master (same
/// node ID, or same address when IDs are absent) are merged into one shard. Throws
/// error{protocol} for anything malformed, error{topology} when no slot is assigned.
inline topology parse_cluster_slots(const redisReply* reply) {
    static constexpr const char* command = "CLUSTER SLOTS";
    detail::reply_location at = detail::check_top_level(reply, command);

    topology result;
    detail::slot_claims claims;
    // master's node ID (or "host:port" without IDs) → {shard index, entry that introduced it}
    std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> shard_by_master;
    node_address master;
    std::string master_id, replica_id;
    at.item_name = "entry";
    for (std::size_t index = 0; index < reply->elements; ++index) {
        at.enter_item(index);
        const redisReply* entry = detail::child(reply, index, at);
        if (entry->type != REDIS_REPLY_ARRAY)
            at.fail(std::string("expected an array [start, end, master, replicas...], got ") +
                    detail::reply_type_name(entry->type));
        if (entry->elements < 3)
            at.fail("expected at least 3 elements (start, end, master), got " + std::to_string(entry->elements));
        const slot_range range = detail::expect_range(detail::child(entry, 0, at), detail::child(entry, 1, at), at);
        claims.claim(range, at.item, at);

        at.node_name = "master";
        detail::parse_slots_node(detail::child(entry, 2, at), at, master, master_id);
        std::string key = master_id.empty() ? master.host + ' ' + std::to_string(master.port) : master_id;
        const auto [found, inserted] =
            shard_by_master.try_emplace(std::move(key), std::make_pair(result.shards.size(), at.item));
        if (!inserted) {
            shard& existing = result.shards[found->second.first];
            if (existing.master != master)
                at.fail("node " + detail::quoted(found->first) + " is reported as " + detail::describe(master) +
                        " here but as " + detail::describe(existing.master) + " in entry #" +
                        std::to_string(found->second.second));
            existing.ranges.push_back(range);
            continue;  // replicas were taken from the master's first entry
        }
        shard& created = result.shards.emplace_back();
        created.ranges.push_back(range);
        created.master = master;
        created.master_id = master_id;
        at.node_name = "replica";
        for (std::size_t r = 3; r < entry->elements; ++r) {
            at.node = r - 2;
            node_address replica;
            detail::parse_slots_node(detail::child(entry, r, at), at, replica, replica_id);
            created.replicas.push_back(std::move(replica));
            created.replica_ids.push_back(replica_id);
        }
    }
    detail::finish_topology(result, claims, command);
    return result;
}

/// Parses a CLUSTER SHARDS reply (Redis 7; RESP2 key/value arrays or RESP3 maps). Shards that
/// own no slots (e.g. a failed master after failover) are left out; failed or loading
/// replicas are left out, like CLUSTER SLOTS does; the master's health is kept. If a shard
/// lists several masters, the first online one is used. Throws like parse_cluster_slots.
inline topology parse_cluster_shards(const redisReply* reply, port_preference ports = port_preference::tls) {
    static constexpr const char* command = "CLUSTER SHARDS";
    detail::reply_location at = detail::check_top_level(reply, command);

    topology result;
    detail::slot_claims claims;
    at.item_name = "shard";
    for (std::size_t index = 0; index < reply->elements; ++index) {
        at.enter_item(index);
        const redisReply* entry = detail::child(reply, index, at);
        detail::expect_flat_pairs(entry, at, "shard");
        const redisReply* slots = nullptr;
        const redisReply* nodes = nullptr;
        for (std::size_t i = 0; i < entry->elements; i += 2) {
            const std::string_view key = detail::expect_string(detail::child(entry, i, at), at, "key");
            if (key == "slots") slots = detail::child(entry, i + 1, at);
            else if (key == "nodes") nodes = detail::child(entry, i + 1, at);
        }
        if (slots == nullptr) at.fail("has no 'slots'");
        if (nodes == nullptr) at.fail("has no 'nodes'");
        if (slots->type != REDIS_REPLY_ARRAY)
            at.fail(std::string("slots: expected an array, got ") + detail::reply_type_name(slots->type));
        if (slots->elements % 2 != 0)
            at.fail("slots has " + std::to_string(slots->elements) + " elements, but start/end pairs need an even number");
        if (nodes->type != REDIS_REPLY_ARRAY)
            at.fail(std::string("nodes: expected an array, got ") + detail::reply_type_name(nodes->type));

        shard parsed;
        for (std::size_t i = 0; i < slots->elements; i += 2) {
            const slot_range range = detail::expect_range(detail::child(slots, i, at), detail::child(slots, i + 1, at), at);
            claims.claim(range, at.item, at);
            parsed.ranges.push_back(range);
        }

        std::optional<detail::shards_node> master;
        at.node_name = "node";
        for (std::size_t n = 0; n < nodes->elements; ++n) {
            at.node = n + 1;
            detail::shards_node node = detail::parse_shards_node(detail::child(nodes, n, at), at, ports);
            if (node.is_master) {
                const bool better = !master || (master->health != node_health::online && node.health == node_health::online);
                if (better) master = std::move(node);
            } else if (node.health == node_health::online) {
                parsed.replicas.push_back(std::move(node.address));
                parsed.replica_ids.push_back(std::move(node.id));
            }
        }
        if (parsed.ranges.empty()) continue;
        at.leave_node();
        if (!master) at.fail("owns slots but lists no node with role 'master'");
        parsed.master = std::move(master->address);
        parsed.master_id = std::move(master->id);
        parsed.master_health = master->health;
        result.shards.push_back(std::move(parsed));
    }
    detail::finish_topology(result, claims, command);
    return result;
}

/// Parses the text of an error reply (as hiredis gives it: no leading '-'): "MOVED 3999
/// 127.0.0.1:6381", "ASK 3999 ::1:7002", "MOVED 3999 :6381" (unknown host), "MOVED 3999 ?:6381".
/// Returns nullopt for any other error ("ERR ...", "TRYAGAIN ...", "CLUSTERDOWN ...", "MOVEDX");
/// throws error{protocol} naming the text when it is a MOVED/ASK that cannot be parsed.
inline std::optional<redirect> parse_redirect(std::string_view error_text) {
    redirect result;
    std::string_view word;
    if (error_text.substr(0, 5) == "MOVED" && (error_text.size() == 5 || error_text[5] == ' ')) {
        result.type = redirect::kind::moved;
        word = "MOVED";
    } else if (error_text.substr(0, 3) == "ASK" && (error_text.size() == 3 || error_text[3] == ' ')) {
        result.type = redirect::kind::ask;
        word = "ASK";
    } else {
        return std::nullopt;
    }
    auto fail = [&](const std::string& what) -> void {
        throw error(error_kind::protocol,
                    "malformed " + std::string(word) + " redirect " + detail::quoted(error_text) + ": " + what);
    };
    std::string_view rest = error_text.substr(word.size());
    if (rest.size() < 2 || rest[0] != ' ') fail("expected '" + std::string(word) + " <slot> <host>:<port>'");
    rest.remove_prefix(1);
    const std::size_t space = rest.find(' ');
    if (space == std::string_view::npos) fail("expected '" + std::string(word) + " <slot> <host>:<port>'");
    const std::string_view slot_text = rest.substr(0, space);
    unsigned slot = 0;
    bool slot_ok = !slot_text.empty() && slot_text.size() <= 5;
    for (char c : slot_text) {
        if (c < '0' || c > '9') slot_ok = false;
        if (slot_ok) slot = slot * 10 + static_cast<unsigned>(c - '0');
    }
    if (!slot_ok || slot >= slot_count) fail("slot " + detail::quoted(slot_text) + " is not a number from 0 to 16383");
    result.slot = static_cast<std::uint16_t>(slot);
    const std::string_view target = rest.substr(space + 1);
    if (auto problem = detail::parse_address_into(target, detail::address_syntax::redirect, result.target))
        fail("target " + detail::quoted(target) + ": " + problem->message);  // input in it is already quoted
    return result;
}

}  // namespace addrmap
