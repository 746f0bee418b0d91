// L7 scenarios about streams: a 2 GB upload with lbd's memory flat, Expect: 100-continue,
// a WebSocket echo through an upgraded connection, draining keep-alive connections on SIGTERM,
// a slow download and an upload to a server that reads nothing costing lbd next to no CPU, long
// bodies spliced from socket to socket (whole, or cut when the server is), and a wrk run for a
// sanity figure (printed, not asserted).
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "tests/integration/l7_scenario.h"
#include "tests/support/backends.h"

namespace lbd::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps freed memory in a quarantine (256 MB by default) to catch use-after-free, so the
// buffers an upload cycles through would show as RSS growth. A small quarantine keeps the check
// meaningful in the sanitizer build; set in lbd's environment only (it inherits ours).
class SmallAsanQuarantine {
public:
    SmallAsanQuarantine() {
        const char* old = std::getenv("ASAN_OPTIONS");
        saved_ = old != nullptr ? std::optional<std::string>(old) : std::nullopt;
        std::string options = saved_.value_or("");
        setenv("ASAN_OPTIONS", (options + (options.empty() ? "" : ":") + "quarantine_size_mb=16").c_str(), 1);
    }
    ~SmallAsanQuarantine() {
        if (saved_) setenv("ASAN_OPTIONS", saved_->c_str(), 1);
        else unsetenv("ASAN_OPTIONS");
    }

private:
    std::optional<std::string> saved_;
};
#else
struct SmallAsanQuarantine {};
#endif

TEST_CASE("a 2 GB upload streams through with lbd's memory flat") {
    HttpBackend a("a");
    std::optional<SmallAsanQuarantine> quarantine;
    quarantine.emplace();
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    quarantine.reset();
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const int pid = lbd->pid();
    const size_t before_kib = rss_kib(pid);
    REQUIRE(before_kib > 0);

    // Past 2^31: no 32-bit length or counter anywhere on the way.
    constexpr size_t kTotal = (size_t{2} << 30) + 12345;
    const std::string chunk = random_payload(size_t{1} << 20, 7);
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(fd);
    REQUIRE(send_all(fd.get(), "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kTotal) + "\r\n\r\n",
                     kIoTimeoutMs));
    size_t peak_kib = before_kib;
    for (size_t sent = 0; sent < kTotal;) {
        const size_t n = std::min(chunk.size(), kTotal - sent);
        REQUIRE(send_all(fd.get(), std::string_view(chunk).substr(0, n), 10000));
        sent += n;
        if ((sent >> 20) % 64 == 0) peak_kib = std::max(peak_kib, rss_kib(pid));
    }
    auto reply = read_http_reply(fd.get(), 20000);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(has(reply->body, "body_bytes=" + std::to_string(kTotal) + "\n"));
    peak_kib = std::max(peak_kib, rss_kib(pid));
    MESSAGE("lbd RSS before " << before_kib / 1024 << " MiB, peak during the upload " << peak_kib / 1024 << " MiB");
    CHECK(peak_kib - before_kib < 64 * 1024);
    auto line = lbd->await_line(http_line_for("/upload"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(std::stoull(field(*line, "in")) > kTotal);
}

TEST_CASE("Expect: 100-continue is forwarded and the server's 100 relayed") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), "POST /form HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
                     kIoTimeoutMs));
    auto interim = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(send_all(fd.get(), "hello", kIoTimeoutMs));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(has(reply->body, "Expect: 100-continue\r\n"));
    CHECK(has(reply->body, "body_bytes=5\n"));

    // curl does the same dance for a 2 MB upload (it waits 1 s for the 100 otherwise).
    TempDir dir;
    std::string path = dir.write_file("blob", random_payload(2 << 20, 3));
    CurlRun run = curl({"-T", path, "-w", "\n%{http_code} %{time_total}\n", url(lbd.port(), "/put")});
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(has(run.output, "body_bytes=2097152\n"));
    CHECK(has(run.output, "\n200 "));
}

