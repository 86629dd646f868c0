// addrmap/detail/peer_verification.hpp — addrmap's own check of the server's certificate after every handshake
// (chain, then name, then OpenSSL's verdict), and the messages that say which check failed, why and what to fix.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/cert_names.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/detail/tls_link_state.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap::detail {

inline bool starts_with(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

/// Would `pattern` ("n*.redis.test") match `host` if partial-label wildcards were allowed?
inline bool partial_wildcard_would_match(std::string_view pattern, std::string_view host) noexcept {
    const std::size_t pattern_dot = pattern.find('.');
    const std::size_t host_dot = host.find('.');
    if (pattern_dot == std::string_view::npos || host_dot == std::string_view::npos) return false;
    const std::string_view label = pattern.substr(0, pattern_dot);
    const std::size_t star = label.find('*');
    if (star == std::string_view::npos || label == "*") return false;
    if (!iequals_ascii(pattern.substr(pattern_dot), host.substr(host_dot))) return false;
    const std::string_view prefix = label.substr(0, star);
    const std::string_view suffix = label.substr(star + 1);
    const std::string_view host_label = host.substr(0, host_dot);
    return host_label.size() >= prefix.size() + suffix.size() &&
           iequals_ascii(host_label.substr(0, prefix.size()), prefix) &&
           iequals_ascii(host_label.substr(host_label.size() - suffix.size()), suffix);
}

/// A certificate's names for a message: at most 16, each cut to 120 characters (they are escaped already, by
/// certificate_names), then "and N more": a certificate with thousands of SANs cannot flood what().
inline std::string names_text(const std::vector<std::string>& names) {
    static constexpr std::size_t max_names = 16;
    if (names.empty()) return "no names at all";
    std::string out;
    const std::size_t shown = std::min(names.size(), max_names);
    for (std::size_t i = 0; i < shown; ++i) {
        if (i > 0) out += ", ";
        out += shortened(names[i], 120);
    }
    if (shown < names.size()) out += " and " + std::to_string(names.size() - shown) + " more";
    return out;
}

inline std::string trust_store_text(const tls_options& options) {
    if (!options.ca_file.empty() && !options.ca_dir.empty())
        return "ca_file " + quoted(options.ca_file, 255) + " and ca_dir " + quoted(options.ca_dir, 255);
    if (!options.ca_file.empty()) return "ca_file " + quoted(options.ca_file, 255);
    if (!options.ca_dir.empty()) return "ca_dir " + quoted(options.ca_dir, 255);
    return "the system trust store, as ca_file and ca_dir are empty";
}

/// "OpenSSL's security level 3 (RSA keys of at least 3072 bits, EC keys of at least 256)": the level a check ran at,
/// with the key sizes it asks for (SSL_CTX_set_security_level(3); OpenSSL treats a level above 5 as 5). The sizes
/// are the fix the message gives, so they follow the level: a fixed "level 2" would be wrong where the level is not.
inline std::string security_level_text(int level) {
    static constexpr int rsa_bits[] = {0, 1024, 2048, 3072, 7680, 15360};
    static constexpr int ec_bits[] = {0, 160, 224, 256, 384, 512};
    if (level < 1) return "OpenSSL's security level";  // not known (level 0 refuses no key)
    const int sizes = std::min(level, 5);
    return "OpenSSL's security level " + std::to_string(level) + " (RSA keys of at least " +
           std::to_string(rsa_bits[sizes]) + " bits, EC keys of at least " + std::to_string(ec_bits[sizes]) + ")";
}

inline bool is_name_error(int verify_error) noexcept {
    return verify_error == X509_V_ERR_HOSTNAME_MISMATCH || verify_error == X509_V_ERR_IP_ADDRESS_MISMATCH ||
           verify_error == X509_V_ERR_EMAIL_MISMATCH;
}

/// Whether a DNS SAN of `names` covers `host` (equal, or a wildcard "*.d" and `host` one label under d).
inline bool covers(const std::vector<std::string>& names, std::string_view host) {
    for (const std::string& name : names) {
        if (!starts_with(name, "DNS:")) continue;
        const std::string_view pattern = std::string_view(name).substr(4);
        if (iequals_ascii(pattern, host)) return true;
        // A wildcard covers one label under a domain of two labels at least (OpenSSL refuses "*.com").
        if (starts_with(pattern, "*.") && pattern.find('.', 2) != std::string_view::npos &&
            host.size() > pattern.size() - 1) {
            const std::string_view label = host.substr(0, host.size() - (pattern.size() - 1));
            if (!label.empty() && label.find('.') == std::string_view::npos &&
                iequals_ascii(host.substr(label.size()), pattern.substr(1)))
                return true;
        }
    }
    return false;
}

/// A name the certificate's DNS SANs cover that a policy could verify, and whether it came from a wildcard: its first
/// valid DNS name without one, else the first wildcard's domain with "node." in front ("*.redis.test":
/// node.redis.test, a name that need not resolve); empty when it has none. Only names the host grammar accepts (letters,
/// digits, '-', '.'): the advice prints them in a command line.
inline std::pair<std::string, bool> name_to_verify(const std::vector<std::string>& names) {
    std::string wildcard;
    for (const std::string& name : names) {
        if (!starts_with(name, "DNS:")) continue;
        const std::string_view dns = std::string_view(name).substr(4);
        if (classify_host(dns) == host_kind::name) return {std::string(dns), false};
        if (wildcard.empty() && starts_with(dns, "*.") && dns.find('.', 2) != std::string_view::npos &&
            classify_host("node" + std::string(dns.substr(1))) == host_kind::name)
            wildcard = "node" + std::string(dns.substr(1));
    }
    return {wildcard, !wildcard.empty()};
}

/// A path for a command line the reader pastes: as it is when it holds only characters no shell treats specially,
/// else in single quotes (escaped and cut like any outside text first); "CA.pem" when empty.
inline std::string shell_word(std::string_view path) {
    if (path.empty()) return "CA.pem";
    const std::string text = escaped(path, 200);
    if (text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:=@%") ==
        std::string::npos)
        return text;
    std::string quoted = "'";
    for (const char ch : text) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return quoted + "'";
}

/// The certificate chains to a trusted CA but does not carry `expected`. Everything quoted is escaped and cut:
/// `expected` comes from a policy, the names from the server's certificate. `options` and `port` (the node's, as
/// dialed) make the advice's addrmap-doctor command line.
inline error name_mismatch_error(const std::string& route, std::string_view expected, const tls_link_state& st,
                                 const tls_options& options = {}, std::uint16_t port = 0) {
    const host_kind kind = classify_host(expected);
    const bool expect_ip = kind == host_kind::ipv4 || kind == host_kind::ipv6;
    const std::string want = escaped(expected, 255);
    bool has_dns = false, has_ip = false, cn_matches = false;
    std::string partial, one_label, first_cn;
    for (const auto& name : st.peer_names) {
        if (starts_with(name, "DNS:")) {
            has_dns = true;
            const std::string_view pattern = std::string_view(name).substr(4);
            if (partial.empty() && partial_wildcard_would_match(pattern, expected)) partial = name;
            if (one_label.empty() && starts_with(pattern, "*.") && expected.size() > pattern.size() - 1 &&
                iequals_ascii(expected.substr(expected.size() - (pattern.size() - 1)), pattern.substr(1)))
                one_label = name;
        } else if (starts_with(name, "IP:")) {
            has_ip = true;
        } else if (starts_with(name, "CN=")) {
            if (first_cn.empty()) first_cn = name;
            if (iequals_ascii(std::string_view(name).substr(3), expected)) cn_matches = true;
        }
    }
    std::string msg = route + ": the server's certificate does not carry the expected " +
                      (expect_ip ? "IP address " : "name ") + want + " (OpenSSL: " +
                      X509_verify_cert_error_string(st.verify_error) + "); it carries " + names_text(st.peer_names) +
                      ".";
    if (!expect_ip && cn_matches && has_dns)
        msg += " Its subject CN matches, but the subject CN is never used for the name check (RFC 6125): only "
               "DNS SANs count.";
    if (expect_ip && !has_ip && has_dns) {
        msg += " The cluster reports IP addresses but the certificate carries only DNS names: map nodes with "
               "ip_to_hostname (dial the hostname, or dial the IP and verify the hostname) or a static_table.";
        // Names in the advice pass the host grammar (letters, digits, '-', '.'): they are printed in a command line.
        const bool seed_covered = classify_host(st.seed_host) == host_kind::name && covers(st.peer_names, st.seed_host);
        const auto [found, from_wildcard] = name_to_verify(st.peer_names);
        const std::string name = seed_covered ? st.seed_host : found;
        if (!name.empty() && name.size() <= 253) {
            // The doctor's line: from the seed by its name when the certificate covers it (what ip_to_hostname does),
            // else from this node's IP, verifying the name (a certificate's name may have no DNS record).
            const std::string seed = seed_covered && st.seed_port != 0 ? format_host_port(st.seed_host, st.seed_port)
                                     : port != 0                      ? format_host_port(expected, port)
                                                                      : std::string("HOST:PORT");
            if (seed_covered)
                msg += " Your seed's host " + name + " is a name it carries";
            else
                msg += from_wildcard ? " Its wildcard covers a name such as " + name : " A name it carries is " + name;
            if (from_wildcard)  // a made-up name need not resolve: keep dialing the IP
                msg += ": ip_to_hostname(\"" + name + "\", ip_to_hostname::mode::dial_ip_verify_hostname) dials each "
                       "reported IP and verifies it.";
            else
                msg += ": ip_to_hostname(\"" + name + "\") dials it at each node's port; ip_to_hostname(\"" + name +
                       "\", ip_to_hostname::mode::dial_ip_verify_hostname) keeps dialing the IP.";
            msg += " Check every node first with: addrmap-doctor --seed " + seed + " --cacert " + shell_word(options.ca_file) +
                   (seed_covered ? " --policy ip_to_hostname --hostname " : " --policy ip_to_hostname_keep_ip --hostname ") +
                   name + ".";
        }
    } else if (expect_ip) {
        msg += " The certificate's IP addresses do not include " + want +
               ": map the node to a name or address the certificate carries (static_table), or reissue the "
               "certificate with IP:" + want + ".";
    } else if (!has_dns) {
        msg += " The certificate has no DNS SANs (subjectAltName DNS entries), and the subject CN" +
               (first_cn.empty() ? std::string() : " (" + shortened(first_cn, 120) + ")") +
               " is not used for the name check, as RFC 6125 and current browsers require: reissue the "
               "certificate with subjectAltName DNS:" + want + ".";
    } else if (!partial.empty()) {
        const std::string_view pattern = std::string_view(partial).substr(4);
        msg += " Partial-label wildcards such as " + shortened(partial, 120) +
               " are refused (RFC 6125 section 6.4.3): reissue the certificate with DNS:*" +
               shortened(pattern.substr(pattern.find('.')), 120) + " or DNS:" + want + ".";
    } else if (!one_label.empty()) {
        msg += " A wildcard such as " + shortened(one_label, 120) + " covers exactly one label, not " + want +
               ": map the node to a name one level below it, or reissue the certificate with DNS:" + want + ".";
    } else {
        msg += " Map the node to a name the certificate carries (ip_to_hostname or static_table), or reissue "
               "the certificate with DNS:" + want + ".";
    }
    return error(error_kind::tls_name, msg);
}

inline error chain_error(const std::string& route, const tls_options& options, const tls_link_state& st) {
    // Subjects and issuers come from the server's certificates: escaped already (cert_names.hpp), cut here.
    const std::string subject = shortened(st.failed_subject, 200);
    const std::string issuer = shortened(st.failed_issuer, 200);
    const bool leaf = st.verify_depth <= 0;
    const std::string which = leaf ? "the certificate" : "the CA certificate '" + subject + "'";
    const std::string which_sentence = leaf ? "The certificate" : "The CA certificate '" + subject + "'";
    std::string msg = route + ": the server's certificate chain is not trusted (OpenSSL: " +
                      X509_verify_cert_error_string(st.verify_error);
    if (!leaf) msg += ", at depth " + std::to_string(st.verify_depth) + ": " + subject;
    msg += "); the certificate carries " + names_text(st.peer_names) + ".";
    switch (st.verify_error) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            msg += " Renew it: " + which + " expired on " + st.failed_not_after + " (or check this host's clock).";
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            msg += " " + which_sentence + " is not yet valid: it is valid only from " + st.failed_not_before +
                   "; check the clocks of this host and the server, or reissue it.";
            break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            msg += " Check ca_file/ca_dir: " + which + " was issued by '" + issuer +
                   "', which is not among the CAs trusted here (" + trust_store_text(options) +
                   "); add that CA, or have the server send its intermediate certificates too.";
            break;
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            msg += " Check ca_file/ca_dir: the chain ends in the self-signed '" + subject +
                   "', which is not among the CAs trusted here (" + trust_store_text(options) + ").";
            break;
        case X509_V_ERR_EE_KEY_TOO_SMALL:
        case X509_V_ERR_CA_KEY_TOO_SMALL:
            // Trust store and chain are fine: only a new key helps (a lower security level here is no fix).
            msg += " " + which_sentence + " has a key too weak for " + security_level_text(st.verify_security_level) +
                   ": reissue it with a stronger key.";
            break;
        case X509_V_ERR_INVALID_PURPOSE:
            msg += " " + which_sentence + " is not meant for a TLS server (its extendedKeyUsage lacks serverAuth): "
                   "reissue it with serverAuth.";
            break;
        default:
            msg += " Check ca_file/ca_dir (" + trust_store_text(options) +
                   ") and that the server sends its whole chain (tls-cert-file with intermediates).";
            break;
    }
    return error(error_kind::tls_chain, msg);
}

