// tools/doctor/pem_subjects.hpp — the subjects of the certificates in a PEM file (--cacert, --cert), only to name
// them in the header and in advice; the library does the verifying.
#pragma once

#include "text.hpp"

#include <addrmap/detail/ssl_handles.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <string>
#include <vector>

namespace doctor {

// The library's own RAII handles (detail/ssl_handles.hpp): one deleter per OpenSSL type in the project.
using addrmap::detail::bio_ptr;
using addrmap::detail::x509_ptr;

inline std::string subject_text(const X509* cert) {
    bio_ptr text(BIO_new(BIO_s_mem()));
    if (!text || X509_NAME_print_ex(text.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) return "?";
    char* data = nullptr;
    const long size = BIO_get_mem_data(text.get(), &data);
    return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string("?");
}

/// The subjects of the certificates in a PEM file ("CN=addrmap test CA"), in file order.
inline std::vector<std::string> pem_subjects(const std::string& file) {
    std::vector<std::string> subjects;
    bio_ptr in(BIO_new_file(file.c_str(), "r"));
    while (in) {
        x509_ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        subjects.push_back(subject_text(cert.get()));
    }
    ERR_clear_error();  // the last PEM_read_bio_X509 always fails ("no start line"): that is the end of the file
    return subjects;
}

/// "CN=a; CN=b" — a system bundle holds over a hundred, so long lists are cut after three.
inline std::string subjects_summary(const std::string& file) {
    std::vector<std::string> subjects = pem_subjects(file);
    if (subjects.empty()) return "no certificate";
    const std::size_t total = subjects.size();
    if (total > 3) {
        subjects.resize(3);
        subjects.push_back("and " + std::to_string(total - 3) + " more");
    }
    return join(subjects, "; ");
}

}  // namespace doctor
