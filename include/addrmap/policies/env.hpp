// addrmap/policies/env.hpp — static_table and ip_to_hostname configured from environment variables.
// Read once at construction, so deployments can change mapping without a rebuild and typos fail early.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/allowed_names.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/error.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>

#include <unistd.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" char** environ;  // POSIX; <unistd.h> declares it only with _GNU_SOURCE / _DEFAULT_SOURCE

namespace addrmap {

/// The environment policy. With the default prefix "ADDRMAP_":
///
///   ADDRMAP_TABLE=<static_table grammar>    e.g. "10.0.0.1:7000=node1.example.com;10.0.0.2=node2.example.com"
///   ADDRMAP_HOSTNAME=<dns name>             ip_to_hostname's hostname
///   ADDRMAP_MODE=dial_hostname|dial_ip      ip_to_hostname's mode (default dial_hostname; needs HOSTNAME)
///   ADDRMAP_ONLY=<IPs and CIDRs>            ip_to_hostname's only-list, e.g. "10.0.0.0/8,fd00::/8" (needs HOSTNAME)
///   ADDRMAP_ON_MISS=pass_through|fail       what map does when no rule answers (default fail)
///   ADDRMAP_ALLOWED_NAMES=<patterns>        reported names that may be dialed as reported, e.g.
///                                           "node1.example.com,*.cluster.example.com"; "*" alone: any
///
/// All optional. The table is consulted first, then the hostname rule (which also passes reported
/// names through, when allowed); try_map declines when neither answers, map applies ON_MISS.
///
/// Reported *names* are dialed as reported only when allowed (a seed's own name always). Without
/// ALLOWED_NAMES: the hostname rule's default (HOSTNAME and its siblings *.<parent>, see
/// allowed_names::hostname_and_siblings) together with the table's target and TLS names; with
/// neither rule, no name. ALLOWED_NAMES replaces that default for both rules and for ON_MISS.
///
/// Strict: every variable starting with the prefix must be one of the above (a typo such as
/// ADDRMAP_HOSTNAM is an error listing the known names), none may be empty, and every value is
/// validated as static_table / ip_to_hostname validate theirs. Errors are error{config} naming the
/// variable: "environment variable ADDRMAP_TABLE entry #2 '10.0.0.x=foo' column 8: ...".
///
/// The environment is read once, by the constructor; map never looks at it again. Reading the
/// process environment while another thread calls setenv is a data race (POSIX), so construct
/// this before starting threads.
///
/// Lifetime: results view this policy's strings or `address.host`, as static_table and
/// ip_to_hostname do: valid while both live and are not modified, moved or assigned.
class env {
public:
    static constexpr std::string_view default_prefix = "ADDRMAP_";

    /// Reads the process environment with the default prefix.
    env() : env(from_process()) {}

    /// Reads the process environment (`environ`) with the given prefix.
    static env from_process(std::string_view prefix = default_prefix) {
        std::map<std::string, std::string> variables;
        if (!prefix.empty() && environ != nullptr) {
            for (char** entry = environ; *entry != nullptr; ++entry) {
                const std::string_view text(*entry);
                if (text.substr(0, prefix.size()) != prefix) continue;
                const std::size_t equals = text.find('=');
                if (equals == std::string_view::npos) {
                    variables.emplace(std::string(text), std::string());
                } else {
                    variables.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
                }
            }
        }
        return env(variables, prefix);
    }

