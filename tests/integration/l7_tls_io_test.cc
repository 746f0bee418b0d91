// The I/O of TLS client connections (l7/tls_stream.h), end to end through the real lbd: what its
// own reads and writes must get right beyond the handshake. Large bodies both ways on one
// keep-alive connection, byte-exact; pipelined requests in one record; a request that arrives
// in the same packet as the client's Finished; TLS 1.3 tickets sent before the request; a client
// that stops reading (back-pressure, RSS flat); close_notify when the keep-alive timeout closes,
// so the session resumes; a WebSocket tunnel over TLS. The client is OpenSSL over memory BIOs, so
// the test decides which bytes go out in which send().
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/l7_tls_scenario.h"

namespace lbd::test {
namespace {

// The wait for the next bytes of a response: longer than the suite's kIoTimeoutMs, since an
// 8 MiB upload and its echo through TLS on a loaded CI machine took over 3 s between reads;
// only a failing run waits it out.
constexpr int kTlsIoTimeoutMs = 15000;

// A blocking-with-deadlines TLS client on 127.0.0.1:port. Every record goes through memory BIOs:
// flush() sends what OpenSSL wrote so far in one send().
class TlsTestClient {
public:
    explicit TlsTestClient(uint16_t port, SSL_SESSION* resume = nullptr)
        : ctx_(SSL_CTX_new(TLS_client_method())), fd_(connect_tcp(port, kIoTimeoutMs)) {
        REQUIRE(ctx_);
        REQUIRE(fd_);
        SSL_CTX_load_verify_locations(ctx_.get(), pem("ca").c_str(), nullptr);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        ssl_.reset(SSL_new(ctx_.get()));
        REQUIRE(ssl_);
        SSL_set_tlsext_host_name(ssl_.get(), "a.example.test");
        SSL_set1_host(ssl_.get(), "a.example.test");
        if (resume != nullptr) SSL_set_session(ssl_.get(), resume);
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl_.get(), in_, out_);
        SSL_set_connect_state(ssl_.get());
    }

    // Runs the handshake; with `hold_finished`, the client's last flight stays unsent (the next
    // flush() sends it with whatever was written after it).
    bool handshake(bool hold_finished = false) {
        for (;;) {
            ERR_clear_error();
            int r = SSL_do_handshake(ssl_.get());
            if (r == 1) return hold_finished || flush();
            if (SSL_get_error(ssl_.get(), r) != SSL_ERROR_WANT_READ || !flush() || !receive()) return false;
        }
    }

    // Queues plaintext (as records) without sending it.
    bool write(const std::string& data) {
        ERR_clear_error();
        return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
    }
    bool send(const std::string& data) { return write(data) && flush(); }

    // Everything OpenSSL wrote, in one send() (a loop only if the socket is full).
    bool flush() {
        char* data = nullptr;
        long len = BIO_get_mem_data(out_, &data);
        std::string bytes(data, static_cast<size_t>(std::max(len, 0L)));
        (void)BIO_reset(out_);
        return send_all(fd_.get(), bytes);
    }

    // Up to `max` plaintext bytes; empty at the end of the stream (or the deadline).
    std::string read(size_t max = 64 * 1024) {
        std::string buf(max, '\0');
        for (;;) {
            ERR_clear_error();
            int r = SSL_read(ssl_.get(), buf.data(), static_cast<int>(max));
            if (r > 0) return buf.substr(0, static_cast<size_t>(r));
            if (SSL_get_error(ssl_.get(), r) != SSL_ERROR_WANT_READ || !flush() || !receive()) return {};
        }
    }

    // One response: the head and exactly Content-Length body bytes (read on from `pending_`).
    std::optional<HttpReply> response() {
        while (pending_.find("\r\n\r\n") == std::string::npos) {
            std::string more = read();
            if (more.empty()) return std::nullopt;
            pending_ += more;
        }
        HttpReply reply;
        size_t end = pending_.find("\r\n\r\n") + 4;
        reply.head = pending_.substr(0, end);
        reply.status = std::stoi(reply.head.substr(9, 3));
        const std::string length = reply.header("Content-Length");
        const size_t want = length.empty() ? 0 : std::stoul(length);
        pending_.erase(0, end);
        while (pending_.size() < want) {
            std::string more = read();
            if (more.empty()) return std::nullopt;
            pending_ += more;
        }
        reply.body = pending_.substr(0, want);
        pending_.erase(0, want);
        return reply;
    }

