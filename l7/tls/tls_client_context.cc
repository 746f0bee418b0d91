// TlsClientContext (re-encryption towards servers) and the per-SSL helpers of tls_context.h.
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "core/base/log.h"
#include "l7/tls/tls_context.h"

namespace lbd::l7 {

using tls_detail::fail;

TlsBuildResult<TlsClientContext> TlsClientContext::build(const TlsClientSettings& settings) {
    TlsBuildResult<TlsClientContext> result;
    TlsError error;
    auto finish = [&](bool ok) { return std::move(result).finish(ok, error); };

    std::shared_ptr<TlsClientContext> self(new TlsClientContext());
    self->verify_ = settings.verify;
    self->server_name_ = settings.server_name;
    self->ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* c = self->ctx_.get();
    if (c == nullptr) return finish(fail(&error, TlsErrorKind::kOpenSsl, "SSL_CTX_new", tls_detail::drain_openssl_errors()));
    if (!tls_detail::apply_protocol_settings(c, settings.min_version, settings.ciphers, settings.ciphersuites, &error)) {
        return finish(false);
    }
    // As on the server side (see TlsServerContext::make_ssl_ctx): no renegotiation, no
    // compression, no record buffers while idle (pooled server connections idle too), and
    // SSL_write like write(2). Unlike the server side, an EOF without close_notify stays an
    // error: a response read until close (RFC 9112 §6.3) is only known complete by close_notify.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Resuming sessions towards servers would mean keeping an SSL_SESSION per server in the
    // session code (OpenSSL's client-side cache only stores, it never looks up); until then the
    // cache is off so it does not fill with sessions nobody reads.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);

    if (settings.verify) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_verify_depth(c, static_cast<int>(settings.verify_depth));
        ERR_clear_error();
        if (!settings.ca_file.empty()) {
            if (!tls_detail::check_readable(settings.ca_file, TlsErrorKind::kCaFile, &error)) return finish(false);
            if (SSL_CTX_load_verify_locations(c, settings.ca_file.c_str(), nullptr) != 1) {
                return finish(fail(&error, TlsErrorKind::kCaFile, settings.ca_file,
                                   "no CA certificate loaded (" + tls_detail::drain_openssl_errors() + ")"));
            }
        } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
            // The system store (Debian: /etc/ssl/certs, from ca-certificates).
            return finish(fail(&error, TlsErrorKind::kCaFile, "ca_file",
                               "cannot use the system CA store: " + tls_detail::drain_openssl_errors()));
        }
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        result.warnings.push_back({TlsErrorKind::kSettings, "verify",
                                   "server certificates are not verified; anyone on the path can intercept"});
    }

    if (!settings.client_certificate.cert_file.empty()) {
        tls_detail::LoadedCertificate cert;
        if (!tls_detail::load_certificate(settings.client_certificate, &cert, &error, &result.warnings) ||
            !tls_detail::use_certificate(c, cert, &error)) {
            return finish(false);
        }
    }

    std::string alpn;
    if (!tls_detail::alpn_wire_format(settings.alpn, &alpn, &error)) return finish(false);
    if (!alpn.empty() &&
        // Note the inverted convention: 0 is success here.
        SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(alpn.data()),
                                static_cast<unsigned int>(alpn.size())) != 0) {
        return finish(fail(&error, TlsErrorKind::kOpenSsl, "alpn", tls_detail::drain_openssl_errors()));
    }
    result.context = std::move(self);
    return finish(true);
}

SslPtr TlsClientContext::new_session(std::string_view server_name) const {
    SslPtr ssl(SSL_new(ctx_.get()));
    if (!ssl) return nullptr;
    SSL_set_connect_state(ssl.get());
    std::string name(server_name.empty() ? std::string_view(server_name_) : server_name);
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    if (name.empty()) return ssl;  // no SNI; the chain is still verified, but no name is checked

    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name.c_str(), ip) == 1 || inet_pton(AF_INET6, name.c_str(), ip) == 1;
    if (!is_ip && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1) return nullptr;
    if (verify_) {
        if (is_ip) {
            // Checked against the certificate's IP SANs during verification.
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str()) != 1) return nullptr;
        } else {
            // The name check happens inside chain verification, so a mismatch fails the
            // handshake with X509_V_ERR_HOSTNAME_MISMATCH. No partial wildcards ("w*.example.com"),
            // as browsers.
            SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(ssl.get(), name.c_str()) != 1) return nullptr;
        }
    }
    return ssl;
}

std::string_view negotiated_alpn(const SSL* ssl) {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &data, &len);
    return data == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(data), len);
}

std::string_view selected_server_name(const SSL* ssl) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    return name == nullptr ? std::string_view() : std::string_view(name);
}

std::string_view tls_version_name(const SSL* ssl) { return SSL_get_version(ssl); }

std::string peer_certificate_subject(const SSL* ssl) {
    X509* peer = SSL_get0_peer_certificate(ssl);
    if (peer == nullptr) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return {};
    std::string out;
    if (X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        long len = BIO_get_mem_data(bio, &data);
        out.assign(data, static_cast<size_t>(len));
    }
    BIO_free(bio);
    return out;
}

bool peer_certificate_verified(const SSL* ssl) {
    return SSL_get0_peer_certificate(ssl) != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
}

std::string_view verify_result_text(const SSL* ssl) {
    return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

std::string take_tls_errors() { return tls_detail::drain_openssl_errors(); }

}  // namespace lbd::l7
