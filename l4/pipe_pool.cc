#include "l4/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace lbd::l4 {

static void close_pipe(Pipe& pipe) {
    if (pipe.read_fd >= 0) ::close(pipe.read_fd);
    if (pipe.write_fd >= 0) ::close(pipe.write_fd);
    pipe = Pipe{};
}

PipePool::PipePool(size_t max_idle, int pipe_size) : max_idle_(max_idle), pipe_size_(pipe_size) {
    Pipe probe;
    if (acquire(probe)) {
        int size = fcntl(probe.write_fd, F_GETPIPE_SZ);
        if (size > 0) capacity_ = static_cast<size_t>(size);
        release(probe, true);
    }
}

PipePool::~PipePool() {
    for (Pipe& pipe : idle_) close_pipe(pipe);
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
    // A bigger pipe means fewer splice() calls per megabyte; the kernel may
    // refuse past /proc/sys/fs/pipe-max-size, in which case the default stays.
    if (pipe_size_ > 0) fcntl(out.write_fd, F_SETPIPE_SZ, pipe_size_);
    return true;
}

void PipePool::release(Pipe& pipe, bool empty) {
    if (!pipe) return;
    if (empty && idle_.size() < max_idle_) {
        idle_.push_back(pipe);
        pipe = Pipe{};
    } else {
        close_pipe(pipe);
    }
}

}  // namespace lbd::l4
