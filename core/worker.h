// A worker: one thread running one libevent event_base.
//
// Everything a worker owns (listening sockets, connections, timers, its
// balancer instances) is touched only from its own thread. Other threads
// talk to it by post(), which queues a task and wakes the loop through an
// eventfd; that is the only cross-thread entry point, so event bases need no
// libevent locking (evthread_use_pthreads is not called).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"

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

    // Runs the loop on a new thread until stop().
    void start();
    // Any thread. Tasks run on the worker's thread, in order.
    void post(std::function<void()> task);
    // Any thread. The loop returns after the tasks already posted have run.
    void stop();
    void join();

private:
    static void on_wakeup(evutil_socket_t fd, short what, void* arg);
    void run_posted();

    unsigned index_;
    EventBasePtr base_;
    UniqueFd wakeup_fd_;
    EventPtr wakeup_event_;
    std::mutex mutex_;
    std::vector<std::function<void()>> tasks_;  // guarded by mutex_
    bool stopping_ = false;                     // guarded by mutex_
    std::thread thread_;
};

}  // namespace lbd
