// tools/doctor/findings.hpp — what the advice is computed from: the command line, the seeds, the node rows, and the
// facts drawn from them (names that were dialed and verified, names the certificates carry).
#pragma once

#include "command_line.hpp"
#include "discovery.hpp"
#include "policy.hpp"
#include "probe.hpp"
#include "text.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace doctor {

/// "try: FLAGS (WHY)" — flags to paste, and the fact that makes them the right ones.
struct suggestion {
    std::string flags;
    std::string why;
    std::string text() const { return why.empty() ? flags : flags + " (" + why + ")"; }
};

/// A DNS name that was dialed and verified: the certificate carries it and it resolves from here.
struct verified_name {
    std::string name;
    std::string peer_ip;
};

/// Everything the suggestions are computed from.
class findings {
public:
    findings(const cli_options& cli, const discovery& found, const std::vector<node_row>& nodes)
        : cli_(cli), found_(found), nodes_(nodes) {}

    const cli_options& cli() const noexcept { return cli_; }
    const discovery& found() const noexcept { return found_; }
    const std::vector<node_row>& nodes() const noexcept { return nodes_; }

    /// Names that reached a node and verified, seeds first (a seed given by name is the user's own choice).
    std::vector<verified_name> dialable_names() const {
        std::vector<verified_name> names;
        auto consider = [&](const route& r, const outcome& o) {
            if (!o.ok() || r.dial_host != r.tls_name || !is_name(r.dial_host)) return;
            for (const auto& known : names)
                if (known.name == r.dial_host) return;
            names.push_back({r.dial_host, o.peer_ip});
        };
        for (const seed_attempt& s : found_.seeds) {
            if (s.row.mapped) consider(*s.row.mapped, s.row.result);
            if (s.as_given) consider(route::as_given(s.row.reported), *s.as_given);
        }
        for (const node_row& row : nodes_)
            if (row.mapped) consider(*row.mapped, row.result);
        return names;
    }

    /// DNS names ("DNS:x" SANs) of every certificate seen in a successful handshake.
    std::vector<std::string> certificate_dns_names() const {
        std::vector<std::string> names;
        auto take = [&](const outcome& o) {
            for (const auto& entry : o.certificate_names)
                if (entry.rfind("DNS:", 0) == 0 &&
                    std::find(names.begin(), names.end(), entry.substr(4)) == names.end())
                    names.push_back(entry.substr(4));
        };
        for (const seed_attempt& s : found_.seeds) {
            take(s.row.result);
            if (s.as_given) take(*s.as_given);
        }
        for (const node_row& row : nodes_) take(row.result);
        return names;
    }

    bool anything_verified() const {
        for (const seed_attempt& s : found_.seeds)
            if ((s.row.mapped && s.row.ok()) || (s.as_given && s.as_given->ok())) return true;
        return std::any_of(nodes_.begin(), nodes_.end(), [](const node_row& r) { return r.mapped && r.ok(); });
    }

    bool is_current(const std::string& policy, const std::string& hostname) const {
        return cli_.policy == policy && cli_.hostname.value_or("") == hostname;
    }

private:
    const cli_options& cli_;
    const discovery& found_;
    const std::vector<node_row>& nodes_;
};

}  // namespace doctor