/// True when the certificate store has a function of its own for building or checking chains (X509_STORE_set_verify,
/// _get_issuer, _check_issued, _lookup_certs, _check_policy): one that says yes would make verify_peer's chain check
/// meaningless. addrmap never installs one; only code holding native_handle() can. (The store's verify callback is
/// harmless: verify_peer replaces it with its own for its check.)
inline bool store_has_custom_chain_functions(const X509_STORE* store) noexcept {
    return X509_STORE_get_verify(store) != nullptr || X509_STORE_get_get_issuer(store) != nullptr ||
           X509_STORE_get_check_issued(store) != nullptr || X509_STORE_get_lookup_certs(store) != nullptr ||
           X509_STORE_get_check_policy(store) != nullptr;
}

/// The check addrmap makes itself after every handshake, full or resumed, on a live `ssl`: a peer certificate is
/// present, it chains to the trusted CAs (verified again here, with our callback and parameters), it carries
/// `tls_name` (X509_check_host / X509_check_ip_asc, partial wildcards refused, subject CN never used), and
/// OpenSSL's own verdict is X509_V_OK. Nothing a caller installs on the SSL_CTX through native_handle() — a
/// verify callback that always says yes, SSL_VERIFY_NONE, a cert_verify_callback that skips verification,
/// flags that stop the time check — can make it pass a certificate it would refuse. A resumed session is checked
/// with the certificates it carries from its first handshake, against the trust store as it is now.
/// Fails closed with error{tls_chain | tls_name}, worded as for a failed handshake (`st` gets the diagnostics).
inline void verify_peer(SSL* ssl, const std::string& route, const endpoint& mapped, const tls_options& options,
                        tls_link_state& st) {
    st.clear_diagnostics();
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509* const peer = SSL_get0_peer_certificate(ssl);
#else
    const x509_ptr peer_ref(SSL_get_peer_certificate(ssl));
    X509* const peer = peer_ref.get();
#endif
    if (peer == nullptr)
        throw error(error_kind::tls_chain, route + ": the handshake completed but the server presented no "
                                                   "certificate; addrmap verifies one on every connection, so the "
                                                   "connection is refused.");
    st.peer_names = certificate_names(peer);
    st.names_captured = true;

    // 1. The chain, against the SSL_CTX's trust store as it is now (CAs added through native_handle() count).
    X509_STORE* const store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
    if (store == nullptr)
        throw error(error_kind::tls_chain, route + ": the TLS context has no certificate store to verify against.");
    if (store_has_custom_chain_functions(store))
        throw error(error_kind::tls_chain,
                    route + ": the TLS context's certificate store has its own chain-building or verification "
                            "function (installed through tls_context::native_handle()); addrmap verifies every "
                            "chain with OpenSSL's own, so the connection is refused. Remove that function.");
    const std::unique_ptr<X509_STORE_CTX, free_with<X509_STORE_CTX_free>> check(X509_STORE_CTX_new());
    if (!check || X509_STORE_CTX_init(check.get(), store, peer, SSL_get_peer_cert_chain(ssl)) != 1 ||
        X509_STORE_CTX_set_default(check.get(), "ssl_server") != 1)
        throw error(error_kind::tls_chain, route + ": cannot set up the certificate check (OpenSSL: " +
                                               last_openssl_reason() + "); the connection is refused.");
    X509_VERIFY_PARAM* const param = X509_STORE_CTX_get0_param(check.get());
    // addrmap's minimum, whatever the store's parameters say: a TLS server certificate, checked at the current
    // time, no unknown critical extension ignored. The name is checked below, so none is set here.
    // Key sizes and signature digests are checked at the security level addrmap set up, or higher: a verify
    // callback that clears "key too weak" in the handshake, or a lowered level, cannot weaken this check.
    const tls_link_state* const link = link_state_of(ssl);
    const int floor = link != nullptr && link->shared ? link->shared->security_level : 1;
    const int level = std::max(floor, SSL_get_security_level(ssl));
    X509_VERIFY_PARAM_set_auth_level(param, level);
    if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER) != 1 ||
        X509_VERIFY_PARAM_set_trust(param, X509_TRUST_SSL_SERVER) != 1 ||
        X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_USE_CHECK_TIME | X509_V_FLAG_NO_CHECK_TIME |
                                                 X509_V_FLAG_IGNORE_CRITICAL) != 1 ||
        X509_VERIFY_PARAM_set1_host(param, nullptr, 0) != 1 || X509_VERIFY_PARAM_set1_ip(param, nullptr, 0) != 1 ||
        X509_VERIFY_PARAM_set1_email(param, nullptr, 0) != 1)
        throw error(error_kind::tls_chain, route + ": cannot set the certificate check's parameters (OpenSSL: " +
                                               last_openssl_reason() + "); the connection is refused.");
    // Our callback (it records the first error into `st` and never changes the verdict) replaces any the store has.
    X509_STORE_CTX_set_ex_data(check.get(), SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
    X509_STORE_CTX_set_verify_cb(check.get(), &tls_verify_callback);
    if (X509_verify_cert(check.get()) != 1) {
        if (st.verify_error == X509_V_OK) {
            const int reason = X509_STORE_CTX_get_error(check.get());
            st.verify_error = reason != X509_V_OK ? reason : X509_V_ERR_UNSPECIFIED;
            st.verify_security_level = level;
        }
        if (is_name_error(st.verify_error)) throw name_mismatch_error(route, mapped.tls_name(), st, options, mapped.port());
        throw chain_error(route, options, st);
    }

    // 2. The name, on the certificate itself.
    const std::string tls_name(mapped.tls_name());
    const host_kind name_kind = classify_host(tls_name);
    const bool by_ip = name_kind == host_kind::ipv4 || name_kind == host_kind::ipv6;
    const int name_ok =
        by_ip ? X509_check_ip_asc(peer, tls_name.c_str(), 0)
              : X509_check_host(peer, tls_name.data(), tls_name.size(),
                                X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr);
    if (name_ok != 1) {
        st.verify_error = by_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
        st.verify_depth = 0;
        throw name_mismatch_error(route, tls_name, st, options, mapped.port());
    }

    // 3. OpenSSL's own verdict from the handshake (or from the session's first handshake) must agree.
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) {
        st.verify_error = static_cast<int>(verdict);
        st.verify_depth = -1;
        st.verify_security_level = SSL_get_security_level(ssl);  // the handshake's check ran at the connection's level
        if (is_name_error(st.verify_error)) throw name_mismatch_error(route, tls_name, st, options, mapped.port());
        throw chain_error(route, options, st);
    }
}

}  // namespace addrmap::detail
