// Pipes for splice(2), pooled per worker.
//
// splice() moves data socket -> pipe -> socket inside the kernel; the pipe
// is the buffer. Creating two pipes per connection costs four fds and two
// syscalls, so idle pipes are kept for reuse. A pipe that still holds bytes
// (its connection was aborted) is closed, never reused: its data belongs to
// nobody.
#pragma once

#include <cstddef>
#include <vector>

namespace lbd::l4 {

struct Pipe {
    int read_fd = -1;
    int write_fd = -1;
    explicit operator bool() const { return read_fd >= 0; }
};

class PipePool {
public:
    // `pipe_size` 0 keeps the kernel's default (64 KiB).
    explicit PipePool(size_t max_idle = 1024, int pipe_size = 0);
    ~PipePool();
    PipePool(const PipePool&) = delete;
    PipePool& operator=(const PipePool&) = delete;

    // False when no pipe can be had (EMFILE/ENFILE).
    bool acquire(Pipe& out);
    // Gives a pipe back; `empty` says whether all its bytes were consumed.
    void release(Pipe& pipe, bool empty);

    // Bytes a pipe from this pool can hold.
    size_t capacity() const { return capacity_; }
    size_t idle() const { return idle_.size(); }

private:
    std::vector<Pipe> idle_;
    size_t max_idle_;
    int pipe_size_;
    size_t capacity_ = 65536;
};

}  // namespace lbd::l4
