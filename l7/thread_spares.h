// A short per-thread list of freed blocks of one class's size, for a class
// made and freed once per connection (HttpSession, its phase events, its
// exchange storage): under a connection per request the next connection
// takes the block the last one gave back, and malloc is not called at all
// (HAProxy's pools, per thread).
//
// Any thread may give a block back (one that ends a worker gives its
// sessions to its own list); a list frees what it holds when its thread
// exits, and what would pass `kMax` at once. A block given back after the
// list is gone (a destructor later in the thread's exit) is deleted.
//
// libevent's buffer chains have lists of their own (core/loop/buffer_memory.h):
// those are malloc blocks libevent frees through its memory functions, found
// by size at run time, where these are one C++ class's operator new.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "core/base/sanitizers.h"

namespace lbd::l7 {

// Under AddressSanitizer no block is kept (core/base/sanitizers.h).
inline constexpr bool kKeepSpareBlocks = !kAddressSanitizer;

template <typename Owner, size_t kMax>
class ThreadSpares {
  public:
    static void* take(size_t size) {
        if (gone_) return ::operator new(size);
        std::vector<void*>& blocks = list().blocks;
        if (blocks.empty()) return ::operator new(size);
        void* block = blocks.back();
        blocks.pop_back();
        return block;
    }
    static void give(void* block) {
        if (gone_) {
            ::operator delete(block);
            return;
        }
        std::vector<void*>& blocks = list().blocks;
        if (kKeepSpareBlocks && blocks.size() < kMax) blocks.push_back(block);  // reserved: no allocation
        else ::operator delete(block);
    }

  private:
    struct List {
        std::vector<void*> blocks;
        List() { blocks.reserve(kMax); }
        ~List() {
            gone_ = true;
            for (void* block : blocks) ::operator delete(block);
        }
    };
    // Set as the thread's list is destroyed; trivially destructible, so it
    // may be read to the thread's very end.
    static inline thread_local bool gone_ = false;
    static List& list() {
        thread_local List spares;
        return spares;
    }
};

}  // namespace lbd::l7
