// TLS contexts of the L7 tier (OpenSSL 3): TlsServerContext terminates client connections on a
// listener, TlsClientContext re-encrypts towards servers. Both are built once from plain
// settings (l7/tls_types.h) at start-up or reload, and are then read-only but for the ticket keys.
//
// Server side, what a handshake meets:
//
//   ClientHello ──> servername callback: SNI, lower-cased, looked up exactly, then as
//                   "*.<rest>" (one label); nothing found or no SNI -> default
//                   └─ SSL_set_SSL_CTX(the SSL_CTX holding every certificate that serves that
//                      name, one per key type: OpenSSL then picks ECDSA or RSA by the client's
//                      signature algorithms and cipher list)
//               ──> session: ticket -> our key callback (current key, or a retired one within its
//                   lifetime: resumed and re-issued under the current key); session ID or TLS 1.3
//                   stateful ticket -> the default SSL_CTX's session cache
//               ──> ALPN callback: our preference order; no overlap -> no_application_protocol
//               ──> client certificate, if configured
//
// One SSL_CTX per distinct set of certificates (a certificate serving several names sits in
// several), all configured alike. Session state (cache, ticket callback) is always the one of
// the SSL_CTX the SSL was made from (OpenSSL's session_ctx), i.e. the default one, so switching
// by SNI does not split the cache.
//
// Threads: build() from any thread. new_session(), the helpers and the OpenSSL callbacks run on
// any number of worker threads at once: the SSL_CTXs and name tables are immutable after
// build(); the ticket keys are a small vector under a mutex (held only to copy 80 bytes of one
// key or to swap in a rotation, never across an OpenSSL call), and the counters are atomics.
// rotate_ticket_keys() may run on any thread, concurrently with handshakes.
//
// Lifetime: every SSL made from a context keeps pointers into it (the callbacks find it through
// the SSL_CTX). Keep the context alive, e.g. a std::shared_ptr copy per connection, until every
// such SSL is freed; after a reload, old connections keep the old context.
//
// Closing: send close_notify (SSL_shutdown) before SSL_free when the connection ends cleanly at
// the HTTP level. OpenSSL marks the session of an SSL freed without it not resumable and drops
// it from the session cache (truncation defence), which would cost the client a full handshake
// next time; for a client that vanished that is right, for an idle keep-alive timeout it is not
// (SSL_set_quiet_shutdown(ssl, 1) then SSL_shutdown() marks it clean without sending anything).
//
// The OpenSSL error queue is per thread: call ERR_clear_error() before SSL_read/SSL_write/
// SSL_do_handshake, and take_tls_errors() after a failure, or a stale error misleads the next
// connection's SSL_get_error().
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/log.h"
#include "l7/tls/tls_certificate.h"
#include "l7/tls/tls_types.h"

namespace lbd::l7 {

class TlsServerContext;
class TlsClientContext;

// What build() returns: a context, or the first error; warnings either way (e.g. an expired
// certificate, loaded anyway). Warnings are also logged (LOG_WARN) by build().
template <class Context>
struct TlsBuildResult {
    std::shared_ptr<Context> context;  // null iff error is set
    std::optional<TlsError> error;
    std::vector<TlsError> warnings;

    // The end of every build(): logs the warnings and, unless `ok`, drops the
    // context and keeps `failure`.
    TlsBuildResult finish(bool ok, const TlsError& failure) && {
        for (const TlsError& warning : warnings) LOG_WARN("tls: %s", warning.to_string().c_str());
        if (!ok) {
            context.reset();
            error = failure;
        }
        return std::move(*this);
    }
};

// Ticket counters since build(), for metrics (resumption rate) and tests.
struct TlsTicketStats {
    uint64_t issued = 0;           // tickets encrypted
    uint64_t resumed_current = 0;  // found under the current key (TLS 1.3: and re-issued)
    uint64_t resumed_retired = 0;  // found under a retired key, and re-issued under the current
    uint64_t unknown_key = 0;      // key gone (past its lifetime) or never ours: full handshake
};

class TlsServerContext {
public:
    static TlsBuildResult<TlsServerContext> build(const TlsServerSettings& settings);
    ~TlsServerContext();
    TlsServerContext(const TlsServerContext&) = delete;
    TlsServerContext& operator=(const TlsServerContext&) = delete;

    // A new server-side SSL (accept state set) for one client connection; the caller attaches the
    // socket (SSL_set_fd, or a BIO: tls_stream.h) and drives the handshake. Null only when out of memory.
    // SSL_write behaves like write(2): with SSL_MODE_ENABLE_PARTIAL_WRITE it returns after one
    // record, and with SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER a retry after SSL_ERROR_WANT_WRITE may
    // pass the same bytes from another address (an evbuffer that was reallocated).
    SslPtr new_session() const;

