// Which malloc lbd runs on, and its tuning.
//
// lbd is linked with mimalloc (Debian's libmimalloc2.0) unless built with
// -DLBD_MIMALLOC=OFF or a sanitizer. Every allocation of lbd and of the
// libraries it drives (libevent's buffers, nghttp2's streams, OpenSSL's
// records, the exchange's strings) then comes from mimalloc's per-thread
// free lists: an HTTP/2 request costs 13% fewer instructions than on glibc's
// malloc, an HTTP/1 one 4-7% (bench/README.md, "lbd on mimalloc"). Envoy links
// tcmalloc and Pingora jemalloc for the same reason; here gperftools'
// tcmalloc counted as few instructions as mimalloc and jemalloc 7% more.
// tune_allocator() keeps freed pages for 3 s (see there: mimalloc's default
// gives them back so eagerly that 64 KiB responses fault them in again), and
// release_free_memory() gives back what is due once a worker goes quiet.
#pragma once

#include <string>

namespace lbd {

// What serves malloc() in this process, for `lbd --version` and the start-up
// log: "mimalloc 2.0.9" only when a block from malloc() is mimalloc's (the
// library was linked and really took malloc over), else "glibc malloc".
std::string allocator_name();

// Once, before the workers start: what the allocator in use needs.
void tune_allocator();

// On the calling thread (a worker gone quiet, global.memory_release_idle_ms):
// gives the memory the allocator holds free back to the kernel, as far as
// it can. mimalloc: mi_collect(true), which frees this thread's empty pages,
// runs the decommits that are due and returns the segments left empty (a
// segment still holding a live block keeps its committed pages until they
// come due at a later free); glibc: malloc_trim(0). It walks the heap, so
// only for a thread with nothing else to do.
void release_free_memory();

}  // namespace lbd
