// tools/doctor/verdict.hpp — the last line: OK when every seed and node verified, else what failed, grouped by kind,
// with the fixes for each (the exit status follows it).
#pragma once

#include "advice.hpp"
#include "discovery.hpp"
#include "findings.hpp"
#include "probe.hpp"
#include "text.hpp"

#include <addrmap/error.hpp>

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace doctor {

/// Failure kinds of `rows`, most frequent first, with the rows of each.
inline std::vector<std::pair<error_kind, std::vector<const node_row*>>> group_failures(
    const std::vector<node_row>& rows) {
    std::vector<std::pair<error_kind, std::vector<const node_row*>>> groups;
    for (const node_row& row : rows) {
        if (row.ok()) continue;
        auto it =
            std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == *row.result.failure; });
        if (it == groups.end()) it = groups.insert(groups.end(), {*row.result.failure, {}});
        it->second.push_back(&row);
    }
    std::stable_sort(groups.begin(), groups.end(),
                     [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
    return groups;
}

/// Why the seeds failed: the most telling seed's policy failure, or its topology read failure.
inline std::string seed_failure_kind(const discovery& found) {
    const seed_attempt& first = most_telling_seed(found);
    if (!first.row.ok()) return first.row.result.result_text();
    if (first.read && !first.read->ok()) return first.read->result_text();
    return "unknown";
}

/// Adds a fix unless one with the same flags is already there (one change can fix seeds and nodes).
inline void add_fix(std::vector<suggestion>& fixes, suggestion fix) {
    for (const suggestion& known : fixes)
        if (known.flags == fix.flags) return;
    fixes.push_back(std::move(fix));
}

/// The one-line verdict; true when everything verified.
inline bool print_verdict(std::ostream& out, const findings& f, const std::string& policy) {
    const std::vector<node_row>& nodes = f.nodes();
    const bool seeds_ok = f.found().usable_seed();
    const auto groups = group_failures(nodes);
    if (f.found().layout && seeds_ok && groups.empty()) {
        out << "verdict: OK — all " << nodes.size() << " nodes verified with policy " << policy << '\n';
        return true;
    }
    std::vector<std::string> problems;
    std::vector<suggestion> fixes;
    if (!f.found().layout) {
        problems.push_back("no seed could be used to read the topology (" + seed_failure_kind(f.found()) + ")");
    } else {
        std::size_t failed = 0;
        std::vector<std::string> kinds;
        for (const auto& [kind, rows] : groups) {
            failed += rows.size();
            kinds.push_back(addrmap::to_string(kind));
            // '?' nodes get the server-side fix; the others of the same kind the fix computed for them.
            std::vector<const node_row*> unknown, others;
            for (const node_row* row : rows) (is_unknown_node(*row) ? unknown : others).push_back(row);
            if (!unknown.empty()) add_fix(fixes, suggest_for_unknown_nodes(unknown));
            if (!others.empty()) add_fix(fixes, suggest_for(kind, others, f));
        }
        if (failed > 0)
            problems.push_back(std::to_string(failed) + " of " + std::to_string(nodes.size()) + " nodes failed (" +
                               join(kinds, ", ") + ")");
        else
            problems.push_back("all " + std::to_string(nodes.size()) + " nodes verified");
        if (!seeds_ok)
            problems.push_back("no seed works with policy " + policy + " (" + seed_failure_kind(f.found()) + ")");
    }
    if (!seeds_ok) add_fix(fixes, suggest_for_seeds(f));
    std::vector<std::string> fix_texts;
    for (const suggestion& fix : fixes) fix_texts.push_back(fix.text());
    out << "verdict: FAIL — " << join(problems, ", but ") << "; try: " << join(fix_texts, "; and ") << '\n';
    return false;
}

}  // namespace doctor
