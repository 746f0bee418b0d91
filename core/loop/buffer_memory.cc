#include "core/loop/buffer_memory.h"

#include <event2/event.h>
#include <malloc.h>

#include <array>
#include <bit>
#include <cstdlib>

#include "core/base/sanitizers.h"

namespace lbd {
namespace buffer_memory {
namespace {

constexpr size_t kMinShift = std::countr_zero(kMinKeptSize);
constexpr size_t kSizes = std::countr_zero(kMaxKeptSize) - kMinShift + 1;

// The list of `size`'s blocks, or kSizes when blocks of that size are not kept.
size_t size_index(size_t size) {
    // Not std::has_single_bit: without -mpopcnt (Debian's x86-64 baseline)
    // it is a call to libgcc's __popcountdi2, 0.7% of a keep-alive request's
    // instructions (callgrind); the size is not 0 here.
    if (size < kMinKeptSize || size > kMaxKeptSize || (size & (size - 1)) != 0) return kSizes;
    return static_cast<size_t>(std::countr_zero(size)) - kMinShift;
}

// A freed block's list: the largest kept size its usable size holds, when
// that size is what it was made for (glibc rounds a request up by less than
// 32 bytes); a block of another size goes back to free().
size_t block_index(void* block) {
    const size_t usable = malloc_usable_size(block);
    if (usable < kMinKeptSize) return kSizes;
    const size_t size = std::bit_floor(usable);
    if (usable - size >= 32) return kSizes;
    return size_index(size);
}

struct Lists {
    std::array<std::array<void*, kMaxPerSize>, kSizes> blocks{};
    std::array<size_t, kSizes> count{};
    ~Lists();
};

// Set once the thread's lists are destroyed: libevent objects freed later in
// the thread's exit (static destructors) go straight to free().
thread_local bool lists_gone = false;

void free_all(Lists& l) {
    for (size_t i = 0; i < kSizes; ++i) {
        for (size_t k = 0; k < l.count[i]; ++k) std::free(l.blocks[i][k]);
        l.count[i] = 0;
    }
}

Lists::~Lists() {
    lists_gone = true;
    free_all(*this);
}

Lists* lists() {
    if (kAddressSanitizer || lists_gone) return nullptr;
    thread_local Lists per_thread;
    return &per_thread;
}

}  // namespace

void* allocate(size_t size) {
    const size_t i = size_index(size);
    if (i < kSizes) {
        if (Lists* l = lists(); l != nullptr && l->count[i] > 0) return l->blocks[i][--l->count[i]];
    }
    return std::malloc(size);
}

// libevent reallocates its own arrays (event maps, change lists), never a
// chain; a block of a kept size made here is a malloc block all the same.
void* reallocate(void* block, size_t size) { return std::realloc(block, size); }

void release(void* block) {
    if (block == nullptr) return;
    if (Lists* l = lists()) {
        if (const size_t i = block_index(block); i < kSizes && l->count[i] < kMaxPerSize) {
            l->blocks[i][l->count[i]++] = block;
            return;
        }
    }
    std::free(block);
}

size_t kept_blocks() {
    Lists* l = lists();
    if (l == nullptr) return 0;
    size_t n = 0;
    for (size_t c : l->count) n += c;
    return n;
}

void release_kept() {
    if (Lists* l = lists()) free_all(*l);
}

}  // namespace buffer_memory

void use_buffer_memory() {
    event_set_mem_functions(&buffer_memory::allocate, &buffer_memory::reallocate, &buffer_memory::release);
}

}  // namespace lbd
