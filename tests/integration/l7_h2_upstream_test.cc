// HTTP/2 to servers (l7/h2_upstream.h, a pool's `protocol: SERVER_PROTOCOL_H2C`), end to end:
// a gRPC-style server on python3-h2 (grpc_origin.py) behind lbd, driven by a python3-h2
// client (grpc_client.py), curl and nghttp. Checked: the message bytes, response trailers
// (grpc-status 0 and 13) reaching HTTP/2 clients as trailing HEADERS and HTTP/1.1 clients that
// sent "TE: trailers" in the chunked trailer section, request trailers reaching the server,
// concurrent calls sharing one server connection (the server counts its accepted ones),
// another connection once the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached, an 8 MiB
// bidirectional stream echoed byte for byte while it is still being sent, and a server that is
// down (503, or the next server), trailers after a content-length response (an HTTP/1.1 client
// with "TE: trailers" then gets the body chunked, without the length; one without them has them
// dropped and counted), and request trailers to an HTTP/1.1 pool (chunked trailer section).
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/grpc_scenario.h"
#include "tests/unit/config_test_kit.h"

namespace lbd::test {
namespace {

using l7::test::run;
using l7::test::RunResult;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A gRPC message frame: flag 0, 4-byte big-endian length, the bytes.
std::string grpc_frame(const std::string& message) {
    std::string out(5, '\0');
    const uint32_t n = static_cast<uint32_t>(message.size());
    out[1] = static_cast<char>(n >> 24);
    out[2] = static_cast<char>(n >> 16);
    out[3] = static_cast<char>(n >> 8);
    out[4] = static_cast<char>(n);
    return out + message;
}

TEST_CASE("gRPC unary over h2c to the server: messages, trailers both ways, one shared connection") {
    GrpcOrigin origin;
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(grpc_config({origin.port()}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string port = std::to_string(lbd.port());

    check_unary_calls(port);

    // 20 calls in flight at once (each answered 300 ms after it ended), one connection to the server.
    RunResult many = grpc_client({"concurrent", port, "/test.Echo/Slow", "20"});
    CHECK_MESSAGE(has(many.output, "ok=20\n"), many.output);
    CHECK(origin.accepted() == 1);
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    CHECK(metric(admin, "lbd_http2_server_connections_total") == 1);
    CHECK(metric(admin, "lbd_http2_server_streams_total") == 23);

    // curl: the message bytes as the server sent them.
    TempFile request(grpc_frame("curl"), ".bin");
    TempFile body("", ".bin");
    CurlRun c = curl({"-s", "--http2-prior-knowledge", "-H", "content-type: application/grpc", "--data-binary",
                      "@" + request.path(), "-o", body.path(), "-w", "code=%{http_code}",
                      url(lbd.port(), "/test.Echo/Unary")});
    CHECK_MESSAGE(has(c.output, "code=200"), c.output);
    CHECK(slurp(body.path()) == grpc_frame("echo:curl"));

    // nghttp: the trailers come as a HEADERS frame after the DATA.
    RunResult ng = run({"nghttp", "-v", "-d", request.path(), "-H", "content-type: application/grpc",
                        url(lbd.port(), "/test.Echo/Fail")});
    CHECK_MESSAGE(has(ng.output, "grpc-status: 13"), ng.output);
    CHECK(origin.accepted() == 1);

    // An HTTP/1.1 client gets them in the chunked trailer section if it sent TE: trailers.
    CurlRun h1 = curl({"-s", "--http1.1", "-D", "-", "-o", "/dev/null", "-H", "TE: trailers", "-H",
                       "content-type: application/grpc", "--data-binary", "@" + request.path(),
                       url(lbd.port(), "/test.Echo/Fail")});
    CHECK_MESSAGE(has(h1.output, "grpc-status: 13"), h1.output);
    CurlRun h1_plain = curl({"-s", "--http1.1", "-D", "-", "-o", "/dev/null", "-H", "content-type: application/grpc",
                             "--data-binary", "@" + request.path(), url(lbd.port(), "/test.Echo/Fail")});
    CHECK_MESSAGE(has(h1_plain.output, "HTTP/1.1 200"), h1_plain.output);
    CHECK_MESSAGE(!has(h1_plain.output, "grpc-status"), h1_plain.output);
}

TEST_CASE("response trailers after a content-length response reach the client") {
    GrpcOrigin origin;
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(grpc_config({origin.port()}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string port = std::to_string(lbd.port());
    // The driver ends a content-length response at its last byte; the trailers come after it.
    for (int i = 0; i < 3; ++i) {
        RunResult r = grpc_client({"unary", port, "/test.Echo/Length", "len"});
        CHECK_MESSAGE(has(r.output, "message=echo:len\n"), r.output);
        CHECK_MESSAGE(has(r.output, "trailer grpc-status=0\n"), r.output);
        CHECK_MESSAGE(has(r.output, "trailer grpc-message=ok\n"), r.output);
        CHECK_MESSAGE(!has(r.output, "reset="), r.output);
    }
    // content-length: 0 and no DATA: chunked to the driver, so the trailers still have a place.
    RunResult empty = grpc_client({"unary", port, "/test.Echo/Empty", "e"});
    CHECK_MESSAGE(has(empty.output, "status=200\n"), empty.output);
    CHECK_MESSAGE(has(empty.output, "trailer grpc-message=empty\n"), empty.output);
    // An HTTP/1.1 client gets the body framed by the server's length.
    TempFile request(grpc_frame("h1"), ".bin");
    TempFile body("", ".bin");
    CurlRun h1 = curl({"-s", "--http1.1", "-D", "-", "-o", body.path(), "-H", "content-type: application/grpc",
                       "--data-binary", "@" + request.path(), url(lbd.port(), "/test.Echo/Length")});
    CHECK_MESSAGE(has(h1.output, "ength: " + std::to_string(grpc_frame("echo:h1").size())), h1.output);
    CHECK(slurp(body.path()) == grpc_frame("echo:h1"));
    // It did not ask for trailers: they are dropped, and counted.
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    const std::string dropped = "lbd_http_response_trailers_dropped_total{listener=\"front\"}";
    CHECK(metric(admin, dropped) == 1);
    // One that sent "TE: trailers" can take them only in chunked framing: the length goes, and the
    // trailer section carries them after the body. --raw: the framing as lbd sent it.
    CurlRun te = curl({"-s", "--http1.1", "--raw", "-D", "-", "-o", body.path(), "-H", "TE: trailers", "-H",
                       "content-type: application/grpc", "--data-binary", "@" + request.path(),
                       url(lbd.port(), "/test.Echo/Length")});
    CHECK_MESSAGE(has(te.output, "Transfer-Encoding: chunked"), te.output);
    CHECK_MESSAGE(!has(te.output, "ength: "), te.output);
    const std::string message = grpc_frame("echo:h1");
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", message.size());
    CHECK(slurp(body.path()) == size + message + "\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n");
    CHECK(metric(admin, dropped) == 1);
    CHECK(origin.accepted() == 1);
}

TEST_CASE("an HTTP/2 client's request trailers reach an HTTP/1.1 server in the chunked trailer section") {
    HttpBackend web("web");
    REQUIRE(web.port() != 0);
    RunningLbd lbd("global { workers: 1 drain_timeout_ms: 2000 }\n"
                   "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n"
                   "  http { http2 { cleartext: true } }\n}\n" +
                   http_pool("web", {&web}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    RunResult r = grpc_client({"unary", std::to_string(lbd.port()), "/test.Echo/Unary", "hi", "t1"});
    CHECK_MESSAGE(has(r.output, "status=200\n"), r.output);
    const std::vector<std::string> heads = web.heads();
    REQUIRE(heads.size() == 1);
    CHECK_MESSAGE(has(heads[0], "chunked"), heads[0]);
    const std::vector<std::string> trailers = web.trailers();
    REQUIRE(trailers.size() == 1);
    CHECK(trailers[0] == "x-trailer: t1\r\n");
    // Without trailers the body ends with an empty trailer section, as before.
    r = grpc_client({"unary", std::to_string(lbd.port()), "/test.Echo/Unary", "no"});
    CHECK_MESSAGE(has(r.output, "status=200\n"), r.output);
    CHECK(web.heads().size() == 2);
    CHECK(web.trailers().size() == 1);
}

TEST_CASE("a server's SETTINGS_MAX_CONCURRENT_STREAMS: another connection when they are all taken") {
    GrpcOrigin origin(4);
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(grpc_config({origin.port()}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // A first call, so that the server's SETTINGS are known before the burst.
    RunResult first = grpc_client({"unary", std::to_string(lbd.port()), "/test.Echo/Unary", "a"});
    CHECK_MESSAGE(has(first.output, "trailer grpc-status=0\n"), first.output);
    RunResult many = grpc_client({"concurrent", std::to_string(lbd.port()), "/test.Echo/Slow", "10"});
    CHECK_MESSAGE(has(many.output, "ok=10\n"), many.output);
    // The first connection holds 4; the rest go to a second one, opened for them, which sends
    // no more than the 4 its SETTINGS allow at once (the server would fail them all).
    CHECK(origin.accepted() == 2);
}

TEST_CASE("a server's GOAWAY: that connection takes no new stream, the next call opens another") {
    GrpcOrigin origin;
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(grpc_config({origin.port()}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string port = std::to_string(lbd.port());
    RunResult bye = grpc_client({"unary", port, "/test.Echo/GoAway", "a"});
    CHECK_MESSAGE(has(bye.output, "trailer grpc-status=0\n"), bye.output);
    for (int i = 0; i < 3; ++i) {
        RunResult r = grpc_client({"unary", port, "/test.Echo/Unary", "b"});
        CHECK_MESSAGE(has(r.output, "message=echo:b\n"), r.output);
        CHECK_MESSAGE(has(r.output, "trailer grpc-status=0\n"), r.output);
    }
    // The GOAWAY's connection stays open on the server's side, but lbd sent nothing more on it.
    CHECK(origin.accepted() == 2);
}

TEST_CASE("gRPC bidirectional streaming: 8 MiB echoed byte for byte while still being sent") {
    GrpcOrigin origin;
    REQUIRE(origin.port() != 0);
    RunningLbd lbd(grpc_config({origin.port()}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    RunResult s = grpc_client({"stream", std::to_string(lbd.port()), "8"}, 120000);
    INFO(s.output);
    CHECK(has(s.output, "status=200\n"));
    CHECK(has(s.output, "sent=8388608\n"));
    CHECK(has(s.output, "echoed=8388608\n"));
    CHECK(has(s.output, "match=1\n"));
    // Neither way buffered whole: echo bytes came back before the last request byte left.
    CHECK(has(s.output, "early=1\n"));
    CHECK(has(s.output, "trailer grpc-status=0\n"));
}

TEST_CASE("h2c servers down: 503; one down of two: the other takes the call") {
    uint16_t dead = 0;
    {
        GrpcOrigin gone;  // a port nobody listens on once it exits
        dead = gone.port();
    }
    REQUIRE(dead != 0);
    RunningLbd lbd(grpc_config({dead}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CurlRun c = curl({"-s", "-o", "/dev/null", "-w", "code=%{http_code}", "--http2-prior-knowledge",
                      url(lbd.port(), "/test.Echo/Unary")});
    CHECK_MESSAGE(has(c.output, "code=503"), c.output);

    GrpcOrigin origin;
    RunningLbd two(grpc_config({dead, origin.port()}));
    INFO(two->log());
    REQUIRE(two.ok());
    for (int i = 0; i < 4; ++i) {
        RunResult r = grpc_client({"unary", std::to_string(two.port()), "/test.Echo/Unary", "m"});
        CHECK_MESSAGE(has(r.output, "trailer grpc-status=0\n"), r.output);
    }
}

TEST_CASE("protocol SERVER_PROTOCOL_H2C: not with tls, not for a MODE_TCP listener") {
    const std::string with_tls = grpc_config({1}, "  tls { }\n");
    const std::string errors = all_errors(load_config_text(with_tls, "test.conf"));
    CHECK_MESSAGE(has(errors, "with tls use SERVER_PROTOCOL_H2 (HTTP/2 over TLS)"), errors);
    std::string tcp = grpc_config({1});
    tcp.replace(tcp.find("MODE_HTTP"), 9, "MODE_TCP");
    const std::string h2c = "  http { http2 { cleartext: true } }\n";
    tcp.replace(tcp.find(h2c), h2c.size(), "");
    const std::string tcp_errors = all_errors(load_config_text(tcp, "test.conf"));
    CHECK_MESSAGE(has(tcp_errors, "speaks HTTP/2 to its servers"), tcp_errors);
    CHECK(all_errors(load_config_text(grpc_config({1}), "test.conf")).empty());
}

}  // namespace
}  // namespace lbd::test