    // Waits for the server's close; true if it sent close_notify first.
    bool closed_cleanly() {
        while (!read().empty()) {
        }
        return (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) != 0;
    }

    // What the server sends after the handshake on its own (TLS 1.3: its session tickets), handed
    // to OpenSSL without the client sending anything; false if nothing came by the deadline.
    bool receive_unprompted() {
        if (!receive()) return false;
        char byte;
        ERR_clear_error();
        const int r = SSL_read(ssl_.get(), &byte, 1);  // processes the tickets; no application data yet
        return r <= 0 && SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_READ;
    }

    SSL* ssl() { return ssl_.get(); }
    int fd() const { return fd_.get(); }

private:
    // One recv() of ciphertext into OpenSSL's input; false at EOF or the deadline.
    bool receive() {
        pollfd p{fd_.get(), POLLIN, 0};
        if (poll(&p, 1, kTlsIoTimeoutMs) != 1) return false;
        char buf[64 * 1024];
        ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
        if (n <= 0) return false;
        BIO_write(in_, buf, static_cast<int>(n));
        return true;
    }

    static bool send_all(int fd, const std::string& bytes) {
        size_t done = 0;
        while (done < bytes.size()) {
            ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (n <= 0) return false;
            done += static_cast<size_t>(n);
        }
        return true;
    }

    l7::SslCtxPtr ctx_;
    UniqueFd fd_;
    l7::SslPtr ssl_;
    BIO* in_ = nullptr;   // owned by ssl_
    BIO* out_ = nullptr;  // owned by ssl_
    std::string pending_;
};

std::string upload_request(const std::string& path, size_t size) {
    return "POST " + path + " HTTP/1.1\r\nHost: a.example.test\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
}

// Backend "a" behind lbd's HTTPS listener ("front"; `extra` goes into the listener).
struct Front {
    explicit Front(const std::string& extra = "") : lbd(tls_config(a, sni_tls() + extra)) {}
    HttpBackend a{"a"};
    RunningLbd lbd;
};

// A client that has finished its handshake with `front`.
std::unique_ptr<TlsTestClient> connected(Front& front) {
    REQUIRE(front.lbd.ok());
    auto client = std::make_unique<TlsTestClient>(front.lbd.port());
    REQUIRE(client->handshake());
    return client;
}

TEST_CASE("one TLS keep-alive connection: 3 MiB down, 8 MiB up, 3 MiB down again, every byte") {
    Front front;
    INFO(front.lbd->log());
    auto connection = connected(front);
    TlsTestClient& client = *connection;
    RunningLbd& lbd = front.lbd;

    const size_t down = 3 * 1024 * 1024 + 17;  // not a multiple of a record
    REQUIRE(client.send(get_request("/bytes/" + std::to_string(down), "a.example.test")));
    auto first = client.response();
    REQUIRE(first);
    CHECK(first->status == 200);
    CHECK(first->body.size() == down);
    CHECK(std::count(first->body.begin(), first->body.end(), 'x') == static_cast<long>(down));

    // The upload in pieces of odd sizes, each its own record(s) and send().
    const size_t up = 8 * 1024 * 1024 + 5;
    REQUIRE(client.send(upload_request("/upload", up)));
    std::string piece(100 * 1000 + 3, 'u');
    for (size_t sent = 0; sent < up; sent += piece.size()) {
        if (up - sent < piece.size()) piece.resize(up - sent);
        REQUIRE(client.send(piece));
    }
    auto second = client.response();
    REQUIRE(second);
    CHECK(second->status == 200);
    CHECK(has(second->body, "body_bytes=" + std::to_string(up) + "\n"));

    REQUIRE(client.send(get_request("/bytes/" + std::to_string(down), "a.example.test")));
    auto third = client.response();
    REQUIRE(third);
    CHECK(third->body == first->body);
    // One client connection: one client port in the three log lines.
    REQUIRE(lbd->await_count(" tls=TLSv1.3 ", 3, kIoTimeoutMs));
    std::string port;
    for (const std::string& line : lbd->lines()) {
        if (!has(line, " tls=TLSv1.3 ")) continue;
        if (port.empty()) port = field(line, "client");
        CHECK(field(line, "client") == port);
    }
}

TEST_CASE("the first request in the same send() as the client's Finished, and two more pipelined behind it") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        TlsTestClient client(lbd.port());
        SSL_set_max_proto_version(client.ssl(), version);
        REQUIRE(client.handshake(/*hold_finished=*/true));
        // Finished + three requests, in one TCP segment.
        REQUIRE(client.write(get_request("/p1", "a.example.test") + get_request("/p2", "a.example.test") +
                             get_request("/p3", "a.example.test")));
        REQUIRE(client.flush());
        for (const char* path : {"/p1", "/p2", "/p3"}) {
            auto reply = client.response();
            REQUIRE(reply);
            CHECK(reply->status == 200);
            CHECK(has(reply->body, std::string("GET ") + path + " HTTP/1.1"));
        }
    }
}

