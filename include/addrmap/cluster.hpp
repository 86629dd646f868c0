// addrmap/cluster.hpp — basic_cluster<Policy>: a thin Redis Cluster client over verified TLS connections.
// Every address it dials (seeds, slot owners, replicas, redirect targets) goes through the policy first.
//
// Not thread-safe, like redisContext: use one basic_cluster per thread, or guard it with a mutex.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/command.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/error.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policy.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/tls.hpp>
#include <addrmap/topology.hpp>


#include <algorithm>
#include <array>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace addrmap {

/// A reply owned by the caller; freed with freeReplyObject when it goes out of scope.
using reply_ptr = detail::reply_ptr;

/// How a basic_cluster finds and talks to the cluster. Timeouts live in `tls` (connect, command).
struct cluster_options {
    /// "host:port" or "[v6]:port", tried in order until one answers (Azure: the root node by name).
    std::vector<std::string> seeds;
    tls_options tls;
    /// AUTH on every node connection: `password` alone, or ACL `user` + `password`. Never logged.
    std::string user;
    std::string password;
    /// MOVED/ASK redirects followed for one command before error_kind::redirect_limit.
    int max_redirects = 16;
    /// TRYAGAIN, CLUSTERDOWN and lost connections retried for one command (with backoff).
    int max_retries = 64;
    /// Backoff between retries: starts here, doubles, capped at max_backoff.
    std::chrono::milliseconds min_backoff{5};
    std::chrono::milliseconds max_backoff{200};
    /// A MOVED or a lost node triggers a full topology refresh at most this often.
    std::chrono::milliseconds refresh_min_interval{100};
};

enum class node_role { master, replica, seed };

inline const char* to_string(node_role role) noexcept {
    switch (role) {
        case node_role::master: return "master";
        case node_role::replica: return "replica";
        case node_role::seed: return "seed";
    }
    return "?";
}

/// One row of the node table: reported address → endpoint → role → slots (for logs and the doctor).
struct node_info {
    node_address reported;
    std::string dial_host;
    std::uint16_t port = 0;
    std::string tls_name;
    node_role role = node_role::master;
    std::vector<slot_range> slots;
    bool connected = false;
    bool down = false;  ///< the last attempt to reach it failed
    std::optional<tls_handshake_info> handshake;  ///< of the current connection, if connected
};

/// What the client did, for tests, benchmarks and logs.
struct cluster_stats {
    std::uint64_t moved = 0;
    std::uint64_t ask = 0;
    std::uint64_t tryagain = 0;
    std::uint64_t clusterdown = 0;
    std::uint64_t connection_losses = 0;
    std::uint64_t connections_made = 0;
    std::uint64_t refreshes = 0;
};

template <class Policy>
class basic_cluster;

/// Commands queued for one round trip per node; replies come back in the order they were added.
class pipeline {
public:
    /// hiredis printf-style format (%s, %b, %d, ...); `key` picks the slot.
    void add(std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        std::string cmd = detail::to_command(raw, format);
        entries_.push_back({static_cast<int>(key_slot(key)), std::move(cmd)});
    }
    /// One argument per element; the first is the command name; `key` picks the slot.
    void add_argv(std::string_view key, const std::vector<std::string_view>& args) {
        entries_.push_back({static_cast<int>(key_slot(key)), detail::format_argv(args)});
    }
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    void clear() noexcept { entries_.clear(); }

private:
    template <class>
    friend class basic_cluster;
    struct entry {
        int slot;
        std::string command;  // RESP-encoded
    };
    std::vector<entry> entries_;
};

/// A Redis Cluster client whose every node address is resolved through `Policy`.
///
/// Policy: any type with `endpoint map(const node_address&) const`, or a lambda (see policy.hpp);
/// stored by value, reachable through policy(). Connections are verified TLS (chain and name),
/// one per reported node, made on first use and reused.
template <class Policy = identity>
class basic_cluster {
    ADDRMAP_CHECK_POLICY(Policy);

public:
    using policy_type = Policy;

