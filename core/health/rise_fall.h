// The rise/fall rule of active health checks (HAProxy's): `rise` consecutive successes bring a
// DOWN server UP, `fall` consecutive failures take an UP server DOWN; an outcome that agrees with
// the current health resets the opposite streak only. Pure counting, apart from the probes and
// the timers of health_checker.cc, so it is unit-tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "core/config/server_types.h"

namespace lbd {

class RiseFall {
public:
    struct Change {
        HealthState health;  // the server's new health
        uint32_t streak;     // the consecutive outcomes that made it (rise or fall)
    };

    RiseFall(uint32_t rise, uint32_t fall) : rise_(rise), fall_(fall) {}

    // One probe's outcome for a server whose health is `current` (which others, such as passive
    // ejection, may have changed since the last probe). The change it makes, if any.
    std::optional<Change> record(bool ok, HealthState current) {
        if (ok) {
            failures_ = 0;
            if (current == HealthState::kUp || ++successes_ < rise_) return std::nullopt;
            return Change{HealthState::kUp, std::exchange(successes_, 0)};
        }
        successes_ = 0;
        if (current == HealthState::kDown || ++failures_ < fall_) return std::nullopt;
        return Change{HealthState::kDown, std::exchange(failures_, 0)};
    }

private:
    uint32_t rise_;
    uint32_t fall_;
    uint32_t successes_ = 0;
    uint32_t failures_ = 0;
};

}  // namespace lbd
