// libevent's memory functions (event_set_mem_functions), with the blocks of
// evbuffer chains kept per thread for the next chain of their size.
//
// Why: an evbuffer frees its chain when it is emptied and takes a new one
// with its next bytes, so a keep-alive request costs four chain mallocs and
// frees (the client's read, the request to the server, the server's read,
// the response), two of them 64 KiB reads (l7/socket_io.cc). glibc's
// per-thread cache (tcache) holds 7 blocks a size up to 1 KiB only, and every
// free of 64 KiB or more merges all its fast bins (malloc_consolidate), so
// the small allocations after it take the slow path too. A short list per size
// turns each pair into a pop and a push, as HAProxy's per-thread pool caches
// do for its buffers (bench/README.md, "Buffer chains kept per thread").
//
// Only the sizes libevent gives chains (powers of two) from 1 KiB to 64 KiB
// are kept, at most kMaxPerSize blocks each: a worker reads from every
// connection its loop turn found ready before any of those reads is freed, so
// 8 blocks caught only two thirds of the 64 KiB reads at wrk -c50, and 64 all
// of them. That is 8 MiB per thread at the very most, held while traffic
// flows (as lbd's malloc keeps what is freed for 3 s, cli/allocator.cc) and
// freed when the worker goes quiet (Worker::release_when_quiet); on mimalloc
// the lists still save 2.7% of a keep-alive request's instructions.
// Everything else goes to malloc as before. Under AddressSanitizer nothing is
// kept.
// (l7/thread_spares.h keeps blocks the same way for the L7 classes made once
// per connection; it cannot serve here: core does not use l7, and libevent's
// blocks are malloc's, picked by size at run time.)
#pragma once

#include <cstddef>

namespace lbd {

// Installs the functions below as libevent's. Call once, before any
// libevent object is made (lbd's main does, first).
void use_buffer_memory();

namespace buffer_memory {

inline constexpr size_t kMinKeptSize = 1024;
inline constexpr size_t kMaxKeptSize = 64 * 1024;
inline constexpr size_t kMaxPerSize = 64;

void* allocate(size_t size);
void* reallocate(void* block, size_t size);
void release(void* block);
// Blocks the calling thread keeps now (tests), and freeing them (tests, and a
// worker gone quiet).
size_t kept_blocks();
void release_kept();

}  // namespace buffer_memory
}  // namespace lbd
