// TlsServerContext: building the SSL_CTXs of a TLS listener, SNI selection, ALPN, and session
// tickets with rotating keys. The diagram of a handshake is at the top of tls_context.h.
#include "l7/tls/tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "core/base/clock.h"
#include "core/base/log.h"

namespace lbd::l7 {

using tls_detail::fail;
using tls_detail::LoadedCertificate;

namespace {

// The session ID context: OpenSSL refuses to resume a session whose context differs, and with
// client verification on it refuses to resume at all without one. One value for all of our
// SSL_CTXs, because SSL_set_SSL_CTX() carries it over only when old and new ones are equal.
constexpr unsigned char kSessionIdContext[] = "lbd-l7";

// Where each of our SSL_CTXs points back at its TlsServerContext, for the ticket key callback
// (the only callback OpenSSL gives no argument). Allocated once, process-wide.
int context_ex_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

bool is_wildcard(const std::string& name) { return name.size() > 2 && name[0] == '*' && name[1] == '.'; }

// Whether `cert` serves `name`: listed exactly, or (for a plain name) under one of its wildcards,
// which match exactly one whole label (RFC 6125 §6.4.3).
bool serves(const LoadedCertificate& cert, const std::string& name) {
    for (const std::string& own : cert.names) {
        if (own == name) return true;
        if (is_wildcard(own) && !is_wildcard(name)) {
            std::string_view suffix = std::string_view(own).substr(1);  // ".example.com"
            size_t label = name.size() > suffix.size() ? name.size() - suffix.size() : 0;
            if (label > 0 && std::string_view(name).substr(label) == suffix && name.find('.') == label) return true;
        }
    }
    return false;
}

// The certificates that serve `name`, in config order, at most one per key type (the first).
std::vector<size_t> certificates_for(const std::vector<LoadedCertificate>& certs, const std::string& name) {
    std::vector<size_t> out;
    std::vector<int> types;
    for (size_t i = 0; i < certs.size(); ++i) {
        if (!serves(certs[i], name) || std::find(types.begin(), types.end(), certs[i].key_type) != types.end()) continue;
        types.push_back(certs[i].key_type);
        out.push_back(i);
    }
    return out;
}

SSL_CTX* find_name(const std::vector<std::pair<std::string, SSL_CTX*>>& table, std::string_view name) {
    auto it = std::lower_bound(table.begin(), table.end(), name,
                               [](const std::pair<std::string, SSL_CTX*>& e, std::string_view n) { return e.first < n; });
    return it != table.end() && it->first == name ? it->second : nullptr;
}

}  // namespace

TlsBuildResult<TlsServerContext> TlsServerContext::build(const TlsServerSettings& settings) {
    TlsBuildResult<TlsServerContext> result;
    TlsError error;
    auto finish = [&](bool ok) { return std::move(result).finish(ok, error); };

    if (settings.certificates.empty()) {
        return finish(fail(&error, TlsErrorKind::kSettings, "certificates", "a TLS listener needs a certificate"));
    }
    if (settings.client_verify != TlsClientVerify::kOff && settings.client_ca_file.empty()) {
        return finish(fail(&error, TlsErrorKind::kSettings, "client_ca_file", "client_verify needs a CA file"));
    }
    if (settings.session_timeout_s == 0) {
        return finish(fail(&error, TlsErrorKind::kSettings, "session_timeout_s", "must be > 0"));
    }
    if (settings.session_tickets && settings.ticket_rotation_s == 0) {
        return finish(fail(&error, TlsErrorKind::kSettings, "ticket_rotation_s", "must be > 0"));
    }
    if (!settings.client_ca_file.empty() &&
        !tls_detail::check_readable(settings.client_ca_file, TlsErrorKind::kCaFile, &error)) {
        return finish(false);
    }

    std::shared_ptr<TlsServerContext> self(new TlsServerContext());
    if (!tls_detail::alpn_wire_format(settings.alpn, &self->alpn_wire_, &error)) return finish(false);

    std::vector<LoadedCertificate> certs(settings.certificates.size());
    for (size_t i = 0; i < certs.size(); ++i) {
        if (!tls_detail::load_certificate(settings.certificates[i], &certs[i], &error, &result.warnings)) {
            return finish(false);
        }
    }

    // One SSL_CTX per distinct set of certificates a name resolves to. The default first: the set
    // of the first certificate's first name (so a client without SNI is served as if it had asked
    // for that name, RSA twin included), or the first certificate alone if it has no name.
    std::map<std::vector<size_t>, SSL_CTX*> by_set;
    std::vector<bool> used(certs.size(), false);
    auto ctx_for = [&](const std::vector<size_t>& set) -> SSL_CTX* {
        auto it = by_set.find(set);
        if (it != by_set.end()) return it->second;
        SslCtxPtr ctx = self->make_ssl_ctx(settings, &error);
        if (!ctx) return nullptr;
        for (size_t index : set) {
            if (!tls_detail::use_certificate(ctx.get(), certs[index], &error)) return nullptr;
            used[index] = true;
        }
        SSL_CTX* raw = ctx.get();
        self->contexts_.push_back(std::move(ctx));
        by_set.emplace(set, raw);
        return raw;
    };
    std::vector<size_t> default_set =
        certs[0].names.empty() ? std::vector<size_t>{0} : certificates_for(certs, certs[0].names[0]);
    if (ctx_for(default_set) == nullptr) return finish(false);

    for (const LoadedCertificate& cert : certs) {
        for (const std::string& name : cert.names) {
            bool wildcard = is_wildcard(name);
            auto& table = wildcard ? self->wildcard_names_ : self->exact_names_;
            std::string key = wildcard ? name.substr(2) : name;
            if (find_name(table, key) != nullptr) continue;  // seen on an earlier certificate
            SSL_CTX* ctx = ctx_for(certificates_for(certs, name));
            if (ctx == nullptr) return finish(false);
            auto at = std::lower_bound(table.begin(), table.end(), key,
                                       [](const std::pair<std::string, SSL_CTX*>& e, const std::string& k) { return e.first < k; });
            table.emplace(at, std::move(key), ctx);
        }
    }
    for (size_t i = 0; i < certs.size(); ++i) {
        if (!used[i]) {
            result.warnings.push_back({TlsErrorKind::kCertificate, certs[i].cert_file,
                                       "every name it serves is served by an earlier certificate of the same key "
                                       "type; it is never used"});
        }
    }

    if (settings.session_tickets) {
        self->tickets_ = true;
        self->rotation_ms_ = uint64_t{settings.ticket_rotation_s} * 1000;
        self->lifetime_ms_ = uint64_t{settings.ticket_key_lifetime_s} * 1000;
        self->ticket_cipher_.reset(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr));
        TicketKey first;
        if (!self->ticket_cipher_ || !make_ticket_key(monotonic_ms(), &first)) {
            return finish(fail(&error, TlsErrorKind::kOpenSsl, "session_tickets",
                               "cannot make a ticket key: " + tls_detail::drain_openssl_errors()));
        }
        self->ticket_keys_.push_back(first);
        OPENSSL_cleanse(&first, sizeof first);
    }
    result.context = std::move(self);
    return finish(true);
}

