// The admin plane under abuse (issue 16, findings 1 and 3), against the real lbd: the HTTP
// listener's size limits, request deadline, connection cap and accept back-off, and the admin
// socket's frame limit, connection cap and idle timeout. Descriptor exhaustion is made exact by
// lowering lbd's RLIMIT_NOFILE with prlimit(2) to just above the descriptors it holds.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/integration/fd_limits.h"
#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

// lbd with the admin HTTP listener on an ephemeral port, in front of an echo server.
struct HttpLbd {
    EchoServer echo;
    RunningLbd lbd{single_pool_config(server_entry("s", echo.port()), "",
                                      "workers: 1 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" }")};
    uint16_t port = lbd.ok() ? admin_port(lbd) : 0;
    bool ok() const { return lbd.ok() && port != 0; }
};

// Sends `bytes` (lbd may cut the connection meanwhile: the send may fail) and reads to EOF.
RecvResult send_then_read(uint16_t port, const std::string& bytes, int timeout_ms) {
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    if (!fd) return {};
    send_all(fd.get(), bytes, kIoTimeoutMs);
    return recv_until_eof(fd.get(), timeout_ms);
}

bool metrics_answer(uint16_t port) {
    RecvResult r = send_then_read(port, "GET /metrics HTTP/1.0\r\n\r\n", kIoTimeoutMs);
    return r.data.find("lbd_process_open_fds") != std::string::npos;
}

}  // namespace

TEST_CASE("admin http: a POST announcing a 1 GB body is refused, not buffered") {
    HttpLbd h;
    RunningLbd& lbd = h.lbd;
    INFO(lbd->log());
    REQUIRE(h.ok());
    uint16_t port = h.port;
    std::string request = "POST /api/servers/p/s/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n";
    RecvResult r = send_then_read(port, request + std::string(256 * 1024, 'x'), kIoTimeoutMs);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(r.data.find("200 OK") == std::string::npos);
    CHECK(metrics_answer(port));
}

TEST_CASE("admin http: a header line that never ends is cut off at the header limit") {
    HttpLbd h;
    RunningLbd& lbd = h.lbd;
    INFO(lbd->log());
    REQUIRE(h.ok());
    uint16_t port = h.port;
    RecvResult r = send_then_read(port, "GET /metrics HTTP/1.1\r\nX-Long: " + std::string(256 * 1024, 'a'),
                                  kIoTimeoutMs);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(metrics_answer(port));
}

TEST_CASE("admin http: a connection that sends half a request line is closed at the request deadline") {
    HttpLbd h;
    RunningLbd& lbd = h.lbd;
    INFO(lbd->log());
    REQUIRE(h.ok());
    uint16_t port = h.port;
    uint64_t start = monotonic_ms();
    RecvResult r = send_then_read(port, "GET /metr", 9000);
    uint64_t waited = monotonic_ms() - start;
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(waited >= 4500);  // the 5 s deadline, not earlier
}

TEST_CASE("admin http: idle connections cannot take the descriptors L4 clients need") {
    HttpLbd h;
    RunningLbd& lbd = h.lbd;
    INFO(lbd->log());
    REQUIRE(h.ok());
    uint16_t port = h.port;
    // Room for the 32 admin connections lbd allows and a few L4 connections (2 fds each), above
    // the quarter of the limit that lbd keeps from clients (core/net/local_errors.h); 100 admin
    // connections would take all of it if nothing capped them.
    int base = lowest_free_fd(lbd->pid());
    int limit = (base + 32 + 10) * 4 / 3 + 2;
    REQUIRE(limit - base < 100);
    REQUIRE(set_nofile(lbd->pid(), static_cast<rlim_t>(limit)));
    std::vector<UniqueFd> intruders;
    for (int i = 0; i < 100; ++i) {
        UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
        REQUIRE(fd);
        REQUIRE(send_all(fd.get(), "GET /metr", kIoTimeoutMs));
        intruders.push_back(std::move(fd));
    }
    for (int i = 0; i < 3; ++i) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        CHECK(echoes(client.get(), "hello " + std::to_string(i)));
    }
    intruders.clear();
    // The cap frees up as the intruders go: a scrape is answered again.
    CHECK(metrics_answer(port));
}

