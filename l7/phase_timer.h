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
// Phases are not re-armed on every change either: a keep-alive request
// goes through four or five (header, connect, response, body, keep-alive),
// and each event_add or event_del was ~300 instructions of a ~27,600
// instruction request (callgrind, bench/README.md "Run T"). As HAProxy's
// tasks keep an expiry date and touch the timer tree lazily, a phase whose
// deadline is later than the one the event is already set for leaves the
// event alone, and stop() only forgets the phase: when the event fires,
// on_event() calls the owner only if the phase's deadline has come, and
// otherwise sets the event for the rest.
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
    // `on_expiry(-1, EV_TIMEOUT, owner)` runs when a phase's deadline comes.
    PhaseTimer(event_base* base, event_callback_fn on_expiry, void* owner)
        : event_(PhaseEvent::make(base, &PhaseTimer::on_event, this)), on_expiry_(on_expiry), owner_(owner) {}
    // The event points at this object.
    PhaseTimer(const PhaseTimer&) = delete;
    PhaseTimer& operator=(const PhaseTimer&) = delete;

    // Starts a period of `ms` for `kind`, counting progress from now.
    void arm(Kind kind, uint32_t ms) {
        if (kind == Kind{}) return stop();
        kind_ = kind;
        period_ms_ = ms;
        progress();
        expire_at(last_progress_ms_, ms);
    }
    // Off; kind() is then kNone, and the owner is not called for it. The
    // event may stay set (see above); the next arm() may use it.
    void stop() { kind_ = Kind{}; }
    Kind kind() const { return kind_; }

    // Bytes moved: an idle period starts again (lazily, see above).
    void progress() { last_progress_ms_ = monotonic_ms(); }

    // A whole period again from now, as if bytes had just moved.
    void restart() {
        progress();
        expire_at(last_progress_ms_, period_ms_);
    }

    // At the expiry of an idle kind: true when a whole period passed without
    // progress; otherwise re-arms for the rest of the period, and false.
    bool idle_for_period() {
        const uint64_t now = monotonic_ms();
        const uint64_t idle = now - last_progress_ms_;
        if (idle >= period_ms_) return true;
        expire_at(now, static_cast<uint32_t>(period_ms_ - idle));
        return false;
    }

  private:
    // The phase's deadline is `now + ms`; the event is set again only if it
    // is not set already for that time or earlier.
    void expire_at(uint64_t now, uint32_t ms) {
        deadline_ms_ = now + ms;
        if (set_ && set_for_ms_ <= deadline_ms_) return;
        set_event(now, ms);
    }
    void set_event(uint64_t now, uint32_t ms) {
        arm_timer(event_.get(), ms);
        set_ = true;
        set_for_ms_ = now + ms;
    }
    static void on_event(evutil_socket_t fd, short what, void* arg) {
        auto* self = static_cast<PhaseTimer*>(arg);
        self->set_ = false;
        if (self->kind_ == Kind{}) return;
        // The event was set for an earlier phase's deadline (expire_at), or
        // libevent's clock, cached at the loop turn's start, ran a
        // millisecond ahead of this one: either way the rest is waited out.
        const uint64_t now = monotonic_ms();
        if (now < self->deadline_ms_) return self->set_event(now, static_cast<uint32_t>(self->deadline_ms_ - now));
        self->on_expiry_(fd, what, self->owner_);  // may free this timer with its owner
    }

    PhaseEvent::Ptr event_;
    event_callback_fn on_expiry_;
    void* owner_;
    Kind kind_{};
    bool set_ = false;          // the event is pending
    uint32_t period_ms_ = 0;
    uint64_t last_progress_ms_ = 0;
    uint64_t deadline_ms_ = 0;  // when the phase expires (an idle kind: unless bytes moved)
    uint64_t set_for_ms_ = 0;   // when the pending event fires
};

}  // namespace lbd::l7
