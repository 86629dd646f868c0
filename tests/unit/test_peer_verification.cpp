// tests/unit/test_peer_verification.cpp — the wording of certificate refusals (detail/peer_verification.hpp) on a
// canned verification state: what the message says follows what the check saw. No sockets, no handshake.
#include <addrmap/detail/peer_verification.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using addrmap::tls_options;
using addrmap::detail::chain_error;
using addrmap::detail::tls_link_state;

namespace {

/// What the verify callback records for a leaf whose key is too small, found by a check at `level`.
tls_link_state weak_leaf_seen_at(int level) {
    tls_link_state st;
    st.names_captured = true;
    st.peer_names = {"DNS:localhost"};
    st.verify_error = X509_V_ERR_EE_KEY_TOO_SMALL;
    st.verify_depth = 0;
    st.verify_security_level = level;
    return st;
}

std::string weak_key_message(int level) { return chain_error("node n", tls_options{}, weak_leaf_seen_at(level)).message(); }

void check_has(const std::string& text, const std::string& part) {
    BOOST_TEST(text.find(part) != std::string::npos, "'" << part << "' missing from: " << text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(peer_verification)

// The refusal names the level the check ran at, with that level's key sizes (OpenSSL's table), never a fixed
// "level 2": at level 3 a 2048-bit RSA key is refused too, and "needs 2048 bits" would send the user the wrong way.
BOOST_AUTO_TEST_CASE(a_weak_key_refusal_names_the_security_level_in_force) {
    check_has(weak_key_message(2), "key too weak for OpenSSL's security level 2 (RSA keys of at least 2048 bits, EC "
                                   "keys of at least 224): reissue it with a stronger key.");
    const std::string level_3 = weak_key_message(3);
    check_has(level_3, "key too weak for OpenSSL's security level 3 (RSA keys of at least 3072 bits, EC keys of at "
                       "least 256): reissue it with a stronger key.");
    BOOST_TEST(level_3.find("level 2") == std::string::npos, level_3);
    BOOST_TEST(level_3.find("2048") == std::string::npos, level_3);
    check_has(weak_key_message(1), "security level 1 (RSA keys of at least 1024 bits, EC keys of at least 160)");
    // OpenSSL treats a level above 5 as 5: the real number, level 5's sizes.
    check_has(weak_key_message(7), "security level 7 (RSA keys of at least 15360 bits, EC keys of at least 512)");
    // Not known (no check recorded it): no level and no sizes are made up.
    const std::string unknown = weak_key_message(-1);
    check_has(unknown, "key too weak for OpenSSL's security level: reissue it with a stronger key.");
    BOOST_TEST(unknown.find("bits") == std::string::npos, unknown);
}

BOOST_AUTO_TEST_SUITE_END()
