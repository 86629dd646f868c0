// addrmap/allowed_names.hpp — which reported DNS names a policy may dial as they are: exact names and "*.suffix".
// A node's certificate verifies for any publicly certified name, so a name the cluster reports is held to this list.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/table_grammar.hpp>
#include <addrmap/error.hpp>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap {

class env;
class static_table;

/// A set of DNS names a policy accepts when the cluster *reports* a name (CLUSTER SHARDS/SLOTS with
/// hostname endpoints, MOVED/ASK to a name). IP addresses are never governed by it: policies map them
/// by their own rules.
///
/// Patterns (case-insensitive, validated at construction, error{config} with the text and column):
///  - `"node1.example.com"`: exactly that name;
///  - `"*.example.com"`: any name with one or more labels under example.com — not example.com itself,
///    not `a.bexample.com`. The suffix needs at least two labels (`"*.com"` is refused).
///  - `"*"` alone is refused: allowing every name is the explicit `allowed_names::any()` (discouraged:
///    with the system trust store any publicly certified host then verifies, and receives AUTH).
///  - No trailing dot, no partial wildcards (`"n*.example.com"`), no IP addresses.
///
///     addrmap::allowed_names a{"node1.example.com", "*.cluster.example.com"};   // one pattern each
///     addrmap::allowed_names b("node1.example.com, *.cluster.example.com");    // a list: ',', ';', newline
///
/// allows() never allocates; exact names are binary-searched, so a table's thousands of target names
/// cost O(log n). Thread safety: const member functions may run concurrently.
class allowed_names {
public:
    /// Allows no reported name (the same as none()).
    allowed_names() = default;

    /// One pattern per element. An element holding a list ("a.example.com,b.example.com") is refused:
    /// use the text constructor for lists.
    allowed_names(std::initializer_list<std::string_view> patterns) {
        std::size_t number = 0;
        for (std::string_view pattern : patterns) add_pattern(pattern, ++number, "allowed_names pattern", false);
    }

    /// A list of patterns separated by ',', ';' or newlines (spaces around entries are ignored).
    explicit allowed_names(std::string_view list) : allowed_names(list, "allowed_names", false) {}

    /// Every reported name is allowed. Prefer naming your cluster's names or domain.
    static allowed_names any() {
        allowed_names result;
        result.any_ = true;
        return result;
    }

    /// No reported name is allowed (reported IPs are still mapped by the policy's own rules).
    static allowed_names none() { return allowed_names(); }

    /// The default of ip_to_hostname(hostname): the hostname itself, plus `*.<parent>` where parent is
    /// the hostname without its first label, when that parent has at least three labels, so a registrable
    /// domain ("example.com", "co.uk") is never wildcarded. So
    /// "my-redis.westus3.redisenterprise.cache.azure.net" also allows "*.westus3.redisenterprise.cache.azure.net";
    /// "redis.example.com", "redis.example" or "localhost" allow only themselves. `hostname` must be a valid
    /// DNS name. A parent shared by other tenants' nodes is still allowed: narrow it with explicit patterns.
    static allowed_names hostname_and_siblings(std::string_view hostname) {
        allowed_names result;
        result.add_pattern(hostname, 1, "hostname", false);
        const std::size_t dot = hostname.find('.');
        if (dot != std::string_view::npos) {
            const std::string_view parent = hostname.substr(dot + 1);
            const auto dots = static_cast<std::size_t>(std::count(parent.begin(), parent.end(), '.'));
            if (dots >= 2) result.add_pattern("*." + std::string(parent), 2, "hostname", false);
        }
        return result;
    }

    /// True when `name` is a valid DNS name (classify_host(name) == host_kind::name) that a pattern
    /// matches. Anything else — an IP, "", "?", a text with a NUL or a space — is never allowed.
    bool allows(std::string_view name) const noexcept {
        return classify_host(name) == host_kind::name && matches(name);
    }

    bool allows_any() const noexcept { return any_; }
    bool allows_nothing() const noexcept { return !any_ && order_.empty(); }

    /// The patterns as given (lower-cased), in order; empty for any() and none().
    const std::vector<std::string>& patterns() const noexcept { return order_; }

    /// Adds every pattern of `other` (union); `any()` on either side makes the result any().
    allowed_names& include(const allowed_names& other) {
        any_ = any_ || other.any_;
        for (const std::string& p : other.order_) insert_checked(p);
        return *this;
    }

    /// For messages: "any name", "no reported names" or "'a.example.com', '*.example.com'" (the first 8).
    std::string describe() const {
        if (any_) return "any name";
        if (order_.empty()) return "no reported names";
        std::string out;
        std::size_t shown = 0;
        for (const std::string& p : order_) {
            if (shown == 8) {
                out += ", ... (" + std::to_string(order_.size()) + " in all)";
                break;
            }
            if (shown++ != 0) out += ", ";
            out += detail::quoted(p, 80);
        }
        return out;
    }

