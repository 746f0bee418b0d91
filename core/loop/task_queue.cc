#include "core/loop/task_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>

#include "core/base/log.h"

namespace lbd {

TaskQueue::TaskQueue(event_base* base) {
    wakeup_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wakeup_fd_) {
        LOG_ERROR("cannot create an eventfd for a task queue");
        std::abort();
    }
    wakeup_event_ = make_event(base, wakeup_fd_.get(), EV_READ | EV_PERSIST, &TaskQueue::on_wakeup, this);
    event_add(wakeup_event_.get(), nullptr);
}

TaskQueue::~TaskQueue() = default;

void TaskQueue::post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    uint64_t one = 1;
    ssize_t rc = ::write(wakeup_fd_.get(), &one, sizeof one);
    (void)rc;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

void TaskQueue::on_wakeup(evutil_socket_t fd, short, void* arg) {
    uint64_t count = 0;
    ssize_t rc = ::read(fd, &count, sizeof count);
    (void)rc;
    auto* self = static_cast<TaskQueue*>(arg);
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(self->mutex_);
        batch.swap(self->tasks_);
    }
    for (auto& task : batch) task();
}

}  // namespace lbd
