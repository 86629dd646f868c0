// examples/json_lines_observer.hpp — an observer (addrmap/observer.hpp) that writes every event as one JSON object per
// line, with OpenTelemetry's attribute names for call ends: for log shippers.
#pragma once

#include <addrmap/addrmap.hpp>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>

namespace example {

class json_lines_observer {
public:
    explicit json_lines_observer(std::ostream& out) : out_(&out) {}

    void operator()(const addrmap::topology_changed_event& e) {
        std::string moves;
        for (const addrmap::slot_move& m : e.moves)
            moves += std::string(moves.empty() ? "" : ",") + "{\"first\":" + std::to_string(m.slots.first) +
                     ",\"last\":" + std::to_string(m.slots.last) + ",\"from\":" +
                     (m.from != nullptr ? quoted(to_string(*m.from)) : "null") + ",\"to\":" + quoted(to_string(*m.to)) + "}";
        line("topology_changed", "\"trigger\":" + quoted(to_string(e.trigger)) + ",\"moves\":[" + moves + "]");
    }
    void operator()(const addrmap::node_added_event& e) { line("node_added", node(e.node)); }
    void operator()(const addrmap::node_removed_event& e) { line("node_removed", "\"node\":" + quoted(to_string(e.reported))); }
    void operator()(const addrmap::node_down_event& e) { line("node_down", node(e.node) + ",\"problem\":" + quoted(e.problem)); }
    void operator()(const addrmap::node_up_event& e) { line("node_up", node(e.node)); }
    void operator()(const addrmap::failover_event& e) {
        line("failover", "\"old_master\":" + quoted(to_string(e.old_master)) + ",\"new_master\":" + quoted(to_string(e.new_master)));
    }
    void operator()(const addrmap::connection_opened_event& e) {
        std::string names;
        for (const std::string& n : e.handshake.certificate_names) names += (names.empty() ? "" : ",") + quoted(n);
        line("connection_opened", node(e.node) + ",\"dial_address\":" + quoted(e.dial_address) + ",\"tls\":" +
                                      quoted(e.handshake.protocol) + ",\"cipher\":" + quoted(e.handshake.cipher) +
                                      ",\"resumed\":" + (e.handshake.session_reused ? "true" : "false") +
                                      ",\"certificate_names\":[" + names + "]");
    }
    void operator()(const addrmap::connection_lost_event& e) { line("connection_lost", node(e.node) + ",\"cause\":" + quoted(e.cause)); }
    void operator()(const addrmap::redirect_event& e) {
        line(e.ask ? "ask" : "moved", "\"slot\":" + std::to_string(e.slot) + ",\"from\":" + quoted(to_string(e.from)) +
                                          ",\"to\":" + quoted(to_string(e.to)));
    }
    void operator()(const addrmap::call_ended_event& e) {
        std::string attributes;
        addrmap::otel::for_each_attribute(e, [&](std::string_view name, const auto& value) {
            attributes += (attributes.empty() ? "" : ",") + quoted(name) + ":";
            if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string_view>)
                attributes += quoted(value);
            else
                attributes += std::to_string(value);
        });
        line("call_ended", "\"duration_s\":" + std::to_string(std::chrono::duration<double>(e.duration).count()) +
                               ",\"sends\":" + std::to_string(e.sends) + ",\"attributes\":{" + attributes + "}");
    }
    void operator()(const addrmap::certificate_expiring_event& e) {
        line("certificate_expiring", node(e.node) + ",\"depth\":" + std::to_string(e.certificate.depth) +
                                         ",\"days_left\":" + std::to_string(e.left.count() / 86400));
    }
    void operator()(const addrmap::subscription_gap_event& e) {
        line("subscription_gap", "\"channel\":" + quoted(e.gap.channel) + ",\"cause\":" + quoted(e.gap.cause));
    }

private:
    static std::string quoted(std::string_view text) {
        std::string out = "\"";
        for (const char ch : text) {
            if (ch == '"' || ch == '\\') {
                out += '\\';
                out += ch;
            } else if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) {
                // Control bytes, and bytes that are not ASCII (they may not be UTF-8), as \u00XX: the line stays JSON.
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
                out += escaped;
            } else {
                out += ch;
            }
        }
        return out + "\"";
    }
    static std::string node(const addrmap::event_node& n) {
        return "\"node\":" + quoted(to_string(n.reported)) + ",\"dial\":" + quoted(std::string(n.dial_host) + ":" +
                                                                                   std::to_string(n.port)) +
               ",\"tls_name\":" + quoted(n.tls_name);
    }
    void line(const char* event, const std::string& fields) { *out_ << "{\"event\":\"" << event << "\"," << fields << "}\n"; }

    std::ostream* out_;
};

}  // namespace example
