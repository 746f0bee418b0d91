// A small fixed pool of threads for work that must never run on an event
// loop because it is slow on purpose or blocks: password hashing (bcrypt,
// yescrypt: tens to hundreds of milliseconds of CPU each, l7/basic_auth.h).
// HAProxy runs such checks on its loop and users report stalls and watchdog
// kills; here a worker hands the job over and goes on serving, and the job
// posts its result back to the worker's TaskQueue (core/loop/task_queue.h).
//
// The queue is bounded: a flood of jobs is refused at submit() (the caller
// answers 503) instead of growing memory and latency without limit.
//
// The threads start at the first submit(), not at construction: the pool is
// made before lbd drops root, and capabilities are per thread (capset(2)),
// so a thread started earlier would keep root's. A config without basic
// auth never starts them.
//
// Thread rules: submit() from any thread; jobs run on the pool's threads in
// the order submitted. The destructor stops taking jobs, drops those not
// started, and joins the threads after their current job.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lbd {

class ThreadPool {
public:
    // `name` labels the threads (pthread names, at most 15 characters).
    ThreadPool(size_t threads, size_t max_queued, const std::string& name);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // False when `max_queued` jobs already wait (the job is not run).
    bool submit(std::function<void()> job);

private:
    void run();

    const size_t thread_count_;
    const std::string name_;
    const size_t max_queued_;
    std::once_flag started_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;  // guarded by mutex_
    bool stopping_ = false;                   // guarded by mutex_
    std::vector<std::thread> threads_;
};

}  // namespace lbd