TEST_CASE("admin http: out of descriptors, accept pauses with one log line instead of spinning") {
    HttpLbd h;
    RunningLbd& lbd = h.lbd;
    INFO(lbd->log());
    REQUIRE(h.ok());
    uint16_t port = h.port;
    rlimit old{};
    REQUIRE(prlimit(lbd->pid(), RLIMIT_NOFILE, nullptr, &old) == 0);
    REQUIRE(set_nofile(lbd->pid(), static_cast<rlim_t>(lowest_free_fd(lbd->pid()))));
    UniqueFd scrape = connect_tcp(port, kIoTimeoutMs);  // the kernel completes it; lbd cannot accept it
    REQUIRE(scrape);
    REQUIRE(send_all(scrape.get(), "GET /metrics HTTP/1.0\r\n\r\n", kIoTimeoutMs));
    REQUIRE(lbd->wait_for_line("admin http: accept: Too many open files; pausing", kIoTimeoutMs));
    // A spinning accept logs thousands of lines a second; a pausing one at most one in 10 s.
    size_t lines = lbd->line_count();
    RecvResult none = recv_until_eof(scrape.get(), 1000);
    CHECK(std::string(to_string(none.end)) == "timeout");
    CHECK(lbd->line_count() - lines <= 1);
    CHECK(lbd->count("Error from accept") == 0);
    // Descriptors back: the waiting scrape is answered.
    REQUIRE(set_nofile(lbd->pid(), old.rlim_cur));
    RecvResult r = recv_until_eof(scrape.get(), kIoTimeoutMs);
    CHECK(r.data.find("lbd_process_open_fds") != std::string::npos);
}

// ---- the admin Unix socket ----

namespace {

// lbd with an admin socket in a fresh directory.
struct SocketLbd {
    EchoServer echo;
    TempDir dir;
    std::string path = dir.path() + "/admin.sock";
    RunningLbd lbd{single_pool_config(server_entry("s", echo.port()), "",
                                      "workers: 1 drain_timeout_ms: 2000 admin { socket_path: \"" + path + "\" }")};

    UniqueFd connect() const {
        UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path.copy(addr.sun_path, sizeof addr.sun_path - 1);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
        return fd;
    }
};

// A `status` AdminRequest, framed: length 2, then field 1 (status) as an empty message.
const std::string kStatusFrame("\x02\x0a\x00", 3);

}  // namespace

TEST_CASE("admin socket: a frame announcing more than 64 KiB is refused at once") {
    SocketLbd s;
    INFO(s.lbd->log());
    REQUIRE(s.lbd.ok());
    UniqueFd fd = s.connect();
    REQUIRE(fd);
    // Length 1 MiB as a varint (0x80 0x80 0x40), then a little of the promised body.
    REQUIRE(send_all(fd.get(), std::string("\x80\x80\x40", 3) + std::string(4096, 'x'), kIoTimeoutMs));
    RecvResult r = recv_until_eof(fd.get(), kIoTimeoutMs);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(s.lbd->wait_for_line("admin: closing a connection: bad or oversized frame length", kIoTimeoutMs));
}

TEST_CASE("admin socket: at most 16 connections at once; the next one is served when one closes") {
    SocketLbd s;
    INFO(s.lbd->log());
    REQUIRE(s.lbd.ok());
    std::vector<UniqueFd> idle;
    for (int i = 0; i < 16; ++i) idle.push_back(s.connect());
    for (const UniqueFd& fd : idle) REQUIRE(fd);
    UniqueFd next = s.connect();  // queued by the kernel (backlog), not accepted by lbd
    REQUIRE(next);
    REQUIRE(send_all(next.get(), kStatusFrame, kIoTimeoutMs));
    CHECK(!recv_exact(next.get(), 1, 500).has_value());
    idle.pop_back();
    CHECK(recv_exact(next.get(), 1, kIoTimeoutMs).has_value());
}

TEST_CASE("admin socket: a silent connection is closed after the idle timeout") {
    SocketLbd s;
    INFO(s.lbd->log());
    REQUIRE(s.lbd.ok());
    UniqueFd fd = s.connect();
    REQUIRE(fd);
    uint64_t start = monotonic_ms();
    RecvResult r = recv_until_eof(fd.get(), 14000);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(monotonic_ms() - start >= 9500);  // the 10 s idle timeout, not earlier
}

}  // namespace lbd::test