    /// Parses the seeds and sets up TLS; throws error{config} for bad options. No I/O: see connect().
    explicit basic_cluster(cluster_options options, Policy policy = Policy{})
        : options_(std::move(options)), policy_(std::move(policy)), tls_(options_.tls) {
        if (options_.seeds.empty())
            throw error(error_kind::config, "cluster_options.seeds is empty: give at least one \"host:port\"");
        if (options_.max_redirects < 1 || options_.max_retries < 0)
            throw error(error_kind::config, "cluster_options.max_redirects must be >= 1 and max_retries >= 0");
        for (std::size_t i = 0; i < options_.seeds.size(); ++i) {
            seeds_.push_back(parse_address(options_.seeds[i], "seed #" + std::to_string(i + 1)));
            seeds_.back().origin = address_origin::configured;  // the user named it: always allowed
        }
        slot_owner_.fill(no_node);
    }

    basic_cluster(const basic_cluster&) = delete;
    basic_cluster& operator=(const basic_cluster&) = delete;
    basic_cluster(basic_cluster&&) = delete;  // connections point back at nothing, but keep it simple
    basic_cluster& operator=(basic_cluster&&) = delete;

    /// Discovers the topology from the first seed that answers and connects to every master.
    /// Throws the seed's own error when one seed is given, else error{connect} listing each seed's failure.
    void connect() {
        std::string failures;
        std::optional<error> only;
        for (std::size_t i = 0; i < seeds_.size(); ++i) {
            try {
                const std::size_t seed = node_for(seeds_[i], node_role::seed);
                refresh_from(seed);
                for (std::size_t n = 0; n < nodes_.size(); ++n)
                    if (nodes_[n]->role == node_role::master && nodes_[n]->in_topology) connection(n);
                return;
            } catch (const error& e) {
                if (seeds_.size() == 1) throw;
                failures += "\n  seed #" + std::to_string(i + 1) + " " + options_.seeds[i] + ": " + e.what();
                if (!only) only = e;
            }
        }
        throw error(error_kind::connect, "no seed could be used to discover the cluster:" + failures);
    }

    /// printf-style command (hiredis format: %s, %b, ...) routed by `key`.
    reply_ptr command(std::string_view key, const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        std::string cmd = detail::to_command(raw, format);
        return execute(static_cast<int>(key_slot(key)), cmd);
    }

    /// argv command routed by `key`; the first argument is the command name.
    reply_ptr command_argv(std::string_view key, const std::vector<std::string_view>& args) {
        return execute(static_cast<int>(key_slot(key)), detail::format_argv(args));
    }

    /// A keyless command (PING, INFO, ...) on any live master.
    reply_ptr command_any(const char* format, ...) {
        va_list ap;
        va_start(ap, format);
        const detail::raw_command raw = detail::format_raw(format, ap);
        va_end(ap);
        std::string cmd = detail::to_command(raw, format);
        return execute(no_slot, cmd);
    }

    /// A command on the node the cluster reported as `node` (it is mapped through the policy if new).
    /// No redirects are followed: the caller chose the node.
    reply_ptr command_on(const node_address& node, const std::vector<std::string_view>& args) {
        const std::size_t n = node_for(node, node_role::master);
        return round_trip(n, detail::format_argv(args), false);
    }

