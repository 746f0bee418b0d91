#include "core/loop/thread_pool.h"

#include <pthread.h>

namespace lbd {

ThreadPool::ThreadPool(size_t threads, size_t max_queued, const std::string& name)
    : thread_count_(threads), name_(name.substr(0, 15)), max_queued_(max_queued) {}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        jobs_.clear();
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
}

bool ThreadPool::submit(std::function<void()> job) {
    std::call_once(started_, [this] {
        for (size_t i = 0; i < thread_count_; ++i) {
            threads_.emplace_back([this] { run(); });
            pthread_setname_np(threads_.back().native_handle(), name_.c_str());
        }
    });
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || jobs_.size() >= max_queued_) return false;
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
}

void ThreadPool::run() {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job();
    }
}

}  // namespace lbd