    // The default SSL_CTX: the one new_session() starts from and whose session cache is used.
    SSL_CTX* ctx() const { return contexts_.front().get(); }
    size_t ssl_ctx_count() const { return contexts_.size(); }

    // Ticket key rotation, driven by the owner's timer (say every few seconds, or every
    // rotation interval): when the current key is `ticket_rotation_s` old, a new key becomes
    // current and the old one is retired; retired keys older than `ticket_key_lifetime_s` since
    // their retirement are dropped. `now_ms` is on core's monotonic_ms() clock, the one build()
    // stamps the first key with. Returns whether a new key was made. No-op without tickets.
    bool rotate_ticket_keys(uint64_t now_ms);
    size_t ticket_key_count() const;
    TlsTicketStats ticket_stats() const;

private:
    struct TicketKey {
        unsigned char name[16];      // sent in clear in the ticket, to find the key again
        unsigned char aes_key[32];   // AES-256-CBC, the cipher RFC 5077 §4 suggests
        unsigned char hmac_key[32];  // HMAC-SHA256 over the encrypted ticket
        uint64_t made_ms = 0;
        uint64_t retired_ms = 0;  // 0 while current
    };

    TlsServerContext() = default;
    static bool make_ticket_key(uint64_t now_ms, TicketKey* key);
    SslCtxPtr make_ssl_ctx(const TlsServerSettings& settings, TlsError* error);

    static int on_servername(SSL* ssl, int* alert, void* arg);
    static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                       unsigned int inlen, void* arg);
    static int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                             EVP_MAC_CTX* mac, int encrypt);

    std::vector<SslCtxPtr> contexts_;  // [0] = default
    // Sorted by name, for a lookup without allocation: exact names, and wildcards by the part
    // after "*." ("*.example.com" is stored as "example.com").
    std::vector<std::pair<std::string, SSL_CTX*>> exact_names_;
    std::vector<std::pair<std::string, SSL_CTX*>> wildcard_names_;
    std::string alpn_wire_;

    struct CipherDeleter {
        void operator()(EVP_CIPHER* cipher) const { EVP_CIPHER_free(cipher); }
    };
    // Fetched once: EVP_aes_256_cbc() would make OpenSSL 3 look the implementation up in the
    // provider store (under its lock) on every ticket.
    std::unique_ptr<EVP_CIPHER, CipherDeleter> ticket_cipher_;
    bool tickets_ = false;
    uint64_t rotation_ms_ = 0;
    uint64_t lifetime_ms_ = 0;
    mutable std::mutex ticket_mutex_;
    std::vector<TicketKey> ticket_keys_;  // [0] = current; guarded by ticket_mutex_

    std::atomic<uint64_t> issued_{0};
    std::atomic<uint64_t> resumed_current_{0};
    std::atomic<uint64_t> resumed_retired_{0};
    std::atomic<uint64_t> unknown_key_{0};
};

class TlsClientContext {
public:
    static TlsBuildResult<TlsClientContext> build(const TlsClientSettings& settings);
    TlsClientContext(const TlsClientContext&) = delete;
    TlsClientContext& operator=(const TlsClientContext&) = delete;

    // A new client-side SSL (connect state set) for one server connection. `server_name`, or
    // the settings' one when empty, is sent as SNI and, when verifying, checked against the
    // certificate (SSL_set1_host; an IP literal against its IP SANs). Null only when out of
    // memory. SSL_write behaves as for TlsServerContext::new_session().
    SslPtr new_session(std::string_view server_name = {}) const;

    SSL_CTX* ctx() const { return ctx_.get(); }

private:
    TlsClientContext() = default;
    SslCtxPtr ctx_;
    bool verify_ = true;
    std::string server_name_;
};

// Helpers for the session code and its logs, valid once the handshake is done.
// The ALPN protocol agreed ("http/1.1", later "h2"), empty if none.
std::string_view negotiated_alpn(const SSL* ssl);
// The SNI the client sent (server side) or that we sent (client side), empty if none.
std::string_view selected_server_name(const SSL* ssl);
// "TLSv1.3", "TLSv1.2", ...
std::string_view tls_version_name(const SSL* ssl);
// The peer's certificate subject ("CN=...,O=..."), empty if it sent none.
std::string peer_certificate_subject(const SSL* ssl);
// Whether the peer sent a certificate and it verified.
bool peer_certificate_verified(const SSL* ssl);
// Why verification failed ("certificate has expired", "hostname mismatch"), "ok" if it did not.
std::string_view verify_result_text(const SSL* ssl);
// Drains this thread's OpenSSL error queue into one line of reasons, for a log line.
std::string take_tls_errors();

}  // namespace lbd::l7
