// addrmap/detail/command.hpp — encodes commands to RESP once, in hiredis's grammar and bytes (%s/%b/%% by our encoder,
// the rest by hiredis's formatter), so a redirected or retried command is resent byte for byte without re-formatting.
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/resp_format.hpp>
#include <addrmap/error.hpp>

#include <climits>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

using command_buffer = std::unique_ptr<char, free_with<redisFreeCommand>>;

/// hiredis's encoding of a printf-style command, before any check: formatting does not throw, so the
/// caller can va_end right after it (va_end must run in the function that called va_start).
struct raw_command {
    command_buffer bytes;
    int length;
};

/// The bookkeeping of a command's bytes written into a reservation made once, by the reserve() append_resp makes
/// before its first byte: a write past it is dropped and marks the bytes spoilt.
class reserved_command_bytes {
public:
    reserved_command_bytes(const reserved_command_bytes&) = delete;
    reserved_command_bytes& operator=(const reserved_command_bytes&) = delete;

    std::size_t size() const noexcept { return used_; }
    void append(const char* data, std::size_t n) noexcept {
        if (char* to = extend(n)) std::memcpy(to, data, n);
    }
    /// `n` bytes at the end, for the caller to write; nullptr (and spoilt) when they pass the reservation.
    char* extend(std::size_t n) noexcept {
        if (data_ == nullptr || n > capacity_ - used_) {
            spoilt_ = true;
            return nullptr;
        }
        used_ += n;
        return data_ + used_ - n;
    }
    /// The reservation was filled exactly, and nothing was dropped.
    bool complete() const noexcept { return data_ != nullptr && !spoilt_ && used_ == capacity_; }

protected:
    reserved_command_bytes() = default;
    ~reserved_command_bytes() = default;
    /// Refuses (throws) more than INT_MAX bytes, which hiredis's int length cannot carry.
    bool has_reservation() const noexcept { return data_ != nullptr; }
    static void check_length(std::size_t n) {
        if (n > static_cast<std::size_t>(INT_MAX)) throw std::length_error("a command over 2 GiB");
    }
    void reserved(char* data, std::size_t n) noexcept {
        data_ = data;
        capacity_ = n;
    }

private:
    char* data_ = nullptr;
    std::size_t capacity_ = 0, used_ = 0;
    bool spoilt_ = false;
};

/// A buffer of hiredis's allocator sized once: a command costs one allocation, freed by redisFreeCommand like
/// hiredis's own.
class hiredis_command_bytes : public reserved_command_bytes {
public:
    hiredis_command_bytes() = default;

    void reserve(std::size_t n) {
        if (has_reservation()) return;
        check_length(n);
        bytes_.reset(static_cast<char*>(hi_malloc(n + 1)));
        if (!bytes_) throw std::bad_alloc();
        reserved(bytes_.get(), n);
    }
    /// The encoding, NUL-terminated, once it filled exactly what was reserved; else nothing, length -1.
    raw_command take() noexcept {
        if (!complete()) return {command_buffer(nullptr), -1};
        bytes_.get()[size()] = '\0';
        return {std::move(bytes_), static_cast<int>(size())};
    }

private:
    command_buffer bytes_;
};

/// The same into a std::string the caller keeps from one command to the next (the async cluster's pooled calls):
/// no allocation once its capacity suffices.
class string_command_bytes : public reserved_command_bytes {
public:
    explicit string_command_bytes(std::string& out) noexcept : out_(out) {}

    void reserve(std::size_t n) {
        if (has_reservation()) return;
        check_length(n);
        out_.resize(n);
        reserved(out_.data(), n);
    }

private:
    std::string& out_;
};

/// %s, %b and %% formats are encoded by append_resp (resp_format.hpp) straight into hiredis_command_bytes: one
/// allocation, where hiredis's formatter makes about eleven. Other conversions go to hiredis's formatter. The
/// buffer is hiredis's kind either way (redisFreeCommand). Length -1: out of memory or over INT_MAX bytes (as
/// hiredis says out of memory); -2: a format hiredis refuses.
inline raw_command format_raw(const char* format, va_list ap) noexcept {
    try {
        hiredis_command_bytes bytes;
        if (append_resp(bytes, format, ap)) return bytes.take();
    } catch (...) {
        return {command_buffer(nullptr), -1};
    }
    char* raw = nullptr;
    const int len = redisvFormatCommand(&raw, format, ap);
    return {command_buffer(raw), len};
}

/// format_raw into `out` (its capacity reused): 0, or -1 (out of memory, over INT_MAX bytes) or -2 (a format hiredis
/// refuses) as format_raw's length says them.
inline int format_into(std::string& out, const char* format, va_list ap) noexcept {
    try {
        string_command_bytes bytes(out);
        if (append_resp(bytes, format, ap)) return bytes.complete() ? 0 : -1;
    } catch (...) {
        return -1;
    }
    char* raw = nullptr;
    const int len = redisvFormatCommand(&raw, format, ap);
    const command_buffer owned(raw);
    if (len < 0 || raw == nullptr) return len == -2 ? -2 : -1;
    try {
        out.assign(raw, static_cast<std::size_t>(len));
    } catch (...) {
        return -1;
    }
    return 0;
}

/// error{config} naming the format string when the command could not be encoded (a bad format, or out of memory).
inline void check_formatted(int status, const char* format) {
    if (status == -2)
        throw error(error_kind::config, "cannot format command " + quoted(format) +
                                            ": invalid format string (hiredis accepts %s, %b and printf conversions)");
    if (status < 0)
        throw error(error_kind::config, "cannot format command " + quoted(format) + ": out of memory, or longer than 2 GiB");
}
inline void check_formatted(const raw_command& raw, const char* format) {
    check_formatted(raw.length < 0 || !raw.bytes ? (raw.length == -2 ? -2 : -1) : 0, format);
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
