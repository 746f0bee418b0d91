// Unit tests for the L4 tier's pipe pool (l4/pipe_pool.h): real pipes, sizes read back from the kernel.
#include "l4/pipe_pool.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace {

using lbd::l4::kBulkPipeBytes;
using lbd::l4::Pipe;
using lbd::l4::PipePool;

int kernel_size(const Pipe& pipe) { return fcntl(pipe.write_fd, F_GETPIPE_SZ); }

}  // namespace

TEST_CASE("a grown pipe holds kBulkPipeBytes, says so, and shrinks back when released empty") {
    PipePool pool(4, 0, 2);
    Pipe pipe;
    REQUIRE(pool.acquire(pipe));
    CHECK(pipe.capacity == pool.capacity());
    CHECK(kernel_size(pipe) == static_cast<int>(pool.capacity()));

    REQUIRE(pool.grow(pipe));
    CHECK(pipe.capacity == static_cast<size_t>(kBulkPipeBytes));
    CHECK(kernel_size(pipe) == kBulkPipeBytes);
    CHECK(PipePool::bulk_in_use() == 1);
    // A grown pipe takes more than the default size without blocking.
    std::string bytes(pool.capacity() * 2, 'x');
    CHECK(write(pipe.write_fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    std::string back(bytes.size(), '\0');
    CHECK(read(pipe.read_fd, back.data(), back.size()) == static_cast<ssize_t>(back.size()));

    const int read_fd = pipe.read_fd;
    pool.release(pipe, true);
    CHECK(PipePool::bulk_in_use() == 0);
    CHECK(pool.idle() == 1);
    Pipe again;
    REQUIRE(pool.acquire(again));
    CHECK(again.read_fd == read_fd);  // the same pipe, reused
    CHECK(again.capacity == pool.capacity());
    CHECK(kernel_size(again) == static_cast<int>(pool.capacity()));
    pool.release(again, true);
}

TEST_CASE("no more grown pipes than the process budget; a closed one frees its place") {
    PipePool first(4, 0, 2);
    PipePool second(4, 0, 2);  // another worker's pool: the budget is the process's
    Pipe a, b, c;
    REQUIRE(first.acquire(a));
    REQUIRE(second.acquire(b));
    REQUIRE(second.acquire(c));
    CHECK(first.grow(a));
    CHECK(second.grow(b));
    CHECK_FALSE(second.grow(c));
    CHECK(c.capacity == second.capacity());
    CHECK(kernel_size(c) == static_cast<int>(second.capacity()));
    CHECK(PipePool::bulk_in_use() == 2);

    // A pipe released with bytes in it is closed, never reused: its place in the budget is free again.
    CHECK(write(a.write_fd, "x", 1) == 1);
    first.release(a, false);
    CHECK(first.idle() == 0);
    CHECK(PipePool::bulk_in_use() == 1);
    CHECK(second.grow(c));
    second.release(b, true);
    second.release(c, true);
    CHECK(PipePool::bulk_in_use() == 0);
}

TEST_CASE("a pipe grows once; growing a grown pipe is refused and costs no budget") {
    PipePool pool(4, 0, 2);
    Pipe pipe;
    REQUIRE(pool.acquire(pipe));
    REQUIRE(pool.grow(pipe));
    CHECK_FALSE(pool.grow(pipe));
    CHECK(PipePool::bulk_in_use() == 1);
    pool.release(pipe, true);
    CHECK(PipePool::bulk_in_use() == 0);
}
