#include "l7/exchange_slot.h"

#include <vector>

#include "l7/thread_spares.h"

namespace lbd::l7 {

namespace {

// Enough for the connections a worker ends in one loop iteration under a
// connection-per-request load; past it the storage is freed (at most
// ~110 KB kept per thread).
constexpr size_t kMaxSpares = 64;

std::vector<std::unique_ptr<std::optional<Exchange>>>& spares() {
    thread_local std::vector<std::unique_ptr<std::optional<Exchange>>> list;
    return list;
}

}  // namespace

ExchangeSlot::~ExchangeSlot() {
    if (!storage_) return;
    storage_->reset();  // its server connection and copies of the heads go now
    auto& list = spares();
    if (kKeepSpareBlocks && list.size() < kMaxSpares) list.push_back(std::move(storage_));
}

ExchangeSlot::Storage ExchangeSlot::take_spare() {
    auto& list = spares();
    if (list.empty()) return std::make_unique<std::optional<Exchange>>();
    Storage storage = std::move(list.back());
    list.pop_back();
    return storage;
}

}  // namespace lbd::l7
