// Checks a listener's `tls` (lbd.v1.ListenerTls) and a pool's `tls` (lbd.v1.ServerTls) and
// builds the typed settings (core/config/tls_settings.h). Part of the config loader: every problem is
// reported at the line of the field it is about, and a file that does not load at the line of the
// certificate (or CA file) naming it, with the file's path in the message.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "l7/config/l7_config_checks.h"
#include "l7/tls/tls_context.h"

namespace lbd::config_check {
namespace {

// Why settings do not make a context: the file (or setting) at fault, and what is wrong with it.
struct TlsLoadError {
    std::string file;
    std::string message;
};

// Loads the certificates, keys and CA files the way the running tier will
// (l7/tls/tls_context.h), so that `lbd -t`, `lbctl config check`, start and
// reload all refuse a file that does not load, at the config line naming it.
template <class Context, class Settings>
std::optional<TlsLoadError> load(const Settings& settings) {
    l7::TlsBuildResult<Context> result = Context::build(settings);
    if (!result.error) return std::nullopt;
    return TlsLoadError{result.error->file, result.error->message};
}

// Generous bounds: they catch a unit mistake (ms for s), not a policy.
constexpr uint32_t kMaxTimeoutS = 7 * 24 * 3600;
constexpr uint32_t kMaxHandshakeMs = 300000;
constexpr uint32_t kMaxVerifyDepth = 100;

std::optional<TlsVersion> check_version(pb::TlsVersion version, Loc at, Errors& errors) {
    switch (version) {
        case pb::TLS_VERSION_UNSPECIFIED:
        case pb::TLS_VERSION_1_2: return TlsVersion::kTls12;
        case pb::TLS_VERSION_1_0: return TlsVersion::kTls10;
        case pb::TLS_VERSION_1_1: return TlsVersion::kTls11;
        case pb::TLS_VERSION_1_3: return TlsVersion::kTls13;
        default: errors.add(at, "unknown min_version " + std::to_string(version)); return std::nullopt;
    }
}

// RFC 7301 §3.1: a protocol name is 1..255 bytes.
void check_alpn(const google::protobuf::RepeatedPtrField<std::string>& alpn, const Node& node, int field,
                std::vector<std::string>& out, Errors& errors) {
    for (int i = 0; i < alpn.size(); ++i) {
        if (alpn[i].empty() || alpn[i].size() > 255)
            errors.add(node.at(field, i), "alpn protocol " + quote(alpn[i]) + " must be 1..255 bytes");
        out.push_back(alpn[i]);
    }
}

// A file the context will read: present and readable now (the real load follows).
bool readable(const std::string& file, Loc at, const std::string& what, Errors& errors) {
    if (access(file.c_str(), R_OK) == 0) return true;
    errors.add(at, what + ": cannot read " + file + ": " + std::strerror(errno));
    return false;
}

TlsCertificate check_certificate(const pb::TlsCertificate& msg, const Node& node, const std::string& what,
                                 bool* files_ok, Errors& errors) {
    TlsCertificate out{msg.cert_file(), msg.key_file()};
    if (out.cert_file.empty()) {
        errors.add(node.self(), what + " has no cert_file");
        *files_ok = false;
        return out;
    }
    *files_ok = readable(out.cert_file, node.at(pb::TlsCertificate::kCertFileFieldNumber), what, errors) && *files_ok;
    if (!out.key_file.empty())
        *files_ok = readable(out.key_file, node.at(pb::TlsCertificate::kKeyFileFieldNumber), what, errors) && *files_ok;
    return out;
}

// Where a load error points: the certificate whose file it names, the CA file, or the block.
Loc locate(const TlsLoadError& error, const std::vector<std::pair<std::string, Loc>>& files, const Node& node) {
    for (const auto& [file, at] : files)
        if (!file.empty() && file == error.file) return at;
    return node.self();
}

void report(const std::optional<TlsLoadError>& error, const std::vector<std::pair<std::string, Loc>>& files,
            const Node& node, const std::string& what, Errors& errors) {
    if (!error) return;
    std::string text = error->file.empty() ? error->message : error->file + ": " + error->message;
    errors.add(locate(*error, files, node), what + ": " + text);
}

// What both sides share: versions, cipher lists, chain depth. ListenerTls and ServerTls name
// these fields alike.
template <class Msg, class Settings>
void check_protocol(const Msg& msg, const Node& node, const std::string& what, Settings& s, Errors& errors) {
    if (auto version = check_version(msg.min_version(), node.at(Msg::kMinVersionFieldNumber), errors))
        s.min_version = *version;
    if (!msg.ciphers().empty()) s.ciphers = msg.ciphers();
    if (!msg.ciphersuites().empty()) s.ciphersuites = msg.ciphersuites();
    s.verify_depth = or_default(msg.verify_depth(), s.verify_depth);
    if (s.verify_depth > kMaxVerifyDepth)
        errors.add(node.at(Msg::kVerifyDepthFieldNumber), what + ": verify_depth " + std::to_string(s.verify_depth) +
                                                              " is more than " + std::to_string(kMaxVerifyDepth));
}

}  // namespace

ListenerTlsConfig check_listener_tls(const pb::ListenerTls& msg, const Node& node, const std::string& listener,
                                     Errors& errors) {
    using F = pb::ListenerTls;
    const std::string what = listener + " tls";
    const size_t errors_before = errors.size();
    ListenerTlsConfig out;
    out.enabled = true;
    TlsServerSettings& s = out.context;
    std::vector<std::pair<std::string, Loc>> files;  // for locate()
    bool files_ok = true;
    if (msg.certificates_size() == 0) errors.add(node.self(), what + " has no certificates");
    for (int i = 0; i < msg.certificates_size(); ++i) {
        const Node cert = node.child(F::kCertificatesFieldNumber, i);
        s.certificates.push_back(check_certificate(msg.certificates(i), cert,
                                                   what + " certificate #" + std::to_string(i + 1), &files_ok, errors));
        files.emplace_back(msg.certificates(i).cert_file(), cert.at(pb::TlsCertificate::kCertFileFieldNumber));
        files.emplace_back(msg.certificates(i).key_file(), cert.at(pb::TlsCertificate::kKeyFileFieldNumber));
    }
    check_protocol(msg, node, what, s, errors);
    if (msg.alpn_size() != 0) {
        s.alpn.clear();
        check_alpn(msg.alpn(), node, F::kAlpnFieldNumber, s.alpn, errors);
        // The protocols the proxy speaks to clients (h2: l7/h2_connection.h);
        // agreeing on another would break every request.
        for (int i = 0; i < msg.alpn_size(); ++i)
            if (!msg.alpn(i).empty() && msg.alpn(i) != "h2" && msg.alpn(i) != "http/1.1" && msg.alpn(i) != "http/1.0")
                errors.add(node.at(F::kAlpnFieldNumber, i),
                           what + ": alpn " + quote(msg.alpn(i)) + " is not served (only h2, http/1.1 and http/1.0)");
    }
    if (msg.has_session_cache_size()) s.session_cache_size = msg.session_cache_size();
    s.session_timeout_s = or_default(msg.session_timeout_s(), s.session_timeout_s);
    if (msg.has_session_tickets()) s.session_tickets = msg.session_tickets();
    s.ticket_rotation_s = or_default(msg.ticket_rotation_s(), s.ticket_rotation_s);
    s.ticket_key_lifetime_s = or_default(msg.ticket_key_lifetime_s(), s.ticket_key_lifetime_s);
    for (auto [value, field] : {std::pair{s.session_timeout_s, F::kSessionTimeoutSFieldNumber},
                                std::pair{s.ticket_rotation_s, F::kTicketRotationSFieldNumber},
                                std::pair{s.ticket_key_lifetime_s, F::kTicketKeyLifetimeSFieldNumber}})
        if (value > kMaxTimeoutS)
            errors.add(node.at(field), what + ": " + std::to_string(value) + " s is more than a week");

    switch (msg.client_verify()) {
        case pb::TLS_CLIENT_VERIFY_OFF: s.client_verify = TlsClientVerify::kOff; break;
        case pb::TLS_CLIENT_VERIFY_OPTIONAL: s.client_verify = TlsClientVerify::kOptional; break;
        case pb::TLS_CLIENT_VERIFY_REQUIRED: s.client_verify = TlsClientVerify::kRequired; break;
        default: errors.add(node.at(F::kClientVerifyFieldNumber), "unknown client_verify " + std::to_string(msg.client_verify()));
    }
    s.client_ca_file = msg.client_ca_file();
    const Loc ca_at = node.at(F::kClientCaFileFieldNumber);
    if (s.client_verify != TlsClientVerify::kOff && s.client_ca_file.empty())
        errors.add(node.at(F::kClientVerifyFieldNumber), what + ": client_verify needs client_ca_file");
    if (!s.client_ca_file.empty()) {
        files_ok = readable(s.client_ca_file, ca_at, what + " client_ca_file", errors) && files_ok;
        files.emplace_back(s.client_ca_file, ca_at);
    }
    out.handshake_timeout_ms = or_default(msg.handshake_timeout_ms(), out.handshake_timeout_ms);
    if (out.handshake_timeout_ms > kMaxHandshakeMs)
        errors.add(node.at(F::kHandshakeTimeoutMsFieldNumber),
                   what + ": handshake_timeout_ms " + std::to_string(out.handshake_timeout_ms) + " is more than " +
                       std::to_string(kMaxHandshakeMs));

    // The real load (chains, key match, cipher lists), once everything above is sound: its
    // errors are then about the files' contents, not about a setting already reported. Each
    // certificate alone first, so an error (a key that is not its certificate's) is reported at
    // the certificate it is about; then the whole block, for the CA file and the cipher lists.
    if (errors.size() != errors_before || !files_ok ) return out;
    for (size_t i = 0; i < s.certificates.size(); ++i) {
        TlsServerSettings one = s;
        one.certificates = {s.certificates[i]};
        one.client_verify = TlsClientVerify::kOff;
        one.client_ca_file.clear();
        if (auto error = load<l7::TlsServerContext>(one)) {
            const Loc at = node.child(F::kCertificatesFieldNumber, static_cast<int>(i)).self();
            report(error, {{error->file, at}}, node, what + " certificate #" + std::to_string(i + 1), errors);
        }
    }
    if (errors.size() == errors_before) report(load<l7::TlsServerContext>(s), files, node, what, errors);
    return out;
}

PoolTlsConfig check_pool_tls(const pb::ServerTls& msg, const Node& node, const std::string& pool, Errors& errors) {
    using F = pb::ServerTls;
    const std::string what = pool + " tls";
    const size_t errors_before = errors.size();
    PoolTlsConfig out;
    out.enabled = true;
    TlsClientSettings& s = out.context;
    std::vector<std::pair<std::string, Loc>> files;
    bool files_ok = true;
    if (msg.has_verify()) s.verify = msg.verify();
    s.ca_file = msg.ca_file();
    if (!s.ca_file.empty()) {
        const Loc at = node.at(F::kCaFileFieldNumber);
        files_ok = readable(s.ca_file, at, what + " ca_file", errors) && files_ok;
        files.emplace_back(s.ca_file, at);
    }
    s.server_name = msg.server_name();
    check_alpn(msg.alpn(), node, F::kAlpnFieldNumber, s.alpn, errors);
    if (msg.has_client_certificate()) {
        const Node cert = node.child(F::kClientCertificateFieldNumber);
        s.client_certificate = check_certificate(msg.client_certificate(), cert, what + " client_certificate",
                                                 &files_ok, errors);
        files.emplace_back(msg.client_certificate().cert_file(), cert.at(pb::TlsCertificate::kCertFileFieldNumber));
        files.emplace_back(msg.client_certificate().key_file(), cert.at(pb::TlsCertificate::kKeyFileFieldNumber));
    }
    check_protocol(msg, node, what, s, errors);
    if (errors.size() == errors_before && files_ok) report(load<l7::TlsClientContext>(s), files, node, what, errors);
    return out;
}

void check_tls_pools_unused_by_tcp(const Config& config, const Node& root, Errors& errors) {
    for (size_t i = 0; i < config.listeners.size(); ++i) {
        const ListenerConfig& listener = config.listeners[i];
        if (listener.mode != ListenerMode::kTcp) continue;
        const PoolConfig* pool = config.find_pool(listener.pool);
        if (pool == nullptr || !pool->tls.enabled) continue;
        const int index = static_cast<int>(i);
        errors.add(root.child(pb::Config::kListenersFieldNumber, index).at(pb::Listener::kPoolFieldNumber),
                   label("listener", listener.name, index) + " is MODE_TCP but pool " + quote(pool->name) +
                       " has tls: a TCP listener passes bytes through unchanged (use MODE_HTTP)");
    }
}

}  // namespace lbd::config_check