    friend bool operator==(const allowed_names& a, const allowed_names& b) noexcept {
        return a.any_ == b.any_ && a.order_ == b.order_;
    }
    friend bool operator!=(const allowed_names& a, const allowed_names& b) noexcept { return !(a == b); }

private:
    friend class env;
    friend class static_table;

    /// Many exact names at once (a table's targets), each already a valid DNS name: sorted once.
    static allowed_names exact_names(std::vector<std::string> names) {
        allowed_names result;
        for (std::string& n : names) n = lower(n);
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        result.order_ = names;
        result.exact_ = std::move(names);
        return result;
    }

    /// `what` names the source in messages; `star_means_any` lets a lone "*" entry mean any() (env).
    allowed_names(std::string_view list, std::string_view what, bool star_means_any) {
        const std::string_view trimmed = detail::trim_blanks(list);
        const std::size_t count = detail::for_each_entry(trimmed, [&](std::size_t number, std::string_view entry) {
            add_pattern(entry, number, what, star_means_any);
        });
        if (count == 0)
            throw error(error_kind::config, std::string(what) + " " + detail::quoted(trimmed) +
                                                " has no entries; expected names such as node1.example.com or "
                                                "*.example.com separated by ',', ';' or newlines");
        if (any_ && !order_.empty())
            throw error(error_kind::config, std::string(what) + " " + detail::quoted(trimmed) +
                                                ": '*' allows every name, so the other entries would mean nothing; "
                                                "give '*' alone or list the names");
    }

    static char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
    static std::string lower(std::string_view text) {
        std::string out(text);
        for (char& c : out) c = lower(c);
        return out;
    }

    /// Compares `name` lower-cased with `stored` (already lower-case), without a copy.
    static int compare_lowered(std::string_view name, std::string_view stored) noexcept {
        const std::size_t n = std::min(name.size(), stored.size());
        for (std::size_t i = 0; i < n; ++i) {
            const char a = lower(name[i]);
            if (a != stored[i]) return static_cast<unsigned char>(a) < static_cast<unsigned char>(stored[i]) ? -1 : 1;
        }
        return name.size() == stored.size() ? 0 : (name.size() < stored.size() ? -1 : 1);
    }

    /// `name` is already known to be a valid DNS name.
    bool matches(std::string_view name) const noexcept {
        if (any_) return true;
        const auto it = std::lower_bound(exact_.begin(), exact_.end(), name,
                                         [](const std::string& stored, std::string_view n) {
                                             return compare_lowered(n, stored) > 0;
                                         });
        if (it != exact_.end() && compare_lowered(name, *it) == 0) return true;
        for (const std::string& suffix : suffixes_)  // ".example.com": at least one label before it
            if (name.size() > suffix.size() && compare_lowered(name.substr(name.size() - suffix.size()), suffix) == 0)
                return true;
        return false;
    }

    /// Adds a pattern already checked (lower-case or not); duplicates change nothing.
    void insert_checked(std::string_view text) {
        std::string p = lower(text);
        if (std::find(order_.begin(), order_.end(), p) != order_.end()) return;
        if (p.front() == '*') {
            suffixes_.push_back(p.substr(1));
        } else {
            exact_.insert(std::lower_bound(exact_.begin(), exact_.end(), p), p);
        }
        order_.push_back(std::move(p));
    }

    static std::optional<detail::parse_problem> check_pattern(std::string_view text, bool star_means_any) {
        if (text == "*") {
            if (star_means_any) return std::nullopt;
            return detail::parse_problem{0, "'*' alone would allow every name; say so with allowed_names::any() "
                                            "(discouraged), or list your cluster's names or domain"};
        }
        std::string_view name = text;
        std::size_t offset = 0;
        if (text.substr(0, 2) == "*.") {
            name = text.substr(2);
            offset = 2;
            if (classify_host(name) == host_kind::name && name.find('.') == std::string_view::npos)
                return detail::parse_problem{0, detail::quoted(text) +
                                                    " would allow every name under a top-level domain; give a "
                                                    "suffix of at least two labels, such as *.example.com"};
        }
        if (const std::size_t star = name.find('*'); star != std::string_view::npos)
            return detail::parse_problem{offset + star,
                                         "a '*' is accepted only as the whole first label ('*.example.com')"};
        if (auto problem = detail::check_dns_name(name)) {
            problem->offset += offset;
            return problem;
        }
        return std::nullopt;
    }

    void add_pattern(std::string_view text, std::size_t number, std::string_view what, bool star_means_any) {
        if (auto problem = check_pattern(text, star_means_any))
            throw error(error_kind::config, detail::entry_problem_message(what, number, text, *problem));
        if (text == "*") {
            any_ = true;
            return;
        }
        insert_checked(text);
    }

    std::vector<std::string> order_;     ///< every pattern, lower-case, in the order given (for messages)
    std::vector<std::string> exact_;     ///< exact names, lower-case, sorted
    std::vector<std::string> suffixes_;  ///< wildcard suffixes ".example.com", lower-case
    bool any_ = false;
};

}  // namespace addrmap
