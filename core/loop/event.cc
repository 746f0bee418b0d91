#include "core/loop/event.h"

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

}  // namespace lbd
