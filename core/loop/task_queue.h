// Runs functions on one event loop's thread, posted from any thread.
//
// The only cross-thread entry point into a loop: a mutex-guarded vector of
// tasks and an eventfd that wakes the loop. Event bases therefore need no
// libevent locking (evthread_use_pthreads is never called). Workers use one
// each; the control thread uses one so that workers and health checks can
// hand it work (the HA sync's local changes).
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "core/loop/event.h"

namespace lbd {

class TaskQueue {
public:
    // Construct and destroy on the loop's thread (or before it runs).
    explicit TaskQueue(event_base* base);
    ~TaskQueue();
    TaskQueue(const TaskQueue&) = delete;
    TaskQueue& operator=(const TaskQueue&) = delete;

    // Any thread. Tasks run on the loop's thread, in the order posted.
    void post(std::function<void()> task);

private:
    static void on_wakeup(evutil_socket_t fd, short what, void* arg);

    UniqueFd wakeup_fd_;
    EventPtr wakeup_event_;
    std::mutex mutex_;
    std::vector<std::function<void()>> tasks_;  // guarded by mutex_
};

}  // namespace lbd