    /// Sends the pipeline, grouped per node, and returns one reply per command in the order added.
    /// Redirected or failed commands are retried one by one with the usual limits.
    std::vector<reply_ptr> execute(const pipeline& batch) {
        std::vector<reply_ptr> replies(batch.entries_.size());
        std::vector<std::size_t> retry;
        // Group by owner, send each group, then read each group: one round trip per node.
        std::unordered_map<std::size_t, std::vector<std::size_t>> by_node;
        for (std::size_t i = 0; i < batch.entries_.size(); ++i) {
            const std::size_t owner = owner_of(batch.entries_[i].slot);
            if (owner == no_node)
                retry.push_back(i);
            else
                by_node[owner].push_back(i);
        }
        std::vector<std::pair<std::size_t, std::vector<std::size_t>>> sent;
        for (auto& [node, indexes] : by_node) {
            redisContext* c = nullptr;
            try {
                c = connection(node);
            } catch (const error&) {
                retry.insert(retry.end(), indexes.begin(), indexes.end());
                continue;
            }
            bool ok = true;
            for (std::size_t i : indexes) {
                const std::string& cmd = batch.entries_[i].command;
                if (redisAppendFormattedCommand(c, cmd.data(), cmd.size()) != REDIS_OK) {
                    ok = false;
                    break;
                }
            }
            // Flush this node's commands now, so every node works while we read from the first.
            for (int done = 0; ok && !done;) ok = redisBufferWrite(c, &done) == REDIS_OK;
            if (!ok) {
                lose(node);
                retry.insert(retry.end(), indexes.begin(), indexes.end());
                continue;
            }
            sent.emplace_back(node, std::move(indexes));
        }
        for (auto& [node, indexes] : sent) {
            std::size_t read = 0;
            for (; read < indexes.size(); ++read) {
                redisContext* c = nodes_[node]->connection ? nodes_[node]->connection->get() : nullptr;
                void* raw = nullptr;
                if (c == nullptr || redisGetReply(c, &raw) != REDIS_OK) break;
                reply_ptr reply(static_cast<redisReply*>(raw));
                if (needs_retry(*reply))
                    retry.push_back(indexes[read]);
                else
                    replies[indexes[read]] = std::move(reply);
            }
            if (read < indexes.size()) {
                lose(node);
                retry.insert(retry.end(), indexes.begin() + static_cast<std::ptrdiff_t>(read), indexes.end());
            }
        }
        std::sort(retry.begin(), retry.end());
        for (std::size_t i : retry) replies[i] = execute(batch.entries_[i].slot, batch.entries_[i].command);
        return replies;
    }

    /// The verified hiredis context that owns `key`'s slot, for code that already speaks hiredis.
    /// Valid until the next call on this object that reconnects or refreshes; do not redisFree it.
    redisContext* context_for_key(std::string_view key) {
        const int slot = static_cast<int>(key_slot(key));
        std::size_t owner = owner_of(slot);
        if (owner == no_node) {
            refresh();
            owner = owner_of(slot);
            if (owner == no_node)
                throw error(error_kind::topology, "no node serves slot " + std::to_string(slot) + " (key " +
                                                      detail::quoted(key) + ")");
        }
        return connection(owner);
    }

    /// Re-reads the topology from any live node (seeds last). Keeps the old slot map on failure.
    void refresh() {
        std::string failures;
        for (std::size_t n : refresh_candidates()) {
            try {
                refresh_from(n);
                return;
            } catch (const error& e) {
                failures += "\n  " + to_string(nodes_[n]->reported) + ": " + e.what();
            }
        }
        throw error(error_kind::topology, "could not refresh the cluster topology from any node:" + failures);
    }

    /// The node table: every node seen, reported address → endpoint → role → slots, sorted by reported address.
    std::vector<node_info> nodes() const {
        std::vector<node_info> out;
        for (const auto& node : nodes_) {
            if (!node->in_topology && node->role != node_role::seed) continue;
            node_info info;
            info.reported = node->reported;
            info.dial_host = node->dial_host;
            info.port = node->port;
            info.tls_name = node->tls_name;
            info.role = node->role;
            info.slots = node->slots;
            info.connected = node->connection.has_value();
            info.down = node->down;
            if (node->connection) info.handshake = node->connection->handshake();
            out.push_back(std::move(info));
        }
        // Stable, readable order: by reported host, then port (seeds given by name sort among them).
        std::sort(out.begin(), out.end(), [](const node_info& a, const node_info& b) {
            if (a.reported.host != b.reported.host) return a.reported.host < b.reported.host;
            return a.reported.port < b.reported.port;
        });
        return out;
    }

    const Policy& policy() const noexcept { return policy_; }
    const cluster_options& options() const noexcept { return options_; }
    const cluster_stats& stats() const noexcept { return stats_; }
    tls_context& tls() noexcept { return tls_; }

