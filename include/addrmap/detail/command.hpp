// addrmap/detail/command.hpp — encodes commands to RESP once, with hiredis's own formatters,
// so a redirected or retried command is resent byte for byte without re-formatting.
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean
#include <addrmap/detail/resp_format.hpp>
#include <addrmap/error.hpp>

#include <climits>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

struct command_buffer_deleter {
    void operator()(char* p) const noexcept { redisFreeCommand(p); }
};
using command_buffer = std::unique_ptr<char, command_buffer_deleter>;

/// hiredis's encoding of a printf-style command, before any check: formatting does not throw, so the
/// caller can va_end right after it (va_end must run in the function that called va_start).
struct raw_command {
    command_buffer bytes;
    int length;
};

/// %s, %b and %% formats are encoded by append_resp (resp_format.hpp: one allocation for the buffer, where hiredis's
/// formatter makes about eleven), others by hiredis; the buffer is hiredis's kind either way (redisFreeCommand).
inline raw_command format_raw(const char* format, va_list ap) noexcept {
    try {
        thread_local std::string scratch;  // reused; not kept above 64 KB (a large value is not held for ever)
        scratch.clear();
        const bool encoded = append_resp(scratch, format, ap);
        raw_command out{command_buffer(nullptr), -1};
        if (encoded && scratch.size() <= static_cast<std::size_t>(INT_MAX)) {
            if (char* bytes = static_cast<char*>(hi_malloc(scratch.size() + 1))) {
                std::memcpy(bytes, scratch.data(), scratch.size());
                bytes[scratch.size()] = '\0';
                out = {command_buffer(bytes), static_cast<int>(scratch.size())};
            }
        }
        if (scratch.capacity() > 64 * 1024) std::string().swap(scratch);
        if (encoded) return out;  // out of memory: length -1, refused by check_formatted as hiredis's would be
    } catch (...) {
        return {command_buffer(nullptr), -1};
    }
    char* raw = nullptr;
    const int len = redisvFormatCommand(&raw, format, ap);
    return {command_buffer(raw), len};
}

/// error{config} naming the bad format string when hiredis could not format it.
inline void check_formatted(const raw_command& raw, const char* format) {
    if (raw.length < 0 || !raw.bytes)
        throw error(error_kind::config, std::string("cannot format command '") + format +
                                            "': invalid format string (hiredis accepts %s, %b and printf conversions)");
}

/// The RESP encoding of a formatted command, or error{config} naming the bad format string.
inline std::string to_command(const raw_command& raw, const char* format) {
    check_formatted(raw, format);
    return std::string(raw.bytes.get(), static_cast<std::size_t>(raw.length));
}

/// RESP encoding of an argv command; the first element is the command name.
inline std::string format_argv(const std::vector<std::string_view>& args) {
    if (args.empty()) throw error(error_kind::config, "empty command: argv needs at least the command name");
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (std::string_view a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* raw = nullptr;
    const long long len = redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), argv.data(), lens.data());
    command_buffer owned(raw);
    if (len < 0 || raw == nullptr) throw std::bad_alloc();
    return std::string(raw, static_cast<std::size_t>(len));
}

}  // namespace addrmap::detail
