// The configs shipped in sysconf/ must load: they are what operators copy. Their certificates
// (/etc/lbd/tls/NAME.pem and .key) are made here with the openssl CLI and the paths pointed at
// them, and loaded for real (the L7 tier's check is registered, as in lbd's main).
#include <doctest/doctest.h>

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/config/config_loader.h"
#include "l7/tls_setup.h"
#include "tests/unit/tls_test_kit.h"

#ifndef LBD_SOURCE_DIR
#error "LBD_SOURCE_DIR must name the source tree (the build defines it)"
#endif

namespace lbd {
namespace {

std::vector<std::string> shipped_configs() {
    std::vector<std::string> paths;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(LBD_SOURCE_DIR) + "/sysconf"))
        if (entry.is_regular_file() && entry.path().extension() == ".conf") paths.push_back(entry.path().string());
    return paths;
}

constexpr const char* kTlsDir = "/etc/lbd/tls/";

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

// The config at `path` with its /etc/lbd/tls/NAME.{pem,key} made in `dir` and pointed at there.
std::string with_test_certificates(const std::string& path, const std::filesystem::path& dir) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t at = text.find(kTlsDir); at != std::string::npos; at = text.find(kTlsDir, at)) {
        const size_t end = text.find('"', at);
        const std::string file = text.substr(at + std::strlen(kTlsDir), end - at - std::strlen(kTlsDir));
        const std::string stem = file.substr(0, file.rfind('.'));
        if (!std::filesystem::exists(dir / (stem + ".pem"))) {
            std::vector<std::string> key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"};
            if (stem.find("rsa") != std::string::npos) key = {"-newkey", "rsa:2048"};
            std::vector<std::string> argv = {"openssl", "req", "-x509", "-nodes", "-days", "2", "-subj",
                                             "/CN=www.example.com", "-addext", "subjectAltName=DNS:www.example.com",
                                             "-keyout", (dir / (stem + ".key")).string(), "-out",
                                             (dir / (stem + ".pem")).string()};
            argv.insert(argv.begin() + 3, key.begin(), key.end());
            l7::test::RunResult made = l7::test::run(argv);
            REQUIRE_MESSAGE(made.exit_code == 0, made.output);
        }
        text.replace(at, std::strlen(kTlsDir), dir.string() + "/");
    }
    // The package makes the lbd user and group (packaging/); a build machine
    // without them checks the rest with ones every Debian system has.
    if (getpwnam("lbd") == nullptr) replace_all(text, "user: \"lbd\"", "user: \"nobody\"");
    if (getgrnam("lbd") == nullptr) {
        replace_all(text, "group: \"lbd\"", "group: \"nogroup\"");  // socket_group too
    }
    return text;
}

TEST_CASE("every sysconf/*.conf loads without errors") {
    std::vector<std::string> paths = shipped_configs();
    CHECK(paths.size() >= 2);  // lbd.conf and demo.conf at least
    struct CertDir {
        std::filesystem::path path;
        CertDir() {
            char tmpl[] = "/tmp/lbd-sysconf-test-XXXXXX";
            REQUIRE(mkdtemp(tmpl) != nullptr);
            path = tmpl;
        }
        ~CertDir() {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    } certs;
    for (const std::string& path : paths) {
        CAPTURE(path);
        ConfigLoadResult result = load_config_text(with_test_certificates(path, certs.path), path);
        for (const ConfigError& e : result.errors) FAIL_CHECK(e.to_string());
        REQUIRE(result.config.has_value());
        CHECK_FALSE(result.config->listeners.empty());
    }
}

TEST_CASE("demo.conf matches the README demo") {
    ConfigLoadResult result = load_config_file(std::string(LBD_SOURCE_DIR) + "/sysconf/demo.conf");
    REQUIRE(result.config.has_value());
    const Config& c = *result.config;
    CHECK(c.global.workers == 2);
    REQUIRE(c.listeners.size() == 2);
    CHECK(c.listeners[0].bind.to_string() == "127.0.0.1:8080");
    CHECK(c.listeners[0].mode == ListenerMode::kTcp);
    const PoolConfig* pool = c.find_pool(c.listeners[0].pool);
    REQUIRE(pool != nullptr);
    CHECK(pool->balance == "round_robin");
    CHECK(pool->health_check.enabled);
    CHECK(pool->health_check.interval_ms == 1000);
    REQUIRE(pool->servers.size() == 3);
    CHECK(pool->servers[0].address.to_string() == "127.0.0.1:9001");
    CHECK(pool->servers[1].address.to_string() == "127.0.0.1:9002");
    CHECK(pool->servers[2].address.to_string() == "127.0.0.1:9003");

    // The HTTP listener the README curls: lbd's stickiness cookie, a rate limit, /healthz.
    const ListenerConfig& http = c.listeners[1];
    CHECK(http.bind.to_string() == "127.0.0.1:8081");
    CHECK(http.mode == ListenerMode::kHttp);
    CHECK(http.http.rate_limits == std::vector<std::string>{"per-ip"});
    const PoolConfig* sticky = c.find_pool(http.pool);
    REQUIRE(sticky != nullptr);
    CHECK(sticky->stickiness.cookie.name == "LBSRV");
    CHECK(sticky->health_check.probe == "http");
    CHECK(sticky->stickiness.cookie.mode == CookieMode::kInsert);
    REQUIRE(sticky->servers.size() == 3);
    CHECK(sticky->servers[0].address.to_string() == "127.0.0.1:9001");
}

}  // namespace
}  // namespace lbd
