// tests/integration/test_certificates.hpp — certificates the tests issue from the fixture's CA (scripts/cluster's),
// with a validity of their choosing: a node whose certificate expires in 5 days, played by hostile_node.
#pragma once

#include "cluster_test_support.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace live {

/// A server certificate for DNS:localhost (and *.redis.test), issued now by the fixture's CA for `days` days, with its
/// key, in a directory of its own that goes when it does.
class issued_certificate {
public:
    explicit issued_certificate(int days) {
        char dir[] = "/tmp/addrmap-cert-XXXXXX";
        if (::mkdtemp(dir) == nullptr) throw std::runtime_error("issued_certificate: mkdtemp failed");
        dir_ = dir;
        const std::string ca = cluster_tls("ca.crt"), ca_key = cluster_tls("ca.key");
        const std::string script =
            "cd '" + dir_ + "' && printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature,"
            "keyEncipherment\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:localhost,DNS:*.redis.test\\n' > ext && "
            "openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout node.key -out node.csr "
            "-subj /CN=redis.test && openssl x509 -req -in node.csr -CA '" + ca + "' -CAkey '" + ca_key +
            "' -CAcreateserial -CAserial serial -out node.crt -days " + std::to_string(days) + " -extfile ext";
        if (std::system(("(" + script + ") > '" + dir_ + "/openssl.log' 2>&1").c_str()) != 0)
            throw std::runtime_error("issued_certificate: openssl failed (see " + dir_ + "/openssl.log)");
    }
    issued_certificate(const issued_certificate&) = delete;
    issued_certificate& operator=(const issued_certificate&) = delete;
    ~issued_certificate() {
        for (const char* f : {"node.crt", "node.key", "node.csr", "ext", "serial", "openssl.log"})
            ::unlink((dir_ + "/" + f).c_str());
        ::rmdir(dir_.c_str());
    }
    std::string cert() const { return dir_ + "/node.crt"; }
    std::string key() const { return dir_ + "/node.key"; }

private:
    std::string dir_;
};

/// The notAfter of the PEM certificate in `file`, as "YYYY-MM-DD" (UTC), as addrmap-doctor prints it.
inline std::string not_after_date(const std::string& file) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(file.c_str(), "r"), &std::fclose);
    if (!f) throw std::runtime_error("cannot read " + file);
    std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
    std::tm tm{};
    if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) throw std::runtime_error("no notAfter in " + file);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

}  // namespace live
