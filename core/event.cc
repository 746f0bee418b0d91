#include "core/event.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace lbd {

EventPtr make_event(event_base* base, evutil_socket_t fd, short what, event_callback_fn cb, void* arg) {
    event* ev = event_new(base, fd, what, cb, arg);
    if (ev == nullptr) {
        std::fprintf(stderr, "event_new failed: out of memory\n");
        std::abort();
    }
    return EventPtr(ev);
}

void arm_timer(event* ev, uint32_t ms) {
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    event_add(ev, &tv);
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

uint64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

uint64_t monotonic_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

uint64_t realtime_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace lbd