// A client that leaves Nagle's algorithm on (Python's ssl module does) sends its Finished, then its
// request; if lbd sent nothing in between, the kernel delays its ACK of the Finished (about 40 ms)
// and Nagle holds the request until then. lbd once held the TLS 1.3 tickets back for the first
// response and such clients took 60-80 ms per connection (bench/l7.sh's TLS idle row); wrk and curl
// set TCP_NODELAY and did not show it. So the tickets go out with the handshake's end: they arrive
// before the client has sent a byte of its request, and the session they carry resumes.
TEST_CASE("TLS 1.3: the session tickets come as the handshake ends, before the client's request") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    TlsTestClient first(lbd.port());
    SSL_set_min_proto_version(first.ssl(), TLS1_3_VERSION);
    REQUIRE(first.handshake());
    REQUIRE(first.receive_unprompted());
    SSL_SESSION* session = SSL_get1_session(first.ssl());
    REQUIRE(session != nullptr);
    CHECK(SSL_SESSION_is_resumable(session) == 1);
    REQUIRE(first.send(get_request("/one", "a.example.test")));
    auto reply = first.response();
    REQUIRE(reply);
    CHECK(reply->status == 200);

    TlsTestClient again(lbd.port(), session);
    SSL_set_min_proto_version(again.ssl(), TLS1_3_VERSION);
    REQUIRE(again.handshake());
    SSL_SESSION_free(session);
    CHECK(SSL_session_reused(again.ssl()) == 1);
    CHECK(again.receive_unprompted());  // a resumed handshake gets its new ticket at once too
}

TEST_CASE("a TLS client that stops reading holds the response back; lbd's memory stays flat; then every byte") {
    Front front;
    INFO(front.lbd->log());
    auto connection = connected(front);
    TlsTestClient& client = *connection;
    RunningLbd& lbd = front.lbd;
    const size_t size = 64 * 1024 * 1024;
    const size_t before_kib = rss_kib(lbd->pid());
    REQUIRE(client.send(get_request("/bytes/" + std::to_string(size), "a.example.test")));
    // Read a little, then stop until the backend is stuck too: without back-pressure lbd would
    // buffer the 64 MiB the in-process backend writes as fast as it can.
    std::string head = client.read();
    REQUIRE(!head.empty());
    Deadline settle(1000);
    size_t peak_kib = 0;
    while (!settle.expired()) peak_kib = std::max(peak_kib, rss_kib(lbd->pid()));
    MESSAGE("lbd RSS before " << before_kib / 1024 << " MiB, while the client does not read " << peak_kib / 1024
                              << " MiB");
    CHECK(peak_kib < before_kib + 24 * 1024);
    // Then all of it, counted.
    size_t body = head.size() - (head.find("\r\n\r\n") + 4);
    while (body < size) {
        std::string more = client.read();
        if (more.empty()) break;
        CHECK(std::count(more.begin(), more.end(), 'x') == static_cast<long>(more.size()));
        body += more.size();
    }
    CHECK(body == size);
}

