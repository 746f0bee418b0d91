// Shared pieces of the L7 scenario tests: an HTTP config builder and curl.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/scenario.h"
#include "tests/support/http_backend.h"

namespace lbd::test {

// `pools { name: NAME servers {...} }` with one server per backend.
inline std::string http_pool(const std::string& name, const std::vector<const HttpBackend*>& backends,
                             const std::string& extra = "") {
    std::string out = "pools {\n  name: \"" + name + "\"\n  connect_timeout_ms: 1000\n" + extra;
    for (const HttpBackend* b : backends) out += server_entry(b->name(), b->port());
    return out + "}\n";
}

// An HTTP listener "front" on 127.0.0.1:0 with `http_body` in its http block.
inline std::string http_config(const std::string& pools, const std::string& http_body,
                               const std::string& listener_extra = "  pool: \"web\"\n") {
    return "global { workers: 2 drain_timeout_ms: 2000 }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n" +
           listener_extra + "  http {\n" + http_body + "  }\n}\n" + pools;
}

struct CurlRun {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};

inline CurlRun curl(const std::vector<std::string>& args, int timeout_ms = 10000) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", std::to_string(timeout_ms / 1000)};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess child(argv);
    CurlRun run;
    run.exit_code = child.wait_exit(timeout_ms + 2000).value_or(-1);
    child.await_output_end(kIoTimeoutMs);
    run.output = child.output();
    return run;
}

inline std::string url(uint16_t port, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port) + path;
}

inline bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The access-log line of the request for `path`.
inline LinePattern http_line_for(const std::string& path) { return LinePattern(" path=" + path + " "); }

// One sample of /metrics, e.g. `lbd_http_connections_parked{listener="front"}`; -1 if absent.
inline double metric(uint16_t admin, const std::string& sample) {
    auto reply = http_request(admin, get_request("/metrics", "127.0.0.1"), kIoTimeoutMs);
    if (!reply) return -1;
    size_t at = reply->body.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::stod(reply->body.substr(at + sample.size() + 2));
}

// A masked client frame (RFC 6455 §5.3).
inline std::string masked_text_frame(const std::string& text) {
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    std::string frame;
    frame += static_cast<char>(0x81);  // FIN + text
    frame += static_cast<char>(0x80 | text.size());
    frame.append(mask, 4);
    for (size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
    return frame;
}

// Asks for a WebSocket upgrade of /ws on `fd` (RFC 6455's example key) and reads the response head
// byte by byte, so no frame after it is taken; nullopt if it cannot be sent or does not end.
inline std::optional<std::string> websocket_upgrade(int fd) {
    if (!send_all(fd,
                  "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                  kIoTimeoutMs))
        return std::nullopt;
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
        auto byte = recv_exact(fd, 1, kIoTimeoutMs);
        if (!byte) return std::nullopt;
        head += *byte;
    }
    return head;
}

// Sends `request` on an open connection and reads one reply; nullopt on failure.
inline std::optional<HttpReply> request_on(int fd, const std::string& request) {
    if (!send_all(fd, request, kIoTimeoutMs)) return std::nullopt;
    return read_http_reply(fd, kIoTimeoutMs);
}

}  // namespace lbd::test
