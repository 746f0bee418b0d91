#include "core/worker.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/log.h"

namespace lbd {

Worker::Worker(unsigned index) : index_(index) {
    event_config* cfg = event_config_new();
    // Workers are single-threaded by design; skip libevent's internal locks.
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    base_.reset(event_base_new_with_config(cfg));
    event_config_free(cfg);
    wakeup_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!base_ || !wakeup_fd_) {
        LOG_ERROR("worker %u: cannot create event loop", index_);
        std::abort();
    }
    wakeup_event_ = make_event(base_.get(), wakeup_fd_.get(), EV_READ | EV_PERSIST, &Worker::on_wakeup, this);
    event_add(wakeup_event_.get(), nullptr);
}

Worker::~Worker() {
    stop();
    join();
    // Events owned elsewhere must be freed before the base: owners of
    // listeners and connections tear down on this thread before we get here.
    wakeup_event_.reset();
}

void Worker::start() {
    thread_ = std::thread([this] {
        char name[16];
        std::snprintf(name, sizeof name, "lbd-worker-%u", index_);
        pthread_setname_np(pthread_self(), name);
        event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
    });
}

void Worker::post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    uint64_t one = 1;
    ssize_t rc = ::write(wakeup_fd_.get(), &one, sizeof one);
    (void)rc;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

void Worker::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    uint64_t one = 1;
    ssize_t rc = ::write(wakeup_fd_.get(), &one, sizeof one);
    (void)rc;
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::on_wakeup(evutil_socket_t fd, short, void* arg) {
    uint64_t count = 0;
    ssize_t rc = ::read(fd, &count, sizeof count);
    (void)rc;
    static_cast<Worker*>(arg)->run_posted();
}

void Worker::run_posted() {
    std::vector<std::function<void()>> batch;
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        batch.swap(tasks_);
        stopping = stopping_;
    }
    for (auto& task : batch) task();
    if (stopping) event_base_loopbreak(base_.get());
}

}  // namespace lbd
