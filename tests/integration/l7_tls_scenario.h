// Shared pieces of the TLS listener scenarios (l7_tls_test.cc, l7_tls_io_test.cc): the test PKI's
// files and a config with an HTTPS listener. Certificates come from the TLS unit tests' kit (made
// once per run with the openssl CLI).
#pragma once

#include <string>

#include "tests/integration/l7_scenario.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::test {

inline std::string pem(const std::string& name) { return l7::test::pki().path(name + ".pem"); }
inline std::string key(const std::string& name) { return l7::test::pki().path(name + ".key"); }

inline std::string cert_entry(const std::string& name) {
    return "      certificates { cert_file: \"" + pem(name) + "\" key_file: \"" + key(name) + "\" }\n";
}

// The default certificate first, then a.example.test as ECDSA and as RSA.
inline std::string sni_tls(const std::string& extra = "") {
    return "    tls {\n" + cert_entry("default") + cert_entry("ec") + cert_entry("rsa") + extra + "    }\n";
}

// "front" as an HTTPS listener on pool "web"; the admin HTTP listener on an ephemeral port.
inline std::string tls_config(const HttpBackend& backend, const std::string& tls_block,
                              const std::string& pool_extra = "") {
    return "global { workers: 2 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n"
           "  pool: \"web\"\n" +
           tls_block + "}\n" + http_pool("web", {&backend}, pool_extra);
}

}  // namespace lbd::test
