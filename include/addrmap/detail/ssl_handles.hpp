// addrmap/detail/ssl_handles.hpp — owning smart pointers for the OpenSSL objects addrmap holds.
// Every SSL_CTX / SSL / X509 / SSL_SESSION / BIO / GENERAL_NAMES lives in one of these; no naked frees.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <addrmap/detail/free_with.hpp>

#include <memory>

namespace addrmap::detail {

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, free_with<SSL_CTX_free>>;
/// Frees an SSL* that was never handed to hiredis (hiredis frees the ones it accepted).
using ssl_ptr = std::unique_ptr<SSL, free_with<SSL_free>>;
using x509_ptr = std::unique_ptr<X509, free_with<X509_free>>;
/// Drops one reference; OpenSSL frees the session when the last one goes.
using ssl_session_ptr = std::unique_ptr<SSL_SESSION, free_with<SSL_SESSION_free>>;
using bio_ptr = std::unique_ptr<BIO, free_with<BIO_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, free_with<GENERAL_NAMES_free>>;

}  // namespace addrmap::detail
