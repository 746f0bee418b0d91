#include "cli/allocator.h"

#include <malloc.h>

#include <cstdlib>

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
        // mimalloc gives a page back to the kernel (decommits it) soon after
        // it empties. Responses of 64 KiB fill and empty whole pages all the
        // time: h2load -c100 -m100 through lbd took 8.5-8.9 page faults per
        // request and half the requests per second of glibc's malloc; a
        // 1-second delay still left 5.4-6.0 faults (bench/README.md, "lbd on
        // mimalloc"). Freed memory stays for reuse, as with glibc below.
        mi_option_disable(mi_option_allow_decommit);
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

}  // namespace lbd
