// RAII owners for libevent objects (after Envoy's libevent.h), so that a
// worker, a timer and a connection each have one owner that frees them.
#pragma once

#include <event2/event.h>
#include <event2/util.h>

#include <memory>

namespace lbd {

struct EventBaseDeleter {
    void operator()(event_base* base) const { event_base_free(base); }
};
struct EventDeleter {
    // event_free() also removes a pending event.
    void operator()(event* ev) const { event_free(ev); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

// Creates an event; aborts on allocation failure (there is no recovery from
// a failed malloc of 100 bytes at start-up, and none is pretended).
EventPtr make_event(event_base* base, evutil_socket_t fd, short what, event_callback_fn cb, void* arg);

// Arms `ev` to fire once after `ms` milliseconds (event_add with a timeval).
void arm_timer(event* ev, uint32_t ms);

// An owned file descriptor.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// Milliseconds on CLOCK_MONOTONIC, for timeouts and durations.
uint64_t monotonic_ms();
// Microseconds on CLOCK_MONOTONIC, where milliseconds are too coarse (rate limits).
uint64_t monotonic_us();
// Milliseconds on CLOCK_REALTIME (Unix time), for what operators read.
uint64_t realtime_ms();

}  // namespace lbd
