// Unit tests for the per-thread lists of freed blocks (l7/thread_spares.h),
// with the program's operator new and delete counted here.
#include "l7/thread_spares.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

// Which block operator delete last freed: the only way to see that a block
// given back went to the allocator and not to a list.
namespace {
std::atomic<void*> last_deleted{nullptr};
}  // namespace

void* operator new(std::size_t size) {
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    if (p != nullptr) last_deleted = p;
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace {

struct Session {};  // the owner type: one list per type
using Spares = lbd::l7::ThreadSpares<Session, 2>;

TEST_CASE("a block given back is the next one taken, up to kMax per thread") {
    if (!lbd::l7::kKeepSpareBlocks) return;  // AddressSanitizer: nothing kept
    void* a = Spares::take(64);
    void* b = Spares::take(64);
    void* c = Spares::take(64);
    Spares::give(a);
    Spares::give(b);
    Spares::give(c);  // past kMax: freed
    CHECK(last_deleted == c);
    CHECK(Spares::take(64) == b);
    CHECK(Spares::take(64) == a);
    ::operator delete(a);
    ::operator delete(b);
}

// A thread_local made before the list and holding a block is destroyed after
// the list (reverse order of construction): its block must go to the
// allocator, not into the destroyed list.
struct LateHolder {
    void* block = nullptr;
    ~LateHolder() {
        if (block != nullptr) Spares::give(block);
    }
};

TEST_CASE("a block given back after the thread's list is gone is deleted") {
    void* given_late = nullptr;
    std::thread([&] {
        thread_local LateHolder holder;      // constructed first, destroyed last
        Spares::give(Spares::take(64));      // the list is constructed now
        holder.block = Spares::take(64);
        given_late = holder.block;
    }).join();
    CHECK(given_late != nullptr);
    CHECK(last_deleted == given_late);
}

}  // namespace
