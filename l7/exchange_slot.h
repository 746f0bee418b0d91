// The request in flight of an HTTP/1 connection: an Exchange (~1.7 KB) in
// storage taken at the connection's first request and kept for the next ones
// (no allocation per request), so a connection that turns out to speak
// HTTP/2, whose streams have exchanges of their own, carries none.
//
// The storage's memory outlives the connection: when a slot goes, it joins
// the thread's spares (thread_spares.h) that the next connection's first
// request takes from, so a client that opens a connection per request (or
// many short ones) costs no allocation for it either.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "l7/exchange.h"
#include "l7/thread_spares.h"

namespace lbd::l7 {

class ExchangeSlot {
  public:
    Exchange& emplace(const ClientEndpoint& client, uint64_t start_ms) {
        if (!storage_) storage_ = std::make_unique<Storage>();
        return storage_->emplace(client, start_ms);
    }
    void reset() {
        if (storage_) storage_->reset();
    }
    explicit operator bool() const { return storage_ && storage_->has_value(); }
    Exchange& operator*() { return **storage_; }
    Exchange* operator->() { return &**storage_; }

  private:
    // Enough for the connections a worker ends in one loop iteration under a
    // connection-per-request load (~110 KB kept per thread at most).
    struct Storage final : std::optional<Exchange> {
        static void* operator new(std::size_t size) { return ThreadSpares<Storage, 64>::take(size); }
        static void operator delete(void* block) { ThreadSpares<Storage, 64>::give(block); }
    };
    std::unique_ptr<Storage> storage_;
};

}  // namespace lbd::l7