TlsServerContext::~TlsServerContext() {
    std::lock_guard<std::mutex> lock(ticket_mutex_);
    for (TicketKey& key : ticket_keys_) OPENSSL_cleanse(&key, sizeof key);
}

SslCtxPtr TlsServerContext::make_ssl_ctx(const TlsServerSettings& settings, TlsError* error) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        fail(error, TlsErrorKind::kOpenSsl, "SSL_CTX_new", tls_detail::drain_openssl_errors());
        return nullptr;
    }
    SSL_CTX* c = ctx.get();
    if (!tls_detail::apply_protocol_settings(c, settings.min_version, settings.ciphers, settings.ciphersuites, error)) {
        return nullptr;
    }
    SSL_CTX_set_options(
        c,
        // Renegotiation: a client could ask for one full handshake after another on one
        // connection (CPU for free), and it is where CVE-2009-3555 lived. HTTP/1.1 never needs
        // it, and TLS 1.3 has none.
        SSL_OP_NO_RENEGOTIATION |
            // Our cipher order, not the client's (the list is ordered by what we want)...
            SSL_OP_CIPHER_SERVER_PREFERENCE |
            // ...except that a client listing ChaCha20 first (no AES hardware: phones) gets it.
            SSL_OP_PRIORITIZE_CHACHA |
            // CRIME (already off by default in OpenSSL 3; stated so it stays off).
            SSL_OP_NO_COMPRESSION |
            // A client closing without close_notify (what browsers do to idle keep-alive
            // connections) reads as a clean EOF (SSL_ERROR_ZERO_RETURN) rather than an error on
            // every such connection. HTTP framing still catches a request cut short.
            SSL_OP_IGNORE_UNEXPECTED_EOF |
            // Tickets off: TLS 1.2 resumes by session ID only, TLS 1.3 uses stateful tickets
            // kept in the session cache.
            (settings.session_tickets ? 0 : SSL_OP_NO_TICKET));
    SSL_CTX_set_mode(
        c,
        // An idle connection holds no record buffers: OpenSSL frees its ~17 KB read and ~17 KB
        // write buffers whenever they are empty and allocates them on the next record. Idle
        // keep-alive connections are most of them, and memory per idle connection is measured.
        SSL_MODE_RELEASE_BUFFERS |
            // SSL_write like write(2): returns after each record written, so the session code's
            // write loop is the same with or without TLS.
            SSL_MODE_ENABLE_PARTIAL_WRITE |
            // A retried SSL_write may pass the same bytes from another address (evbuffers move).
            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof kSessionIdContext - 1) != 1) {
        fail(error, TlsErrorKind::kOpenSsl, "session_id_context", tls_detail::drain_openssl_errors());
        return nullptr;
    }
    if (settings.session_cache_size == 0) {
        // Not a size of 0: OpenSSL reads 0 as "unlimited".
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        // Nothing can resume: no TLS 1.3 NewSessionTicket either. OpenSSL sends two after every
        // handshake whatever the options (stateful ones with SSL_OP_NO_TICKET, each a session
        // copy, an HKDF and a record of its own), which the client then parses and keeps for
        // nothing (bench/README.md, issue 17: per full handshake). A listener that resumes keeps
        // OpenSSL's two, as NGINX and HAProxy do: a client may resume twice in parallel.
        if (!settings.session_tickets) SSL_CTX_set_num_tickets(c, 0);
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(c, settings.session_cache_size);
    }
    // How long a session resumes (cache and tickets) and the lifetime hint in tickets.
    SSL_CTX_set_timeout(c, static_cast<long>(settings.session_timeout_s));
    if (settings.session_tickets) {
        // Our keys instead of OpenSSL's per-SSL_CTX random ones: those never rotate, and would
        // differ between our SSL_CTXs.
        SSL_CTX_set_tlsext_ticket_key_evp_cb(c, &TlsServerContext::on_ticket_key);
    }
    if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(c, &TlsServerContext::on_alpn, this);
    // Called on the SSL_CTX an SSL starts from (the default); set on all for uniformity.
    SSL_CTX_set_tlsext_servername_callback(c, &TlsServerContext::on_servername);
    SSL_CTX_set_tlsext_servername_arg(c, this);
    if (SSL_CTX_set_ex_data(c, context_ex_index(), this) != 1) {
        fail(error, TlsErrorKind::kOpenSsl, "SSL_CTX_set_ex_data", tls_detail::drain_openssl_errors());
        return nullptr;
    }

    if (settings.client_verify != TlsClientVerify::kOff) {
        // CLIENT_ONCE: never ask again later in the connection (TLS 1.3 post-handshake auth).
        int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
        if (settings.client_verify == TlsClientVerify::kRequired) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(c, mode, nullptr);
        SSL_CTX_set_verify_depth(c, static_cast<int>(settings.verify_depth));
        ERR_clear_error();
        // The trust anchors for the chain check...
        if (SSL_CTX_load_verify_locations(c, settings.client_ca_file.c_str(), nullptr) != 1) {
            fail(error, TlsErrorKind::kCaFile, settings.client_ca_file,
                 "no CA certificate loaded (" + tls_detail::drain_openssl_errors() + ")");
            return nullptr;
        }
        // ...and their subjects, sent in the CertificateRequest so that a client holding several
        // certificates picks one we accept.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca_file.c_str());
        if (names == nullptr) {
            fail(error, TlsErrorKind::kCaFile, settings.client_ca_file,
                 "no CA certificate loaded (" + tls_detail::drain_openssl_errors() + ")");
            return nullptr;
        }
        SSL_CTX_set_client_CA_list(c, names);  // takes ownership
    }
    return ctx;
}

