// The one timer a connection's owner keeps for the phase it is in: an
// HttpSession for the client side (handshake, head, keep-alive, ...), an
// ExchangeDriver for the server side (connect, response, body idle, ...).
// As in HAProxy, a connection has one expiry at a time, whose meaning is the
// phase's; the owner's expiry callback switches on kind() to act on it.
//
// Idle kinds are not re-armed on every byte (an event_add per read would
// cost more than the read): the owner calls progress() when bytes move, and
// at expiry idle_for_period() either confirms a whole quiet period or
// re-arms the event for what is left of it.
//
// The event's memory comes from a short per-thread list (thread_spares.h):
// a connection's two timers (its session's, its driver's) allocate nothing
// under a connection per request.
//
// Worker thread only, like the owner's other events.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "core/base/clock.h"
#include "core/loop/event.h"
#include "l7/thread_spares.h"

namespace lbd::l7 {

// `Kind` is the owner's enum of phases; its zero value (kNone) means off.
// The phase timers' events: event_assign on a spare block, not event_new.
struct PhaseEvent {
    using Spares = ThreadSpares<PhaseEvent, 128>;
    struct Deleter {
        void operator()(event* ev) const {
            event_del(ev);
            event_debug_unassign(ev);  // libevent's debug mode forgets it
            Spares::give(ev);
        }
    };
    using Ptr = std::unique_ptr<event, Deleter>;
    static Ptr make(event_base* base, event_callback_fn on_expiry, void* owner) {
        Ptr ev(static_cast<event*>(Spares::take(event_get_struct_event_size())));
        // Fails only on bad flags (as make_event, no recovery is pretended).
        if (event_assign(ev.get(), base, -1, 0, on_expiry, owner) != 0) std::abort();
        return ev;
    }
};

template <typename Kind>
class PhaseTimer {
  public:
    PhaseTimer(event_base* base, event_callback_fn on_expiry, void* owner)
        : event_(PhaseEvent::make(base, on_expiry, owner)) {}

    // Starts a period of `ms` for `kind`, counting progress from now.
    void arm(Kind kind, uint32_t ms) {
        if (kind == Kind{}) return stop();
        kind_ = kind;
        period_ms_ = ms;
        progress();
        arm_timer(event_.get(), ms);
    }
    // Off; kind() is then kNone. (A fired timer is no longer pending, so a
    // timer whose kind is kNone never is.)
    void stop() {
        if (kind_ == Kind{}) return;
        kind_ = Kind{};
        event_del(event_.get());
    }
    Kind kind() const { return kind_; }

    // Bytes moved: an idle period starts again (lazily, see above).
    void progress() { last_progress_ms_ = monotonic_ms(); }

    // A whole period again from now, as if bytes had just moved.
    void restart() {
        progress();
        arm_timer(event_.get(), period_ms_);
    }

    // At the expiry of an idle kind: true when a whole period passed without
    // progress; otherwise re-arms for the rest of the period, and false.
    bool idle_for_period() {
        const uint64_t idle = monotonic_ms() - last_progress_ms_;
        if (idle >= period_ms_) return true;
        arm_timer(event_.get(), static_cast<uint32_t>(period_ms_ - idle));
        return false;
    }

  private:
    PhaseEvent::Ptr event_;
    Kind kind_{};
    uint32_t period_ms_ = 0;
    uint64_t last_progress_ms_ = 0;
};

}  // namespace lbd::l7