TEST_CASE("WebSocket: the 101 turns the connection into a tunnel both ways") {
    HttpBackend a("a");
    // The 101's head is rewritten like any response's (hide_server_headers, header actions).
    RunningLbd lbd(http_config(http_pool("web", {&a}),
                               "    hide_server_headers: true\n"
                               "    response_headers { set { name: \"X-Frame-Options\" value: \"DENY\" } }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    std::optional<std::string> upgraded = websocket_upgrade(fd.get());
    REQUIRE(upgraded);
    const std::string& head = *upgraded;
    INFO(head);
    CHECK(head.rfind("HTTP/1.1 101 ", 0) == 0);
    CHECK(has(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));  // RFC 6455's example
    CHECK(has(head, "Upgrade: websocket\r\n"));
    CHECK(has(head, "X-Frame-Options: DENY\r\n"));
    CHECK_FALSE(has(head, "Server:"));
    CHECK_FALSE(has(head, "X-Powered-By:"));
    for (const std::string text : {"hello", "through lbd"}) {
        REQUIRE(send_all(fd.get(), masked_text_frame(text), kIoTimeoutMs));
        auto echoed = recv_exact(fd.get(), 2 + text.size(), kIoTimeoutMs);
        REQUIRE(echoed);
        CHECK(static_cast<uint8_t>((*echoed)[0]) == 0x81);
        CHECK(static_cast<uint8_t>((*echoed)[1]) == text.size());
        CHECK(echoed->substr(2) == text);
    }
    REQUIRE(send_all(fd.get(), std::string("\x88\x80\x01\x02\x03\x04", 6), kIoTimeoutMs));  // close
    RecvResult rest = recv_until_eof(fd.get(), kIoTimeoutMs);
    CHECK(rest.end == StreamEnd::kEof);  // the server closed; its FIN came through
    REQUIRE(shutdown_write(fd.get()));   // our FIN ends the tunnel
    auto line = lbd->await_line(http_line_for("/ws"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "status") == "101");
    CHECK(field(*line, "term") == "tunnel");
}

// RFC 9113 §3.1 deprecates the h2c upgrade; passed on, a server's 101 would
// make the connection a tunnel of requests lbd never routes ("h2c smuggling").
TEST_CASE("Upgrade: h2c is not passed on: the request goes as a plain one") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    for (const std::string upgrade : {"h2c", "H2C", "websocket, h2c"}) {
        INFO(upgrade);
        auto reply = http_request(lbd.port(),
                                  "GET /smuggle HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                  "Upgrade: " + upgrade + "\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                                  kIoTimeoutMs);
        REQUIRE(reply);
        CHECK(reply->status == 200);
        CHECK(!has(reply->body, "h2c"));
        CHECK(!has(reply->body, "HTTP2-Settings"));
        // Another protocol in the list is still offered.
        CHECK(has(reply->body, "Upgrade: websocket") == has(upgrade, "websocket"));
    }
}

TEST_CASE("SIGTERM closes idle keep-alive connections at once and lbd exits") {
    HttpBackend a("a");
    LbdProcess lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd.log());
    REQUIRE(lbd.wait_ready());
    uint16_t port = lbd.listener_port("front");
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), get_request("/"), kIoTimeoutMs));
    REQUIRE(read_http_reply(fd.get(), kIoTimeoutMs));
    Deadline deadline(10000);
    REQUIRE(lbd.send_signal(SIGTERM));
    CHECK(lbd.wait_exit(1500) == 0);  // well before drain_timeout_ms (2000)
    RecvResult rest = recv_until_eof(fd.get(), kIoTimeoutMs);
    CHECK(rest.end != StreamEnd::kTimeout);
}

// The CPU time (user + system) process `pid` has used so far, in ms.
long cpu_ms(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string field;
    long ticks = 0;
    for (int i = 1; i <= 15 && stat >> field; ++i)
        if (i >= 14) ticks += std::stol(field);  // utime, stime (the name has no space here)
    return ticks * 1000 / sysconf(_SC_CLK_TCK);
}

TEST_CASE("a slow client's download costs lbd next to no CPU while it waits on the client") {
    // 24 MiB read at 8 MB/s: once the kernel's socket buffers are full (~10 MiB between lbd and
    // curl), lbd's input from the server stays at its high water. libevent re-runs the read
    // callback of a bufferevent left at its high watermark with reading enabled, so unless the
    // server's reads are turned off meanwhile lbd's worker spins (a whole core for the rest of
    // the download: ~1,500 ms of CPU).
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const long before = cpu_ms(lbd->pid());
    CurlRun run = curl({"--limit-rate", "8M", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                        url(lbd.port(), "/bytes/25165824")},
                       30000);
    const long used = cpu_ms(lbd->pid()) - before;
    CHECK(has(run.output, "200 25165824"));
    CHECK_MESSAGE(used < 400, used);
}

