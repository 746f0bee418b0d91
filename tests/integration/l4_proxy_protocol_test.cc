// PROXY protocol scenarios: lbd sending headers (to a recording backend and to a real nginx) and
// accepting them (from a real HAProxy, from hand-made headers, and refusing bad or missing ones).
//
// nginx and haproxy are the Debian packages; a scenario that needs one is skipped (with a doctest
// MESSAGE) only when the binary is not installed.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/proxy_senders.h"
#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

constexpr const char* kCurl = "/usr/bin/curl";

std::string port_text(uint16_t port) { return std::to_string(port); }

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        size_t end = text.find(sep, start);
        parts.push_back(text.substr(start, end - start));
        if (end == std::string::npos) return parts;
        start = end + 1;
    }
}

// The parts of a received v2 TCP4 header a test checks.
struct V2Header {
    std::string src_ip, dst_ip;
    uint16_t src_port = 0, dst_port = 0;
    size_t length = 0;  // whole header, TLVs included
};

std::optional<V2Header> parse_v2_tcp4(const std::string& b) {
    if (b.size() < kV2Inet4Length || b.compare(0, 12, kV2Signature) != 0) return std::nullopt;
    if (b[12] != '\x21' || b[13] != '\x11') return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(b[i])); };
    size_t len = byte(14) << 8 | byte(15);
    if (len < 12 || b.size() < 16 + len) return std::nullopt;
    auto ip = [&](size_t at) {
        char text[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, b.data() + at, text, sizeof text);
        return std::string(text);
    };
    V2Header h;
    h.src_ip = ip(16);
    h.dst_ip = ip(20);
    h.src_port = static_cast<uint16_t>(byte(24) << 8 | byte(25));
    h.dst_port = static_cast<uint16_t>(byte(26) << 8 | byte(27));
    h.length = 16 + len;
    return h;
}

// ---- External programs on a free port ----

// nginx with an HTTP server that requires PROXY headers and logs the address they carry.
ExternalServer start_nginx(const TempDir& dir) {
    const std::string& d = dir.path();
    return start_nginx_with(dir, [&](uint16_t port) {
        return "error_log " + d + "/error.log notice;\n"
               "events { worker_connections 64; }\n"
               "http {\n"
               "  log_format pp 'ACCESS addr=$proxy_protocol_addr "
               "port=$proxy_protocol_port status=$status';\n"
               "  access_log " + d + "/access.log pp;\n"
               "  server {\n"
               "    listen 127.0.0.1:" + port_text(port) + " proxy_protocol;\n"
               "    location / { return 200 \"ok\"; }\n"
               "  }\n"
               "}\n";
    });
}

std::string accept_proxy_listener(int header_timeout_ms = 5000, const char* trusted = "127.0.0.0/8") {
    return "  accept_proxy { trusted_sources: \"" + std::string(trusted) +
           "\" header_timeout_ms: " + std::to_string(header_timeout_ms) + " }\n";
}

// ---- lbd sends PROXY headers ----

