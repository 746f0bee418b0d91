// cache_origin.py as a child process: a scripted origin that counts its
// requests per path (the cache tests: l7_cache_test.cc, ha_sync_purge_test.cc).
#pragma once

#include <string>

#include "tests/integration/scenario.h"
#include "tests/support/http_backend.h"
#include "tests/support/lbd_process.h"

#ifndef CACHE_ORIGIN_PY
#error "CACHE_ORIGIN_PY must be defined as the path of cache_origin.py"
#endif

namespace lbd::test {
namespace {

class Origin {
public:
    Origin() : child_({"/usr/bin/python3", CACHE_ORIGIN_PY}) {
        if (auto line = child_.await_line(LinePattern("port "), kIoTimeoutMs))
            port_ = static_cast<uint16_t>(std::stoi(line->substr(line->find(' ') + 1)));
    }
    uint16_t port() const { return port_; }
    // Requests the origin saw for `path`.
    int count(const std::string& path) const {
        auto reply = http_request(port_, get_request("/__count?path=" + path), kIoTimeoutMs);
        return reply ? std::stoi(reply->body) : -1;
    }

private:
    ChildProcess child_;
    uint16_t port_ = 0;
};

}  // namespace
}  // namespace lbd::test
