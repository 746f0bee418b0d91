// The server context with real clients (openssl s_client): files that do not load, certificate
// choice by SNI and key type, versions, ciphers, ALPN. The kit is tls_test_kit.h.
#include <doctest/doctest.h>

#include "tests/unit/tls_test_kit.h"

namespace lbd::l7::test {
namespace {

TEST_CASE("a certificate or CA file that does not load is an error naming the file") {
    set_log_level(getenv("LBD_TEST_LOG_DEBUG") ? LogLevel::kDebug : LogLevel::kError);
    struct Case {
        const char* what;
        TlsServerSettings settings;
        TlsErrorKind kind;
        std::string file;
        const char* message;
    };
    auto with = [](std::vector<TlsCertificate> certs) {
        TlsServerSettings s;
        s.certificates = std::move(certs);
        return s;
    };
    TlsServerSettings ca_missing = with({cert("ec")});
    ca_missing.client_verify = TlsClientVerify::kRequired;
    ca_missing.client_ca_file = pki().path("nope-ca.pem");
    TlsServerSettings ca_not_pem = ca_missing;
    ca_not_pem.client_ca_file = pki().path("text.pem");
    TlsServerSettings ca_none = with({cert("ec")});
    ca_none.client_verify = TlsClientVerify::kOptional;
    TlsServerSettings bad_ciphers = with({cert("ec")});
    bad_ciphers.ciphers = "NOT-A-CIPHER";
    TlsServerSettings bad_suites = with({cert("ec")});
    bad_suites.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_512_MADE_UP";
    TlsServerSettings bad_alpn = with({cert("ec")});
    bad_alpn.alpn = {"http/1.1", ""};

    const std::vector<Case> cases = {
        {"missing certificate file", with({{pki().path("nope.pem"), pki().path("ec.key")}}),
         TlsErrorKind::kCertificate, pki().path("nope.pem"), "No such file or directory"},
        {"PEM block that is not a certificate", with({{pki().path("garbage.pem"), pki().path("ec.key")}}),
         TlsErrorKind::kCertificate, pki().path("garbage.pem"), "no PEM certificate"},
        {"not PEM at all", with({{pki().path("text.pem"), pki().path("ec.key")}}), TlsErrorKind::kCertificate,
         pki().path("text.pem"), "no PEM certificate"},
        {"bad chain after the leaf", with({{pki().path("bad_chain.pem"), pki().path("ec.key")}}),
         TlsErrorKind::kCertificate, pki().path("bad_chain.pem"), "bad PEM certificate after the first"},
        {"missing key file", with({{pki().path("ec.pem"), pki().path("nope.key")}}), TlsErrorKind::kPrivateKey,
         pki().path("nope.key"), "No such file or directory"},
        {"key file without a key", with({{pki().path("ec.pem"), pki().path("text.pem")}}), TlsErrorKind::kPrivateKey,
         pki().path("text.pem"), "no PEM private key"},
        {"encrypted key", with({{pki().path("ec.pem"), pki().path("encrypted.key")}}), TlsErrorKind::kPrivateKey,
         pki().path("encrypted.key"), "encrypted"},
        {"key of another certificate", with({{pki().path("ec.pem"), pki().path("default.key")}}),
         TlsErrorKind::kKeyMismatch, pki().path("default.key"), "does not match certificate"},
        {"RSA key for an EC certificate", with({cert("default"), {pki().path("ec.pem"), pki().path("rsa.key")}}),
         TlsErrorKind::kKeyMismatch, pki().path("rsa.key"), "does not match certificate"},
        {"missing client CA file", ca_missing, TlsErrorKind::kCaFile, pki().path("nope-ca.pem"),
         "No such file or directory"},
        {"client CA file without a certificate", ca_not_pem, TlsErrorKind::kCaFile, pki().path("text.pem"),
         "no CA certificate"},
        {"client verification without a CA file", ca_none, TlsErrorKind::kSettings, "client_ca_file", "CA file"},
        {"no certificate at all", with({}), TlsErrorKind::kSettings, "certificates", "needs a certificate"},
        {"cipher list that selects nothing", bad_ciphers, TlsErrorKind::kCiphers, "ciphers", "NOT-A-CIPHER"},
        {"unknown TLS 1.3 suite", bad_suites, TlsErrorKind::kCiphersuites, "ciphersuites", "TLS_AES_512_MADE_UP"},
        {"empty ALPN name", bad_alpn, TlsErrorKind::kAlpn, "alpn", "1..255"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        auto built = TlsServerContext::build(c.settings);
        CHECK_FALSE(built.context);
        REQUIRE(built.error);
        CAPTURE(built.error->to_string());
        CHECK(built.error->kind == c.kind);
        CHECK(built.error->file == c.file);
        CHECK(contains(built.error->message, c.message));
        CHECK(contains(built.error->to_string(), c.file));
    }

    // The client side names its files the same way.
    TlsClientSettings client;
    client.ca_file = pki().path("nope-ca.pem");
    auto built = TlsClientContext::build(client);
    CHECK_FALSE(built.context);
    REQUIRE(built.error);
    CHECK(built.error->file == client.ca_file);
    client.ca_file = pki().path("ca.pem");
    client.client_certificate = {pki().path("client.pem"), pki().path("ec.key")};
    built = TlsClientContext::build(client);
    REQUIRE(built.error);
    CHECK(built.error->kind == TlsErrorKind::kKeyMismatch);
    CHECK(built.error->file == pki().path("ec.key"));
    CHECK(ERR_peek_error() == 0);  // the builders leave no stale errors behind on this thread
}

TEST_CASE("an expired certificate loads, with a warning naming the file") {
    TlsServerSettings settings;
    settings.certificates = {cert("expired")};
    auto built = TlsServerContext::build(settings);
    REQUIRE(built.context);
    REQUIRE(built.warnings.size() == 1);
    CHECK(built.warnings[0].file == pki().path("expired.pem"));
    CHECK(contains(built.warnings[0].message, "expired on"));

    TestServer server(built.context);
    RunResult r = s_client(server, {"-servername", "old.example.test"});
    CHECK(contains(r.output, "cert=old.example.test"));
}

TEST_CASE("SNI picks the certificate: exact name, one-label wildcard, else the default") {
    auto context = build_server(sni_settings());
    // {default}, {ec, rsa} for a.example.test, {ec} for *.wild.example.test.
    CHECK(context->ssl_ctx_count() == 3);
    TestServer server(context);
    struct Case {
        std::vector<std::string> args;
        std::string cert;
        std::string sni;
    };
    const std::vector<Case> cases = {
        {{"-servername", "a.example.test"}, "a.example.test", "a.example.test"},
        {{"-servername", "A.Example.TEST"}, "a.example.test", "A.Example.TEST"},  // DNS names are case-blind
        {{"-servername", "x.wild.example.test"}, "a.example.test", "x.wild.example.test"},
        {{"-servername", "y.x.wild.example.test"}, "default.example.test", "y.x.wild.example.test"},  // two labels
        {{"-servername", "wild.example.test"}, "default.example.test", "wild.example.test"},  // no label
        {{"-servername", "unknown.example.test"}, "default.example.test", "unknown.example.test"},
        {{"-noservername"}, "default.example.test", ""},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(cases[i].args[cases[i].args.size() - 1]);
        RunResult r = s_client(server, cases[i].args);
        CAPTURE(r.output);
        ServerRecord record = server.record(i);
        CHECK(record.ok);
        CHECK(record.cert_cn == cases[i].cert);
        CHECK(record.sni == cases[i].sni);
        CHECK(contains(r.output, "subject=CN = " + cases[i].cert));
        CHECK(contains(r.output, "cert=" + cases[i].cert));
    }
}

TEST_CASE("a certificate without subjectAltName serves its CN") {
    TlsServerSettings settings;
    settings.certificates = {cert("default"), cert("cn_only")};
    TestServer server(build_server(settings));
    RunResult r = s_client(server, {"-servername", "cn.example.test"});
    CAPTURE(r.output);
    CHECK(server.record(0).cert_cn == "cn.example.test");
}

TEST_CASE("ECDSA and RSA for one name: the client's signature algorithms pick") {
    TestServer server(build_server(sni_settings()));
    struct Case {
        std::vector<std::string> args;
        const char* key;
    };
    const std::vector<Case> cases = {
        {{"-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"}, "EC"},
        {{"-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"}, "RSA"},
        {{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, "EC"},
        {{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, "RSA"},
        {{"-tls1_3"}, "EC"},  // both offered: OpenSSL prefers ECDSA
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        std::vector<std::string> args = {"-servername", "a.example.test"};
        args.insert(args.end(), cases[i].args.begin(), cases[i].args.end());
        CAPTURE(args[args.size() - 1]);
        RunResult r = s_client(server, args);
        CAPTURE(r.output);
        ServerRecord record = server.record(i);
        CHECK(record.ok);
        CHECK(record.cert_cn == "a.example.test");
        CHECK(record.key_type == cases[i].key);
        CHECK(contains(r.output, std::string("key=") + cases[i].key));
    }
    // A name only the ECDSA certificate serves: an RSA-only client is refused, not given RSA
    // for the wrong name.
    RunResult r = s_client(server, {"-servername", "x.wild.example.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"});
    CHECK_FALSE(server.record(cases.size()).ok);
    CHECK(r.exit_code != 0);
}

TEST_CASE("TLS 1.2 and 1.3 only by default; the minimum is configurable") {
    TestServer server(build_server(sni_settings()));
    // The client is allowed to offer TLS 1.1 (its own default security level forbids it).
    RunResult r = s_client(server, {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"});
    CAPTURE(r.output);
    ServerRecord record = server.record(0);
    CHECK_FALSE(record.ok);
    CHECK(contains(record.error, "unsupported protocol"));
    CHECK(contains(r.output, "alert protocol version"));
    r = s_client(server, {"-tls1_2"});
    CHECK(server.record(1).version == "TLSv1.2");
    r = s_client(server, {"-tls1_3"});
    CHECK(server.record(2).version == "TLSv1.3");
    CHECK(contains(r.output, "version=TLSv1.3"));

    TlsServerSettings only13 = sni_settings();
    only13.min_version = TlsVersion::kTls13;
    TestServer strict(build_server(only13));
    r = s_client(strict, {"-tls1_2"});
    CHECK_FALSE(strict.record(0).ok);
    r = s_client(strict, {});
    CHECK(strict.record(1).version == "TLSv1.3");
}

TEST_CASE("the default order: AES-128-GCM first on TLS 1.3 and 1.2, ChaCha20 for a client listing it first") {
    // s_client offers OpenSSL's order, AES-256-GCM-SHA384 first: our order wins.
    TestServer server(build_server(sni_settings()));
    s_client(server, {"-tls1_3"});
    CHECK(server.record(0).cipher == "TLS_AES_128_GCM_SHA256");
    s_client(server, {"-tls1_2"});
    CHECK(server.record(1).cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
    s_client(server, {"-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"});
    CHECK(server.record(2).cipher == "TLS_CHACHA20_POLY1305_SHA256");
}

TEST_CASE("the TLS 1.2 cipher list and the TLS 1.3 suites are applied") {
    TlsServerSettings settings = sni_settings();
    settings.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
    settings.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
    TestServer server(build_server(settings));
    s_client(server, {"-tls1_2"});
    CHECK(server.record(0).cipher == "ECDHE-ECDSA-AES256-GCM-SHA384");
    s_client(server, {"-tls1_3"});
    CHECK(server.record(1).cipher == "TLS_CHACHA20_POLY1305_SHA256");
    s_client(server, {"-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"});
    CHECK_FALSE(server.record(2).ok);
    s_client(server, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"});
    CHECK_FALSE(server.record(3).ok);
}

TEST_CASE("ALPN: our list in our order, the agreed protocol exposed, no overlap refused") {
    TlsServerSettings settings = sni_settings();
    settings.alpn = {"h2", "http/1.1"};
    TestServer server(build_server(settings));
    RunResult r = s_client(server, {"-alpn", "http/1.1"});
    CHECK(server.record(0).alpn == "http/1.1");
    CHECK(contains(r.output, "ALPN protocol: http/1.1"));
    r = s_client(server, {"-alpn", "http/1.1,h2"});
    CHECK(server.record(1).alpn == "h2");  // the server's preference wins
    r = s_client(server, {});
    CHECK(server.record(2).ok);
    CHECK(server.record(2).alpn.empty());  // no ALPN offered: none agreed, handshake fine
    r = s_client(server, {"-alpn", "spdy/3"});
    CHECK_FALSE(server.record(3).ok);
    CHECK(contains(r.output, "no application protocol"));

    // The default settings offer http/1.1 only.
    TestServer plain(build_server(sni_settings()));
    r = s_client(plain, {"-alpn", "h2,http/1.1"});
    CHECK(plain.record(0).alpn == "http/1.1");
}

// Resumes with s_client's session files, across one rotation, and then past the old key's life.

}  // namespace
}  // namespace lbd::l7::test
