// What the server and client TLS contexts share: RAII owners for OpenSSL objects, loading a
// certificate and its key with errors that name the file, the names a certificate serves, and
// the settings both kinds of SSL_CTX take (versions, ciphers, ALPN wire format).
// Internal to l7/tls/tls_*; the session code needs only l7/tls/tls_context.h.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "l7/tls/tls_types.h"

namespace lbd::l7 {

struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyDeleter {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509StackDeleter {
    void operator()(STACK_OF(X509) * chain) const { sk_X509_pop_free(chain, X509_free); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

namespace tls_detail {

// A certificate loaded from its files, before it goes into any SSL_CTX (one certificate may go
// into several: one per distinct set of certificates that serve a name).
struct LoadedCertificate {
    std::string cert_file;
    std::string key_file;  // as loaded: cert_file when the settings left it empty
    X509Ptr leaf;
    EvpPkeyPtr key;
    X509StackPtr chain;  // intermediates, maybe empty, never null
    int key_type = 0;    // EVP_PKEY_get_base_id(): EVP_PKEY_EC, EVP_PKEY_RSA, ...
    // Lower-cased DNS names it serves: its SAN DNS names, or its CN when it has no DNS SAN.
    // Wildcards are kept as "*.example.com".
    std::vector<std::string> names;
};

// Loads `spec`. On failure fills `error` (naming the file) and returns false. Problems that do
// not stop it loading (expired, not yet valid, unusable names) are appended to `warnings`.
bool load_certificate(const TlsCertificate& spec, LoadedCertificate* out, TlsError* error,
                      std::vector<TlsError>* warnings);

// Puts `cert` into `ctx` (its slot for that key type; OpenSSL keeps one per type).
bool use_certificate(SSL_CTX* ctx, const LoadedCertificate& cert, TlsError* error);

// Min version (max is always TLS 1.3), the TLS 1.2 cipher list and the TLS 1.3 suites.
bool apply_protocol_settings(SSL_CTX* ctx, TlsVersion min_version, const std::string& ciphers,
                             const std::string& ciphersuites, TlsError* error);

// ALPN list in wire format (RFC 7301 §3.1: each name preceded by its length byte).
bool alpn_wire_format(const std::vector<std::string>& protocols, std::string* out, TlsError* error);

// Checks that `path` can be opened, so that an error says "No such file or directory" rather
// than OpenSSL's less direct text.
bool check_readable(const std::string& path, TlsErrorKind kind, TlsError* error);

// Drains this thread's OpenSSL error queue into "reason; reason" (empty if it was empty).
std::string drain_openssl_errors();

bool fail(TlsError* error, TlsErrorKind kind, std::string file, std::string message);

}  // namespace tls_detail
}  // namespace lbd::l7
