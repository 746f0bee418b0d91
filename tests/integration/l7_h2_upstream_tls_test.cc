// HTTP/2 to servers over TLS (a pool's `protocol: SERVER_PROTOCOL_H2` with tls, ALPN "h2"; see
// l7/h2_upstream.h), end to end with the gRPC-style python3-h2 server (grpc_origin.py --tls)
// and the test PKI: unary calls, trailers both ways, concurrent calls on one connection, an
// 8 MiB bidirectional stream; a server that does not select "h2" by ALPN (503 and a warning);
// the config checks of the protocol and its alpn; and `lbctl server drain` on an HTTP/2 pool's
// server (h2c): an idle connection closes at once, a busy one once its streams end.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/grpc_scenario.h"
#include "tests/integration/lbctl_run.h"
#include "tests/unit/config_test_kit.h"

namespace lbd::test {
namespace {

using l7::test::RunResult;

// The "ip" certificate: IP SAN 127.0.0.1, checked against the server's address.
std::vector<std::string> tls_origin(const std::vector<std::string>& alpn = {}) {
    std::vector<std::string> out{"--tls", pem("ip"), key("ip")};
    for (const std::string& p : alpn) out.insert(out.end(), {"--alpn", p});
    return out;
}

std::string h2_tls_config(uint16_t port, const std::string& tls_extra = "") {
    return grpc_config({port}, "  tls {\n    ca_file: \"" + pem("ca") + "\"\n" + tls_extra + "  }\n",
                       "SERVER_PROTOCOL_H2");
}

TEST_CASE("gRPC over TLS to the server (SERVER_PROTOCOL_H2, ALPN h2): unary, trailers, concurrent, streaming") {
    GrpcOrigin origin(100, tls_origin());
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(h2_tls_config(origin.port()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string port = std::to_string(lbd.port());

    check_unary_calls(port);
    RunResult length = grpc_client({"unary", port, "/test.Echo/Length", "len"});
    CHECK_MESSAGE(has(length.output, "trailer grpc-message=ok\n"), length.output);

    // Multiplexed: 20 calls in flight at once over the one TLS connection.
    RunResult many = grpc_client({"concurrent", port, "/test.Echo/Slow", "20"});
    CHECK_MESSAGE(has(many.output, "ok=20\n"), many.output);
    CHECK(origin.accepted() == 1);
    // The hop to the server is TLS: its :scheme says so (RFC 9113 §8.3.1), whatever the client's.
    CHECK(origin.process().count(LinePattern("scheme https")) == 1);
    CHECK(origin.process().count(LinePattern("scheme ")) == 1);  // and no other
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    CHECK(metric(admin, "lbd_http2_server_connections_total") == 1);

    RunResult s = grpc_client({"stream", port, "8"}, 120000);
    INFO(s.output);
    CHECK(has(s.output, "echoed=8388608\n"));
    CHECK(has(s.output, "match=1\n"));
    CHECK(has(s.output, "early=1\n"));
    CHECK(has(s.output, "trailer grpc-status=0\n"));
    CHECK(origin.accepted() == 1);
}

TEST_CASE("a TLS server that does not select h2 by ALPN: that connection fails (503), with a warning") {
    GrpcOrigin origin(100, tls_origin({"http/1.1"}));
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(h2_tls_config(origin.port()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CurlRun c = curl({"-s", "-o", "/dev/null", "-w", "code=%{http_code}", "--http2-prior-knowledge",
                      url(lbd.port(), "/test.Echo/Unary")});
    CHECK_MESSAGE(has(c.output, "code=503"), c.output);
    CHECK(lbd->await_line("not \"h2\": the server does not speak HTTP/2 over TLS", kIoTimeoutMs));
    // The TLS handshake itself went through (right certificate): it is ALPN that failed.
    CHECK(origin.accepted() >= 1);
}

TEST_CASE("protocol SERVER_PROTOCOL_H2: needs tls, offers ALPN h2 only; an HTTP/1.1 pool may not offer h2") {
    const auto errors = [](const std::string& config) { return all_errors(load_config_text(config, "test.conf")); };
    CHECK(errors(h2_tls_config(1)).empty());
    CHECK(errors(h2_tls_config(1, "    alpn: \"h2\"\n")).empty());
    const std::string no_tls = errors(grpc_config({1}, "", "SERVER_PROTOCOL_H2"));
    CHECK_MESSAGE(has(no_tls, "SERVER_PROTOCOL_H2 is HTTP/2 over TLS and needs a tls block"), no_tls);
    const std::string other_alpn = errors(h2_tls_config(1, "    alpn: \"h2\"\n    alpn: \"http/1.1\"\n"));
    CHECK_MESSAGE(has(other_alpn, "offers ALPN \"h2\" only (remove alpn 'http/1.1')"), other_alpn);
    const std::string h1_h2 = errors(grpc_config({1}, "  tls { alpn: \"h2\" }\n", "SERVER_PROTOCOL_HTTP1"));
    CHECK_MESSAGE(has(h1_h2, "alpn \"h2\" on a pool that speaks HTTP/1.1"), h1_h2);
    CHECK(errors(grpc_config({1}, "  tls { alpn: \"http/1.1\" }\n", "SERVER_PROTOCOL_HTTP1")).empty());
}

TEST_CASE("lbctl server drain: an idle HTTP/2 server connection closes at once, a busy one when its calls end") {
    GrpcOrigin origin;
    REQUIRE(origin.port() != 0);
    TempDir dir;
    const std::string socket = dir.path() + "/admin.sock";
    // Idle server connections would stay a minute: a close within seconds is the drain's doing.
    std::string config = grpc_config({origin.port()});
    config.replace(config.find("admin {"), 7, "admin { socket_path: \"" + socket + "\"");
    config.replace(config.find("http {"), 6, "http { timeouts { server_idle_ms: 60000 }");
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string port = std::to_string(lbd.port());

    RunResult warm = grpc_client({"unary", port, "/test.Echo/Unary", "a"});
    CHECK_MESSAGE(has(warm.output, "trailer grpc-status=0\n"), warm.output);
    REQUIRE(origin.accepted() == 1);
    CHECK(origin.closed() == 0);
    Run run = lbctl({"--socket", socket, "server", "drain", "grpc/g1"});
    INFO(run.output);
    CHECK(has(run.output, "closed 1 idle keep-alive connection to grpc/g1\n"));
    CHECK(poll_until([&] { return origin.closed() == 1; }, 2000));

    // Busy: a call in flight (answered 1.5 s after it came) finishes on its connection, which
    // then closes; no other call goes on it.
    CHECK(lbctl({"--socket", socket, "server", "enable", "grpc/g1"}).exit_code == 0);
    ChildProcess held({"/usr/bin/python3", GRPC_CLIENT_PY, "unary", port, "/test.Echo/Hold", "h"});
    REQUIRE(origin.process().await_line(LinePattern("holding"), kIoTimeoutMs));
    CHECK(origin.accepted() == 2);
    run = lbctl({"--socket", socket, "server", "drain", "grpc/g1"});
    CHECK_MESSAGE(has(run.output, "closed 0 idle keep-alive connections to grpc/g1\n"), run.output);
    CHECK(origin.closed() == 1);
    REQUIRE(held.wait_exit(10000) == 0);
    CHECK_MESSAGE(has(held.output(), "message=held:h\n"), held.output());
    CHECK_MESSAGE(has(held.output(), "trailer grpc-status=0\n"), held.output());
    CHECK(poll_until([&] { return origin.closed() == 2; }, 2000));
}

}  // namespace
}  // namespace lbd::test
