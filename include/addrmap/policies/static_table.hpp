// addrmap/policies/static_table.hpp — an explicit table from reported IP[:port] to host[:port] + TLS name.
// For clusters whose nodes each have their own certificate name; reports entries that never matched.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/allowed_names.hpp>
#include <addrmap/detail/cidr.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/table_grammar.hpp>
#include <addrmap/error.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace addrmap {

class env;

/// What `map` does with an address no rule matches. `try_map` always declines it (nullopt), so in
/// a first_match the next policy decides.
enum class on_miss {
    pass_through,  ///< dial and verify the address as reported (like identity; a name only if allowed)
    fail,          ///< throw error{topology} naming the address
};

/// A fixed table of reported address -> endpoint.
///
/// Text grammar (static_table::parse, and the ADDRMAP_TABLE environment variable):
///
///     table  := entry { sep entry }          sep := ';' | ',' | newline
///     entry  := key '=' target [ '/tls=' tls-name ]
///     key    := ipv4 [ ':' port ] | '[' ipv6 ']' [ ':' port ]     (the IP as the cluster reports it)
///     target := host [ ':' port ]            host := dns-name | ipv4 | '[' ipv6 ']'
///
///   "10.0.0.1:7000=node1.example.com:7000; 10.0.0.2=node2.example.com/tls=other.example.com"
///
/// - A key with a port matches that ip:port only; a key without one matches the IP on any port.
///   ip:port beats ip. Keys are compared as binary addresses, so "[::1]" and "[0::1]" are one key.
/// - A target without a port keeps the reported port. The TLS name defaults to the target host; an
///   IP TLS name means the certificate's IP SANs are checked.
/// - Spaces, tabs and CR are allowed around entries, not inside; blank entries are skipped (a
///   trailing ';' or an empty line is fine). Entries are numbered from 1, counting non-blank ones.
/// - Every mistake throws error{config} at construction: "static_table entry #2 '10.0.0.x=foo'
///   column 8: ..." — the entry, its column (1-based) and what was expected. Duplicate keys too.
///
/// With on_miss::pass_through a reported IP is dialed as reported; a reported *name* only when it is
/// allowed: by default the table's own target and TLS names (exactly), or the allowed_names given;
/// a seed's own name always. Any other name, and any host that is neither an IP nor a valid DNS name,
/// is refused with error{topology} naming the node and the setting to change.
///
/// Lookups parse the reported IP into 16 bytes on the stack and probe a hash map (ip:port, then ip):
/// no allocation, O(1) for any table size.
///
/// Lifetime: a hit views strings owned by this table; a pass-through views `address.host`. Valid
/// while the table (and the address) live and are not modified, moved or assigned.
/// Thread safety: const member functions may run concurrently; each entry's "matched" mark is a
/// relaxed atomic flag that is written once (no read-modify-write, no contention after the first hit).
class static_table {
public:
    /// One entry for the C++ constructor. `tls_name` absent: the target host. Present but empty: an error.
    struct entry {
        std::string from;                        ///< "10.0.0.1:7000", "10.0.0.1", "[fd00::1]:7000", "[fd00::1]"
        std::string to;                          ///< "node1.example.com:7000", "node1.example.com", "[fd00::9]"
        std::optional<std::string> tls_name = {};  ///< e.g. "cluster.example.com"
    };

    /// Builds from entries; messages quote each as "from=to[/tls=name]" with columns in that text.
    explicit static_table(const std::vector<entry>& entries, on_miss miss = on_miss::fail) : miss_(miss) {
        rows_.reserve(entries.size());
        index_.reserve(entries.size());
        std::size_t number = 0;
        for (const entry& e : entries) {
            std::string text = e.from + "=" + e.to;
            if (e.tls_name) text += "/tls=" + *e.tls_name;
            detail::table_entry_spec spec;
            const std::size_t target_at = e.from.size() + 1;
            const std::size_t tls_at = target_at + e.to.size() + 5;
            const auto tls = e.tls_name ? std::optional<std::string_view>(*e.tls_name) : std::nullopt;
            auto problem = detail::parse_table_entry_parts(e.from, 0, e.to, target_at, tls, tls_at, spec);
            add(++number, std::move(text), std::move(spec), std::move(problem), "static_table");
        }
        allowed_ = target_names();
    }

    /// The same, with the reported names on_miss::pass_through may dial given explicitly.
    static_table(const std::vector<entry>& entries, on_miss miss, allowed_names names) : static_table(entries, miss) {
        allowed_ = std::move(names);
    }

    /// Builds from the text grammar above.
    static static_table parse(std::string_view text, on_miss miss = on_miss::fail) {
        return static_table(text, miss, "static_table");
    }

    /// The same, with the reported names on_miss::pass_through may dial given explicitly.
    static static_table parse(std::string_view text, on_miss miss, allowed_names names) {
        static_table table(text, miss, "static_table");
        table.allowed_ = std::move(names);
        return table;
    }

    /// The endpoint of the matching entry, or nullopt on a miss (whatever on_miss says).
    std::optional<endpoint> try_map(const node_address& address) const {
        const auto ip = detail::parse_ip(address.host);
        if (!ip) return std::nullopt;  // unknown host or a name: keys are IPs
        const row* hit = find({*ip, address.port});
        if (!hit) hit = find({*ip, 0});
        if (!hit) return std::nullopt;
        hit->matched.mark();
        return endpoint(hit->dial_host, hit->dial_port != 0 ? hit->dial_port : address.port, hit->tls_name);
    }

