// Shared pieces of the HTTP/2-to-servers scenarios (l7_h2_upstream_test.cc,
// l7_h2_upstream_tls_test.cc): the gRPC-style python3-h2 server (grpc_origin.py), the client
// (grpc_client.py), and a config with an h2c listener in front of an HTTP/2 pool.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/l7_tls_scenario.h"

#ifndef GRPC_ORIGIN_PY
#error "GRPC_ORIGIN_PY must be defined as the path of grpc_origin.py"
#endif
#ifndef GRPC_CLIENT_PY
#error "GRPC_CLIENT_PY must be defined as the path of grpc_client.py"
#endif

namespace lbd::test {

// grpc_origin.py; `extra`: its options after MAX_STREAMS (--tls CERT KEY, --alpn P).
class GrpcOrigin {
public:
    explicit GrpcOrigin(int max_streams = 100, const std::vector<std::string>& extra = {})
        : child_(argv(max_streams, extra)) {
        if (auto line = child_.await_line(LinePattern("port "), kIoTimeoutMs))
            port_ = static_cast<uint16_t>(std::stoi(line->substr(line->find(' ') + 1)));
    }
    uint16_t port() const { return port_; }
    // Connections the server accepted so far, and those that ended.
    size_t accepted() const { return child_.count(LinePattern("accepted ")); }
    size_t closed() const { return child_.count(LinePattern("closed ")); }
    const ChildProcess& process() const { return child_; }

private:
    static std::vector<std::string> argv(int max_streams, const std::vector<std::string>& extra) {
        std::vector<std::string> out{"/usr/bin/python3", GRPC_ORIGIN_PY, std::to_string(max_streams)};
        out.insert(out.end(), extra.begin(), extra.end());
        return out;
    }

    ChildProcess child_;
    uint16_t port_ = 0;
};

// One worker (so one client connection's calls all go through one worker's sessions), an
// h2c-enabled plain listener, and the pool "grpc" over HTTP/2 (`protocol`) to `ports`.
inline std::string grpc_config(const std::vector<uint16_t>& ports, const std::string& pool_extra = "",
                               const std::string& protocol = "SERVER_PROTOCOL_H2C") {
    std::string out =
        "global { workers: 1 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
        "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"grpc\"\n"
        "  http { http2 { cleartext: true } }\n}\n"
        "pools {\n  name: \"grpc\"\n  connect_timeout_ms: 1000\n  protocol: " + protocol + "\n" + pool_extra;
    for (size_t i = 0; i < ports.size(); ++i) out += server_entry("g" + std::to_string(i + 1), ports[i]);
    return out + "}\n";
}

inline l7::test::RunResult grpc_client(const std::vector<std::string>& args, int deadline_ms = 60000) {
    std::vector<std::string> argv{"/usr/bin/python3", GRPC_CLIENT_PY};
    argv.insert(argv.end(), args.begin(), args.end());
    return l7::test::run(argv, deadline_ms);
}

// Three unary calls through lbd's `port`: a message echoed with trailers grpc-status 0 and
// grpc-message ok, a failure's trailers (13, boom), and a request trailer reaching the server
// (it echoes it into the message).
inline void check_unary_calls(const std::string& port) {
    l7::test::RunResult ok = grpc_client({"unary", port, "/test.Echo/Unary", "hello"});
    INFO(ok.output);
    CHECK(has(ok.output, "status=200\n"));
    CHECK(has(ok.output, "message=echo:hello\n"));
    CHECK(has(ok.output, "trailer grpc-status=0\n"));
    CHECK(has(ok.output, "trailer grpc-message=ok\n"));
    CHECK(!has(ok.output, "reset="));
    l7::test::RunResult fail = grpc_client({"unary", port, "/test.Echo/Fail", "x"});
    CHECK_MESSAGE(has(fail.output, "trailer grpc-status=13\n"), fail.output);
    CHECK_MESSAGE(has(fail.output, "trailer grpc-message=boom\n"), fail.output);
    l7::test::RunResult trailer = grpc_client({"unary", port, "/test.Echo/Unary", "hi", "t1"});
    CHECK_MESSAGE(has(trailer.output, "message=echo:hi;x-trailer=t1\n"), trailer.output);
}

}  // namespace lbd::test
