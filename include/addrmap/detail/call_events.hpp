// addrmap/detail/call_events.hpp — a call's end told to the observer: its operation name (upper-case, as OpenTelemetry
// names it), where it went, how long it took and how it ended; pipelines as PIPELINE, transactions as MULTI.
#pragma once

#include <addrmap/command_safety.hpp>
#include <addrmap/events.hpp>

#include <algorithm>
#include <cstddef>
#include <string_view>

#include <hiredis/hiredis.h>

namespace addrmap::detail {

/// A command's name, upper-cased into its own storage (names past 31 bytes are cut: no Redis command is that long),
/// every byte but a letter, digit, '_', '-', '.' or ':' as '?': it ends up in metric labels and log lines as it is.
class operation_name {
public:
    explicit operation_name(std::string_view encoded_command) noexcept {
        const std::string_view name = command_name(encoded_command);
        length_ = std::min(name.size(), sizeof(text_));
        for (std::size_t i = 0; i < length_; ++i) {
            const char ch = name[i];
            const bool kept = (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
                              ch == '.' || ch == ':';
            text_[i] = ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : kept ? ch : '?';
        }
    }
    std::string_view view() const noexcept { return std::string_view(text_, length_); }

private:
    char text_[31];
    std::size_t length_ = 0;
};

/// An error reply's first word ("ERR", "WRONGTYPE", ...): OpenTelemetry's db.response.status_code. Only its leading
/// upper-case letters, digits, '_' and '-' (at most 32): the server's bytes end up in metric labels as they are; "ERR"
/// when there are none.
inline std::string_view status_code_of(const redisReply& reply) noexcept {
    const std::string_view text(reply.str != nullptr ? reply.str : "", reply.str != nullptr ? reply.len : 0);
    std::size_t n = 0;
    while (n < text.size() && n < 32 &&
           ((text[n] >= 'A' && text[n] <= 'Z') || (text[n] >= '0' && text[n] <= '9') || text[n] == '_' || text[n] == '-'))
        ++n;
    return n > 0 ? text.substr(0, n) : std::string_view("ERR");
}

/// Sets how a call ended from its reply (null: it failed with `failure`).
inline void set_result(call_ended_event& e, const redisReply* reply, const error* failure) noexcept {
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        e.result = call_result::error_reply;
        e.status_code = status_code_of(*reply);
    } else if (reply == nullptr && failure != nullptr) {
        e.result = call_result::failed;
        e.error_type = failure->kind();
    }
}

}  // namespace addrmap::detail
