// addrmap/slot.hpp — which of the 16384 cluster slots a key belongs to (CRC16-XMODEM mod 16384).
// Honours Redis hash tags so `{user}.a` and `{user}.b` land on the same node; no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace addrmap {

/// Number of hash slots in a Redis Cluster; slots are 0..slot_count-1.
constexpr std::uint16_t slot_count = 16384;

namespace detail {

/// CRC16-XMODEM (poly 0x1021, init 0, no reflection) lookup table, built at compile time
/// so there is no hand-copied table to get wrong.
constexpr std::array<std::uint16_t, 256> make_crc16_table() noexcept {
    std::array<std::uint16_t, 256> table{};
    for (unsigned byte = 0; byte < 256; ++byte) {
        unsigned crc = byte << 8;
        for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000u) ? ((crc << 1) ^ 0x1021u) : (crc << 1);
        table[byte] = static_cast<std::uint16_t>(crc & 0xFFFFu);
    }
    return table;
}

inline constexpr std::array<std::uint16_t, 256> crc16_table = make_crc16_table();

}  // namespace detail

/// CRC16-XMODEM of the bytes, the checksum Redis Cluster uses (crc16("123456789") == 0x31C3).
constexpr std::uint16_t crc16(std::string_view bytes) noexcept {
    std::uint16_t crc = 0;
    for (char c : bytes) {
        const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
        crc = static_cast<std::uint16_t>((crc << 8) ^ detail::crc16_table[index]);
    }
    return crc;
}

/// The part of a key that is hashed: the text between the first '{' and the first '}' after
/// it, if that is non-empty; otherwise the whole key (so "{}" and "a{}b" hash as themselves).
constexpr std::string_view hash_tag(std::string_view key) noexcept {
    const std::size_t open = key.find('{');
    if (open == std::string_view::npos) return key;
    const std::size_t close = key.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1) return key;
    return key.substr(open + 1, close - open - 1);
}

/// The cluster slot (0..16383) that owns `key`, as CLUSTER KEYSLOT computes it.
constexpr std::uint16_t key_slot(std::string_view key) noexcept {
    return static_cast<std::uint16_t>(crc16(hash_tag(key)) & (slot_count - 1));
}

}  // namespace addrmap
