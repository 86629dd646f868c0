// addrmap/detail/tls_context_setup.hpp — the SSL_CTX behind a tls_context, built once from tls_options: minimum
// version, trust store, client certificate, our callbacks; errors name the file and OpenSSL's reason.
#pragma once

#include <addrmap/detail/cert_names.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/tls_link_state.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls_options.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>

namespace addrmap::detail {

inline error context_config_error(const std::string& what) {
    std::string msg = what + " (OpenSSL: " + first_openssl_reason() + ")";
    ERR_clear_error();
    return error(error_kind::config, msg);
}

inline std::shared_ptr<tls_shared> make_tls_shared(tls_options options) {
    if (options.connect_timeout.count() <= 0)
        throw error(error_kind::config, "tls_options.connect_timeout must be positive (it is " +
                                            std::to_string(options.connect_timeout.count()) +
                                            " ms): a peer that never answers would otherwise block forever");
    if (options.command_timeout.count() <= 0)
        throw error(error_kind::config, "tls_options.command_timeout must be positive (it is " +
                                            std::to_string(options.command_timeout.count()) +
                                            " ms): a peer that never answers would otherwise block forever");
    if (options.cert_file.empty() != options.key_file.empty()) {
        const std::string set = options.cert_file.empty() ? "key_file " + quoted(options.key_file, 255)
                                                          : "cert_file " + quoted(options.cert_file, 255);
        const char* unset = options.cert_file.empty() ? "cert_file" : "key_file";
        throw error(error_kind::config,
                    "tls_options." + set + " is set but " + unset + " is empty: set both or neither");
    }
    auto shared = std::make_shared<tls_shared>();
    ERR_clear_error();
    shared->ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!shared->ctx) throw context_config_error("cannot create an OpenSSL SSL_CTX");
    SSL_CTX* ctx = shared->ctx.get();
    const int min_version = options.min_version == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1)
        throw context_config_error(std::string("this OpenSSL cannot require ") + to_string(options.min_version));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &tls_verify_callback);

    if (!options.ca_file.empty() && SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1)
        throw context_config_error("cannot load tls_options.ca_file " + quoted(options.ca_file, 255));
    if (!options.ca_dir.empty()) {
        struct stat st {};
        if (::stat(options.ca_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw error(error_kind::config, "tls_options.ca_dir " + quoted(options.ca_dir, 255) + " is not a directory");
        if (SSL_CTX_load_verify_locations(ctx, nullptr, options.ca_dir.c_str()) != 1)
            throw context_config_error("cannot use tls_options.ca_dir " + quoted(options.ca_dir, 255));
    }
    if (options.ca_file.empty() && options.ca_dir.empty() && SSL_CTX_set_default_verify_paths(ctx) != 1)
        throw context_config_error("cannot load the system trust store (ca_file and ca_dir are empty)");

    if (!options.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1)
            throw context_config_error("cannot load tls_options.cert_file " + quoted(options.cert_file, 255));
        if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
            const unsigned long code = ERR_peek_error();
            if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
                throw context_config_error("tls_options.key_file " + quoted(options.key_file, 255) +
                                           " is not the key of cert_file " + quoted(options.cert_file, 255));
            throw context_config_error("cannot load tls_options.key_file " + quoted(options.key_file, 255));
        }
        if (SSL_CTX_check_private_key(ctx) != 1)
            throw context_config_error("tls_options.key_file " + quoted(options.key_file, 255) +
                                       " is not the key of cert_file " + quoted(options.cert_file, 255));
    }

    // Client session cache, stored by us (keyed by TLS name) rather than by OpenSSL.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &tls_new_session_callback);
    if (link_state_index() < 0) throw context_config_error("cannot allocate an OpenSSL ex_data index");
    shared->security_level = SSL_CTX_get_security_level(ctx);
    shared->options = std::move(options);
    return shared;
}

}  // namespace addrmap::detail
