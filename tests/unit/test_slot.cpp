// tests/unit/test_slot.cpp — CRC16 and key → slot, against vectors checked on a real Redis 7.0
// (CLUSTER KEYSLOT) and the CRC16-XMODEM check value.
#include <addrmap/slot.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace std::string_literals;

BOOST_AUTO_TEST_SUITE(test_slot)

BOOST_AUTO_TEST_CASE(crc16_check_value) {
    BOOST_TEST(addrmap::crc16("123456789") == 0x31C3);
    BOOST_TEST(addrmap::crc16("") == 0);
    static_assert(addrmap::crc16("123456789") == 0x31C3, "usable in constant expressions");
    static_assert(addrmap::detail::crc16_table[1] == 0x1021, "table starts with the polynomial");
    static_assert(addrmap::detail::crc16_table[255] == 0x1EF0, "last table entry as in Redis crc16.c");
}

BOOST_AUTO_TEST_CASE(slot_count_is_16384) {
    static_assert(addrmap::slot_count == 16384);
    BOOST_TEST(addrmap::key_slot("123456789") == 0x31C3 % 16384);
}

// Every value below was produced by CLUSTER KEYSLOT on redis-server 7.0.15.
struct keyslot_case {
    std::string key;
    unsigned slot;
};

BOOST_AUTO_TEST_CASE(matches_cluster_keyslot) {
    const keyslot_case cases[] = {
        {"foo", 12182},
        {"bar", 5061},
        {"a", 15495},
        {"", 0},
        {"123456789", 12739},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"{user1000}", 3443},
        {"user1000", 3443},
        {"foo{}{bar}", 8363},     // empty first tag: whole key is hashed
        {"foo{{bar}}zap", 4015},  // tag is "{bar"
        {"foo{bar}{zap}", 5061},  // only the first tag counts: "bar"
        {"{}", 15257},
        {"x{}", 2608},
        {"{", 4092},
        {"}", 12090},
        {"{a", 10276},            // no closing brace: whole key
        {"a}", 5921},
        {"}{a}", 15495},          // '}' before the first '{' is ignored: tag "a"
        {"{a}{", 15495},
        {"{{}}", 4092},           // tag "{"
        {"{{{}}}", 7007},         // tag "{{"
        {"user:1000", 1649},
        {"hello world", 15332},
        {"\xc3\xa9\xce\xbb", 10398},  // UTF-8 bytes hash as bytes
        {"a\0b"s, 8383},              // embedded NUL is part of the key
    };
    for (const keyslot_case& c : cases) {
        BOOST_TEST_CONTEXT("key '" << c.key << "' (" << c.key.size() << " bytes)") {
            BOOST_TEST(addrmap::key_slot(c.key) == c.slot);
        }
    }
}

BOOST_AUTO_TEST_CASE(hash_tag_extraction) {
    BOOST_TEST(addrmap::hash_tag("{user1000}.following") == "user1000");
    BOOST_TEST(addrmap::hash_tag("foo{}{bar}") == "foo{}{bar}");
    BOOST_TEST(addrmap::hash_tag("foo{{bar}}zap") == "{bar");
    BOOST_TEST(addrmap::hash_tag("foo{bar}{zap}") == "bar");
    BOOST_TEST(addrmap::hash_tag("nobraces") == "nobraces");
    BOOST_TEST(addrmap::hash_tag("{") == "{");
}

BOOST_AUTO_TEST_CASE(same_tag_same_slot_and_constexpr) {
    static_assert(addrmap::key_slot("{user1000}.following") == 3443);
    static_assert(addrmap::key_slot("foo") == 12182);
    BOOST_TEST(addrmap::key_slot("{tag}a") == addrmap::key_slot("{tag}b"));
    BOOST_TEST(addrmap::key_slot("{tag}a") == addrmap::key_slot("tag"));
}

BOOST_AUTO_TEST_CASE(every_slot_is_in_range_and_noexcept) {
    static_assert(noexcept(addrmap::key_slot(std::string_view{})));
    static_assert(noexcept(addrmap::crc16(std::string_view{})));
    std::string key;
    bool all_in_range = true;
    for (int i = 0; i < 100000; ++i) {
        key = "key:" + std::to_string(i);
        if (addrmap::key_slot(key) >= addrmap::slot_count) all_in_range = false;
    }
    BOOST_TEST(all_in_range);
}

BOOST_AUTO_TEST_SUITE_END()
