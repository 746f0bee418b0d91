#include "l7/tls/tls_certificate.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lbd::l7::tls_detail {
namespace {

struct BioDeleter {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// PEM password callback that refuses. Without it, OpenSSL's default callback would prompt on the
// controlling terminal for an encrypted key, and a daemon must not wait on a prompt.
int no_password(char*, int, int, void*) { return 0; }

// Opens `path` for PEM reading; fills `error` with errno's text when it cannot.
BioPtr open_pem(const std::string& path, TlsErrorKind kind, TlsError* error) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        fail(error, kind, path, std::string("cannot open: ") + std::strerror(errno));
        return nullptr;
    }
    BioPtr bio(BIO_new_fp(file, BIO_CLOSE));
    if (!bio) {
        std::fclose(file);
        fail(error, TlsErrorKind::kOpenSsl, path, "BIO_new_fp failed: " + drain_openssl_errors());
    }
    return bio;
}

// True when the last error on the queue is "no more PEM blocks", i.e. a clean end of file.
bool at_pem_end() {
    unsigned long err = ERR_peek_last_error();
    return ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
}

std::string asn1_time_text(const ASN1_TIME* time) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return "?";
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
}

// Lower-cases an ASCII DNS name; false if it holds a NUL or is empty (a NUL inside a SAN is the
// classic "www.bank.com\0.evil.com" trick).
bool normalize_dns_name(const unsigned char* data, int len, std::string* out) {
    if (len <= 0) return false;
    out->assign(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
    for (char& c : *out) {
        if (c == '\0') return false;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return true;
}

// The names `leaf` serves: SAN DNS names, else the subject CN (RFC 6125 §6.4.4: the CN only
// when there is no DNS SAN).
void collect_names(X509* leaf, const std::string& file, std::vector<std::string>* names,
                   std::vector<TlsError>* warnings) {
    std::vector<std::string> raw;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
    if (sans != nullptr) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
            if (name->type != GEN_DNS) continue;
            std::string dns;
            if (normalize_dns_name(ASN1_STRING_get0_data(name->d.dNSName), ASN1_STRING_length(name->d.dNSName), &dns)) {
                raw.push_back(std::move(dns));
            }
        }
        GENERAL_NAMES_free(sans);
    }
    if (raw.empty()) {
        X509_NAME* subject = X509_get_subject_name(leaf);
        int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (index >= 0) {
            unsigned char* utf8 = nullptr;
            int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
            std::string dns;
            if (len > 0 && normalize_dns_name(utf8, len, &dns)) raw.push_back(std::move(dns));
            OPENSSL_free(utf8);
        }
    }
    for (std::string& name : raw) {
        // A wildcard is only "*." followed by a name with no other '*': partial wildcards
        // ("w*.example.com") are deprecated (RFC 6125 §7.2) and browsers refuse them.
        size_t star = name.find('*');
        bool ok = star == std::string::npos ||
                  (star == 0 && name.size() > 2 && name[1] == '.' && name.find('*', 1) == std::string::npos);
        if (!ok) {
            warnings->push_back({TlsErrorKind::kCertificate, file, "name \"" + name + "\" is not a usable wildcard; ignored"});
            continue;
        }
        names->push_back(std::move(name));
    }
}

}  // namespace

bool fail(TlsError* error, TlsErrorKind kind, std::string file, std::string message) {
    if (error != nullptr) *error = TlsError{kind, std::move(file), std::move(message)};
    return false;
}

std::string drain_openssl_errors() {
    std::string out;
    char buf[256];
    while (unsigned long err = ERR_get_error()) {
        ERR_error_string_n(err, buf, sizeof buf);
        // "error:0A00018E:SSL routines::ca md too weak": keep the text after the last ':'.
        const char* reason = std::strrchr(buf, ':');
        if (!out.empty()) out += "; ";
        out += reason != nullptr && reason[1] != '\0' ? reason + 1 : buf;
    }
    return out;
}

bool check_readable(const std::string& path, TlsErrorKind kind, TlsError* error) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) return fail(error, kind, path, std::string("cannot open: ") + std::strerror(errno));
    std::fclose(file);
    return true;
}

