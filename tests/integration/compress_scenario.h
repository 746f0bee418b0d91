// The compression scenario tests' shared parts: a Python origin (compress_origin.py) whose
// responses are described by their query, lbd in front of it with a compression block, a plain
// HTTP/1.1 fetch, and the skip counters. l7_compress_test.cc, l7_compress_governor_test.cc.
#pragma once

#include <string>

#include "tests/integration/l7_scenario.h"

#ifndef LBD_SOURCE_DIR
#error "LBD_SOURCE_DIR: the tests' CMake target defines it"
#endif

namespace lbd::test {

inline const std::string kScript = std::string(LBD_SOURCE_DIR) + "/tests/integration/compress_origin.py";
// Debian's python3 (python3-brotli and python3-zstandard are Debian packages), whatever else is first on PATH.
inline const std::string kPython = "/usr/bin/python3";

// The origin process, on its port.
class Origin {
public:
    Origin() : child_({kPython, kScript, "serve"}) {
        auto line = child_.await_line("port ", 10000);
        if (line) port_ = static_cast<uint16_t>(std::stoi(line->substr(line->find(' ') + 1)));
    }
    uint16_t port() const { return port_; }

private:
    ChildProcess child_;
    uint16_t port_ = 0;
};

inline std::string origin_pool(const Origin& origin) {
    // 10 s: 2,000 connects at once overflow the SYN queue, and a dropped SYN is resent after 1 s.
    return "pools {\n  name: \"web\"\n  connect_timeout_ms: 10000\n" + server_entry("o", origin.port()) + "}\n";
}

// lbd with `compression` as the listener's compression block (and `routes`).
inline std::string compress_config(const Origin& origin, const std::string& compression,
                                   const std::string& routes = "") {
    std::string config = http_config(origin_pool(origin), "    compression " + compression + "\n" + routes);
    // The admin HTTP listener on an ephemeral port, for /metrics.
    const std::string global = "global { workers: 2 drain_timeout_ms: 2000 }";
    return "global { workers: 2 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }" +
           config.substr(global.size());
}

// The origin, and lbd in front of it with `compression` (and `routes`) in its http block.
struct Compressing {
    explicit Compressing(const std::string& compression, const std::string& routes = "")
        : lbd(compress_config(origin, compression, routes)) {}
    bool ok() { return origin.port() != 0 && lbd.ok(); }
    Origin origin;
    RunningLbd lbd;
};

// Runs python3 compress_origin.py MODE ALG on `data`; its one line of output.
inline std::string python_tool(const std::string& mode, const std::string& algorithm, const std::string& data) {
    TempDir dir;
    const std::string path = dir.write_file("body", data);
    ChildProcess child({kPython, kScript, mode, algorithm, path});
    child.wait_exit(60000);
    child.await_output_end(kIoTimeoutMs);
    std::string out = child.output();
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

struct Fetched {
    HttpReply reply;
    bool ok = false;
};

inline Fetched fetch(uint16_t port, const std::string& target, const std::string& extra,
                     const std::string& method = "GET") {
    Fetched out;
    const std::string request = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    if (!fd || !send_all(fd.get(), request, kIoTimeoutMs)) return out;
    auto reply = read_http_reply(fd.get(), 30000, method == "HEAD");
    if (!reply) return out;
    out.reply = std::move(*reply);
    out.ok = true;
    return out;
}

inline double skipped(uint16_t admin, const std::string& cause, const std::string& listener = "front") {
    return metric(admin, "lbd_http_compression_skipped_total{listener=\"" + listener + "\",cause=\"" + cause + "\"}");
}

}  // namespace lbd::test