TEST_CASE("an upload to a server that reads nothing costs lbd next to no CPU while it waits") {
    // The server listens and never accepts: the kernel takes a few MiB of the request, then lbd's
    // output to it stays full and the client's input at its high water. Unless the client's reads
    // are turned off meanwhile, libevent re-runs the read callback and the worker spins (as for a
    // slow download, above) for as long as curl keeps trying (3 s).
    UniqueFd silent = listen_tcp();
    REQUIRE(silent);
    const std::string pool = "pools {\n  name: \"web\"\n  connect_timeout_ms: 1000\n" +
                             server_entry("silent", local_port(silent.get())) + "}\n";
    RunningLbd lbd(http_config(pool, ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    TempDir dir;
    dir.write_file("up.bin", std::string(24u << 20, 'u'));
    const long before = cpu_ms(lbd->pid());
    CurlRun run = curl({"-o", "/dev/null", "--data-binary", "@" + dir.path() + "/up.bin", url(lbd.port(), "/up")},
                       3000);
    const long used = cpu_ms(lbd->pid()) - before;
    CHECK(run.exit_code == 28);  // curl's timeout: the server never answers
    CHECK_MESSAGE(used < 400, used);
}

// What process `pid` has passed through read(2)/write(2)-like calls so far (/proc/PID/io rchar +
// wchar): splice(2) adds nothing there, a copied body adds its size twice.
uint64_t copied_bytes(int pid) {
    std::ifstream io("/proc/" + std::to_string(pid) + "/io");
    std::string key;
    uint64_t value = 0, sum = 0;
    while (io >> key >> value)
        if (key == "rchar:" || key == "wchar:") sum += value;
    return sum;
}

TEST_CASE("a long body goes from socket to socket by splice, byte for byte") {
    HttpBackend a("a");
    const std::string body = random_payload(size_t{3} << 20, 17);
    a.answer("/long", 200, body);
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    TempDir dir;
    // Twice: the pipe is made anew for each body.
    for (int i = 0; i < 2; ++i) {
        const uint64_t before = copied_bytes(lbd->pid());
        CurlRun run = curl({"-o", dir.path() + "/out", "-w", "%{http_code} %{size_download}", url(lbd.port(), "/long")});
        const uint64_t copied = copied_bytes(lbd->pid()) - before;
        CHECK(has(run.output, "200 " + std::to_string(body.size())));
        CHECK(fnv1a64(dir.read_file("out")) == fnv1a64(body));
        // Copied, the body would count 6 MiB here; spliced, only the head and the first read.
        CHECK_MESSAGE(copied < body.size() / 4, copied);
    }
}

TEST_CASE("a long body the server cuts short is cut for the client too, not ended") {
    // The head promises 1 MiB; 400 KiB come, then the server's FIN, while lbd splices.
    constexpr size_t kSent = 400 * 1024;
    auto payload = std::make_shared<const std::string>("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" +
                                                       std::string(kSent, 'c'));
    SourceServer cut(payload);
    const std::string pool = "pools {\n  name: \"web\"\n" + server_entry("cut", cut.port()) + "}\n";
    RunningLbd lbd(http_config(pool, ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(fd);
    REQUIRE(send_all(fd.get(), "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n", kIoTimeoutMs));
    RecvResult got = recv_until_eof(fd.get(), kIoTimeoutMs, size_t{2} << 20);
    // A reset, so the short body does not look complete; it drops what lbd had not sent yet, so
    // the client may get less than the server sent, never more.
    CHECK(got.end == StreamEnd::kReset);
    const size_t head_end = got.data.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(got.data.size() - head_end - 4 <= kSent);
    auto line = lbd->await_line(http_line_for("/cut"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "server_abort");
}

TEST_CASE("wrk through lbd (a sanity figure, not a benchmark)") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    ChildProcess wrk({"/usr/bin/wrk", "-t1", "-c8", "-d2s", url(lbd.port(), "/")});
    auto code = wrk.wait_exit(15000);
    wrk.await_output_end(kIoTimeoutMs);
    MESSAGE("wrk:\n" << wrk.output());
    CHECK(code == 0);
    CHECK(has(wrk.output(), "Requests/sec"));
}

}  // namespace
}  // namespace lbd::test
