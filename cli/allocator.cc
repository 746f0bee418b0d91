#include "cli/allocator.h"

#include <malloc.h>

#include <cstdlib>

#include "core/base/sanitizers.h"

#if LBD_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace lbd {

#if LBD_WITH_MIMALLOC
namespace {

// Linked is not yet in use: malloc() is mimalloc's only if the dynamic linker
// bound the symbol to it (libmimalloc ahead of libc, not dropped by
// --as-needed). Asked of a real block rather than assumed, once: the answer
// cannot change while the process runs.
bool mimalloc_serves_malloc() {
    static const bool ours = [] {
        void* probe = std::calloc(1, 16);
        const bool in_heap = probe != nullptr && mi_is_in_heap_region(probe);
        std::free(probe);
        return in_heap;
    }();
    return ours;
}

// How long freed memory stays committed before mimalloc may give it back
// (tune_allocator): longer than a burst's reuse of it, shorter than
// global.memory_release_idle_ms's default, so that a worker gone quiet finds
// the decommits due.
constexpr long kDecommitDelayMs = 3000;

}  // namespace
#endif

std::string allocator_name() {
#if LBD_WITH_MIMALLOC
    if (mimalloc_serves_malloc()) {
        const int v = mi_version();  // 209 for 2.0.9
        return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
               std::to_string(v % 10);
    }
#endif
    return "glibc malloc";
}

void tune_allocator() {
#if LBD_WITH_MIMALLOC
    if (mimalloc_serves_malloc()) {
        // mimalloc gives memory back to the kernel (decommits it) 25 ms
        // after it empties, and each free pushes that deadline on by 1 ms.
        // Responses of 64 KiB fill and empty whole pages all the time:
        // h2load -c100 -m100 through lbd took 8.4-8.9 page faults per
        // request and half the requests per second of glibc's malloc. With
        // decommit off, though, a burst's peak stays for good: mimalloc
        // 2.0 decommits only in segments made while it was allowed. So it
        // is delayed instead: 3 s after a span or a segment empties, never
        // pushed on (a busy heap would push it on forever); that burst took
        // 2.0-2.9 faults per request (decommit off: 2.0-2.2; TLS 0.4-1.1
        // against 0.0-0.1) at the same req/s within the host's noise. A
        // worker that goes quiet runs the decommits that are due
        // (release_free_memory): 12 s after that burst RSS was 356-434 MiB
        // instead of 480-540 (bench/README.md, "giving memory back once a
        // worker is quiet").
        mi_option_set(mi_option_decommit_delay, kDecommitDelayMs);
        mi_option_set(mi_option_segment_decommit_delay, kDecommitDelayMs);
        mi_option_set(mi_option_decommit_extend_delay, 0);
        return;
    }
#endif
    // Read buffers of up to 64 KiB come and go with every request
    // (l7/socket_io.cc). With glibc's default trim threshold (128 KiB) the
    // free top of a worker's heap goes back to the kernel (madvise) and is
    // faulted in again by the next malloc, request after request: that cost
    // more than the proxying itself. Freed memory stays for reuse instead.
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

void release_free_memory() {
#if LBD_WITH_MIMALLOC
    if (mimalloc_serves_malloc()) {
        // Frees this thread's empty pages, decommits what has been free for
        // kDecommitDelayMs where a page is freed, and returns the segments
        // left empty.
        mi_collect(true);
        return;
    }
#endif
    // AddressSanitizer's malloc serves the process, not glibc's, so the
    // first malloc_trim is what initialises glibc's heap, from a worker
    // (ptmalloc_init makes the main arena that thread's without counting it
    // as attached). An ASan lbd then aborted as it stopped ("malloc
    // assertion failure in __malloc_arena_thread_freeres: a->attached_threads
    // > 0", HA scenario j, once in one run); nothing to give back there.
    // The count of releases still moves (the hook ran).
    if (kAddressSanitizer) return;
    malloc_trim(0);
}

}  // namespace lbd
