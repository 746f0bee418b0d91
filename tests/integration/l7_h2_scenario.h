// What the HTTP/2 client tests share (l7_h2_test.cc, l7_h2_flow_test.cc,
// l7_h2_websocket_test.cc): an h2c listener's config and the python3-h2 client
// (h2_client.py, its path given by H2_CLIENT).
#pragma once

#include <string>
#include <vector>

#include "tests/integration/l7_scenario.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::test {

using l7::test::run;
using l7::test::RunResult;

inline const std::string kClient = H2_CLIENT;

// "front" on 127.0.0.1:0, plain, h2c enabled with `h2_extra`; the admin HTTP listener on.
inline std::string h2c_config(const HttpBackend& backend, const std::string& h2_extra = "",
                              const std::string& http_extra = "") {
    return "global { workers: 2 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n"
           "  pool: \"web\"\n"
           "  http {\n    http2 { cleartext: true " + h2_extra + " }\n" + http_extra + "  }\n"
           "}\n" + http_pool("web", {&backend});
}

inline RunResult h2_client(const std::vector<std::string>& args, int deadline_ms = 30000) {
    std::vector<std::string> argv{"/usr/bin/python3", kClient};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, deadline_ms);
}

}  // namespace lbd::test
