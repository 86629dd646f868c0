// tools/doctor/report.hpp — what the doctor prints before its verdict: the header, a line per seed, the table of
// nodes, the numbered details the table cites, and a warning per certificate close to its end.
#pragma once

#include "command_line.hpp"
#include "discovery.hpp"
#include "pem_subjects.hpp"
#include "policy.hpp"
#include "probe.hpp"
#include "text.hpp"

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/topology.hpp>
#include <addrmap/version.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <ostream>
#include <string>
#include <vector>

namespace doctor {

/// The lines above the report: the version, the policy as understood, the trusted CAs, the client certificate and
/// where the AUTH password came from (never the password).
inline void print_header(std::ostream& out, const cli_options& cli, const doctor_policy& policy) {
    out << "addrmap-doctor " << ADDRMAP_VERSION_MAJOR << '.' << ADDRMAP_VERSION_MINOR << '.' << ADDRMAP_VERSION_PATCH
        << ": policy " << policy.description() << "\n  trusted CAs: " << *cli.cacert << " ("
        << subjects_summary(*cli.cacert) << ")\n  client certificate: "
        << (cli.cert ? *cli.cert + " (" + subjects_summary(*cli.cert) + ")" : std::string("none"))
        << "\n  AUTH: "
        << (cli.password ? (cli.user ? "user " + addrmap::detail::quoted(*cli.user, 80) : std::string("password only")) +
                               ", password from " + cli.password_source
                         : std::string("none"))
        << "\n\n";
}

/// Long failure messages go below the table, numbered; the table cites them as [n].
class detail_list {
public:
    std::string cite(const std::string& message) {
        messages_.push_back(message);
        return "[" + std::to_string(messages_.size()) + "]";
    }
    void print(std::ostream& out) const {
        if (messages_.empty()) return;
        out << "\ndetails:\n";
        for (std::size_t i = 0; i < messages_.size(); ++i) out << "  [" << i + 1 << "] " << messages_[i] << '\n';
    }

private:
    std::vector<std::string> messages_;
};

inline std::string slots_text(const std::vector<addrmap::slot_range>& ranges) {
    std::vector<std::string> parts;
    for (const auto& r : ranges) parts.push_back(std::to_string(r.first) + "-" + std::to_string(r.last));
    return parts.empty() ? "-" : join(parts, ",");
}

inline std::string outcome_text(const outcome& o, detail_list& details) {
    if (!o.ok()) return o.result_text() + " " + details.cite(o.detail);
    return "ok (" + milliseconds_text(o.handshake_ms.value_or(0.0)) +
           " ms; certificate: " + join(o.certificate_names, ", ") + ")";
}

inline void print_seed(std::ostream& out, const seed_attempt& s, detail_list& details) {
    const node_row& row = s.row;
    out << "seed " << addrmap::to_string(row.reported) << ": ";
    if (row.mapped)
        out << "dial " << row.mapped->dial_text() << ", TLS name " << row.mapped->tls_name << ": ";
    else
        out << "the policy cannot map it: ";
    out << outcome_text(row.result, details) << '\n';
    if (s.as_given)
        out << "  dialed as given instead, to read the topology (basic_cluster would stop at this seed): "
            << outcome_text(*s.as_given, details) << '\n';
    if (!s.read) return;
    if (!s.read->ok()) {
        out << "  reading the topology failed: " << s.read->result_text() << " " << details.cite(s.read->detail)
            << '\n';
        return;
    }
    out << "  topology from " << s.command << ": " << s.masters << " masters, " << s.replicas << " replicas, "
        << s.covered_slots << " of " << addrmap::slot_count << " slots covered\n";
    if (s.known_nodes && *s.known_nodes > s.masters + s.replicas)
        out << "  note: the cluster knows " << *s.known_nodes << " nodes but lists " << s.masters + s.replicas
            << ": CLUSTER SHARDS and SLOTS leave out replicas that are still syncing, have failed or have not joined "
               "yet (basic_cluster never sees them either); run again in a moment to check them too\n";
}

/// "2027-12-05" (UTC); "after 2262" for the clock's end (a date past it, or one OpenSSL could not read).
inline std::string date_text(std::chrono::system_clock::time_point t) {
    if (t == std::chrono::system_clock::time_point::max()) return "after 2262";
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    char buf[16];
    if (gmtime_r(&seconds, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0) return "?";
    return buf;
}

/// The node certificate's notAfter, for the table ("-" when the dial failed).
inline std::string not_after_text(const outcome& o) {
    if (!o.ok() || o.chain.empty()) return "-";
    return date_text(o.chain.front().not_after);
}

inline void print_table(std::ostream& out, const std::vector<node_row>& rows, detail_list& details) {
    using line = std::array<std::string, 9>;
    std::vector<line> lines;
    lines.push_back({"ROLE", "REPORTED", "DIAL", "TLS NAME", "RESULT", "MS", "SLOTS", "NOT AFTER",
                     "CERTIFICATE NAMES / DETAIL"});
    for (const node_row& row : rows) {
        const outcome& o = row.result;
        lines.push_back({addrmap::to_string(row.role), reported_text(row),
                         row.mapped ? row.mapped->dial_text() : "-", row.mapped ? row.mapped->tls_name : "-",
                         o.result_text(), o.ok() && o.handshake_ms ? milliseconds_text(*o.handshake_ms) : "-",
                         row.role == node_role::master ? slots_text(row.slots) : "-", not_after_text(o),
                         o.ok() ? join(o.certificate_names, ", ") : details.cite(o.detail)});
    }
    std::array<std::size_t, 9> width{};
    for (const line& l : lines)
        for (std::size_t c = 0; c < l.size(); ++c) width[c] = std::max(width[c], l[c].size());
    for (const line& l : lines) {
        std::string text;
        for (std::size_t c = 0; c < l.size(); ++c) {
            text += l[c];
            if (c + 1 < l.size()) text += std::string(width[c] - l[c].size() + 2, ' ');
        }
        out << text << '\n';
    }
}

/// One line per certificate (a node's or a CA's, each once) that expires within `warning`, after the table; nothing
/// when none does. Expiry is a warning: it does not change the verdict or the exit status.
inline void print_expiry_warnings(std::ostream& out, const std::vector<node_row>& rows,
                                  std::chrono::seconds warning) {
    const auto now = std::chrono::system_clock::now();
    std::vector<std::string> seen;
    for (const node_row& row : rows)
        for (const addrmap::certificate_validity& c : row.result.chain) {
            if (c.not_after - now > warning || std::find(seen.begin(), seen.end(), c.fingerprint) != seen.end()) continue;
            seen.push_back(c.fingerprint);
            const auto days = std::chrono::duration_cast<std::chrono::hours>(c.not_after - now).count() / 24;
            out << "warning: " << (c.depth == 0 ? "the certificate of node " : "a CA certificate of node ")
                << reported_text(row) << " (" << addrmap::detail::shortened(join(c.names, ", "), 300) << ") expires on "
                << date_text(c.not_after)
                << ", in " << days << " days: renew it before then\n";
        }
}

}  // namespace doctor
