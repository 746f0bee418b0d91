// A worker: one thread running one libevent event_base.
//
// Everything a worker owns (listening sockets, connections, timers, its
// balancer instances) is touched only from its own thread. Other threads
// talk to it by post() (core/loop/task_queue.h); that is the only cross-thread
// entry point.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/loop/event.h"
#include "core/loop/quiet_timer.h"
#include "core/loop/task_queue.h"

namespace lbd {

class Worker {
public:
    explicit Worker(unsigned index);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    unsigned index() const { return index_; }
    // Only for use on the worker's own thread, or before start().
    event_base* base() const { return base_.get(); }

    // Before start(): once the worker has gone quiet for `quiet_ms` after
    // working (core/loop/quiet_timer.h), frees its kept buffer chains and runs
    // `release` on its thread. 0 = never.
    void release_when_quiet(uint32_t quiet_ms, std::function<void()> release);
    // Any thread: how many times `release` has run.
    uint64_t quiet_releases() const { return quiet_ ? quiet_->calls() : 0; }

    // Runs the loop on a new thread until stop().
    void start();
    // Any thread. Tasks run on the worker's thread, in order.
    void post(std::function<void()> task);
    // Any thread. The loop returns after the tasks already posted have run.
    void stop();
    void join();

private:
    unsigned index_;
    EventBasePtr base_;
    std::unique_ptr<TaskQueue> tasks_;
    std::unique_ptr<QuietTimer> quiet_;
    std::thread thread_;
};

// Any thread but a worker's: returns once every worker in `workers` has run
// the tasks posted to it before the call (a barrier behind them, as the
// queues are FIFO), or false after `timeout_ms`. A reload waits on it so
// that once it says "applied", every new connection gets the new config.
bool await_posted_tasks(const std::vector<Worker*>& workers, int timeout_ms);
bool await_posted_tasks(const std::vector<std::unique_ptr<Worker>>& workers, int timeout_ms);

}  // namespace lbd
