// PROXY protocol on HTTP listeners (l7/proxy_header_wait.h): lbd behind a real HAProxy
// (send-proxy-v2, send-proxy) on plain and TLS listeners, behind hand-written v1 lines and v2
// headers; the client address from the header in the forwarding headers, the access log and the
// rate limits; untrusted sources and bad headers closed and counted.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <string>
#include <vector>

#include "tests/integration/l7_tls_scenario.h"
#include "tests/integration/proxy_senders.h"

namespace lbd::test {
namespace {

std::string accept_proxy(const char* trusted = "127.0.0.0/8", int header_timeout_ms = 5000) {
    return "  accept_proxy { trusted_sources: \"" + std::string(trusted) +
           "\" header_timeout_ms: " + std::to_string(header_timeout_ms) + " }\n";
}

// "front" with accept_proxy, pool "web", and the admin HTTP listener on an ephemeral port.
std::string proxied_config(const HttpBackend& backend, const std::string& accept, const std::string& http_body = "") {
    return "global { workers: 2 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
           "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n" + accept +
           "  http {\n" + http_body + "  }\n}\n" + http_pool("web", {&backend});
}

// curl's own local port (-w), printed after the body on a line of its own.
struct CurlThrough {
    CurlRun run;
    std::string local_port;
};

CurlThrough curl_with_port(const std::vector<std::string>& args) {
    std::vector<std::string> all = args;
    all.insert(all.end(), {"-w", "\nlocal_port=%{local_port}\n"});
    CurlThrough out{curl(all), ""};
    size_t at = out.run.output.rfind("local_port=");
    if (at != std::string::npos) out.local_port = out.run.output.substr(at + 11, out.run.output.find('\n', at) - at - 11);
    return out;
}

// A raw request preceded by `header` on a new connection; the reply, or nullopt when lbd closed.
std::optional<HttpReply> request_after(uint16_t port, const std::string& header, const std::string& path,
                                       const std::string& extra = "") {
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    if (!fd) return std::nullopt;
    // Header and request in one write: the bytes after the header must reach the session.
    if (!send_all(fd.get(), header + get_request(path, "proxied.test", extra), kIoTimeoutMs)) return std::nullopt;
    return read_http_reply(fd.get(), kIoTimeoutMs);
}

void check_haproxy_in_front(const std::string& send_proxy, bool tls) {
    if (!executable(kHaproxy)) {
        MESSAGE("skipped: ", kHaproxy, " is not installed");
        return;
    }
    HttpBackend backend("a");
    REQUIRE(backend.port() != 0);
    RunningLbd lbd(tls ? tls_config(backend, sni_tls() + accept_proxy()) : proxied_config(backend, accept_proxy()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    TempDir dir;
    REQUIRE_FALSE(dir.path().empty());
    ExternalServer haproxy = start_haproxy(dir, lbd.port(), send_proxy);
    INFO("haproxy output:\n", haproxy ? haproxy.process->output() : std::string("(not started)"));
    REQUIRE(haproxy);

    const std::string base = (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(haproxy.port);
    CurlThrough c = curl_with_port({"-k", base + "/through-haproxy"});
    INFO(c.run.output);
    REQUIRE(c.run.exit_code == 0);
    CHECK(has(c.run.output, "server=a"));
    CHECK(has(c.run.output, "X-Forwarded-For: 127.0.0.1\r\n"));
    REQUIRE_FALSE(c.local_port.empty());
    // Only the header tells lbd curl's port: HAProxy's own connection has another.
    std::optional<std::string> line = lbd->await_line(http_line_for("/through-haproxy"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "client") == "127.0.0.1:" + c.local_port);
    CHECK(field(*line, "status") == "200");
    if (tls) CHECK(field(*line, "tls") != "<missing>");
}

TEST_CASE("accept_proxy on an HTTP listener behind a real HAProxy (send-proxy-v2): the client's address") {
    check_haproxy_in_front("send-proxy-v2", false);
}

TEST_CASE("accept_proxy on an HTTP listener behind a real HAProxy (send-proxy, v1): the client's address") {
    check_haproxy_in_front("send-proxy", false);
}

TEST_CASE("accept_proxy on a TLS listener: the PROXY header comes before the handshake (HAProxy, v2)") {
    check_haproxy_in_front("send-proxy-v2", true);
}

TEST_CASE("accept_proxy: a raw v1 line's client is in X-Forwarded-For, Forwarded and the access log") {
    HttpBackend backend("a");
    REQUIRE(backend.port() != 0);
    RunningLbd lbd(proxied_config(backend, accept_proxy(), "    forwarded { forwarded: true }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    auto reply = request_after(lbd.port(), "PROXY TCP4 192.0.2.7 198.51.100.1 4242 80\r\n", "/v1");
    REQUIRE(reply);
    INFO(reply->body);
    CHECK(reply->status == 200);
    CHECK(has(reply->body, "X-Forwarded-For: 192.0.2.7\r\n"));
    CHECK(has(reply->body, "Forwarded: for=192.0.2.7"));
    std::optional<std::string> line = lbd->await_line(http_line_for("/v1"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "client") == "192.0.2.7:4242");

    // v2 LOCAL (a health check of the balancer in front): the connection's own address stands.
    const std::string local = kV2Signature + std::string("\x20\x00\x00\x00", 4);
    reply = request_after(lbd.port(), local, "/local");
    REQUIRE(reply);
    CHECK(reply->status == 200);
    line = lbd->await_line(http_line_for("/local"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "client").rfind("127.0.0.1:", 0) == 0);
}

TEST_CASE("accept_proxy: rate limits count the client from the header, not the balancer") {
    HttpBackend backend("a");
    REQUIRE(backend.port() != 0);
    RunningLbd lbd(proxied_config(backend, accept_proxy(),
                                  "    rate_limit_zones { name: \"z\" requests: 1 period_ms: 60000 }\n"
                                  "    rate_limits: \"z\"\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto from = [&](const char* ip) {
        auto reply = request_after(lbd.port(), "PROXY TCP4 " + std::string(ip) + " 198.51.100.1 5000 80\r\n", "/rl");
        return reply ? reply->status : 0;
    };
    CHECK(from("192.0.2.1") == 200);
    CHECK(from("192.0.2.1") == 429);
    CHECK(from("192.0.2.2") == 200);  // another client behind the same balancer
}

TEST_CASE("accept_proxy: untrusted sources and bad headers are closed before any request, and counted") {
    HttpBackend backend("a");
    REQUIRE(backend.port() != 0);
    SUBCASE("a source outside trusted_sources") {
        RunningLbd lbd(proxied_config(backend, accept_proxy("10.0.0.0/8")));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        const uint16_t admin = admin_port(lbd);
        REQUIRE(admin != 0);
        CHECK_FALSE(request_after(lbd.port(), proxy_v2_tcp4("192.0.2.7", 4242, "198.51.100.1", 80), "/x"));
        CHECK(poll_until([&] {
            return metric(admin, "lbd_http_proxy_header_failures_total{listener=\"front\",reason=\"untrusted\"}") == 1;
        }));
    }
    SUBCASE("HTTP without a header, and a malformed v1 line") {
        RunningLbd lbd(proxied_config(backend, accept_proxy()));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        const uint16_t admin = admin_port(lbd);
        REQUIRE(admin != 0);
        CHECK_FALSE(request_after(lbd.port(), "", "/no-header"));
        CHECK_FALSE(request_after(lbd.port(), "PROXY TCP4 192.0.2.7 nonsense\r\n", "/bad"));
        CHECK(poll_until([&] {
            return metric(admin, "lbd_http_proxy_header_failures_total{listener=\"front\",reason=\"invalid\"}") == 2;
        }));
        CHECK(metric(admin, "lbd_http_connections_active{listener=\"front\"}") == 0);
    }
    SUBCASE("no header within header_timeout_ms") {
        RunningLbd lbd(proxied_config(backend, accept_proxy("127.0.0.0/8", 200)));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        const uint16_t admin = admin_port(lbd);
        REQUIRE(admin != 0);
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        RecvResult r = recv_until_eof(fd.get(), kIoTimeoutMs);
        CHECK(std::string(to_string(r.end)) != "timeout");
        CHECK(metric(admin, "lbd_http_proxy_header_failures_total{listener=\"front\",reason=\"timeout\"}") == 1);
    }
    CHECK(backend.requests() == 0);
}

}  // namespace
}  // namespace lbd::test
