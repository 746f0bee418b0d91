// H2SessionMemory: one outbound frame buffer per thread (h2_frame_buffer.h).
#include "l7/h2_frame_buffer.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace lbd::l7 {

namespace {

// NGHTTP2_FRAMEBUF_CHUNKLEN (nghttp2_frame.h, not installed): a 9-byte frame
// header, a pad length byte, a 16 KiB payload.
constexpr size_t kFrameBufferSize = 9 + 1 + 16384;

uint8_t* thread_frame_buffer() {
    // Static storage: outlives every session of the thread, never freed.
    alignas(std::max_align_t) thread_local uint8_t buffer[kFrameBufferSize];
    return buffer;
}

void* mem_malloc(size_t size, void* user) {
    auto* memory = static_cast<H2SessionMemory*>(user);
    if (size == kFrameBufferSize && !memory->has_frame_buffer) {
        memory->has_frame_buffer = true;
        return thread_frame_buffer();
    }
    return std::malloc(size);
}

void mem_free(void* ptr, void* user) {
    if (ptr == thread_frame_buffer()) {
        static_cast<H2SessionMemory*>(user)->has_frame_buffer = false;
        return;
    }
    std::free(ptr);
}

void* mem_calloc(size_t count, size_t size, void*) { return std::calloc(count, size); }

void* mem_realloc(void* ptr, size_t size, void* user) {
    // nghttp2 1.52 allocates every buffer's bytes with realloc from null
    // (nghttp2_buf_init2 -> nghttp2_buf_reserve), the frame buffer's too.
    if (ptr == nullptr) return mem_malloc(size, user);
    // A frame buffer that grows gets its own (nghttp2 grows none:
    // nghttp2_bufs_realloc frees and allocates).
    if (ptr == thread_frame_buffer()) {
        void* own = std::malloc(size);
        if (own == nullptr) return nullptr;
        std::memcpy(own, ptr, size < kFrameBufferSize ? size : kFrameBufferSize);
        static_cast<H2SessionMemory*>(user)->has_frame_buffer = false;
        return own;
    }
    return std::realloc(ptr, size);
}

}  // namespace

nghttp2_mem H2SessionMemory::functions() { return {this, &mem_malloc, &mem_free, &mem_calloc, &mem_realloc}; }

}  // namespace lbd::l7
