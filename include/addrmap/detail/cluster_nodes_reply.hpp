// addrmap/detail/cluster_nodes_reply.hpp — what a node's CLUSTER NODES text says: every node's id and address, who
// owns which slots, and the answering node's own migrations. No I/O; the cluster scan's machine reads it.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/topology.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap::detail {

/// One node's CLUSTER NODES answer: every node's id and address, who owns which slots, and the answering
/// node's own migrations ("[slot->-id]" and "[slot-<-id]" appear only on its "myself" line).
struct cluster_nodes_view {
    struct row {
        std::string id;
        node_address address;
        std::vector<slot_range> slots;
    };
    std::string self_id;
    std::vector<row> rows;
    std::vector<std::pair<std::uint16_t, std::string>> migrating;  // slot -> target id
    std::vector<std::pair<std::uint16_t, std::string>> importing;  // slot -> source id

    const row* find(std::string_view id) const noexcept {
        for (const row& r : rows)
            if (r.id == id) return &r;
        return nullptr;
    }
    const row* owner(std::uint16_t slot) const noexcept {
        for (const row& r : rows)
            for (const slot_range& range : r.slots)
                if (range.first <= slot && slot <= range.last) return &r;
        return nullptr;
    }
    static const std::string* in(const std::vector<std::pair<std::uint16_t, std::string>>& list, std::uint16_t slot) {
        for (const auto& entry : list)
            if (entry.first == slot) return &entry.second;
        return nullptr;
    }
};

inline std::uint16_t parse_slot_number(std::string_view text, std::string_view line) {
    std::uint32_t value = text.empty() || text.size() > 5 ? slot_count : 0;  // 5 digits cannot wrap a uint32
    for (std::size_t i = 0; i < text.size() && value < slot_count; ++i)
        value = text[i] >= '0' && text[i] <= '9' ? value * 10 + static_cast<std::uint32_t>(text[i] - '0') : slot_count;
    if (value >= slot_count)
        throw error(error_kind::protocol,
                    "CLUSTER NODES: bad slot " + quoted(text, 40) + " in line " + quoted(line, 300));
    return static_cast<std::uint16_t>(value);
}

/// Parses CLUSTER NODES text; error{protocol} quoting the line that does not fit the format.
inline cluster_nodes_view parse_cluster_nodes(std::string_view text) {
    cluster_nodes_view view;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        std::vector<std::string_view> fields;
        for (std::size_t at = 0; at <= line.size();) {
            const std::size_t space = std::min(line.find(' ', at), line.size());
            if (space > at) fields.push_back(line.substr(at, space - at));
            at = space + 1;
        }
        const auto bad = [&](const char* what) {
            return error(error_kind::protocol, std::string("CLUSTER NODES: ") + what + " in line " + quoted(line, 300));
        };
        if (fields.size() < 8) throw bad("fewer than 8 fields");
        cluster_nodes_view::row r;
        r.id.assign(fields[0].data(), fields[0].size());
        // ip:port@cport[,hostname]; the ip may be a bare IPv6 address, so the port follows the last ':'.
        const std::string_view address = fields[1].substr(0, fields[1].find('@'));
        const std::size_t colon = address.rfind(':');
        if (colon == std::string_view::npos) throw bad("no port in the address");
        r.address.host.assign(address.data(), colon);
        std::uint32_t port = 0;
        for (char c : address.substr(colon + 1)) {
            const bool digit = c >= '0' && c <= '9' && port < 65536;
            port = digit ? port * 10 + static_cast<std::uint32_t>(c - '0') : 65536;
        }
        // A node flagged noaddr (":0@0": its address is not known to the answering node) is kept, for whom it owns,
        // with port 0; a reader that must reach it says so (follow_slot).
        const bool noaddr = fields[2].find("noaddr") != std::string_view::npos && port == 0;
        if ((port == 0 && !noaddr) || port > 65535) throw bad("bad port");
        r.address.port = static_cast<std::uint16_t>(port);
        const bool myself = fields[2].find("myself") != std::string_view::npos;
        if (myself) view.self_id = r.id;
        for (std::size_t i = 8; i < fields.size(); ++i) {
            const std::string_view f = fields[i];
            if (f.front() == '[') {  // [slot->-id] migrating, [slot-<-id] importing (own line only)
                const std::size_t arrow = f.find("->-") != std::string_view::npos ? f.find("->-") : f.find("-<-");
                if (arrow == std::string_view::npos || f.back() != ']') throw bad("bad migration entry");
                const std::uint16_t slot = parse_slot_number(f.substr(1, arrow - 1), line);
                std::string peer(f.substr(arrow + 3, f.size() - arrow - 4));
                if (myself) (f[arrow + 1] == '>' ? view.migrating : view.importing).emplace_back(slot, std::move(peer));
                continue;
            }
            const std::size_t dash = f.find('-');
            const std::uint16_t first = parse_slot_number(f.substr(0, dash), line);
            const std::uint16_t last =
                dash == std::string_view::npos ? first : parse_slot_number(f.substr(dash + 1), line);
            if (last < first) throw bad("a slot range that ends before it starts");
            r.slots.push_back({first, last});
        }
        view.rows.push_back(std::move(r));
    }
    if (view.self_id.empty()) throw error(error_kind::protocol, "CLUSTER NODES: no line marked myself");
    return view;
}

}  // namespace addrmap::detail