bool load_certificate(const TlsCertificate& spec, LoadedCertificate* out, TlsError* error,
                      std::vector<TlsError>* warnings) {
    ERR_clear_error();  // so that a reason read below is ours, not a stale one
    out->cert_file = spec.cert_file;
    out->key_file = spec.key_file.empty() ? spec.cert_file : spec.key_file;
    if (spec.cert_file.empty()) return fail(error, TlsErrorKind::kSettings, "certificate", "cert_file is empty");

    BioPtr bio = open_pem(spec.cert_file, TlsErrorKind::kCertificate, error);
    if (!bio) return false;
    out->leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
    if (!out->leaf) {
        return fail(error, TlsErrorKind::kCertificate, spec.cert_file,
                    "no PEM certificate found (" + drain_openssl_errors() + ")");
    }
    out->chain.reset(sk_X509_new_null());
    if (!out->chain) return fail(error, TlsErrorKind::kOpenSsl, spec.cert_file, "out of memory");
    // The rest of the file is the chain; it ends at the first read that finds no PEM block.
    while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)) {
        if (sk_X509_push(out->chain.get(), extra) == 0) {
            X509_free(extra);
            return fail(error, TlsErrorKind::kOpenSsl, spec.cert_file, "out of memory");
        }
    }
    if (!at_pem_end()) {
        return fail(error, TlsErrorKind::kCertificate, spec.cert_file,
                    "bad PEM certificate after the first one (" + drain_openssl_errors() + ")");
    }
    ERR_clear_error();

    // Reading the key from the certificate file skips the certificates before it.
    bio = open_pem(out->key_file, TlsErrorKind::kPrivateKey, error);
    if (!bio) return false;
    out->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
    if (!out->key) {
        return fail(error, TlsErrorKind::kPrivateKey, out->key_file,
                    "no PEM private key found, or it is encrypted (" + drain_openssl_errors() + ")");
    }
    if (X509_check_private_key(out->leaf.get(), out->key.get()) != 1) {
        ERR_clear_error();
        return fail(error, TlsErrorKind::kKeyMismatch, out->key_file,
                    "private key does not match certificate " + spec.cert_file);
    }
    out->key_type = EVP_PKEY_get_base_id(out->key.get());

    // Expired or not yet valid: loaded, with a warning. Refusing would turn a certificate that
    // expires on a running box into a failed reload of everything else; clients see the dates
    // and decide, as with any other server.
    if (X509_cmp_current_time(X509_get0_notAfter(out->leaf.get())) < 0) {
        warnings->push_back({TlsErrorKind::kCertificate, spec.cert_file,
                             "certificate expired on " + asn1_time_text(X509_get0_notAfter(out->leaf.get())) +
                                 "; loaded anyway"});
    } else if (X509_cmp_current_time(X509_get0_notBefore(out->leaf.get())) > 0) {
        warnings->push_back({TlsErrorKind::kCertificate, spec.cert_file,
                             "certificate is not valid before " +
                                 asn1_time_text(X509_get0_notBefore(out->leaf.get())) + "; loaded anyway"});
    }
    collect_names(out->leaf.get(), spec.cert_file, &out->names, warnings);
    return true;
}

bool use_certificate(SSL_CTX* ctx, const LoadedCertificate& cert, TlsError* error) {
    ERR_clear_error();
    // One call sets leaf, key and chain for the key type's slot and checks they fit together;
    // it also applies the security level (e.g. refuses RSA keys under 2048 bits at level 2).
    if (SSL_CTX_use_cert_and_key(ctx, cert.leaf.get(), cert.key.get(), cert.chain.get(), 1) != 1) {
        return fail(error, TlsErrorKind::kCertificate, cert.cert_file,
                    "OpenSSL refused the certificate: " + drain_openssl_errors());
    }
    return true;
}

bool apply_protocol_settings(SSL_CTX* ctx, TlsVersion min_version, const std::string& ciphers,
                             const std::string& ciphersuites, TlsError* error) {
    static constexpr int kVersions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
    // SSLv3 is not even compiled into Debian's OpenSSL; the floor is ours, the ceiling TLS 1.3 (an
    // OpenSSL that one day knows a newer version does not get it enabled behind our back).
    if (SSL_CTX_set_min_proto_version(ctx, kVersions[static_cast<int>(min_version)]) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        return fail(error, TlsErrorKind::kOpenSsl, "min_version", "cannot set versions: " + drain_openssl_errors());
    }
    // The TLS 1.2 list: OpenSSL skips names it does not know and fails only if nothing is left.
    if (!ciphers.empty() && SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        return fail(error, TlsErrorKind::kCiphers, "ciphers",
                    "\"" + ciphers + "\" selects no cipher (" + drain_openssl_errors() + ")");
    }
    if (!ciphersuites.empty()) {
        // SSL_CTX_set_ciphersuites() silently skips unknown names, which would turn a typo into a
        // weaker list; set each one alone first to find the one it does not know.
        size_t start = 0;
        while (start <= ciphersuites.size()) {
            size_t end = ciphersuites.find(':', start);
            if (end == std::string::npos) end = ciphersuites.size();
            std::string one = ciphersuites.substr(start, end - start);
            STACK_OF(SSL_CIPHER)* got = nullptr;
            bool known = !one.empty() && SSL_CTX_set_ciphersuites(ctx, one.c_str()) == 1 &&
                         (got = SSL_CTX_get_ciphers(ctx)) != nullptr;
            bool found = false;
            for (int i = 0; known && i < sk_SSL_CIPHER_num(got); ++i) {
                found = found || one == SSL_CIPHER_standard_name(sk_SSL_CIPHER_value(got, i));
            }
            if (!found) {
                return fail(error, TlsErrorKind::kCiphersuites, "ciphersuites",
                            "unknown TLS 1.3 ciphersuite \"" + one + "\"");
            }
            start = end + 1;
        }
        if (SSL_CTX_set_ciphersuites(ctx, ciphersuites.c_str()) != 1) {
            return fail(error, TlsErrorKind::kCiphersuites, "ciphersuites", drain_openssl_errors());
        }
    }
    return true;
}

bool alpn_wire_format(const std::vector<std::string>& protocols, std::string* out, TlsError* error) {
    out->clear();
    for (const std::string& protocol : protocols) {
        if (protocol.empty() || protocol.size() > 255) {
            return fail(error, TlsErrorKind::kAlpn, "alpn", "protocol name \"" + protocol + "\" must be 1..255 bytes");
        }
        out->push_back(static_cast<char>(protocol.size()));
        out->append(protocol);
    }
    return true;
}

}  // namespace lbd::l7::tls_detail
