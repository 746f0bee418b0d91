// RAII owners for libevent objects (after Envoy's libevent.h), so that a
// worker, a timer and a connection each have one owner that frees them.
#pragma once

#include <event2/event.h>
#include <event2/util.h>

#include <memory>

// Nearly every user of an event also holds a descriptor or reads the clock.
#include "core/base/clock.h"
#include "core/base/unique_fd.h"

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

}  // namespace lbd
