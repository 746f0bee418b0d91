// Pipes for splice(2), pooled per worker.
//
// splice() moves data socket -> pipe -> socket inside the kernel; the pipe
// is the buffer. Creating two pipes per connection costs four fds and two
// syscalls, so idle pipes are kept for reuse. A pipe that still holds bytes
// (its connection was aborted) is closed, never reused: its data belongs to
// nobody.
//
// A bulk transfer's pipe may grow to kBulkPipeBytes: each splice() then
// moves up to 256 KiB instead of 64 KiB, about a quarter of the calls per
// GiB, which on a loopback download cut lbd's CPU per GiB by about a quarter
// (bench/README.md, l4.sh). 1 MiB pipes cut it by a third but were behind
// the 64 KiB ones on throughput in two runs of bench/l4.sh, 256 KiB were
// not. Grown pipes are few per process (kMaxBulkPipes):
// Linux counts every pipe's slots against its user (fs.pipe-user-pages-soft,
// 64 MiB by default), and past that an unprivileged user's new pipes get two
// pages and cannot grow, which would slow every later connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

namespace lbd::l4 {

struct Pipe {
    int read_fd = -1;
    int write_fd = -1;
    size_t capacity = 0;  // bytes it holds; more than the pool's default once grown
    explicit operator bool() const { return read_fd >= 0; }
};

inline constexpr int kBulkPipeBytes = 256 << 10;
inline constexpr size_t kMaxBulkPipes = 64;  // per process: 16 MiB of the user's 64 MiB

class PipePool {
public:
    // `pipe_size` 0 keeps the kernel's default (64 KiB). `max_bulk` bounds
    // the grown pipes of all pools of the process together.
    explicit PipePool(size_t max_idle = 1024, int pipe_size = 0, size_t max_bulk = kMaxBulkPipes);
    ~PipePool();
    PipePool(const PipePool&) = delete;
    PipePool& operator=(const PipePool&) = delete;

    // False when no pipe can be had (EMFILE/ENFILE).
    bool acquire(Pipe& out);
    // Grows `pipe` to kBulkPipeBytes. False (the pipe unchanged) when the
    // process holds max_bulk grown pipes already or the kernel refuses.
    bool grow(Pipe& pipe);
    // Gives a pipe back; `empty` says whether all its bytes were consumed.
    // A grown pipe shrinks back to the default size (or is closed).
    void release(Pipe& pipe, bool empty);

    // Bytes a pipe from this pool holds until grown.
    size_t capacity() const { return capacity_; }
    size_t idle() const { return idle_.size(); }
    // Grown pipes held by the whole process.
    static size_t bulk_in_use() { return bulk_in_use_.load(std::memory_order_relaxed); }

private:
    void close_pipe(Pipe& pipe);

    std::vector<Pipe> idle_;
    size_t max_idle_;
    int pipe_size_;
    size_t max_bulk_;
    size_t capacity_ = 65536;
    static std::atomic<size_t> bulk_in_use_;
};

}  // namespace lbd::l4
