#include "core/tier/worker_spread.h"

namespace lbd {

WorkerSpread::WorkerSpread(size_t workers) : workers_(workers), slots_(std::make_unique<Slot[]>(workers)) {}

size_t WorkerSpread::place(size_t self) {
    // The counts are read one by one while other workers change theirs: a
    // choice made on a count a moment old is as good, and needs no lock.
    const uint32_t mine = connections(self);
    size_t least = self;
    uint32_t least_load = mine;
    for (size_t i = 0; i < workers_; ++i) {
        const uint32_t load = connections(i);
        if (load < least_load) {
            least = i;
            least_load = load;
        }
    }
    const size_t chosen = mine > least_load + kSlack ? least : self;
    slots_[chosen].connections.fetch_add(1, std::memory_order_relaxed);
    if (chosen != self) slots_[chosen].handed_to.fetch_add(1, std::memory_order_relaxed);
    return chosen;
}

void WorkerSpread::closed(size_t worker) { slots_[worker].connections.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace lbd