    /// Closes every connection (sessions stay cached for fast, resumed reconnects); the map is kept.
    void disconnect() noexcept {
        for (auto& node : nodes_) node->connection.reset();
    }

private:
    static constexpr std::size_t no_node = static_cast<std::size_t>(-1);
    static constexpr int no_slot = -1;

    struct node_record {
        node_address reported;
        std::string dial_host;
        std::uint16_t port = 0;
        std::string tls_name;
        node_role role = node_role::master;
        std::vector<slot_range> slots;
        std::optional<tls_connection> connection;
        bool in_topology = false;
        bool down = false;
    };

    using clock = std::chrono::steady_clock;

    /// The record for a reported address, created (and mapped through the policy, once) if new.
    /// `source` ("MOVED", "CLUSTER SHARDS", ...) and `reporter` (the node whose reply named it) are
    /// added to a refusal, so it says who reported the address; no_node: the caller named it.
    std::size_t node_for(const node_address& reported, node_role role, const char* source = nullptr,
                         std::size_t reporter = no_node) {
        std::string key = to_string(reported);
        if (auto it = index_.find(key); it != index_.end()) return it->second;
        const auto context = [&] {
            return "reported by " + (reporter == no_node ? std::string("the caller") : to_string(nodes_[reporter]->reported)) +
                   (source ? std::string(" in ") + source : std::string());
        };
        // The parsers already refuse such hosts; this keeps command_on and any other path to the same grammar.
        if (auto problem = detail::check_host(reported.host, false))
            throw error(reporter == no_node ? error_kind::config : error_kind::protocol,
                        context() + ": node " + key + " refused before mapping: " + problem->message);
        node_address marked = reported;
        for (const node_address& seed : seeds_)  // the seeds' own names are allowed, wherever reported
            if (detail::iequals_ascii(seed.host, reported.host)) marked.origin = address_origin::configured;
        std::optional<endpoint> maybe;
        try {
            maybe.emplace(detail::policy_access::map(policy_, marked));
        } catch (const error& e) {
            if (source == nullptr && reporter == no_node) throw;
            throw detail::with_context(e, context());
        }
        const endpoint& mapped = *maybe;
        if (mapped.tls_name().empty())
            throw error(error_kind::config, "the policy mapped " + key + " to an empty TLS name; a TLS name is required");
        auto node = std::make_unique<node_record>();
        node->reported = marked;
        node->dial_host.assign(mapped.dial_host());
        node->port = mapped.port();
        node->tls_name.assign(mapped.tls_name());
        node->role = role;
        nodes_.push_back(std::move(node));
        index_.emplace(std::move(key), nodes_.size() - 1);
        return nodes_.size() - 1;
    }

    /// Resolves "?" / "" hosts against the node that reported them (Redis: "the host you asked").
    node_address resolve_unknown_host(node_address reported, std::size_t reporter) const {
        if (!reported.host_known()) reported.host = nodes_[reporter]->reported.host;
        return reported;
    }

    redisContext* connection(std::size_t n) {
        node_record& node = *nodes_[n];
        if (node.connection) return node.connection->get();
        const endpoint mapped(node.dial_host, node.port, node.tls_name);
        try {
            node.connection.emplace(connect_tls(tls_, node.reported, mapped));
        } catch (const error&) {
            node.down = true;
            throw;
        }
        node.down = false;
        ++stats_.connections_made;
        if (!options_.password.empty()) authenticate(n);
        return node.connection->get();
    }