    /// Uses `variables` (name -> value) instead of the process environment; names without the
    /// prefix are ignored, as the process environment's other variables are.
    explicit env(const std::map<std::string, std::string>& variables, std::string_view prefix = default_prefix)
        : prefix_(prefix) {
        if (prefix_.empty())
            throw error(error_kind::config, "env prefix is empty; expected something like ADDRMAP_");
        const std::string* table_text = nullptr;
        const std::string* hostname = nullptr;
        const std::string* mode_text = nullptr;
        const std::string* only_text = nullptr;
        const std::string* miss_text = nullptr;
        const std::string* allowed_text = nullptr;
        for (const auto& [name, value] : variables) {
            if (std::string_view(name).substr(0, prefix_.size()) != prefix_) continue;
            const std::string_view key = std::string_view(name).substr(prefix_.size());
            const std::string** slot = key == "TABLE"      ? &table_text
                                       : key == "HOSTNAME" ? &hostname
                                       : key == "MODE"     ? &mode_text
                                       : key == "ONLY"     ? &only_text
                                       : key == "ON_MISS"  ? &miss_text
                                       : key == "ALLOWED_NAMES" ? &allowed_text
                                                           : nullptr;
            if (slot == nullptr)
                throw error(error_kind::config, "environment variable " + detail::escaped(name, 80) +
                                                    " is not a known setting; known: " +
                                                    variable("HOSTNAME") + ", " + variable("MODE") + ", " +
                                                    variable("ONLY") + ", " + variable("TABLE") + ", " +
                                                    variable("ON_MISS") + ", " + variable("ALLOWED_NAMES"));
            if (detail::trim_blanks(value).empty())
                throw error(error_kind::config, "environment variable " + detail::escaped(name, 80) +
                                                    " is empty; give a value or unset it");
            *slot = &value;
        }

        if (miss_text) {
            if (*miss_text == "pass_through") {
                miss_ = on_miss::pass_through;
            } else if (*miss_text == "fail") {
                miss_ = on_miss::fail;
            } else {
                throw error(error_kind::config, "environment variable " + variable("ON_MISS") + "=" +
                                                    detail::quoted(*miss_text) + ": expected pass_through or fail");
            }
        }
        auto how = ip_to_hostname::mode::dial_hostname;
        if (mode_text) {
            if (*mode_text == "dial_ip") {
                how = ip_to_hostname::mode::dial_ip_verify_hostname;
            } else if (*mode_text != "dial_hostname") {
                throw error(error_kind::config, "environment variable " + variable("MODE") + "=" +
                                                    detail::quoted(*mode_text) + ": expected dial_hostname or dial_ip");
            }
        }
        for (const auto& [setting, text] : {std::pair{"MODE", mode_text}, std::pair{"ONLY", only_text}}) {
            if (text && !hostname)
                throw error(error_kind::config, "environment variable " + variable(setting) + " is set but " +
                                                    variable("HOSTNAME") + " is not; " + variable(setting) +
                                                    " configures the hostname rule");
        }
        if (table_text) table_.emplace(static_table(*table_text, on_miss::fail, "environment variable " + variable("TABLE")));
        if (hostname)
            hostname_rule_.emplace(ip_to_hostname(*hostname, how, only_text ? std::string_view(*only_text) : "",
                                                  "environment variable " + variable("HOSTNAME"),
                                                  "environment variable " + variable("ONLY")));
        if (allowed_text) {
            allowed_ = allowed_names(*allowed_text, "environment variable " + variable("ALLOWED_NAMES"), true);
            allowed_from_variable_ = true;
        } else {
            if (hostname_rule_) allowed_.include(hostname_rule_->allowed());
            if (table_) allowed_.include(table_->allowed());
        }
        // One set for every rule, so which rule answers never changes which names are allowed.
        if (table_) table_->set_allowed_names(allowed_);
        if (hostname_rule_) hostname_rule_->set_allowed_names(allowed_);
    }

    /// The table's answer, else the hostname rule's, else nullopt.
    std::optional<endpoint> try_map(const node_address& address) const {
        if (table_) {
            if (auto result = table_->try_map(address)) return result;
        }
        if (hostname_rule_) return hostname_rule_->try_map(address);
        return std::nullopt;
    }

    /// try_map's answer; when there is none, ON_MISS decides. An unknown host throws error{topology}.
    endpoint map(const node_address& address) const {
        if (auto result = try_map(address)) return *result;
        const host_kind kind = classify_host(address.host);
        if (kind == host_kind::unknown) throw detail::unknown_host_error("env", address);
        if (kind == host_kind::invalid) throw detail::invalid_host_error("env", address);
        const bool name_allowed = kind == host_kind::name && (address.is_configured() || allowed_.allows(address.host));
        if (kind == host_kind::name && (hostname_rule_ || miss_ == on_miss::pass_through) && !name_allowed)
            throw detail::name_not_allowed_error(
                "env", address, allowed_,
                variable("ALLOWED_NAMES") + (allowed_from_variable_ ? " (it is set: add the name or its *.domain)"
                                                                    : " (unset: the default comes from " +
                                                                          variable("HOSTNAME") + " and " +
                                                                          variable("TABLE") + ")"));
        if (miss_ == on_miss::pass_through) return endpoint(address.host, address.port, address.host);
        std::string why = table_ ? "no " + variable("TABLE") + " entry matches" : variable("TABLE") + " is unset";
        why += hostname_rule_ ? ", and it is outside " + variable("ONLY") : ", and " + variable("HOSTNAME") + " is unset";
        throw error(error_kind::topology, "env has no rule for " + to_string(address) + " (" + why + "); set " +
                                              variable("ON_MISS") + "=pass_through to dial such addresses as reported");
    }

    const std::optional<static_table>& table() const noexcept { return table_; }
    const std::optional<ip_to_hostname>& hostname_rule() const noexcept { return hostname_rule_; }
    on_miss miss_behavior() const noexcept { return miss_; }
    const std::string& prefix() const noexcept { return prefix_; }
    /// The reported names that may be dialed as reported (ALLOWED_NAMES, or the rules' defaults).
    const allowed_names& allowed() const noexcept { return allowed_; }

    /// The table's entries that never matched (empty without a table).
    std::vector<std::string> unmatched_entries() const {
        return table_ ? table_->unmatched_entries() : std::vector<std::string>{};
    }

private:
    std::string variable(std::string_view setting) const { return prefix_ + std::string(setting); }

    std::string prefix_;
    std::optional<static_table> table_;
    std::optional<ip_to_hostname> hostname_rule_;
    on_miss miss_ = on_miss::fail;
    allowed_names allowed_;
    bool allowed_from_variable_ = false;
};

}  // namespace addrmap
