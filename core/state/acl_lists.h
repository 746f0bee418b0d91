// The running copies of the named prefix lists (global.acl_lists), which the
// L7 access rules read on every request and lbctl changes without a reload.
//
// Each list holds an immutable PrefixSet (core/net/prefix_set.h) behind an
// atomic shared pointer: a change builds a whole new set off the workers
// (on the control thread) and swaps it in, then bumps the list's version.
// A worker keeps its own reference to the set and reloads it only when the
// version moved: a request reads one atomic integer, not the atomic shared
// pointer (libstdc++ guards that with a lock bit every worker would
// contend on), and never waits for a change in progress.
//
// A reload builds the lists afresh from the new configuration (README
// "Access control"): a change made with lbctl lasts until then.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"

namespace lbd {

class AclList {
public:
    AclList(std::string name, std::string file, std::shared_ptr<const PrefixSet> prefixes)
        : name_(std::move(name)), file_(std::move(file)), prefixes_(std::move(prefixes)) {}

    const std::string& name() const { return name_; }
    const std::string& file() const { return file_; }
    // Any thread.
    std::shared_ptr<const PrefixSet> prefixes() const { return prefixes_.load(std::memory_order_acquire); }
    // Any thread: changes with every replace(), after the new set is in
    // place (a reader that sees a new version loads the new set).
    uint64_t version() const { return version_.load(std::memory_order_acquire); }
    // Control thread (changes are made one at a time).
    void replace(std::shared_ptr<const PrefixSet> prefixes) {
        prefixes_.store(std::move(prefixes), std::memory_order_release);
        version_.fetch_add(1, std::memory_order_release);
    }

private:
    const std::string name_;
    const std::string file_;
    std::atomic<std::shared_ptr<const PrefixSet>> prefixes_;
    std::atomic<uint64_t> version_{0};
};

class AclLists {
public:
    explicit AclLists(const Config& config);

    // The list, or null. The pointer lives as long as this object.
    AclList* find(std::string_view name) const;
    const std::vector<std::unique_ptr<AclList>>& all() const { return lists_; }

private:
    std::vector<std::unique_ptr<AclList>> lists_;
};

}  // namespace lbd
