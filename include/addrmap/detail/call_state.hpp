// addrmap/detail/call_state.hpp — one call on its way through the cluster core (call_state), and the errors a call
// can end with, each worded once: its deadline, unknown_outcome (it may have run), the redirect limit. No I/O.
#pragma once

#include <addrmap/command_safety.hpp>
#include <addrmap/detail/node_registry.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace addrmap {

// call_state is public: cluster_core.hpp (which includes this header) hands it to drivers.

/// One command (or pipeline entry) on its way. The encoded command is the caller's: it must outlive the call.
struct call_state {
    using clock = std::chrono::steady_clock;
    int slot = -1;                 ///< -1: any master (keyless commands)
    std::string_view command;      ///< RESP-encoded
    repeat repeat_policy = repeat::by_table;  ///< decides the "may have run" case (looked up only then)
    clock::time_point started;
    clock::time_point deadline;
    clock::time_point not_before;  ///< backoff: nothing is sent before this
    node_id target = no_node;      ///< from the last MOVED/ASK, used for the next send only
    bool asking = false;           ///< send ASKING first (the last reply was ASK)
    bool slot_moving = false;      ///< met a move with several keys (ASK, TRYAGAIN): travels alone in its slot
    node_id fixed_node = no_node;  ///< command_on: this node only, replies returned as they are
    node_id sent_to = no_node;     ///< where next() last said to send it (for call_ended_event)
    int redirects = 0;
    int sends = 0;
    int backoff_step = 0;
    bool may_have_run = false;     ///< it was lost after a write and re-sent (only when it may repeat)
    bool unconfirmed_redirect = false;  ///< a script followed a redirect it may have written itself (once only)
    std::string redirect_text;          ///< that redirect, for the message if it ends unknown_outcome
    bool replica_read = false;     ///< a keyed read that read_from lets a replica serve
    /// Where next() sent a replica_read this time: to a replica, to the master for want of one, or neither (a
    /// redirect); on_send() counts it, so the counters count sends, not routing passes.
    enum class read_route : std::uint8_t { none, replica, master_fallback } read_routed = read_route::none;
    std::string last_problem;      ///< escaped, for the deadline message
    std::optional<error> failure;  ///< set when next() says fail
    std::optional<std::chrono::milliseconds> reply_timeout;  ///< call_options::reply_timeout (the driver applies it)
};

}  // namespace addrmap

namespace addrmap::detail {

/// The call as messages name it: its command's name, quoted, or "the command".
inline std::string call_name(const call_state& c) {
    const std::string_view name = command_name(c.command);
    return name.empty() ? std::string("the command") : detail::quoted(name, 40);
}

/// How a script that followed a redirect it may have written ends when `what` happened: unknown_outcome.
inline error unconfirmed_redirect_error(const call_state& c, const std::string& what) {
    return error(error_kind::unknown_outcome, call_name(c) + " answered " + detail::quoted(c.redirect_text, 200) +
                                                  ", which a script can write itself, and " + what +
                                                  ": it may or may not have run, so it was not sent again");
}

/// The call's deadline passed at `now`: timeout, saying what was tried, the last problem and whether it may
/// have run; unknown_outcome after an unconfirmed redirect.
inline error deadline_error(const call_state& c, std::chrono::steady_clock::time_point now) {
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.started).count();
    if (c.unconfirmed_redirect)
        return unconfirmed_redirect_error(c, "its deadline passed after " + std::to_string(spent) +
                                                 " ms before the redirect's target answered");
    std::string text = "gave up on " + call_name(c) + (c.slot >= 0 ? " for slot " + std::to_string(c.slot) : "") +
                       " at its deadline, after " + std::to_string(spent) + " ms and " +
                       std::to_string(c.sends) + " send(s)";
    if (!c.last_problem.empty()) text += "; last problem: " + c.last_problem;
    text += c.may_have_run ? " (it may have run: a send was lost after writing; it is safe to repeat)"
                           : " (it did not run)";
    return error(error_kind::timeout, text);
}

/// A call not known safe to repeat was written to `where`, then `why` (lost, no reply): unknown_outcome.
inline error lost_after_write_error(const call_state& c, const std::string& where, std::string_view why) {
    return error(error_kind::unknown_outcome,
                 call_name(c) + " was sent to " + where + ", then " + std::string(why) +
                     ": it may or may not have run, so it was not sent again "
                     "(it is not known safe to repeat; call_options::repeat_policy = repeat::allowed "
                     "permits that)");
}

/// A call not known safe to repeat reached its deadline while handed to the connection to `where`: unknown_outcome.
inline error expired_in_flight_error(const call_state& c, const std::string& where) {
    return error(error_kind::unknown_outcome,
                 call_name(c) + " was handed to the connection to " + where +
                     " and no reply came before its deadline: it may or may not have run (it is "
                     "not known safe to repeat)");
}

/// The call met more than `max_redirects` redirects; the last was `text` from `from`.
inline error redirect_limit_error(const call_state& c, int max_redirects, std::string_view text,
                                  const std::string& from) {
    return error(error_kind::redirect_limit, "gave up on " + call_name(c) + " after " + std::to_string(max_redirects) +
                                                 " redirects for slot " + std::to_string(c.slot) + "; last: " +
                                                 detail::quoted(text, 200) + " from " + from);
}

}  // namespace addrmap::detail
