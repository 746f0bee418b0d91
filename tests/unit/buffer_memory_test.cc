// Unit tests for libevent's memory functions with per-thread buffer blocks
// (core/loop/buffer_memory.h): real evbuffers, real malloc blocks.
#include "core/loop/buffer_memory.h"

#include <doctest/doctest.h>
#include <event2/buffer.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/base/sanitizers.h"

namespace bm = lbd::buffer_memory;

TEST_CASE("a chain-sized block freed is the next block of that size; other sizes go to malloc") {
    bm::release_kept();
    void* block = bm::allocate(64 * 1024);
    REQUIRE(block != nullptr);
    bm::release(block);
    if (lbd::kAddressSanitizer) {
        CHECK(bm::kept_blocks() == 0);  // nothing kept: ASan must see every use after free
        return;
    }
    CHECK(bm::kept_blocks() == 1);
    CHECK(bm::allocate(32 * 1024) != block);  // another size's list is empty
    void* again = bm::allocate(64 * 1024);
    CHECK(again == block);
    CHECK(bm::kept_blocks() == 0);
    bm::release(again);

    // Not a power of two, below the smallest kept size, above the largest: freed at once.
    bm::release_kept();
    for (size_t size : {size_t{3000}, size_t{512}, size_t{128 * 1024}}) {
        bm::release(bm::allocate(size));
        CHECK(bm::kept_blocks() == 0);
    }
    // A block from plain malloc of another size is never taken for a kept size.
    bm::release(std::malloc(40000));
    CHECK(bm::kept_blocks() == 0);
}

TEST_CASE("at most kMaxPerSize blocks of a size are kept, per thread") {
    if (lbd::kAddressSanitizer) return;
    bm::release_kept();
    std::vector<void*> blocks;
    for (size_t i = 0; i < bm::kMaxPerSize + 5; ++i) blocks.push_back(bm::allocate(4096));
    for (void* block : blocks) bm::release(block);
    CHECK(bm::kept_blocks() == bm::kMaxPerSize);

    // Another thread keeps its own: what it frees is not this thread's, and it
    // frees what it kept when it ends.
    size_t other_kept = 0;
    std::thread([&] {
        other_kept = bm::kept_blocks();
        bm::release(bm::allocate(4096));
        CHECK(bm::kept_blocks() == 1);
    }).join();
    CHECK(other_kept == 0);
    CHECK(bm::kept_blocks() == bm::kMaxPerSize);
    bm::release_kept();
}

TEST_CASE("an emptied evbuffer's chain is kept and its next bytes take it again") {
    if (lbd::kAddressSanitizer) return;
    lbd::use_buffer_memory();  // this binary makes no other libevent object
    bm::release_kept();
    evbuffer* buffer = evbuffer_new();
    REQUIRE(buffer != nullptr);
    const std::string bytes(60 * 1024, 'x');
    const size_t before = bm::kept_blocks();
    REQUIRE(evbuffer_add(buffer, bytes.data(), bytes.size()) == 0);
    evbuffer_drain(buffer, bytes.size());  // libevent frees the emptied chain
    CHECK(bm::kept_blocks() == before + 1);
    REQUIRE(evbuffer_add(buffer, bytes.data(), bytes.size()) == 0);
    CHECK(bm::kept_blocks() == before);  // taken again, not malloc'd
    std::string out(bytes.size(), '\0');
    CHECK(evbuffer_remove(buffer, out.data(), out.size()) == static_cast<int>(out.size()));
    CHECK(out == bytes);
    evbuffer_free(buffer);
}
