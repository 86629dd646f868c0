// addrmap/detail/resp_format.hpp — hiredis's printf-style command grammar for %s, %b and %%, encoded straight into
// a caller's buffer: no allocation but the buffer's own growth (hiredis's formatter makes about eleven per SET).
#pragma once

#include <array>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <string>

namespace addrmap::detail {

/// Writes a RESP header at `p` (room for it reserved): `kind`, the decimal `n`, CRLF. Returns the end.
inline char* put_resp_header(char* p, char kind, std::size_t n) noexcept {
    *p++ = kind;
    if (n < 100) {  // most lengths and counts: no loop
        if (n >= 10) *p++ = static_cast<char>('0' + n / 10);
        *p++ = static_cast<char>('0' + n % 10);
    } else {
        char text[24];
        std::size_t at = sizeof text;
        do {
            text[--at] = static_cast<char>('0' + n % 10);
            n /= 10;
        } while (n != 0);
        std::memcpy(p, text + at, sizeof text - at);
        p += sizeof text - at;
    }
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/// Appends a RESP header: `kind` ('*' or '$'), the decimal `n`, CRLF. `Out` is std::string or any type with its
/// append(const char*, size_t), size() and reserve().
template <class Out>
void append_resp_header(Out& out, char kind, std::size_t n) {
    char text[32];
    const char* end = put_resp_header(text, kind, n);
    out.append(text, static_cast<std::size_t>(end - text));
}

/// `n` more bytes at the end of `out`, to be written by the caller: a std::string grows (zero-filled first), any other
/// `Out` hands them out with its extend(n) (nullptr when it has no room: nothing is written then).
inline char* extend_by(std::string& out, std::size_t n) {
    const std::size_t start = out.size();
    out.resize(start + n);
    return &out[start];
}
template <class Out>
char* extend_by(Out& out, std::size_t n) {
    return out.extend(n);
}

/// The number of decimal digits of `n`.
constexpr std::size_t decimal_digits(std::size_t n) noexcept {
    if (n < 10) return 1;
    if (n < 100) return 2;
    std::size_t d = 1;
    for (; n >= 10; n /= 10) ++d;
    return d;
}

/// Appends the RESP encoding of the command whose arguments are [first, last) (string views or strings), as
/// hiredis's redisFormatCommandArgv encodes it, in one reservation.
template <class It>
void append_resp_argv(std::string& out, It first, It last) {
    std::size_t argc = 0, size = 0;
    for (It a = first; a != last; ++a, ++argc) size += 1 + decimal_digits(a->size()) + 2 + a->size() + 2;
    out.reserve(out.size() + 1 + decimal_digits(argc) + 2 + size);
    append_resp_header(out, '*', argc);
    for (It a = first; a != last; ++a) {
        append_resp_header(out, '$', a->size());
        out.append(a->data(), a->size());
        out.append("\r\n", 2);
    }
}

/// The most arguments append_resp encodes itself; a command with more goes to hiredis's formatter.
inline constexpr std::size_t resp_format_max_args = 64;

/// append_resp for a format whose every argument is a word with no % or a lone %s or %b (SET %s %s, HSET %b %b %b):
/// one walk reads each value once, then the encoding is written in one reservation. False, with `out` untouched, for
/// any other format (append_resp's general walk takes it); `ap` is never read (a copy is).
template <class Out>
bool append_resp_words(Out& out, const char* format, va_list ap) {
    struct piece {
        const char* data;
        std::size_t size;
    };
    std::array<piece, resp_format_max_args> pieces;  // the first argc are set below
    std::size_t argc = 0, size = 0;
    va_list args;
    va_copy(args, ap);
    bool whole = true;
    for (const char* c = format; *c != '\0';) {
        if (*c == ' ') {
            ++c;
            continue;
        }
        const char* start = c;
        while (*c != '\0' && *c != ' ' && *c != '%') ++c;
        piece p{start, static_cast<std::size_t>(c - start)};
        if (*c == '%') {
            // A lone %s or %b, as the whole word; anything else (%%, x%s, %d, a % at the end) is the general walk's.
            if (c != start || (c[1] != 's' && c[1] != 'b') || (c[2] != ' ' && c[2] != '\0') ||
                argc == resp_format_max_args) {
                whole = false;
                break;
            }
            if (c[1] == 's') {
                p.data = va_arg(args, const char*);
                p.size = p.data != nullptr ? std::strlen(p.data) : 0;
            } else {
                p.data = va_arg(args, const char*);
                p.size = va_arg(args, std::size_t);
            }
            c += 2;
        } else if (argc == resp_format_max_args) {
            whole = false;
            break;
        }
        pieces[argc++] = p;
        size += 1 + decimal_digits(p.size) + 2 + p.size + 2;
    }
    va_end(args);
    if (!whole || argc == 0) return false;
    size += 1 + decimal_digits(argc) + 2;
    out.reserve(out.size() + size);  // may throw: `out` is unchanged then
    char* p = extend_by(out, size);
    if (p == nullptr) return true;  // a buffer with no room for it marks itself spoilt (hiredis_command_bytes)
    p = put_resp_header(p, '*', argc);
    for (std::size_t i = 0; i < argc; ++i) {
        p = put_resp_header(p, '$', pieces[i].size);
        if (pieces[i].size != 0) std::memcpy(p, pieces[i].data, pieces[i].size);
        p += pieces[i].size;
        *p++ = '\r';
        *p++ = '\n';
    }
    return true;
}

/// Appends to `out` the RESP encoding of the command `format` describes, exactly as hiredis's redisvFormatCommand
/// encodes it: spaces in the format separate arguments (runs of them count as one; an interpolated value never
/// splits), %s is a C string, %b a pointer and a size_t length, %% a percent sign, and a % at the very end is
/// itself. Returns false, with `out` and `ap` untouched, when the format has another conversion (%d, %lld, %f, ...),
/// no argument, or more than resp_format_max_args: hiredis's formatter takes those. `ap` itself is never read
/// (each pass reads a copy), so the caller may hand it to hiredis after a false. Throws only what `out`'s
/// reserve() and growth throw; a null %s is an empty argument (hiredis would crash on it). `Out` is std::string, or a
/// type with append_resp_header's members and extend(n) (hiredis_command_bytes).
template <class Out>
bool append_resp(Out& out, const char* format, va_list ap) {
    if (append_resp_words(out, format, ap)) return true;
    // Pass 0, the format alone: every conversion one of ours, and the number of arguments.
    std::size_t argc = 0;
    bool touched = false;
    for (const char* c = format; *c != '\0'; ++c) {
        if (*c == ' ') {
            if (touched) ++argc;
            touched = false;
            continue;
        }
        touched = true;
        if (*c != '%' || c[1] == '\0') continue;
        ++c;
        if (*c != 's' && *c != 'b' && *c != '%') return false;
    }
    if (touched) ++argc;
    if (argc == 0 || argc > resp_format_max_args) return false;

    // Walks the format once, calling piece(data, size) for each stretch of an argument's bytes and end() after each
    // argument, reading the values from `args`.
    const auto walk = [format](va_list args, auto&& piece, auto&& end) {
        bool open = false;
        for (const char* c = format; *c != '\0'; ++c) {
            if (*c == ' ') {
                if (open) end();
                open = false;
                continue;
            }
            open = true;
            if (*c != '%' || c[1] == '\0') {
                const char* literal = c;
                while (c[1] != '\0' && c[1] != ' ' && c[1] != '%') ++c;
                piece(literal, static_cast<std::size_t>(c - literal + 1));
                continue;
            }
            ++c;
            if (*c == 's') {
                const char* s = va_arg(args, const char*);
                if (s != nullptr) piece(s, std::strlen(s));
            } else if (*c == 'b') {
                const char* data = va_arg(args, const char*);
                const std::size_t size = va_arg(args, std::size_t);
                piece(data, size);
            } else {
                piece("%", 1);
            }
        }
        if (open) end();
    };

    // Pass 1: each argument's length (the header comes before its bytes).
    std::array<std::size_t, resp_format_max_args> lengths{};
    std::size_t arg = 0;
    va_list first;
    va_copy(first, ap);
    walk(first, [&](const char*, std::size_t size) { lengths[arg] += size; }, [&] { ++arg; });
    va_end(first);

    // Pass 2: the encoding, in one reservation.
    std::size_t size = 1 + decimal_digits(argc) + 2;
    for (std::size_t k = 0; k < argc; ++k) size += 1 + decimal_digits(lengths[k]) + 2 + lengths[k] + 2;
    const std::size_t start = out.size();
    out.reserve(start + size);  // may throw: `out` is unchanged then
    append_resp_header(out, '*', argc);
    arg = 0;
    bool header_written = false;
    va_list second;
    va_copy(second, ap);
    walk(
        second,
        [&](const char* data, std::size_t n) {
            if (!header_written) append_resp_header(out, '$', lengths[arg]);
            header_written = true;
            if (n != 0) out.append(data, n);
        },
        [&] {
            if (!header_written) append_resp_header(out, '$', 0);  // an argument of empty values only ("%s" of "")
            header_written = false;
            out.append("\r\n", 2);
            ++arg;
        });
    va_end(second);
    return true;
}

}  // namespace addrmap::detail
