// addrmap/detail/quote.hpp — how error messages show text they were given (config or a server's reply).
// Escaped and cut, so a hostile or pasted-wrong input can neither flood what() nor put control bytes in a log.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace addrmap::detail {

/// The one escaping loop: control, non-ASCII (and, when `escape_backslash`, '\') bytes as \xNN, cut to
/// `max_chars` source bytes (then "...").
inline std::string escape_and_cut(std::string_view text, std::size_t max_chars, bool escape_backslash) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    const std::size_t shown = std::min(text.size(), max_chars);
    out.reserve(shown + 3);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c >= 0x7f || (escape_backslash && c == '\\')) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (shown < text.size()) out += "...";
    return out;
}

/// Text made safe for a message: control, non-ASCII and '\' bytes as \xNN, and cut to `max_chars`
/// source bytes (then "...").
inline std::string escaped(std::string_view text, std::size_t max_chars) { return escape_and_cut(text, max_chars, true); }

/// Text that is already escaped (a certificate's names and subjects, from cert_names.hpp), cut to `max_chars`
/// (then "...") for a message. A '\' is kept, so "\x1b" stays as it was; any byte that is still not printable
/// ASCII is escaped, so the result is safe whatever it is given.
inline std::string shortened(std::string_view text, std::size_t max_chars) {
    return escape_and_cut(text, max_chars, false);
}

/// escaped() in single quotes, with the full length when cut: how every message quotes input.
inline std::string quoted(std::string_view text, std::size_t max_chars = 160) {
    std::string out = "'" + escaped(text, max_chars) + "'";
    if (text.size() > max_chars) out += " (" + std::to_string(text.size()) + " bytes)";
    return out;
}

}  // namespace addrmap::detail
