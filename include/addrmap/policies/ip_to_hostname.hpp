// addrmap/policies/ip_to_hostname.hpp — every reported IP becomes one configured hostname, port kept.
// For clusters behind one DNS name whose certificate carries that name only (cloud-managed Redis).
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/allowed_names.hpp>
#include <addrmap/detail/cidr.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/table_grammar.hpp>
#include <addrmap/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace addrmap {

class env;

/// Maps a reported IP (v4 or v6) to one hostname; the port is kept.
///
///  - mode::dial_hostname: endpoint{hostname, port, hostname}. Dial the name and let DNS pick the
///    node (node-redis `nodeAddressMap` style; right when each node has its own port on one name).
///  - mode::dial_ip_verify_hostname: endpoint{ip, port, hostname}. Dial the reported IP, no DNS,
///    and require the certificate to carry the hostname.
///
/// A reported *name* passes through unchanged (dial it, verify it) only when it is allowed: by
/// default the hostname itself and its siblings `*.<parent>` (parent = the hostname minus its first
/// label, when the parent has at least two labels — see allowed_names::hostname_and_siblings), or
/// whatever allowed_names is given; a seed's own name always. Any other name: try_map declines
/// (nullopt), map throws error{topology} naming the node and the setting to change. A host that is
/// neither an IP nor a valid name (classify_host: invalid) is declined and refused the same way.
/// Optional only-list: IPs and CIDR ranges, v4 and v6 ("10.0.0.0/8, fd00::/8, 192.0.2.7"), separated
/// by ',', ';' or newline. When given, only IPs inside it are mapped:
///  - try_map returns nullopt for an IP outside (so first_match moves on),
///  - map throws error{topology} naming the address — it does not silently dial the bare IP, whose
///    certificate check would fail later with a vaguer error. To dial such IPs as reported, compose
///    `first_match<ip_to_hostname, identity>`.
/// An unknown host ("" or "?"): try_map returns nullopt, map throws error{topology} like identity
/// (the adapter substitutes the reporting node's host before mapping, so a policy should not see it).
///
/// Construction validates everything and throws error{config}: the hostname must be a concrete DNS
/// name (no wildcard, no IP literal, no trailing dot); each list entry must be a strict IP or CIDR
/// (prefix in range, no bits set after the prefix); duplicates are refused.
///
/// Lifetime: the endpoint views this policy's hostname and/or `address.host`; valid while both live
/// and are not modified, moved or assigned. map/try_map never allocate on success.
/// Thread safety: const member functions may run concurrently.
class ip_to_hostname {
public:
    enum class mode {
        dial_hostname,            ///< dial and verify the hostname
        dial_ip_verify_hostname,  ///< dial the reported IP, verify the hostname (no DNS)
    };

    /// `only`: empty for "every IP", else the only-list text described above.
    explicit ip_to_hostname(std::string hostname, mode how = mode::dial_hostname, std::string_view only = {})
        : ip_to_hostname(std::move(hostname), how, only, "ip_to_hostname hostname", "ip_to_hostname only-list") {}

    /// The same, with the reported names that may pass through given explicitly (replacing the default).
    ip_to_hostname(std::string hostname, mode how, std::string_view only, allowed_names names)
        : ip_to_hostname(std::move(hostname), how, only) {
        allowed_ = std::move(names);
    }

    std::optional<endpoint> try_map(const node_address& address) const {
        detail::ip_address ip;
        switch (detail::classify_host_into(address.host, ip.bytes.data())) {
            case host_kind::unknown:
            case host_kind::invalid: return std::nullopt;
            case host_kind::name:
                if (address.is_configured() || allowed_.allows(address.host))
                    return endpoint(address.host, address.port, address.host);
                return std::nullopt;
            case host_kind::ipv6: ip.is_v6 = true; break;
            case host_kind::ipv4: break;
        }
        if (!covers(ip)) return std::nullopt;
        if (mode_ == mode::dial_hostname) return endpoint(hostname_, address.port, hostname_);
        return endpoint(address.host, address.port, hostname_);
    }

    endpoint map(const node_address& address) const {
        if (auto result = try_map(address)) return *result;
        switch (classify_host(address.host)) {
            case host_kind::unknown: throw detail::unknown_host_error("ip_to_hostname", address);
            case host_kind::invalid: throw detail::invalid_host_error("ip_to_hostname", address);
            case host_kind::name:
                throw detail::name_not_allowed_error("ip_to_hostname", address, allowed_,
                                                     "ip_to_hostname(hostname, mode, only, allowed_names{...}) or "
                                                     "set_allowed_names(...)");
            case host_kind::ipv4:
            case host_kind::ipv6: break;
        }
        throw error(error_kind::topology, "ip_to_hostname maps only " + detail::quoted(only_text_, 120) + "; " +
                                              to_string(address) +
                                              " is outside that list (compose first_match<ip_to_hostname, "
                                              "identity> to dial such addresses as reported)");
    }