SslPtr TlsServerContext::new_session() const {
    SslPtr ssl(SSL_new(contexts_.front().get()));
    if (ssl) SSL_set_accept_state(ssl.get());
    return ssl;
}

int TlsServerContext::on_servername(SSL* ssl, int* /*alert*/, void* arg) {
    const auto* self = static_cast<const TlsServerContext*>(arg);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sni == nullptr) return SSL_TLSEXT_ERR_OK;  // no SNI: stay on the default
    char name[256];  // a DNS name is at most 253 bytes; anything longer is nobody's
    size_t len = strnlen(sni, sizeof name);
    if (len == 0 || len == sizeof name) return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < len; ++i) {
        char c = sni[i];
        name[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;  // DNS names are case-blind
    }
    std::string_view wanted(name, len);
    SSL_CTX* target = find_name(self->exact_names_, wanted);
    if (target == nullptr) {
        size_t dot = wanted.find('.');
        if (dot != std::string_view::npos && dot > 0) target = find_name(self->wildcard_names_, wanted.substr(dot + 1));
    }
    // Unknown names stay on the default, as most servers do; refusing them ("strict SNI") would
    // be a setting of its own.
    if (target != nullptr && target != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, target);
    return SSL_TLSEXT_ERR_OK;
}

int TlsServerContext::on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                              unsigned int inlen, void* arg) {
    const auto* self = static_cast<const TlsServerContext*>(arg);
    // An empty client list is malformed; OpenSSL rejects it before calling us, but
    // SSL_select_next_proto() must never see one (CVE-2024-5535).
    if (inlen == 0) return SSL_TLSEXT_ERR_NOACK;
    unsigned char* selected = nullptr;
    unsigned char selected_len = 0;
    // Walks our list in order and takes the first the client offers: our preference wins.
    int found = SSL_select_next_proto(&selected, &selected_len,
                                      reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
                                      static_cast<unsigned int>(self->alpn_wire_.size()), in, inlen);
    if (found != OPENSSL_NPN_NEGOTIATED) {
        // RFC 7301 §3.2: no protocol in common is a fatal no_application_protocol alert (sent by
        // OpenSSL on this return), rather than guessing and speaking HTTP/1.1 to an h2-only client.
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    *outlen = selected_len;
    return SSL_TLSEXT_ERR_OK;
}

bool TlsServerContext::make_ticket_key(uint64_t now_ms, TicketKey* key) {
    // The private DRBG (RAND_priv_bytes rather than RAND_bytes): these are long-lived secrets, and
    // OpenSSL keeps the generator for secrets apart from the one that also makes public nonces.
    if (RAND_bytes(key->name, sizeof key->name) != 1 || RAND_priv_bytes(key->aes_key, sizeof key->aes_key) != 1 ||
        RAND_priv_bytes(key->hmac_key, sizeof key->hmac_key) != 1) {
        return false;
    }
    key->made_ms = now_ms;
    key->retired_ms = 0;
    return true;
}

bool TlsServerContext::rotate_ticket_keys(uint64_t now_ms) {
    if (!tickets_) return false;
    auto due = [&] { return ticket_keys_.empty() || now_ms >= ticket_keys_.front().made_ms + rotation_ms_; };
    bool rotate;
    {
        std::lock_guard<std::mutex> lock(ticket_mutex_);
        rotate = due();
    }
    TicketKey fresh;
    // Made outside the lock: RAND may reseed, and handshakes should not wait for that.
    if (rotate && !make_ticket_key(now_ms, &fresh)) {
        LOG_ERROR("tls: cannot make a new ticket key (%s); keeping the current one",
                  tls_detail::drain_openssl_errors().c_str());
        rotate = false;
    }
    std::lock_guard<std::mutex> lock(ticket_mutex_);
    rotate = rotate && due();  // another thread may have rotated meanwhile
    if (rotate) {
        if (!ticket_keys_.empty()) ticket_keys_.front().retired_ms = now_ms;
        ticket_keys_.insert(ticket_keys_.begin(), fresh);
    }
    OPENSSL_cleanse(&fresh, sizeof fresh);
    // Retired keys decrypt until `lifetime` after their retirement; then they go.
    for (size_t i = ticket_keys_.size(); i-- > 1;) {
        if (now_ms >= ticket_keys_[i].retired_ms + lifetime_ms_) {
            OPENSSL_cleanse(&ticket_keys_[i], sizeof ticket_keys_[i]);
            ticket_keys_.erase(ticket_keys_.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
    return rotate;
}

size_t TlsServerContext::ticket_key_count() const {
    std::lock_guard<std::mutex> lock(ticket_mutex_);
    return ticket_keys_.size();
}

TlsTicketStats TlsServerContext::ticket_stats() const {
    return {issued_.load(std::memory_order_relaxed), resumed_current_.load(std::memory_order_relaxed),
            resumed_retired_.load(std::memory_order_relaxed), unknown_key_.load(std::memory_order_relaxed)};
}

// OpenSSL's contract (SSL_CTX_set_tlsext_ticket_key_evp_cb(3)): to encrypt, fill key_name and
// iv and key both contexts, return 1 (0 = issue no ticket). To decrypt, find the key by name and
// key both contexts: 1 = fine, 2 = fine but issue a fresh ticket, 0 = unknown key (full
// handshake), -1 = error.
int TlsServerContext::on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                                    EVP_MAC_CTX* mac, int encrypt) {
    auto* self = static_cast<TlsServerContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_ex_index()));
    if (self == nullptr) return -1;
    TicketKey key;
    int result = 1;
    {
        // Copy the one key out and let go: the AES and HMAC set-up below stays outside the lock.
        std::lock_guard<std::mutex> lock(self->ticket_mutex_);
        if (self->ticket_keys_.empty()) return 0;
        if (encrypt) {
            key = self->ticket_keys_.front();
        } else {
            auto it = std::find_if(self->ticket_keys_.begin(), self->ticket_keys_.end(),
                                   [&](const TicketKey& k) { return std::memcmp(k.name, key_name, sizeof k.name) == 0; });
            if (it == self->ticket_keys_.end()) {
                self->unknown_key_.fetch_add(1, std::memory_order_relaxed);
                return 0;
            }
            key = *it;
            // 2 = resume and issue a fresh ticket: for a retired key, so that the client moves to
            // the current one; and always under TLS 1.3, whose tickets are single-use (RFC 8446
            // §C.4), or else a client would get no new ticket from a resumption and fall back to
            // a full handshake every other connection (nginx does the same).
            bool current = it == self->ticket_keys_.begin();
            if (!current) {
                self->resumed_retired_.fetch_add(1, std::memory_order_relaxed);
            } else {
                self->resumed_current_.fetch_add(1, std::memory_order_relaxed);
            }
            result = current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
        }
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac_key, sizeof key.hmac_key),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    bool ok;
    if (encrypt) {
        int iv_len = EVP_CIPHER_get_iv_length(self->ticket_cipher_.get());
        std::memcpy(key_name, key.name, sizeof key.name);
        ok = RAND_bytes(iv, iv_len) == 1 &&
             EVP_EncryptInit_ex(cipher, self->ticket_cipher_.get(), nullptr, key.aes_key, iv) == 1 &&
             EVP_MAC_CTX_set_params(mac, params) == 1;
        if (ok) self->issued_.fetch_add(1, std::memory_order_relaxed);
    } else {
        ok = EVP_MAC_CTX_set_params(mac, params) == 1 &&
             EVP_DecryptInit_ex(cipher, self->ticket_cipher_.get(), nullptr, key.aes_key, iv) == 1;
    }
    OPENSSL_cleanse(&key, sizeof key);
    return ok ? result : -1;
}

}  // namespace lbd::l7