TEST_CASE("close_notify after Connection: close and on the keep-alive timeout: the session resumes (TLS 1.2, 1.3)") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls() + "  http { timeouts { client_keep_alive_ms: 300 } }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        for (const bool close : {false, true}) {
            CAPTURE(version);
            CAPTURE(close);
            TlsTestClient first(lbd.port());
            SSL_set_max_proto_version(first.ssl(), version);
            REQUIRE(first.handshake());
            // Closed by lbd after the response (the alert with its last record), or after 300 ms idle.
            REQUIRE(first.send(get_request("/one", "a.example.test", close ? "Connection: close\r\n" : "")));
            REQUIRE(first.response());
            CHECK(first.closed_cleanly());
            // The session (TLS 1.3: the ticket that came after the handshake) resumes.
            SSL_SESSION* session = SSL_get1_session(first.ssl());
            REQUIRE(session != nullptr);
            TlsTestClient again(lbd.port(), session);
            SSL_set_max_proto_version(again.ssl(), version);
            REQUIRE(again.handshake());
            REQUIRE(again.send(get_request("/two", "a.example.test")));
            auto reply = again.response();
            SSL_SESSION_free(session);
            REQUIRE(reply);
            CHECK(reply->status == 200);
            CHECK(SSL_session_reused(again.ssl()) == 1);
        }
    }
}

TEST_CASE("an idle TLS connection parks with its SSL, and its next requests go on over the same session") {
    Front front;
    INFO(front.lbd->log());
    const uint16_t admin = admin_port(front.lbd);
    REQUIRE(admin != 0);
    const std::string parked = "lbd_http_connections_parked{listener=\"front\"}";
    std::vector<std::unique_ptr<TlsTestClient>> clients;
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        clients.push_back(std::make_unique<TlsTestClient>(front.lbd.port()));
        TlsTestClient& client = *clients.back();
        SSL_set_max_proto_version(client.ssl(), version);
        REQUIRE(client.handshake());
        for (const char* path : {"/one", "/two", "/three"}) {
            CAPTURE(path);
            REQUIRE(client.send(get_request(path, "a.example.test")));
            auto reply = client.response();
            REQUIRE(reply);
            CHECK(has(reply->body, std::string("GET ") + path + " "));
            // Parked after each response: no session, no stream, the SSL without its buffers.
            CHECK(poll_until([&] { return metric(admin, parked) == static_cast<double>(clients.size()); }));
        }
        // A large body after parking: the record buffers come back as needed.
        REQUIRE(client.send(get_request("/bytes/200000", "a.example.test")));
        auto big = client.response();
        REQUIRE(big);
        CHECK(big->body == std::string(200000, 'x'));
    }
    // Both connections open; one handshake each.
    CHECK(metric(admin, "lbd_http_connections_active{listener=\"front\"}") == 2);
    CHECK(metric(admin, "lbd_http_tls_handshakes_total{listener=\"front\"}") == 2);
}

TEST_CASE("a WebSocket tunnel over TLS: frames echoed byte for byte, then the server's close reaches the client") {
    Front front;
    INFO(front.lbd->log());
    auto connection = connected(front);
    TlsTestClient& client = *connection;
    REQUIRE(client.send("GET /ws HTTP/1.1\r\nHost: a.example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
    auto reply = client.response();
    REQUIRE(reply);
    REQUIRE(reply->status == 101);
    // A masked text frame of 30000 bytes (two TLS records; a 16-bit payload length).
    std::string text(30000, 'w');
    for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
    const unsigned char mask[4] = {1, 2, 3, 4};
    std::string frame{static_cast<char>(0x81), static_cast<char>(0x80 | 126), static_cast<char>(text.size() >> 8),
                      static_cast<char>(text.size() & 0xff)};
    frame.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
    for (int round = 0; round < 3; ++round) {
        REQUIRE(client.send(frame));
        std::string echo;
        while (echo.size() < 4 + text.size()) {
            std::string more = client.read();
            REQUIRE(!more.empty());
            echo += more;
        }
        CHECK(echo.size() == 4 + text.size());
        CHECK(static_cast<unsigned char>(echo[0]) == 0x81);
        CHECK(echo.substr(4) == text);
    }
    // The backend goes away: lbd half-closes towards the client, which sees the end.
    front.a.stop();
    CHECK(client.read().empty());
}

}  // namespace
}  // namespace lbd::test
