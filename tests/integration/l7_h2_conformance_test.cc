// lbd's HTTP/2 conformance suite (tests/integration/h2_conformance.py, in the manner of h2spec:
// RFC 9113, RFC 7541 and h2spec's generic cases, each expecting the RFC's exact error code) run
// against one lbd with an h2c listener and a TLS listener offering ALPN h2, in front of the test
// backend. The script prints one line per case; its exit status says whether any case failed
// (or a known deviation started to pass).
#include <doctest/doctest.h>

#include <string>

#include "tests/integration/l7_tls_scenario.h"

namespace lbd::test {
namespace {

using l7::test::run;
using l7::test::RunResult;

TEST_CASE("HTTP/2 conformance (h2spec's cases, in python3-hyperframe and python3-hpack) over h2c and TLS") {
    HttpBackend backend("a");
    RunningLbd lbd("global { workers: 1 }\n"
                   "listeners {\n"
                   "  name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"web\"\n"
                   "  http { http2 { cleartext: true } }\n"
                   "}\n"
                   "listeners {\n"
                   "  name: \"tls\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"web\"\n" +
                   sni_tls("      alpn: \"h2\"\n") +
                   "}\n" + http_pool("web", {&backend}));
    uint16_t tls_port = 0;
    {
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        tls_port = lbd->listener_port("tls");
        REQUIRE(tls_port != 0);
    }
    RunResult r = run({"/usr/bin/python3", H2_CONFORMANCE, std::to_string(lbd.port()), "--tls-port",
                       std::to_string(tls_port)},
                      60000);
    // The counts by section and the summary always; every case's line when one failed.
    const size_t counts = r.output.find("\nby section:");
    const std::string summary = counts == std::string::npos ? r.output : r.output.substr(counts + 1);
    MESSAGE(summary);
    INFO(r.output);
    INFO(lbd->log());
    CHECK(r.exit_code == 0);
    CHECK(counts != std::string::npos);
}

}  // namespace
}  // namespace lbd::test
