// addrmap/detail/cert_names.hpp — what a certificate says about itself, as text for messages:
// its names ("DNS:x", "IP:y", "CN=z"), issuer, validity dates, and OpenSSL's error reasons.
#pragma once

#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/tls_options.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace addrmap::detail {

/// Bytes from a certificate, made safe for a one-line message as detail::escaped makes them: control,
/// non-ASCII and '\' bytes become \xNN, so a hostile certificate cannot forge log lines. Not cut here
/// (tls_handshake_info keeps every name); messages cut when they quote.
inline std::string printable(const unsigned char* data, std::size_t size) {
    return escaped(std::string_view(reinterpret_cast<const char*>(data), size), size);
}

inline std::string asn1_string_text(const ASN1_STRING* text) {
    if (text == nullptr) return {};
    return printable(ASN1_STRING_get0_data(text), static_cast<std::size_t>(ASN1_STRING_length(text)));
}

/// An iPAddress SAN (4 or 16 bytes) as inet_ntop writes it.
inline std::string ip_san_text(const ASN1_OCTET_STRING* ip) {
    const int length = ASN1_STRING_length(ip);
    const unsigned char* data = ASN1_STRING_get0_data(ip);
    char buf[INET6_ADDRSTRLEN] = {};
    if (length == 4 && ::inet_ntop(AF_INET, data, buf, sizeof buf) != nullptr) return buf;
    if (length == 16 && ::inet_ntop(AF_INET6, data, buf, sizeof buf) != nullptr) return buf;
    return "<" + std::to_string(length) + "-byte address>";
}

/// The names a certificate carries, in certificate order: subjectAltName entries as "DNS:name",
/// "IP:addr", "email:x", "URI:x", then each subject commonName as "CN=name".
inline std::vector<std::string> certificate_names(const X509* cert) {
    std::vector<std::string> names;
    if (cert == nullptr) return names;
    general_names_ptr sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (sans) {
        const int count = sk_GENERAL_NAME_num(sans.get());
        for (int i = 0; i < count; ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
            switch (name->type) {
                case GEN_DNS: names.push_back("DNS:" + asn1_string_text(name->d.dNSName)); break;
                case GEN_IPADD: names.push_back("IP:" + ip_san_text(name->d.iPAddress)); break;
                case GEN_EMAIL: names.push_back("email:" + asn1_string_text(name->d.rfc822Name)); break;
                case GEN_URI: names.push_back("URI:" + asn1_string_text(name->d.uniformResourceIdentifier)); break;
                default: break;  // directory names, otherName, ...: never used for host checks
            }
        }
    }
    const X509_NAME* subject = X509_get_subject_name(cert);
    for (int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); at >= 0;
         at = X509_NAME_get_index_by_NID(subject, NID_commonName, at)) {
        const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, at);
        unsigned char* utf8 = nullptr;
        const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (length >= 0 && utf8 != nullptr) {
            names.push_back("CN=" + printable(utf8, static_cast<std::size_t>(length)));
        }
        OPENSSL_free(utf8);
    }
    return names;
}

/// A distinguished name in RFC 2253 form ("CN=addrmap test CA,O=Example").
inline std::string x509_name_text(const X509_NAME* name) {
    if (name == nullptr) return {};
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
    const char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    if (size <= 0 || data == nullptr) return {};
    return printable(reinterpret_cast<const unsigned char*>(data), static_cast<std::size_t>(size));
}

/// "2026-10-25 23:38:47 UTC".
inline std::string asn1_time_text(const ASN1_TIME* time) {
    std::tm tm{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "an unreadable date";
    char buf[32];
    if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) return "an unreadable date";
    return buf;
}

/// A certificate's notAfter on the system clock. The clock's end (year 2262 for a nanosecond clock) stands for a date
/// past it (RFC 5280's 99991231235959Z, "no expiry") and for one OpenSSL cannot read: neither is "expiring".
inline std::chrono::system_clock::time_point not_after_of(const X509* cert) {
    using clock = std::chrono::system_clock;
    int days = 0, seconds = 0;
    const ASN1_TIME* end = cert != nullptr ? X509_get0_notAfter(cert) : nullptr;
    // The difference from now, as OpenSSL computes it (no timegm, no time zone).
    if (end == nullptr || ASN1_TIME_diff(&days, &seconds, nullptr, end) != 1) return clock::time_point::max();
    const auto now = clock::now();
    const std::int64_t offset = std::int64_t{days} * 86400 + seconds;  // |days| < 2^31: no overflow in 64 bits
    // The clock's range in seconds, from now (min() is -max() - 1 on every clock in use): no overflow on the way.
    const std::int64_t clock_end = std::chrono::duration_cast<std::chrono::seconds>(clock::time_point::max().time_since_epoch()).count();
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::int64_t room_after = clock_end - now_s - 1, room_before = clock_end + now_s - 1;
    if (offset >= room_after) return clock::time_point::max();
    if (offset <= -room_before) return clock::time_point::min();
    return now + std::chrono::duration_cast<clock::duration>(std::chrono::seconds(offset));
}

/// The SHA-256 of a certificate's DER form, in hex ("" when it cannot be made).
inline std::string fingerprint_of(const X509* cert) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (cert == nullptr || X509_digest(cert, EVP_sha256(), digest, &size) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    text.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) text += hex[digest[i] >> 4], text += hex[digest[i] & 15];
    return text;
}

/// One certificate's validity for tls_handshake_info::chain: the node's names (depth 0) or a CA's subject CN.
inline certificate_validity validity_of(const X509* cert, int depth) {
    certificate_validity v;
    v.depth = depth;
    v.names = certificate_names(cert);
    if (depth > 0)  // a CA: its subject names it, its SANs (if any) name no node
        v.names.erase(std::remove_if(v.names.begin(), v.names.end(),
                                     [](const std::string& n) { return n.compare(0, 3, "CN=") != 0; }),
                      v.names.end());
    v.not_after = not_after_of(cert);
    v.fingerprint = fingerprint_of(cert);
    return v;
}

/// OpenSSL's reason for a packed error code ("certificate verify failed"), never empty. System
/// errors (fopen failing, ...) are given as strerror text ("No such file or directory").
inline std::string openssl_reason(unsigned long code) {
    if (code == 0) return "no OpenSSL error recorded";
    if (ERR_GET_LIB(code) == ERR_LIB_SYS) return std::strerror(ERR_GET_REASON(code));
    if (const char* reason = ERR_reason_error_string(code)) return reason;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
}

/// OpenSSL's most recent queued error as text (the queue is left untouched): for a failed
/// handshake, the alert or verification failure that ended it.
inline std::string last_openssl_reason() { return openssl_reason(ERR_peek_last_error()); }

/// OpenSSL's oldest queued error as text (the queue is left untouched): for a failed file load,
/// the root cause ("No such file or directory") rather than the wrappers pushed after it.
inline std::string first_openssl_reason() { return openssl_reason(ERR_peek_error()); }

}  // namespace addrmap::detail
