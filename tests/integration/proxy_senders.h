// PROXY protocol senders shared by the L4 and L7 scenario tests: hand-made v2 headers and a real
// HAProxy in TCP mode with send-proxy / send-proxy-v2 in front of lbd; and the start of a real
// nginx (as a PROXY-reading server or a plain backend) on a free port.
#pragma once

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/scenario.h"

namespace lbd::test {

constexpr const char* kHaproxy = "/usr/sbin/haproxy";
constexpr const char* kNginx = "/usr/sbin/nginx";

// Section 2.2 of the PROXY protocol spec: the 12-byte v2 signature.
const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kV2Inet4Length = 16 + 12;  // fixed part + TCP4 address block

inline bool executable(const char* path) { return ::access(path, X_OK) == 0; }

// A v2 PROXY/TCP4 header, built by hand (independently of lbd's codec) for a client claiming to
// be src -> dst.
inline std::string proxy_v2_tcp4(const char* src_ip, uint16_t src_port, const char* dst_ip, uint16_t dst_port) {
    std::string h = kV2Signature;
    h += '\x21';  // version 2, command PROXY
    h += '\x11';  // AF_INET, STREAM
    h += std::string("\x00\x0c", 2);  // 12 bytes of addresses follow
    in_addr src{}, dst{};
    ::inet_pton(AF_INET, src_ip, &src);
    ::inet_pton(AF_INET, dst_ip, &dst);
    h.append(reinterpret_cast<const char*>(&src), 4);  // already network order
    h.append(reinterpret_cast<const char*>(&dst), 4);
    uint16_t sp = htons(src_port), dp = htons(dst_port);
    h.append(reinterpret_cast<const char*>(&sp), 2);
    h.append(reinterpret_cast<const char*>(&dp), 2);
    return h;
}

// nginx or haproxy, running, with the port it listens on.
struct ExternalServer {
    uint16_t port = 0;
    std::unique_ptr<ChildProcess> process;
    explicit operator bool() const { return process != nullptr; }
};

// pick_free_port() is racy: between our close and the program's bind another process may take the
// port. `start` returns an empty ExternalServer when the program did not come up; one retry with a
// fresh port makes a collision (already unlikely) practically impossible.
template <typename Start>
ExternalServer start_on_free_port(Start start) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (ExternalServer server = start(pick_free_port())) return server;
    }
    return {};
}

// nginx in the foreground with one worker; `rest(port)` is its configuration after the pid and
// error_log lines (events, http, ...), for the port it gets. Ready once the master logs "start
// worker process" (the listening sockets are open by then); a failed bind ends the output instead,
// which ends the wait.
template <typename Rest>
ExternalServer start_nginx_with(const TempDir& dir, Rest rest) {
    return start_on_free_port([&](uint16_t port) {
        const std::string& d = dir.path();
        std::string conf = dir.write_file("nginx.conf", "worker_processes 1;\n"
                                                        "pid " + d + "/nginx.pid;\n"
                                                        "error_log stderr notice;\n" + rest(port));
        auto process = std::make_unique<ChildProcess>(std::vector<std::string>{
            kNginx, "-p", d + "/", "-c", conf, "-e", d + "/error.log", "-g", "daemon off;"});
        if (!process->await_line("start worker process", 10000)) return ExternalServer{};
        return ExternalServer{port, std::move(process)};
    });
}

// haproxy in TCP mode forwarding to lbd with a PROXY header (`send_proxy` is "send-proxy" or
// "send-proxy-v2"). -W (master-worker) makes the master print "Loading success." once the worker
// is up with its sockets bound; a failed bind makes haproxy exit, which ends the wait.
inline ExternalServer start_haproxy(const TempDir& dir, uint16_t lbd_port, const std::string& send_proxy) {
    return start_on_free_port([&](uint16_t port) {
        std::string cfg = dir.write_file("haproxy.cfg",
                                         "defaults\n"
                                         "  mode tcp\n"
                                         "  timeout connect 2s\n"
                                         "  timeout client 10s\n"
                                         "  timeout server 10s\n"
                                         "frontend fe\n"
                                         "  bind 127.0.0.1:" + std::to_string(port) + "\n"
                                         "  default_backend be\n"
                                         "backend be\n"
                                         "  server lbd 127.0.0.1:" + std::to_string(lbd_port) + " " + send_proxy + "\n");
        auto process =
            std::make_unique<ChildProcess>(std::vector<std::string>{kHaproxy, "-W", "-db", "-f", cfg});
        if (!process->await_line("Loading success.", 10000)) return ExternalServer{};
        return ExternalServer{port, std::move(process)};
    });
}

}  // namespace lbd::test
