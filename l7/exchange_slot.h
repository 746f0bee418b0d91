// The request in flight of an HTTP/1 connection: an Exchange (~1.7 KB) in
// storage taken at the connection's first request and kept for the next ones
// (no allocation per request), so a connection that turns out to speak
// HTTP/2, whose streams have exchanges of their own, carries none.
//
// The storage outlives the connection: when a slot goes, its (empty) storage
// joins a short per-thread list that the next connection's first request
// takes from, so a client that opens a connection per request (or many
// short ones) costs no allocation for it either. Worker thread only: a slot
// is made and destroyed on its session's thread.
#pragma once

#include <memory>
#include <optional>

#include "l7/exchange.h"

namespace lbd::l7 {

class ExchangeSlot {
  public:
    ExchangeSlot() = default;
    ~ExchangeSlot();
    ExchangeSlot(const ExchangeSlot&) = delete;
    ExchangeSlot& operator=(const ExchangeSlot&) = delete;

    Exchange& emplace(const ClientEndpoint& client, uint64_t start_ms) {
        if (!storage_) storage_ = take_spare();
        return storage_->emplace(client, start_ms);
    }
    void reset() {
        if (storage_) storage_->reset();
    }
    explicit operator bool() const { return storage_ && storage_->has_value(); }
    Exchange& operator*() { return **storage_; }
    Exchange* operator->() { return &**storage_; }

  private:
    using Storage = std::unique_ptr<std::optional<Exchange>>;
    // A spare storage of this thread's list, or a new one.
    static Storage take_spare();

    Storage storage_;
};

}  // namespace lbd::l7
