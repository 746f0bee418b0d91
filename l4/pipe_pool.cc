#include "l4/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace lbd::l4 {

std::atomic<size_t> PipePool::bulk_in_use_{0};

PipePool::PipePool(size_t max_idle, int pipe_size, size_t max_bulk)
    : max_idle_(max_idle), pipe_size_(pipe_size), max_bulk_(max_bulk) {
    Pipe probe;
    if (acquire(probe)) {
        int size = fcntl(probe.write_fd, F_GETPIPE_SZ);
        if (size > 0) capacity_ = static_cast<size_t>(size);
        probe.capacity = capacity_;
        release(probe, true);
    }
}

PipePool::~PipePool() {
    for (Pipe& pipe : idle_) close_pipe(pipe);
}

void PipePool::close_pipe(Pipe& pipe) {
    if (pipe.capacity > capacity_) bulk_in_use_.fetch_sub(1, std::memory_order_relaxed);
    if (pipe.read_fd >= 0) ::close(pipe.read_fd);
    if (pipe.write_fd >= 0) ::close(pipe.write_fd);
    pipe = Pipe{};
}

bool PipePool::acquire(Pipe& out) {
    if (!idle_.empty()) {
        out = idle_.back();
        idle_.pop_back();
        return true;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    out.read_fd = fds[0];
    out.write_fd = fds[1];
    out.capacity = capacity_;
    // The kernel may refuse past /proc/sys/fs/pipe-max-size, in which case
    // the default stays.
    if (pipe_size_ > 0) fcntl(out.write_fd, F_SETPIPE_SZ, pipe_size_);
    return true;
}

bool PipePool::grow(Pipe& pipe) {
    if (!pipe || pipe.capacity >= static_cast<size_t>(kBulkPipeBytes)) return false;
    if (bulk_in_use_.fetch_add(1, std::memory_order_relaxed) >= max_bulk_) {
        bulk_in_use_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    // EPERM past the user's pipe budget or pipe-max-size: the pipe keeps its size.
    int size = fcntl(pipe.write_fd, F_SETPIPE_SZ, kBulkPipeBytes);
    if (size <= 0 || static_cast<size_t>(size) <= capacity_) {
        bulk_in_use_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    pipe.capacity = static_cast<size_t>(size);
    return true;
}

void PipePool::release(Pipe& pipe, bool empty) {
    if (!pipe) return;
    if (empty && pipe.capacity > capacity_ &&
        fcntl(pipe.write_fd, F_SETPIPE_SZ, static_cast<int>(capacity_)) == static_cast<int>(capacity_)) {
        bulk_in_use_.fetch_sub(1, std::memory_order_relaxed);
        pipe.capacity = capacity_;
    }
    if (empty && pipe.capacity == capacity_ && idle_.size() < max_idle_) {
        idle_.push_back(pipe);
        pipe = Pipe{};
    } else {
        close_pipe(pipe);
    }
}

}  // namespace lbd::l4
