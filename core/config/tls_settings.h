// Plain TLS settings: what the config loader (l7/config/config_tls.cc) fills from a listener's `tls`
// and a pool's `tls`, and what the L7 tier builds its OpenSSL contexts from (l7/tls/tls_context.h).
// They live in core, not l7, because the checked Config holds them and core does not depend on
// l7; l7/tls_types.h re-exports them, so there is one definition and no copy to keep in step.
// No OpenSSL headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lbd {

// Protocol versions a context may be limited to. Only the minimum is configurable; the maximum is
// always TLS 1.3. Below TLS 1.2 also needs a cipher list with "@SECLEVEL=0": OpenSSL 3 refuses
// the SHA-1 handshake signatures of TLS 1.0/1.1 at its default security level.
enum class TlsVersion : uint8_t { kTls10, kTls11, kTls12, kTls13 };

// Client-certificate verification on a listener.
enum class TlsClientVerify : uint8_t {
    kOff,       // no CertificateRequest is sent
    kOptional,  // requested; a client may send none, but a certificate it sends must verify
    kRequired,  // a client without a certificate that verifies is refused
};

// A certificate and its key, PEM files. `cert_file` holds the leaf first, then any intermediates
// (the chain sent to peers). An empty `key_file` means the key is in `cert_file` too.
struct TlsCertificate {
    std::string cert_file;
    std::string key_file;
};

// Mozilla's "intermediate" TLS 1.2 list, ECDHE only (forward secrecy, AEAD ciphers only). No DHE:
// it would need DH parameters, and every client that still speaks TLS 1.2 has ECDHE.
inline constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Mozilla's "intermediate" TLS 1.3 order, AES-128 first as in the TLS 1.2 list. OpenSSL's own
// default puts AES-256-GCM-SHA384 first, and with the server's order winning (tls_context.cc)
// every handshake then runs its key schedule on SHA-384: about 90,000 instructions more per
// full handshake on each side than SHA-256 (bench/README.md, issue 17), for no security a
// 128-bit key lacks. Browsers and curl list AES-128 first themselves.
inline constexpr const char* kDefaultTls13Ciphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// One TLS-terminating listener.
struct TlsServerSettings {
    // Served by SNI: each certificate serves the DNS names of its subjectAltName (its subject CN
    // only when it has no DNS SAN), "*.example.com" matching exactly one label. Several
    // certificates of different key types (ECDSA, RSA) may serve one name; the client's signature
    // algorithms pick. Of two of the same key type for one name, the first listed wins. The FIRST
    // certificate is the default: a client that sends no SNI, or a name no certificate serves,
    // gets what the default certificate's first name gets.
    std::vector<TlsCertificate> certificates;

    TlsVersion min_version = TlsVersion::kTls12;
    std::string ciphers = kDefaultTls12Ciphers;  // TLS <= 1.2 cipher list (OpenSSL syntax)
    std::string ciphersuites = kDefaultTls13Ciphersuites;  // TLS 1.3 suites, ':'-separated

    // ALPN protocols in our order of preference (the server's preference wins). Empty: ALPN is
    // ignored. A client that offers ALPN with none of these is refused with the
    // no_application_protocol alert (RFC 7301 §3.2).
    std::vector<std::string> alpn = {"http/1.1"};

    // Server-side session cache (TLS 1.2 session IDs, and TLS 1.3 resumption when tickets are
    // off). 0 turns the cache off.
    uint32_t session_cache_size = 20000;
    // How long a session may be resumed, by cache or ticket; also the ticket lifetime hint.
    uint32_t session_timeout_s = 300;

    // Stateless session tickets (RFC 5077, RFC 8446 §4.6.1), encrypted with keys made here: a new
    // key every `ticket_rotation_s`, and a retired key still decrypts for `ticket_key_lifetime_s`
    // after its retirement (a ticket it decrypts is re-issued under the current key), so a ticket
    // issued just before a rotation still resumes. Keep the lifetime >= session_timeout_s.
    bool session_tickets = true;
    uint32_t ticket_rotation_s = 3600;
    uint32_t ticket_key_lifetime_s = 300;

    // Client certificates: verified against `client_ca_file` (PEM, one or more CA certificates,
    // whose subjects are also sent as acceptable CAs), chains at most `verify_depth` below the leaf.
    TlsClientVerify client_verify = TlsClientVerify::kOff;
    std::string client_ca_file;
    uint32_t verify_depth = 4;
};

// Re-encryption towards servers (one per pool or server).
struct TlsClientSettings {
    // Verify the server's chain and name. Off only for lab setups: it lets anyone on the path in.
    bool verify = true;
    std::string ca_file;  // PEM trust anchors; empty = the system store (/etc/ssl/certs)
    uint32_t verify_depth = 9;

    // The name sent as SNI and checked against the server's certificate, unless the session code
    // passes another one to TlsClientContext::new_session(). An IP literal is checked against the
    // certificate's IP SANs and not sent as SNI (RFC 6066 §3 forbids it).
    std::string server_name;

    TlsVersion min_version = TlsVersion::kTls12;
    std::string ciphers = kDefaultTls12Ciphers;
    std::string ciphersuites = kDefaultTls13Ciphersuites;
    std::vector<std::string> alpn;  // offered, in order; empty = no ALPN extension

    // Sent when a server asks for a client certificate. Empty cert_file = none.
    TlsCertificate client_certificate;
};

// A listener's `tls` block, checked.
struct ListenerTlsConfig {
    bool enabled = false;  // false: plain HTTP, nothing below is used
    TlsServerSettings context;
    // From the accept to the end of the handshake; the request head timeout starts after it.
    uint32_t handshake_timeout_ms = 10000;
};

// A pool's `tls` block, checked: its servers are reached over TLS.
struct PoolTlsConfig {
    bool enabled = false;
    // An empty server_name: each server is checked against (not sent) its address.
    TlsClientSettings context;
};

}  // namespace lbd
