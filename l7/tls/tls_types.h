// Plain types of the L7 TLS tier: the typed error the context builders return, and (from
// core/config/tls_settings.h, where the checked Config holds them) the settings they are built from.
// Cheap to include anywhere (no OpenSSL headers); the behaviour lives in l7/tls/tls_context.h.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/tls_settings.h"

namespace lbd::l7 {

using ::lbd::kDefaultTls12Ciphers;
using ::lbd::kDefaultTls13Ciphersuites;
using ::lbd::TlsCertificate;
using ::lbd::TlsClientSettings;
using ::lbd::TlsClientVerify;
using ::lbd::TlsServerSettings;
using ::lbd::TlsVersion;

// Why a TLS context could not be built. Every error names the file (or the setting) at fault.
enum class TlsErrorKind : uint8_t {
    kCertificate,    // a certificate file: missing, unreadable, no PEM certificate, bad chain
    kPrivateKey,     // a key file: missing, unreadable, no PEM private key
    kKeyMismatch,    // the key is not the certificate's
    kCaFile,         // a CA file (client_ca_file, ca_file) that does not load
    kCiphers,        // a TLS 1.2 cipher list that selects nothing
    kCiphersuites,   // a TLS 1.3 suite OpenSSL does not know
    kAlpn,           // an empty or over-long (> 255 bytes) protocol name
    kSettings,       // no certificate, verification without a CA file, a zero interval...
    kOpenSsl,        // OpenSSL refused something it should not (out of memory)
};

struct TlsError {
    TlsErrorKind kind = TlsErrorKind::kSettings;
    std::string file;     // the file at fault, or the setting's name
    std::string message;  // what is wrong, with OpenSSL's reason when it gave one

    // "file: message", the form ConfigError uses.
    std::string to_string() const { return file.empty() ? message : file + ": " + message; }
};

}  // namespace lbd::l7