    void authenticate(std::size_t n) {
        node_record& node = *nodes_[n];
        void* raw = options_.user.empty()
                        ? redisCommand(node.connection->get(), "AUTH %b", options_.password.data(), options_.password.size())
                        : redisCommand(node.connection->get(), "AUTH %b %b", options_.user.data(), options_.user.size(),
                                       options_.password.data(), options_.password.size());
        reply_ptr reply(static_cast<redisReply*>(raw));
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            std::string why =
                reply ? detail::escaped(std::string_view(reply->str, reply->len), 300) : std::string("connection lost");
            node.connection.reset();
            throw error(error_kind::server, "AUTH failed on node " + to_string(node.reported) + ": " + why +
                                                " (check cluster_options.user/password)");
        }
    }

    void lose(std::size_t n) {
        nodes_[n]->connection.reset();
        nodes_[n]->down = true;
        ++stats_.connection_losses;
    }

    /// Drops node n's connection after hiredis failed to read `what`'s reply, and says why: bytes that
    /// are not RESP are a protocol error (the node is broken or hostile), anything else a lost connection.
    error lose_during(std::size_t n, const char* what) {
        const redisContext* c = nodes_[n]->connection->get();
        const bool garbled = c->err == REDIS_ERR_PROTOCOL;
        std::string message = (garbled ? "unreadable reply from " : "lost the connection to ") +
                              to_string(nodes_[n]->reported) + " while asking " + what + ": " +
                              (c->errstr[0] != '\0' ? c->errstr : "connection closed");
        lose(n);
        return error(garbled ? error_kind::protocol : error_kind::connect, message);
    }

    std::size_t owner_of(int slot) const noexcept {
        if (slot < 0) {
            for (std::size_t n = 0; n < nodes_.size(); ++n)
                if (nodes_[n]->in_topology && nodes_[n]->role == node_role::master && !nodes_[n]->down) return n;
            for (std::size_t n = 0; n < nodes_.size(); ++n)
                if (nodes_[n]->in_topology && nodes_[n]->role == node_role::master) return n;
            return no_node;
        }
        return slot_owner_[static_cast<std::size_t>(slot)];
    }

    /// Live, connected topology nodes first, then the rest of the topology, then the seeds.
    std::vector<std::size_t> refresh_candidates() const {
        std::vector<std::size_t> order;
        for (int pass = 0; pass < 3; ++pass)
            for (std::size_t n = 0; n < nodes_.size(); ++n) {
                const node_record& node = *nodes_[n];
                const bool seed_only = node.role == node_role::seed && !node.in_topology;
                const bool first = !seed_only && node.connection.has_value();
                const bool second = !seed_only && !node.connection.has_value() && !node.down;
                if ((pass == 0 && first) || (pass == 1 && second) ||
                    (pass == 2 && !first && !second))
                    order.push_back(n);
            }
        return order;
    }

    void refresh_if_due() {
        const auto now = clock::now();
        if (last_refresh_ && now - *last_refresh_ < options_.refresh_min_interval) return;
        try {
            refresh();
        } catch (const error&) {
            // Keep the old map; the command's own retries decide whether to give up.
            last_refresh_ = now;
        }
    }

    /// CLUSTER SHARDS where the server has it (it carries hostname/endpoint), else CLUSTER SLOTS.
    void refresh_from(std::size_t n) {
        last_refresh_ = clock::now();
        redisContext* c = connection(n);
        topology topo;
        bool use_slots = no_cluster_shards_;
        if (!use_slots) {
            reply_ptr reply(static_cast<redisReply*>(redisCommand(c, "CLUSTER SHARDS")));
            if (!reply) throw lose_during(n, "CLUSTER SHARDS");
            if (reply->type == REDIS_REPLY_ERROR) {
                const std::string_view text(reply->str, reply->len);
                if (text.find("nknown subcommand") != std::string_view::npos) {
                    no_cluster_shards_ = true;  // Redis < 7: CLUSTER SLOTS from now on
                } else if (is_transient_refusal(text)) {
                    throw error(error_kind::topology, to_string(nodes_[n]->reported) + " refused CLUSTER SHARDS: " +
                                                          detail::escaped(text, 300));
                }
                use_slots = true;  // e.g. NOPERM for an ACL user allowed only CLUSTER SLOTS: ask that instead
            } else {
                try {
                    topo = parse_cluster_shards(reply.get());
                } catch (const error& e) {
                    throw detail::with_context(e, "CLUSTER SHARDS reply from " + to_string(nodes_[n]->reported));
                }
            }
        }
        if (use_slots) {
            reply_ptr reply(static_cast<redisReply*>(redisCommand(c, "CLUSTER SLOTS")));
            if (!reply) throw lose_during(n, "CLUSTER SLOTS");
            if (reply->type == REDIS_REPLY_ERROR)
                throw error(error_kind::topology, to_string(nodes_[n]->reported) + " refused CLUSTER SLOTS: " +
                                                      detail::escaped(std::string_view(reply->str, reply->len), 300));
            try {
                topo = parse_cluster_slots(reply.get());
            } catch (const error& e) {
                throw detail::with_context(e, "CLUSTER SLOTS reply from " + to_string(nodes_[n]->reported));
            }
        }
        apply(topo, n, use_slots ? "CLUSTER SLOTS" : "CLUSTER SHARDS");
        ++stats_.refreshes;
    }

    /// Installs a parsed topology. Every node is mapped before anything changes, so a node the
    /// policy cannot map leaves the previous slot map in place.
    void apply(const topology& topo, std::size_t reporter, const char* source) {
        std::array<std::size_t, slot_count> owners;
        owners.fill(no_node);
        std::vector<std::pair<std::size_t, node_role>> seen;
        std::vector<std::vector<slot_range>> slots_of;
        for (const shard& s : topo.shards) {
            const std::size_t master = node_for(resolve_unknown_host(s.master, reporter), node_role::master, source, reporter);
            seen.emplace_back(master, node_role::master);
            for (const slot_range& r : s.ranges)
                for (std::uint32_t slot = r.first; slot <= r.last; ++slot) owners[slot] = master;
            for (const node_address& replica : s.replicas)
                seen.emplace_back(node_for(resolve_unknown_host(replica, reporter), node_role::replica, source, reporter),
                                  node_role::replica);
        }
        for (auto& node : nodes_) {
            node->in_topology = false;
            node->slots.clear();
        }
        for (const auto& [n, role] : seen) {
            nodes_[n]->in_topology = true;
            nodes_[n]->role = role;
        }
        for (const shard& s : topo.shards) {
            const std::size_t master = index_.at(to_string(resolve_unknown_host(s.master, reporter)));
            nodes_[master]->slots.insert(nodes_[master]->slots.end(), s.ranges.begin(), s.ranges.end());
        }
        slot_owner_ = owners;
    }

    static bool starts_with(const redisReply& r, std::string_view prefix) noexcept {
        return r.type == REDIS_REPLY_ERROR && r.len >= prefix.size() && std::string_view(r.str, prefix.size()) == prefix;
    }

    /// A node that cannot answer right now (still loading, not authenticated, ...): asking it CLUSTER
    /// SLOTS instead would fail the same way, so the refresh moves on to another node.
    static bool is_transient_refusal(std::string_view text) noexcept {
        for (std::string_view word : {"LOADING", "NOAUTH", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN"})
            if (text.substr(0, word.size()) == word) return true;
        return false;
    }

    static bool needs_retry(const redisReply& r) noexcept {
        return starts_with(r, "MOVED ") || starts_with(r, "ASK ") || starts_with(r, "TRYAGAIN") ||
               starts_with(r, "CLUSTERDOWN");
    }

    /// Sends one command (after ASKING when asked to) and reads its reply. nullptr: connection lost.
    reply_ptr round_trip(std::size_t n, const std::string& cmd, bool asking) {
        redisContext* c = connection(n);
        static constexpr char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
        if (asking && redisAppendFormattedCommand(c, asking_cmd, sizeof(asking_cmd) - 1) != REDIS_OK) return nullptr;
        if (redisAppendFormattedCommand(c, cmd.data(), cmd.size()) != REDIS_OK) return nullptr;
        void* raw = nullptr;
        if (asking) {
            if (redisGetReply(c, &raw) != REDIS_OK) return nullptr;
            reply_ptr asking_reply(static_cast<redisReply*>(raw));  // +OK; an error shows in the command's reply
        }
        if (redisGetReply(c, &raw) != REDIS_OK) return nullptr;
        return reply_ptr(static_cast<redisReply*>(raw));
    }

    void backoff(int attempt) const {
        auto delay = options_.min_backoff * (1 << std::min(attempt, 16));
        if (delay > options_.max_backoff) delay = options_.max_backoff;
        std::this_thread::sleep_for(delay);
    }

    /// Routes one encoded command, following MOVED/ASK and retrying within the limits.
    reply_ptr execute(int slot, const std::string& cmd) {
        int redirects = 0;
        int retries = 0;
        std::size_t ask_target = no_node;
        std::string last_problem;
        while (true) {
            std::size_t n = ask_target != no_node ? ask_target : owner_of(slot);
            if (n == no_node) {
                refresh_if_due();
                n = owner_of(slot);
            }
            reply_ptr reply;
            if (n == no_node) {
                last_problem = "no node serves slot " + std::to_string(slot);
            } else {
                try {
                    reply = round_trip(n, cmd, ask_target != no_node);
                    if (!reply) {
                        last_problem = "lost the connection to " + to_string(nodes_[n]->reported) + ": " +
                                       (nodes_[n]->connection ? nodes_[n]->connection->get()->errstr : "");
                        lose(n);
                    }
                } catch (const error& e) {
                    // TLS verification and policy failures are configuration problems: never retried.
                    if (e.kind() != error_kind::connect && e.kind() != error_kind::timeout) throw;
                    last_problem = e.what();
                    nodes_[n]->down = true;
                }
            }
            ask_target = no_node;
            if (reply && reply->type == REDIS_REPLY_ERROR) {
                const std::string_view text(reply->str, reply->len);
                std::optional<redirect> redirect;
                try {
                    redirect = parse_redirect(text);
                } catch (const error& e) {
                    throw detail::with_context(e, "reply from " + to_string(nodes_[n]->reported));
                }
                if (redirect) {
                    if (++redirects > options_.max_redirects)
                        throw error(error_kind::redirect_limit,
                                    "gave up after " + std::to_string(options_.max_redirects) +
                                        " redirects for slot " + std::to_string(slot) + "; last: " + detail::escaped(text, 300));
                    // While a slot changes hands, source and target can briefly point at each other;
                    // back off after the first few redirects instead of spinning through the limit.
                    if (redirects > 2) backoff(redirects - 3);
                    const std::size_t target =
                        node_for(resolve_unknown_host(redirect->target, n), node_role::master,
                                 redirect->type == redirect::kind::moved ? "MOVED" : "ASK", n);
                    if (redirect->type == redirect::kind::moved) {
                        ++stats_.moved;
                        slot_owner_[redirect->slot] = target;
                        nodes_[target]->in_topology = true;
                        refresh_if_due();
                    } else {
                        ++stats_.ask;
                        ask_target = target;
                    }
                    continue;
                }
                if (text.substr(0, 8) == "TRYAGAIN") {
                    ++stats_.tryagain;
                    last_problem = detail::escaped(text, 300);
                    reply.reset();
                } else if (text.substr(0, 11) == "CLUSTERDOWN") {
                    ++stats_.clusterdown;
                    last_problem = detail::escaped(text, 300);
                    reply.reset();
                    refresh_if_due();
                }
            }
            if (reply) return reply;
            if (retries >= options_.max_retries)
                throw error(error_kind::redirect_limit, "gave up after " + std::to_string(options_.max_retries) +
                                                            " retries for slot " + std::to_string(slot) +
                                                            "; last problem: " + last_problem);
            backoff(retries++);
            if (n != no_node && nodes_[n]->down) refresh_if_due();
        }
    }

    cluster_options options_;
    Policy policy_;
    tls_context tls_;
    std::vector<node_address> seeds_;
    std::vector<std::unique_ptr<node_record>> nodes_;
    std::unordered_map<std::string, std::size_t> index_;
    std::array<std::size_t, slot_count> slot_owner_{};
    std::optional<clock::time_point> last_refresh_;
    bool no_cluster_shards_ = false;
    cluster_stats stats_;
};

/// Named clusters, one per shipped policy.
using identity_cluster = basic_cluster<identity>;
using ip_to_hostname_cluster = basic_cluster<ip_to_hostname>;
using static_table_cluster = basic_cluster<static_table>;
using env_cluster = basic_cluster<env>;

}  // namespace addrmap