TEST_CASE("send_proxy V2: the server reads a v2 header naming the client, then the client's bytes") {
    RecordingServer recorder;
    REQUIRE(recorder.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("rec", recorder.port()) + "  send_proxy: PROXY_PROTOCOL_V2\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    REQUIRE(send_all(client.get(), "hello", kIoTimeoutMs));

    std::optional<std::string> got = recorder.wait_for_recorded(0, "hello", kIoTimeoutMs);
    REQUIRE(got);
    std::optional<V2Header> h = parse_v2_tcp4(*got);
    REQUIRE(h);
    CHECK(h->src_ip == "127.0.0.1");
    CHECK(h->src_port == local_port(client.get()));
    CHECK(h->dst_ip == "127.0.0.1");
    CHECK(h->dst_port == lbd.port());
    CHECK(got->substr(h->length) == "hello");
}

TEST_CASE("send_proxy V1: the server reads a v1 line naming the client, then the client's bytes") {
    RecordingServer recorder;
    REQUIRE(recorder.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("rec", recorder.port()) + "  send_proxy: PROXY_PROTOCOL_V1\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    REQUIRE(send_all(client.get(), "hello", kIoTimeoutMs));

    std::string expected = "PROXY TCP4 127.0.0.1 127.0.0.1 " + port_text(local_port(client.get())) + " " +
                           port_text(lbd.port()) + "\r\nhello";
    std::optional<std::string> got = recorder.wait_for_recorded(0, "hello", kIoTimeoutMs);
    REQUIRE(got);
    CHECK(*got == expected);
}

// Through lbd to nginx with `listen ... proxy_protocol`: nginx must log the client's address and
// port from lbd's header, and answer both a raw request and curl.
void check_nginx_sees_client(const std::string& version) {
    if (!executable(kNginx)) {
        MESSAGE("skipped: ", kNginx, " is not installed");
        return;
    }
    TempDir dir;
    REQUIRE_FALSE(dir.path().empty());
    ExternalServer nginx = start_nginx(dir);
    INFO("nginx error.log:\n", dir.read_file("error.log"));
    REQUIRE(nginx);
    RunningLbd lbd(single_pool_config(server_entry("nginx", nginx.port) + "  send_proxy: " + version + "\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    REQUIRE(send_all(client.get(), "GET / HTTP/1.0\r\nHost: lbd\r\n\r\n", kIoTimeoutMs));
    RecvResult response = recv_until_eof(client.get(), kIoTimeoutMs, 1 << 16);
    CHECK(response.data.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(response.data.size() >= 6);
    CHECK(response.data.substr(response.data.size() - 6) == "\r\n\r\nok");

    // nginx writes its access log after the response; wait for the line rather than assume it.
    std::string expected = "ACCESS addr=127.0.0.1 port=" + port_text(client_port) + " status=200";
    std::optional<std::string> access = dir.await_content("access.log", expected, kIoTimeoutMs);
    INFO("nginx access.log:\n", dir.read_file("access.log"));
    CHECK(access.has_value());

    if (executable(kCurl)) {
        ChildProcess curl({kCurl, "-sS", "--max-time", "3", "http://127.0.0.1:" + port_text(lbd.port()) + "/"});
        CHECK(curl.wait_exit(5000).value_or(-1) == 0);
        CHECK(curl.await_output_end(kIoTimeoutMs));
        CHECK(curl.output() == "ok\n");  // output() ends every line, the last one too
    }
}

TEST_CASE("send_proxy V2 to a real nginx: nginx sees the client's address") {
    check_nginx_sees_client("PROXY_PROTOCOL_V2");
}

TEST_CASE("send_proxy V1 to a real nginx: nginx sees the client's address") {
    check_nginx_sees_client("PROXY_PROTOCOL_V1");
}

// ---- lbd accepts PROXY headers ----

// client -> haproxy (send-proxy[-v2]) -> lbd (accept_proxy) -> echo. lbd must log the address of
// the client as haproxy saw it, not haproxy's own connection.
void check_haproxy_client_address_reaches_lbd(const std::string& send_proxy) {
    if (!executable(kHaproxy)) {
        MESSAGE("skipped: ", kHaproxy, " is not installed");
        return;
    }
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("echo", echo.port()), accept_proxy_listener()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    TempDir dir;
    REQUIRE_FALSE(dir.path().empty());
    ExternalServer haproxy = start_haproxy(dir, lbd.port(), send_proxy);
    INFO("haproxy output:\n", haproxy ? haproxy.process->output() : std::string("(not started)"));
    REQUIRE(haproxy);

    UniqueFd client = connect_tcp(haproxy.port, kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    CHECK(echoes(client.get(), "through haproxy and lbd\n"));
    REQUIRE(shutdown_write(client.get()));
    CHECK(std::string(to_string(recv_until_eof(client.get(), kIoTimeoutMs).end)) == "eof");
    client.reset();

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "server") == "p/echo");
    CHECK(field(*line, "end") == "closed");
}

TEST_CASE("accept_proxy behind a real HAProxy (send-proxy-v2): lbd logs the client's own address") {
    check_haproxy_client_address_reaches_lbd("send-proxy-v2");
}

TEST_CASE("accept_proxy behind a real HAProxy (send-proxy, v1): lbd logs the client's own address") {
    check_haproxy_client_address_reaches_lbd("send-proxy");
}

TEST_CASE("accept_proxy: the address in the header is the client's, in the log and in the header sent on") {
    RecordingServer recorder;
    REQUIRE(recorder.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("rec", recorder.port()) + "  send_proxy: PROXY_PROTOCOL_V1\n",
                                      accept_proxy_listener()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    // Header and data in one write: lbd must not lose the bytes that follow the header.
    REQUIRE(send_all(client.get(), proxy_v2_tcp4("192.0.2.7", 4242, "198.51.100.1", 443) + "data", kIoTimeoutMs));

    std::optional<std::string> got = recorder.wait_for_recorded(0, "\r\ndata", kIoTimeoutMs);
    REQUIRE(got);
    CAPTURE(*got);
    // "PROXY TCP4 <src> <dst> <sport> <dport>": lbd may pass the header's destination on or put
    // its own; the source must be the one the header named.
    std::string first_line = got->substr(0, got->find("\r\n"));
    std::vector<std::string> words = split(first_line, ' ');
    REQUIRE(words.size() == 6);
    CHECK(words[0] == "PROXY");
    CHECK(words[1] == "TCP4");
    CHECK(words[2] == "192.0.2.7");
    CHECK(words[4] == "4242");
    CHECK(got->substr(first_line.size()) == "\r\ndata");

    client.reset();
    std::optional<std::string> line = lbd->await_line(" l4 listener=front client=192.0.2.7:4242 ", kIoTimeoutMs);
    CHECK(line.has_value());
}

TEST_CASE("accept_proxy: a client speaking HTTP instead of PROXY is closed before any server sees it") {
    NamedServer server("s");
    REQUIRE(server.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("s", server.port()), accept_proxy_listener(300)));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    REQUIRE(send_all(client.get(), "GET / HTTP/1.0\r\n\r\n", kIoTimeoutMs));
    RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(r.data.empty());

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "end") == "proxy_header_invalid");
    CHECK(field(*line, "server") == "-");
    CHECK(server.accepted() == 0);  // no health check in this pool: every accept would be a leak
}

TEST_CASE("accept_proxy: a client that sends nothing is closed after header_timeout_ms") {
    NamedServer server("s");
    REQUIRE(server.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("s", server.port()), accept_proxy_listener(300)));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    uint64_t start = monotonic_ms();
    RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
    uint64_t waited = monotonic_ms() - start;
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(r.data.empty());
    CHECK(waited >= 250);  // not before the timeout (a little slack for timer granularity)

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "end") == "proxy_header_timeout");
    CHECK(server.accepted() == 0);
}

