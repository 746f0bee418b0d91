// The config loader on `tls` blocks (l7/config/config_tls.cc): typed settings and their defaults, and
// every refusal at the line of the field at fault, with the certificate's file named. The L7
// tier's config module (linked whole) loads the certificates.
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "tests/unit/config_test_kit.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::test {
namespace {

using l7::test::pki;
bool has(const std::string& text, const std::string& needle) { return l7::test::contains(text, needle); }

std::string pem(const std::string& name) { return pki().path(name + ".pem"); }
std::string key(const std::string& name) { return pki().path(name + ".key"); }

std::string cert_entry(const std::string& cert, const std::string& key_file) {
    return "    certificates {\n      cert_file: \"" + cert + "\"\n      key_file: \"" + key_file + "\"\n    }\n";
}

// One listener "web" (mode, then `tls_body` in a tls block) on pool "p", whose tls is `pool_tls`.
std::string config(const std::string& tls_body, const std::string& pool_tls = "",
                   const std::string& mode = "MODE_HTTP") {
    std::string out = "listeners {\n  name: \"web\"\n  bind: \"127.0.0.1:0\"\n  mode: " + mode + "\n  pool: \"p\"\n";
    if (!tls_body.empty()) out += "  tls {\n" + tls_body + "  }\n";
    out += "}\npools {\n  name: \"p\"\n  servers { name: \"a\" address: \"127.0.0.1:8080\" }\n";
    if (!pool_tls.empty()) out += "  tls {\n" + pool_tls + "  }\n";
    return out + "}\n";
}

ConfigLoadResult load(const std::string& text) {
    return load_config_text(text, "tls.conf");
}

// The one error of a load, checked to sit at `line`.
std::string error_at(const std::string& text, int line) {
    ConfigLoadResult r = load(text);
    REQUIRE_MESSAGE(r.errors.size() == 1, all_errors(r));
    CHECK_MESSAGE(r.errors[0].line == line, all_errors(r));
    return r.errors[0].to_string();
}

TEST_CASE("a listener's tls block: the minimum, defaults, and every field") {
    ConfigLoadResult minimal = load(config(cert_entry(pem("ec"), key("ec"))));
    REQUIRE_MESSAGE(minimal.config, all_errors(minimal));
    const ListenerTlsConfig& tls = minimal.config->listeners[0].tls;
    CHECK(tls.enabled);
    CHECK(tls.handshake_timeout_ms == 10000);
    REQUIRE(tls.context.certificates.size() == 1);
    CHECK(tls.context.certificates[0].cert_file == pem("ec"));
    CHECK(tls.context.min_version == TlsVersion::kTls12);
    CHECK(tls.context.ciphers == kDefaultTls12Ciphers);
    CHECK(tls.context.ciphersuites == kDefaultTls13Ciphersuites);
    CHECK(tls.context.alpn == std::vector<std::string>{"http/1.1"});
    CHECK(tls.context.session_cache_size == 20000);
    CHECK(tls.context.session_tickets);
    CHECK(tls.context.client_verify == TlsClientVerify::kOff);
    CHECK(!minimal.config->pools[0].tls.enabled);

    ConfigLoadResult full = load(config(cert_entry(pem("ec"), key("ec")) + cert_entry(pem("rsa"), key("rsa")) +
                                        "    min_version: TLS_VERSION_1_3\n"
                                        "    ciphers: \"ECDHE-ECDSA-AES128-GCM-SHA256\"\n"
                                        "    ciphersuites: \"TLS_AES_128_GCM_SHA256\"\n"
                                        "    alpn: [\"http/1.1\", \"http/1.0\"]\n"
                                        "    session_cache_size: 0\n"
                                        "    session_timeout_s: 600\n"
                                        "    session_tickets: false\n"
                                        "    ticket_rotation_s: 60\n"
                                        "    ticket_key_lifetime_s: 120\n"
                                        "    client_verify: TLS_CLIENT_VERIFY_REQUIRED\n"
                                        "    client_ca_file: \"" + pem("ca") + "\"\n"
                                        "    verify_depth: 2\n"
                                        "    handshake_timeout_ms: 2500\n"));
    REQUIRE_MESSAGE(full.config, all_errors(full));
    const TlsServerSettings& s = full.config->listeners[0].tls.context;
    CHECK(s.certificates.size() == 2);
    CHECK(s.certificates[1].key_file == key("rsa"));
    CHECK(s.min_version == TlsVersion::kTls13);
    CHECK(s.ciphers == "ECDHE-ECDSA-AES128-GCM-SHA256");
    CHECK(s.ciphersuites == "TLS_AES_128_GCM_SHA256");
    CHECK(s.alpn == std::vector<std::string>{"http/1.1", "http/1.0"});
    CHECK(s.session_cache_size == 0);
    CHECK(s.session_timeout_s == 600);
    CHECK(!s.session_tickets);
    CHECK(s.ticket_rotation_s == 60);
    CHECK(s.ticket_key_lifetime_s == 120);
    CHECK(s.client_verify == TlsClientVerify::kRequired);
    CHECK(s.client_ca_file == pem("ca"));
    CHECK(s.verify_depth == 2);
    CHECK(full.config->listeners[0].tls.handshake_timeout_ms == 2500);
}

TEST_CASE("a pool's tls block: verify is on unless turned off") {
    ConfigLoadResult r = load(config("", "    ca_file: \"" + pem("ca") + "\"\n    server_name: \"a.example.test\"\n"
                                         "    alpn: \"http/1.1\"\n"
                                         "    client_certificate { cert_file: \"" + pem("client") +
                                         "\" key_file: \"" + key("client") + "\" }\n"));
    REQUIRE_MESSAGE(r.config, all_errors(r));
    const PoolTlsConfig& tls = r.config->pools[0].tls;
    CHECK(tls.enabled);
    CHECK(tls.context.verify);
    CHECK(tls.context.ca_file == pem("ca"));
    CHECK(tls.context.server_name == "a.example.test");
    CHECK(tls.context.alpn == std::vector<std::string>{"http/1.1"});
    CHECK(tls.context.client_certificate.cert_file == pem("client"));

    ConfigLoadResult off = load(config("", "    verify: false\n"));
    REQUIRE_MESSAGE(off.config, all_errors(off));
    CHECK(!off.config->pools[0].tls.context.verify);
}

TEST_CASE("certificates that do not load are refused at their line, naming the file") {
    SUBCASE("missing file") {
        std::string text = config(cert_entry(pem("ec"), key("ec")) + cert_entry("/nonexistent/x.pem", key("ec")));
        std::string e = error_at(text, line_of(text, "/nonexistent/x.pem"));
        CHECK(has(e, "tls.conf:"));
        CHECK(has(e, "certificate #2: cannot read /nonexistent/x.pem"));
    }
    SUBCASE("not a certificate") {
        std::string text = config(cert_entry(pem("garbage"), key("ec")));
        std::string e = error_at(text, line_of(text, "certificates {"));
        CHECK(has(e, pem("garbage")));
    }
    SUBCASE("the key of another certificate") {
        std::string text = config(cert_entry(pem("ec"), key("ec")) + cert_entry(pem("rsa"), key("ec")));
        const int second = line_of(text, pem("rsa")) - 1;  // its `certificates {` line
        std::string e = error_at(text, second);
        CHECK(has(e, "certificate #2"));
        CHECK(has(e, key("ec")));
    }
    SUBCASE("a client CA file that is no CA") {
        std::string text = config(cert_entry(pem("ec"), key("ec")) + "    client_verify: TLS_CLIENT_VERIFY_OPTIONAL\n"
                                  "    client_ca_file: \"" + pki().path("text.pem") + "\"\n");
        std::string e = error_at(text, line_of(text, "client_ca_file"));
        CHECK(has(e, pki().path("text.pem")));
    }
    SUBCASE("a pool's CA file") {
        std::string text = config("", "    ca_file: \"" + pki().path("text.pem") + "\"\n");
        std::string e = error_at(text, line_of(text, "ca_file"));
        CHECK(has(e, "pool 'p' tls"));
        CHECK(has(e, pki().path("text.pem")));
    }
}

TEST_CASE("settings refused before any file is read") {
    SUBCASE("no certificates") {
        std::string text = config("    min_version: TLS_VERSION_1_2\n");
        CHECK(has(error_at(text, line_of(text, "tls {")), "has no certificates"));
    }
    SUBCASE("client_verify without client_ca_file") {
        std::string text = config(cert_entry(pem("ec"), key("ec")) + "    client_verify: TLS_CLIENT_VERIFY_REQUIRED\n");
        CHECK(has(error_at(text, line_of(text, "client_verify")), "client_verify needs client_ca_file"));
    }
    SUBCASE("an empty ALPN protocol") {
        std::string text = config(cert_entry(pem("ec"), key("ec")) + "    alpn: \"\"\n");
        CHECK(has(error_at(text, line_of(text, "alpn")), "must be 1..255 bytes"));
    }
    SUBCASE("ALPN h3, which the proxy does not speak (h2 it does: l7_h2_test)") {
        std::string text = config(cert_entry(pem("ec"), key("ec")) + "    alpn: \"h3\"\n");
        CHECK(has(error_at(text, line_of(text, "alpn")), "alpn 'h3' is not served (only h2, http/1.1 and http/1.0)"));
    }
    SUBCASE("tls on a TCP listener") {
        std::string text = config(cert_entry(pem("ec"), key("ec")), "", "MODE_TCP");
        CHECK(has(error_at(text, line_of(text, "tls {")), "tls needs mode: MODE_HTTP"));
    }
    SUBCASE("a TCP listener on a pool with tls") {
        std::string text = config("", "    verify: false\n", "MODE_TCP");
        CHECK(has(error_at(text, line_of(text, "pool: \"p\"")), "is MODE_TCP but pool 'p' has tls"));
    }
}

}  // namespace
}  // namespace lbd::test
