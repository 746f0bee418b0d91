#include "core/loop/worker.h"

#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/base/log.h"
#include "core/loop/buffer_memory.h"

namespace lbd {

Worker::Worker(unsigned index) : index_(index) {
    event_config* cfg = event_config_new();
    // Workers are single-threaded by design; skip libevent's internal locks.
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    base_.reset(event_base_new_with_config(cfg));
    event_config_free(cfg);
    if (!base_) {
        LOG_ERROR("worker %u: cannot create event loop", index_);
        std::abort();
    }
    tasks_ = std::make_unique<TaskQueue>(base_.get());
}

Worker::~Worker() {
    stop();
    join();
    // Events owned elsewhere must be freed before the base: owners of
    // listeners and connections tear down on this thread before we get here.
    quiet_.reset();
    tasks_.reset();
}

void Worker::release_when_quiet(uint32_t quiet_ms, std::function<void()> release) {
    if (quiet_ms == 0) return quiet_.reset();
    // The thread's kept buffer chains (up to 8 MiB, buffer_memory.h) go
    // first: the allocator cannot give back blocks lbd still holds.
    quiet_ = std::make_unique<QuietTimer>(base_.get(), quiet_ms, [release = std::move(release)] {
        buffer_memory::release_kept();
        release();
    });
}

void Worker::start() {
    thread_ = std::thread([this] {
        char name[16];
        std::snprintf(name, sizeof name, "lbd-worker-%u", index_);
        pthread_setname_np(pthread_self(), name);
        event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
    });
}

void Worker::post(std::function<void()> task) { tasks_->post(std::move(task)); }

// The break is itself a task, so the tasks posted before it still run.
void Worker::stop() {
    event_base* base = base_.get();
    tasks_->post([base] { event_base_loopbreak(base); });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

bool await_posted_tasks(const std::vector<std::unique_ptr<Worker>>& workers, int timeout_ms) {
    std::vector<Worker*> plain;
    for (const auto& worker : workers) plain.push_back(worker.get());
    return await_posted_tasks(plain, timeout_ms);
}

bool await_posted_tasks(const std::vector<Worker*>& workers, int timeout_ms) {
    // Shared with the posted tasks: a worker may run its task after a timeout.
    struct Barrier {
        std::mutex mu;
        std::condition_variable cv;
        size_t pending = 0;
    };
    auto barrier = std::make_shared<Barrier>();
    barrier->pending = workers.size();
    for (Worker* worker : workers)
        worker->post([barrier] {
            std::lock_guard lock(barrier->mu);
            if (--barrier->pending == 0) barrier->cv.notify_all();
        });
    std::unique_lock lock(barrier->mu);
    return barrier->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return barrier->pending == 0; });
}

}  // namespace lbd
