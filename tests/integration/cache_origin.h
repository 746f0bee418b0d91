// cache_origin.py as a child process: a scripted origin that counts its
// requests per path (the cache tests: l7_cache_test.cc, ha_sync_purge_test.cc).
#pragma once

#include <string>
#include <thread>
#include <vector>

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
    // Every later request for `path` answers `status` (0: as its query says)
    // after `delay_ms` (cache_origin.py's /__mode).
    bool set_mode(const std::string& path, int status, int delay_ms = 0) {
        std::string target = "/__mode?path=" + path + "&delay_ms=" + std::to_string(delay_ms);
        if (status != 0) target += "&status=" + std::to_string(status);
        auto reply = http_request(port_, get_request(target), kIoTimeoutMs);
        return reply && reply->status == 200;
    }
    // Lets the requests held by `hold=NAME` in their query answer (cache_origin.py's /__release).
    bool release(const std::string& name) {
        auto reply = http_request(port_, get_request("/__release?name=" + name), kIoTimeoutMs);
        return reply && reply->status == 200;
    }
    // The origin goes away: its port refuses connections.
    void stop() { child_.stop(kIoTimeoutMs); }
    // Requests the origin saw for `path`.
    int count(const std::string& path) const {
        auto reply = http_request(port_, get_request("/__count?path=" + path), kIoTimeoutMs);
        return reply ? std::stoi(reply->body) : -1;
    }

private:
    ChildProcess child_;
    uint16_t port_ = 0;
};

// `count` concurrent GETs of `target` through lbd's `port`; each reply's
// X-Cache-Status when 200, else its status ("none": no reply).
inline std::vector<std::string> concurrent_gets(uint16_t port, const std::string& target, int count) {
    std::vector<std::string> statuses(static_cast<size_t>(count));
    std::vector<std::thread> clients;
    for (int i = 0; i < count; ++i)
        clients.emplace_back([&, i] {
            auto reply = http_request(port, get_request(target), 15000);
            statuses[static_cast<size_t>(i)] = !reply ? "none" : reply->status != 200 ? std::to_string(reply->status)
                                                                                       : reply->header("X-Cache-Status");
        });
    for (auto& c : clients) c.join();
    return statuses;
}

}  // namespace
}  // namespace lbd::test
