// tools/doctor/advice.hpp — the suggested fix for each kind of failure, computed from what happened (a name that
// verified, the CA file's subjects, the unreachable addresses, the table's missing entries), never a canned guess.
#pragma once

#include "discovery.hpp"
#include "findings.hpp"
#include "pem_subjects.hpp"
#include "probe.hpp"
#include "text.hpp"

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/error.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace doctor {

inline std::string addresses_of(const std::vector<const node_row*>& rows) {
    std::vector<std::string> out;
    for (const node_row* row : rows) out.push_back(reported_text(*row));
    return join(out, ", ");
}

/// "ip:port=TARGET" for each row whose reported host is an IP (static_table keys are IPs), joined by ','.
inline std::string table_entries(const std::vector<const node_row*>& rows, const std::string& target) {
    std::vector<std::string> entries;
    for (const node_row* row : rows)
        if (is_ip(row->reported.host)) entries.push_back(addrmap::to_string(row->reported) + "=" + target);
    return join(entries, ",");
}

inline std::string addresses_dialed(const std::vector<const node_row*>& rows) {
    std::vector<std::string> out;
    for (const node_row* row : rows) {
        const std::string text = row->mapped->dial_text();
        if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
    }
    return join(out, ", ");
}

inline bool distinct_ports(const std::vector<const node_row*>& rows) {
    std::set<std::uint16_t> ports;
    for (const node_row* row : rows)
        if (!ports.insert(row->reported.port).second) return false;
    return true;
}

/// Certificates carry DNS names but not the names or IPs the policy asked for.
inline suggestion suggest_for_tls_name(const std::vector<const node_row*>& failed, const findings& f) {
    for (const verified_name& known : f.dialable_names()) {
        // Dialing the name at each node's port reaches the same node only if the name leads to the IP
        // every failing node reported; otherwise keep dialing the IPs (reachable: TLS got as far as the
        // name check) and verify the name.
        const bool behind_name = std::all_of(failed.begin(), failed.end(), [&](const node_row* row) {
            return same_ip(row->reported.host, known.peer_ip);
        });
        const std::string policy = behind_name ? "ip_to_hostname" : "ip_to_hostname_keep_ip";
        if (f.is_current(policy, known.name)) continue;
        return {"--policy " + policy + " --hostname " + known.name,
                behind_name ? "the certificate carries " + known.name + ", and it leads to " + known.peer_ip +
                                  ", the address the nodes report"
                            : "the certificate carries " + known.name + ", but " + known.name + " leads to " +
                                  known.peer_ip + ", not to the nodes' IPs: dial each reported IP and verify it"};
    }
    // A name from a verified certificate that no dial has shown to resolve: verify it, dial the IPs.
    for (const std::string& name : f.certificate_dns_names()) {
        const bool wildcard = name.rfind("*.", 0) == 0;
        const std::string concrete = wildcard ? "node" + name.substr(1) : name;
        if (!addrmap::is_valid_dns_name(concrete) || f.is_current("ip_to_hostname_keep_ip", concrete)) continue;
        return {"--policy ip_to_hostname_keep_ip --hostname " + concrete,
                "the certificate carries " + name + (wildcard ? ", which covers " + concrete : "")};
    }
    std::string why = "NAME: a DNS name the certificate carries, listed in the details";
    if (failed.front()->role != node_role::seed)
        why += "; if each node's certificate carries its own name, map each with --policy static_table --table '" +
               table_entries(failed, "NAME") + "'";
    return {"--policy ip_to_hostname_keep_ip --hostname NAME", why};
}

inline suggestion suggest_for_tls_chain(const std::vector<const node_row*>& failed, const findings& f) {
    const std::string& file = *f.cli().cacert;
    const std::string holds = file + " holds " + subjects_summary(file);
    if (f.anything_verified())
        return {"--cacert FILE that also trusts the issuer of " + addresses_of(failed),
                holds +
                    ", which verified the other nodes; the details say whether those certificates come from "
                    "another CA or are expired"};
    return {"--cacert FILE holding the CA that issued the nodes' certificates",
            holds + "; the details name the issuer the servers' chain leads to"};
}

/// TCP failed. Either the policy dialed a name that does not work from here, or the reported
/// addresses are unreachable (NAT, container networks).
inline suggestion suggest_for_unreachable(const std::vector<const node_row*>& failed, const findings& f) {
    const node_row& first = *failed.front();
    // Only the host was swapped for a name (ip_to_hostname's dial_hostname): the name is what fails.
    const bool dialed_a_name = std::all_of(failed.begin(), failed.end(), [&](const node_row* row) {
        return is_ip(row->reported.host) && is_name(row->mapped->dial_host) &&
               row->mapped->port == row->reported.port && row->mapped->tls_name == first.mapped->tls_name;
    });
    if (dialed_a_name && !f.is_current("ip_to_hostname_keep_ip", first.mapped->tls_name))
        return {"--policy ip_to_hostname_keep_ip --hostname " + first.mapped->tls_name,
                first.mapped->dial_host + " cannot be dialed from here; dial the reported IPs and verify the name"};
    if (distinct_ports(failed)) {
        for (const verified_name& known : f.dialable_names()) {
            if (f.is_current("ip_to_hostname", known.name)) continue;
            return {"--policy ip_to_hostname --hostname " + known.name,
                    addresses_dialed(failed) + " cannot be reached from here, but " + known.name +
                        " reached the cluster and the certificate carries it; dial it at each node's port"};
        }
    }
    return {"--policy static_table --table '" + table_entries(failed, "HOST:PORT") + "'",
            "the reported addresses are unreachable from here (NAT or a container network?): replace HOST:PORT "
            "with where each node can be reached"};
}

/// A static_table target for `row`'s working route: "host", "host:port" when the port changes, "/tls=" when
/// the TLS name differs from the host.
inline std::string table_target(const node_row& row) {
    const route& r = *row.mapped;
    std::string text = r.dial_host;
    if (r.port != row.reported.port)
        text = r.dial_text();
    else if (addrmap::classify_host(r.dial_host) == addrmap::host_kind::ipv6)
        text = "[" + r.dial_host + "]";
    if (r.tls_name != r.dial_host) text += "/tls=" + r.tls_name;
    return text;
}

/// The target that worked for the nodes the policy does map, if they agree on one; else a verified name.
inline std::string working_table_target(const findings& f) {
    std::optional<std::string> target;
    for (const node_row& row : f.nodes()) {
        if (!row.mapped || !row.ok()) continue;
        const std::string here = table_target(row);
        if (target && *target != here) return "HOST";
        target = here;
    }
    if (target) return *target;
    const auto names = f.dialable_names();
    return names.empty() ? "HOST" : names.front().name;
}

/// The policy refused addresses (error_kind::topology from map): say what to add to it.
inline suggestion suggest_for_unmapped(const std::vector<const node_row*>& failed, const findings& f) {
    const std::string& policy = *f.cli().policy;
    const std::string target = working_table_target(f);
    if (policy == "static_table")
        return {"--table '" + *f.cli().table + "," + table_entries(failed, target) + "'",
                "the table has no entry for " + addresses_of(failed)};
    if (policy == "env") {
        const auto names = f.dialable_names();
        if (!names.empty())
            return {"ADDRMAP_HOSTNAME=" + names.front().name + " in the environment",
                    "env has no rule for " + addresses_of(failed) + "; the certificate carries " + names.front().name};
        return {"ADDRMAP_TABLE='" + table_entries(failed, target) + "' in the environment",
                "env has no rule for " + addresses_of(failed)};
    }
    return {"a policy that maps " + addresses_of(failed), "see the details"};
}

/// Nodes reported as '?': another policy cannot help (no policy maps an unknown address); the node must announce
/// a hostname. In the library's words (detail::unknown_node_message), not a second version of them.
inline suggestion suggest_for_unknown_nodes(const std::vector<const node_row*>& unknown) {
    return {addrmap::detail::unknown_node_fix((unknown.size() == 1 ? "the node reported as " : "the nodes reported as ") +
                                              addresses_of(unknown)),
            std::string(addrmap::detail::unknown_node_cause)};
}

inline suggestion suggest_for(error_kind kind, const std::vector<const node_row*>& failed, const findings& f) {
    const bool all_mapped =
        std::all_of(failed.begin(), failed.end(), [](const node_row* r) { return r->mapped.has_value(); });
    switch (kind) {
        case error_kind::tls_name: return suggest_for_tls_name(failed, f);
        case error_kind::tls_chain: return suggest_for_tls_chain(failed, f);
        case error_kind::connect:
        case error_kind::timeout:
            if (all_mapped) return suggest_for_unreachable(failed, f);
            break;
        case error_kind::topology:
            if (!all_mapped) return suggest_for_unmapped(failed, f);
            break;
        case error_kind::tls_handshake:
            if (!f.cli().cert)
                return {"--cert FILE --key FILE", "the servers may require a client certificate; see the details"};
            return {"a client certificate the servers trust", "see the details"};
        case error_kind::server:
            if (!f.cli().password)
                return {"DOCTOR_PASSWORD in the environment or --pass-file FILE (and --user USER for an ACL user)",
                        "the cluster requires AUTH"};
            return {"the right --user and password (now from " + f.cli().password_source + ")", "AUTH was refused"};
        default: break;
    }
    return {"see the details", ""};
}

/// How far a seed got through the policy's route: mapped, TCP, TLS, AUTH and topology.
inline int seed_progress(const seed_attempt& s) {
    if (!s.row.mapped) return 0;
    if (s.row.result.failure == error_kind::connect || s.row.result.failure == error_kind::timeout) return 1;
    if (!s.row.ok()) return s.row.result.failure == error_kind::server ? 3 : 2;
    return 4;
}

/// The seed whose failure says most (the one that got furthest; the first of those), to explain and fix.
inline const seed_attempt& most_telling_seed(const discovery& found) {
    const seed_attempt* best = &found.seeds.front();
    for (const seed_attempt& s : found.seeds)
        if (seed_progress(s) > seed_progress(*best)) best = &s;
    return *best;
}

/// No seed worked through the policy, so basic_cluster::connect() would fail before any node.
inline suggestion suggest_for_seeds(const findings& f) {
    const seed_attempt& first = most_telling_seed(f.found());
    const node_row& seed = first.row;
    const std::string& policy = *f.cli().policy;
    if (!seed.mapped && policy == "env" && !is_ip(seed.reported.host)) {
        // A hostname rule passes names through; a table never matches one.
        const auto names = f.dialable_names();
        if (!names.empty())
            return {"ADDRMAP_HOSTNAME=" + names.front().name + " in the environment",
                    "a hostname rule also passes seeds given by name through"};
        return {"--seed IP:PORT that ADDRMAP_TABLE maps, or ADDRMAP_ON_MISS=pass_through",
                "seeds go through the policy, and ADDRMAP_TABLE maps IP addresses only"};
    }
    if (!seed.mapped && policy == "static_table" && !is_ip(seed.reported.host)) {
        // Table keys are IPs; a seed given by name never matches one.
        for (const node_row& row : f.nodes())
            if (row.ok() && is_ip(row.reported.host))
                return {"--seed " + addrmap::to_string(row.reported),
                        "seeds go through the policy, and a static_table maps IP addresses only; the table maps " +
                            addrmap::to_string(row.reported)};
        return {"--seed IP:PORT of a node the table maps",
                "seeds go through the policy, and a static_table maps IP addresses only"};
    }
    const bool unreachable = seed.result.failure == error_kind::connect || seed.result.failure == error_kind::timeout;
    if (seed.mapped && unreachable)
        return {"--seed HOST:PORT of a node reachable from here",
                "check the seed's host and that the port is the node's TLS port"};
    if (!seed.ok()) return suggest_for(*seed.result.failure, {&seed}, f);
    if (first.read && first.read->failure) return suggest_for(*first.read->failure, {&seed}, f);
    return {"see the details", ""};
}

}  // namespace doctor
