// tools/doctor/policy.hpp — the policy named by --policy, built from the command line and chosen at run time, and
// the route it gives an address (where to dial, which name to verify), kept by value.
#pragma once

#include "command_line.hpp"
#include "text.hpp"

#include <addrmap/address.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policy.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace doctor {

using addrmap::node_address;

/// Where a policy sent an address, copied: the library's endpoint only views its strings.
struct route {
    std::string dial_host;
    std::uint16_t port = 0;
    std::string tls_name;

    static route of(const addrmap::endpoint& e) {
        return {std::string(e.dial_host()), e.port(), std::string(e.tls_name())};
    }
    static route as_given(const node_address& a) { return {a.host, a.port, a.host}; }
    addrmap::endpoint view() const noexcept { return addrmap::endpoint(dial_host, port, tls_name); }
    std::string dial_text() const { return addrmap::format_host_port(dial_host, port); }
    friend bool operator==(const route& a, const route& b) noexcept {
        return a.dial_host == b.dial_host && a.port == b.port && a.tls_name == b.tls_name;
    }
};

/// One of the shipped policies, chosen at run time, with a one-line description for the report.
class doctor_policy {
public:
    explicit doctor_policy(const cli_options& o) : name_(*o.policy), impl_(make(o)) { description_ = describe(o); }

    /// The policy's answer, through addrmap::map_address like the adapter. Throws addrmap::error.
    route map(const node_address& address) const {
        return std::visit([&](const auto& policy) { return route::of(addrmap::map_address(policy, address)); }, impl_);
    }
    const std::string& name() const noexcept { return name_; }
    const std::string& description() const noexcept { return description_; }

private:
    using variant = std::variant<addrmap::identity, addrmap::ip_to_hostname, addrmap::static_table, addrmap::env>;

    static variant make(const cli_options& o) {
        const std::string& name = *o.policy;
        if (name == "identity") return addrmap::identity{};
        if (name == "ip_to_hostname") return addrmap::ip_to_hostname(*o.hostname);
        if (name == "ip_to_hostname_keep_ip")
            return addrmap::ip_to_hostname(*o.hostname, addrmap::ip_to_hostname::mode::dial_ip_verify_hostname);
        if (name == "static_table") return addrmap::static_table::parse(*o.table);
        return addrmap::env();
    }

    std::string describe(const cli_options& o) const {
        if (name_ == "identity") return "identity (dial and verify each address as reported)";
        if (name_ == "ip_to_hostname")
            return "ip_to_hostname (dial and verify " + *o.hostname + " at each node's port)";
        if (name_ == "ip_to_hostname_keep_ip")
            return "ip_to_hostname_keep_ip (dial each reported IP, verify " + *o.hostname + ")";
        if (const auto* table = std::get_if<addrmap::static_table>(&impl_))
            return "static_table (" + std::to_string(table->size()) + (table->size() == 1 ? " entry)" : " entries)");
        return describe_env(std::get<addrmap::env>(impl_));
    }

    static std::string describe_env(const addrmap::env& policy) {
        std::vector<std::string> parts;
        if (const auto& table = policy.table())
            parts.push_back(policy.prefix() + "TABLE with " + std::to_string(table->size()) + " entries");
        if (const auto& rule = policy.hostname_rule())
            parts.push_back(policy.prefix() + "HOSTNAME=" + rule->hostname() +
                            (rule->dial_mode() == addrmap::ip_to_hostname::mode::dial_hostname ? " (dial the name)"
                                                                                               : " (dial the IP)"));
        parts.push_back(policy.prefix() +
                        "ON_MISS=" + (policy.miss_behavior() == addrmap::on_miss::fail ? "fail" : "pass_through"));
        return "env (" + join(parts, ", ") + ")";
    }

    std::string name_;
    variant impl_;
    std::string description_;
};

}  // namespace doctor
