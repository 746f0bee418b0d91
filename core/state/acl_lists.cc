#include "core/state/acl_lists.h"

namespace lbd {

AclLists::AclLists(const Config& config) {
    for (const AclListConfig& list : config.global.acl_lists)
        lists_.push_back(std::make_unique<AclList>(list.name, list.file,
                                                   list.prefixes ? list.prefixes : std::make_shared<const PrefixSet>()));
}

AclList* AclLists::find(std::string_view name) const {
    for (const auto& list : lists_)
        if (list->name() == name) return list.get();
    return nullptr;
}

}  // namespace lbd