TEST_CASE("accept_proxy: a client that closes after half a header is closed at once, not after header_timeout_ms") {
    NamedServer server("s");
    REQUIRE(server.port() != 0);
    // A long timeout: closing near it would mean the FIN went unnoticed.
    RunningLbd lbd(single_pool_config(server_entry("s", server.port()), accept_proxy_listener(20000)));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    for (const std::string& cut : {std::string("PROXY TCP4 192.0.2.7 198.51"),
                                   proxy_v2_tcp4("192.0.2.7", 4242, "198.51.100.1", 443).substr(0, 20)}) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        uint16_t client_port = local_port(client.get());
        uint64_t start = monotonic_ms();
        REQUIRE(send_all(client.get(), cut, kIoTimeoutMs));
        ::shutdown(client.get(), SHUT_WR);
        RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
        CHECK(std::string(to_string(r.end)) != "timeout");
        CHECK(monotonic_ms() - start < 2000);

        std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
        REQUIRE(line);
        CHECK(field(*line, "end") == "proxy_header_invalid");
    }
    CHECK(server.accepted() == 0);
}

TEST_CASE("accept_proxy: a connection from outside trusted_sources is closed, even with a valid header") {
    NamedServer server("s");
    REQUIRE(server.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("s", server.port()), accept_proxy_listener(300, "10.0.0.0/8")));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    // The send may fail if lbd has already reset the connection: either way it must not pass.
    send_all(client.get(), proxy_v2_tcp4("192.0.2.7", 4242, "198.51.100.1", 443), kIoTimeoutMs);
    RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(r.data.empty());

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "end") == "untrusted_source");
    CHECK(server.accepted() == 0);
}

}  // namespace
}  // namespace lbd::test
