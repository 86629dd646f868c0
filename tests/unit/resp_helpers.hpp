// tests/unit/resp_helpers.hpp — build redisReply trees from RESP text with hiredis's own reader,
// so topology tests read as the bytes a server sends (and capture files double as fuzz seeds); a fixed clock origin.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/handles.hpp>

#include <chrono>
#include <cstdint>

#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace addrmap_test {

/// The unit tests' "now": far from the clock's epoch, so `t0 - x` stays a valid time point.
inline const std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

/// A node address as a server reports it (no hostname).
inline addrmap::node_address at(std::string host, std::uint16_t port) { return addrmap::node_address{std::move(host), port, {}}; }

/// Parses exactly one complete RESP value; throws std::runtime_error if the bytes are not
/// one whole reply (incomplete, a protocol error, or trailing bytes).
inline addrmap::detail::reply_ptr parse_resp(std::string_view bytes) {
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    if (!reader) throw std::runtime_error("redisReaderCreate failed");
    if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK)
        throw std::runtime_error("redisReaderFeed failed");
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK)
        throw std::runtime_error(std::string("RESP protocol error: ") + reader->errstr);
    addrmap::detail::reply_ptr reply = addrmap::detail::adopt_reply(raw);
    if (!reply) throw std::runtime_error("incomplete RESP reply");
    void* extra = nullptr;
    if (redisReaderGetReply(reader.get(), &extra) != REDIS_OK || extra != nullptr) {
        addrmap::detail::adopt_reply(extra);  // frees it
        throw std::runtime_error("trailing bytes after the RESP reply");
    }
    return reply;
}

// RESP builders: arr({bulk("ip"), num(7000)}) reads like the reply it encodes.
inline std::string bulk(std::string_view text) {
    return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
}
inline std::string num(long long value) { return ":" + std::to_string(value) + "\r\n"; }
inline std::string nil() { return "$-1\r\n"; }
inline std::string arr(std::initializer_list<std::string> items) {
    std::string out = "*" + std::to_string(items.size()) + "\r\n";
    for (const std::string& item : items) out += item;
    return out;
}
/// RESP3 map from alternating keys and values.
inline std::string map(std::initializer_list<std::string> keys_and_values) {
    std::string out = "%" + std::to_string(keys_and_values.size() / 2) + "\r\n";
    for (const std::string& item : keys_and_values) out += item;
    return out;
}

/// Directory of tests/data (override with -DADDRMAP_TEST_DATA_DIR="..." when building elsewhere).
inline std::string data_dir() {
#ifdef ADDRMAP_TEST_DATA_DIR
    return ADDRMAP_TEST_DATA_DIR;
#else
    std::string here = __FILE__;  // .../tests/unit/resp_helpers.hpp
    const std::size_t slash = here.find_last_of('/');
    return (slash == std::string::npos ? std::string(".") : here.substr(0, slash)) + "/../data";
#endif
}

inline std::string read_data_file(const std::string& name) {
    const std::string path = data_dir() + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open test data file " + path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace addrmap_test