    const std::string& hostname() const noexcept { return hostname_; }
    mode dial_mode() const noexcept { return mode_; }
    /// True when an only-list restricts which IPs are mapped.
    bool restricted() const noexcept { return !only_.empty(); }
    /// The only-list as given (trimmed), empty when unrestricted.
    const std::string& only_text() const noexcept { return only_text_; }
    /// The reported names that pass through (see the class comment).
    const allowed_names& allowed() const noexcept { return allowed_; }
    /// Replaces the allowed names (for example with allowed_names::hostname_and_siblings(h).include(...)).
    void set_allowed_names(allowed_names names) { allowed_ = std::move(names); }

private:
    friend class env;

    /// `hostname_what` / `only_what` name the source in messages ("environment variable X_HOSTNAME").
    ip_to_hostname(std::string hostname, mode how, std::string_view only, std::string_view hostname_what,
                   std::string_view only_what)
        : hostname_(std::move(hostname)), mode_(how) {
        if (auto problem = detail::check_dns_name(hostname_))
            throw error(error_kind::config, detail::value_problem_message(hostname_what, hostname_, *problem));
        parse_only_list(only, only_what);
        allowed_ = allowed_names::hostname_and_siblings(hostname_);
    }

    void parse_only_list(std::string_view text, std::string_view what) {
        text = detail::trim_blanks(text);
        if (text.empty()) return;
        const std::size_t count = detail::for_each_entry(text, [&](std::size_t number, std::string_view entry) {
            detail::cidr_block block;
            if (auto problem = detail::parse_cidr_into(entry, block))
                throw error(error_kind::config, detail::entry_problem_message(what, number, entry, *problem));
            const auto [it, inserted] = only_index_.emplace(key_of(block.base, block.prefix_length), only_.size());
            if (!inserted)
                throw error(error_kind::config,
                            detail::entry_problem_message(
                                what, number, entry,
                                detail::parse_problem{0, "duplicate of entry #" + std::to_string(it->second + 1) +
                                                             " (" + block.to_string() + ")"}));
            std::vector<unsigned>& lengths = block.base.is_v6 ? v6_lengths_ : v4_lengths_;
            if (std::find(lengths.begin(), lengths.end(), block.prefix_length) == lengths.end())
                lengths.insert(std::upper_bound(lengths.begin(), lengths.end(), block.prefix_length,
                                                std::greater<unsigned>()),
                               block.prefix_length);
            only_.push_back(block);
        });
        if (count == 0)
            throw error(error_kind::config, std::string(what) + " " + detail::quoted(text) +
                                                " has no entries; expected IP addresses or CIDR ranges separated "
                                                "by ',', ';' or newlines");
        only_text_.assign(text.data(), text.size());
    }

    /// Short lists are scanned (faster than hashing below ~16 entries); longer ones are a hash set of
    /// (network, prefix length) probed once per distinct prefix length of the IP's family, so a
    /// 10,000-entry list of /32s costs one probe, not 10,000 comparisons. No allocation either way.
    bool covers(const detail::ip_address& ip) const noexcept {
        if (only_.empty()) return true;
        if (only_.size() <= linear_scan_limit) {
            for (const auto& block : only_)
                if (block.contains(ip)) return true;
            return false;
        }
        for (unsigned length : ip.is_v6 ? v6_lengths_ : v4_lengths_)
            if (only_index_.find(key_of(detail::mask_to(ip, length), length)) != only_index_.end()) return true;
        return false;
    }

    static detail::table_key key_of(const detail::ip_address& network, unsigned prefix_length) noexcept {
        return detail::table_key{network, static_cast<std::uint16_t>(prefix_length)};
    }

    std::string hostname_;
    mode mode_;
    static constexpr std::size_t linear_scan_limit = 16;  // measured: policies_bench map/ip_to_hostname_only
    std::vector<detail::cidr_block> only_;  // in list order
    std::unordered_map<detail::table_key, std::size_t, detail::table_key_hash> only_index_;  // -> index in only_
    std::vector<unsigned> v4_lengths_, v6_lengths_;  // distinct prefix lengths, longest first
    std::string only_text_;
    allowed_names allowed_;
};

}  // namespace addrmap
