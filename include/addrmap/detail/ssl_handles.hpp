// addrmap/detail/ssl_handles.hpp — owning smart pointers for the OpenSSL objects addrmap holds.
// Every SSL_CTX / SSL / X509 / SSL_SESSION / BIO / GENERAL_NAMES lives in one of these; no naked frees.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace addrmap::detail {

struct ssl_ctx_deleter {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};

/// Frees an SSL* that was never handed to hiredis (hiredis frees the ones it accepted).
struct ssl_deleter {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

struct x509_deleter {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};

/// Drops one reference; OpenSSL frees the session when the last one goes.
struct ssl_session_deleter {
    void operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }
};

struct bio_deleter {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};

struct general_names_deleter {
    void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_deleter>;
using ssl_ptr = std::unique_ptr<SSL, ssl_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using ssl_session_ptr = std::unique_ptr<SSL_SESSION, ssl_session_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, general_names_deleter>;

}  // namespace addrmap::detail
