// Evens out client connections over the workers.
//
// Each worker accepts from its own SO_REUSEPORT socket, and the kernel picks
// the socket by a hash of the connection's addresses, blind to how busy each
// worker is: 50 keep-alive connections from wrk split 20/30 or 29/22 over two
// workers (strace of accept4 per thread), so one worker serves half as many
// again as the other and its clients see the longer queue. A worker that
// accepts a connection while it holds more than its share hands it to the
// least loaded worker, as HAProxy's listeners pick the least loaded thread.
// HAProxy hands off every connection through per-thread queues; here the
// kernel's spread is kept while it is even enough, so a balanced load pays
// nothing, and an uneven one pays a posted task (core/loop/task_queue.h) per
// connection moved.
//
// Loads are counted per worker for the whole tier (all its listeners): a
// worker's connections share its one thread whatever listener took them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lbd {

class WorkerSpread {
public:
    explicit WorkerSpread(size_t workers);

    // On worker `self`'s thread, for a connection it has just accepted:
    // `self`, or the least loaded worker when `self` holds more than
    // kSlack connections beyond it. Counts the connection as opened on the
    // worker returned.
    size_t place(size_t self);
    // A connection that place() counted on `worker` has ended.
    void closed(size_t worker);

    // Any thread (metrics).
    uint32_t connections(size_t worker) const { return slots_[worker].connections.load(std::memory_order_relaxed); }
    // Connections that `worker` took from another worker's accept queue.
    uint64_t handed_to(size_t worker) const { return slots_[worker].handed_to.load(std::memory_order_relaxed); }

    // A difference of one or two connections is noise (each worker's count
    // changes at every accept and close); moving a connection costs a task
    // posted across threads, more than such a difference costs in queueing.
    static constexpr uint32_t kSlack = 2;

private:
    // One cache line each: every accept and close of a worker writes its own.
    struct alignas(64) Slot {
        std::atomic<uint32_t> connections{0};
        std::atomic<uint64_t> handed_to{0};
    };

    size_t workers_;
    std::unique_ptr<Slot[]> slots_;
};

}  // namespace lbd