    /// A hit's endpoint; on a miss, on_miss decides. An unknown host throws error{topology} either way.
    endpoint map(const node_address& address) const {
        if (auto result = try_map(address)) return *result;
        const host_kind kind = classify_host(address.host);
        if (kind == host_kind::unknown) throw detail::unknown_host_error("static_table", address);
        if (kind == host_kind::invalid) throw detail::invalid_host_error("static_table", address);
        if (miss_ == on_miss::pass_through) {
            if (kind == host_kind::name && !address.is_configured() && !allowed_.allows(address.host))
                throw detail::name_not_allowed_error("static_table", address, allowed_,
                                                     "static_table(entries, on_miss::pass_through, allowed_names{...}) "
                                                     "or static_table::parse(text, on_miss::pass_through, "
                                                     "allowed_names{...}), or a table entry");
            return endpoint(address.host, address.port, address.host);
        }
        const std::string what = "static_table has no entry for " + to_string(address) + " (" +
                                 std::to_string(rows_.size()) + (rows_.size() == 1 ? " entry" : " entries") +
                                 ", on_miss::fail); ";
        // Keys are IPs, so advising "add <name>:port=..." would be advice the parser refuses.
        if (kind == host_kind::name)
            throw error(error_kind::topology,
                        what + "table keys are IP addresses and this is a host name (a seed given by name?): seed by "
                               "IP, or choose on_miss::pass_through or first_match<static_table, identity>");
        throw error(error_kind::topology,
                    what + "add one such as '" + to_string(address) + "=<host>' or choose on_miss::pass_through");
    }

    /// Entry texts ("from=to[/tls=name]") that no try_map/map call has matched yet, in table order.
    /// Useful after connecting: a stale entry means the cluster no longer reports that address.
    std::vector<std::string> unmatched_entries() const {
        std::vector<std::string> result;
        for (const row& r : rows_)
            if (!r.matched.is_marked()) result.push_back(r.text);
        return result;
    }

    std::size_t size() const noexcept { return rows_.size(); }
    /// The reported names on_miss::pass_through may dial (default: the table's target and TLS names).
    const allowed_names& allowed() const noexcept { return allowed_; }
    void set_allowed_names(allowed_names names) { allowed_ = std::move(names); }

    /// The default allowed names: every target host and TLS name that is a DNS name, exactly.
    allowed_names target_names() const {
        std::vector<std::string> names;
        for (const row& r : rows_)
            for (const std::string* n : {&r.dial_host, &r.tls_name})
                if (classify_host(*n) == host_kind::name) names.push_back(*n);
        return allowed_names::exact_names(std::move(names));
    }
    on_miss miss_behavior() const noexcept { return miss_; }

private:
    friend class env;

    /// A flag set once by a const lookup. Atomic so concurrent lookups are race-free; copies copy the value.
    class matched_flag {
    public:
        matched_flag() = default;
        matched_flag(const matched_flag& other) noexcept : value_(other.is_marked()) {}
        matched_flag& operator=(const matched_flag& other) noexcept {
            value_.store(other.is_marked(), std::memory_order_relaxed);
            return *this;
        }
        void mark() const noexcept {
            if (!value_.load(std::memory_order_relaxed)) value_.store(true, std::memory_order_relaxed);
        }
        bool is_marked() const noexcept { return value_.load(std::memory_order_relaxed); }

    private:
        mutable std::atomic<bool> value_{false};
    };

    struct row {
        std::string text;
        std::string dial_host;
        std::uint16_t dial_port;
        std::string tls_name;
        matched_flag matched;
    };

    /// Text constructor; `what` names the source in messages ("environment variable ADDRMAP_TABLE").
    static_table(std::string_view text, on_miss miss, std::string_view what) : miss_(miss) {
        const std::string_view trimmed = detail::trim_blanks(text);
        const std::size_t count = detail::for_each_entry(trimmed, [&](std::size_t number, std::string_view entry) {
            detail::table_entry_spec spec;
            auto problem = detail::parse_table_entry(entry, spec);
            add(number, std::string(entry), std::move(spec), std::move(problem), what);
        });
        if (count == 0 && !trimmed.empty())
            throw error(error_kind::config, std::string(what) + " " + detail::quoted(trimmed) +
                                                " has no entries; expected ip[:port]=host[:port][/tls=name] "
                                                "separated by ';', ',' or newlines");
        allowed_ = target_names();
    }

    void add(std::size_t number, std::string text, detail::table_entry_spec spec,
             std::optional<detail::parse_problem> problem, std::string_view what) {
        if (problem) throw error(error_kind::config, detail::entry_problem_message(what, number, text, *problem));
        const auto [it, inserted] = index_.emplace(spec.key, rows_.size());
        if (!inserted)
            throw error(error_kind::config,
                        detail::entry_problem_message(
                            what, number, text,
                            detail::parse_problem{0, "duplicate key: entry #" + std::to_string(it->second + 1) +
                                                         " " + detail::quoted(rows_[it->second].text) +
                                                         " already maps this address"}));
        rows_.push_back(row{std::move(text), std::move(spec.dial_host), spec.dial_port, std::move(spec.tls_name), {}});
    }

    const row* find(const detail::table_key& key) const noexcept {
        const auto it = index_.find(key);
        return it == index_.end() ? nullptr : &rows_[it->second];
    }

    std::vector<row> rows_;
    std::unordered_map<detail::table_key, std::size_t, detail::table_key_hash> index_;
    on_miss miss_;
    allowed_names allowed_;
};

}  // namespace addrmap
