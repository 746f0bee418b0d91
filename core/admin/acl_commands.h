// Admin commands of the access lists (core/state/acl_lists.h): acl_show and
// acl_change (`lbctl acl show|add|del|load`). A change builds the list's
// new lookup table on the control thread and swaps it in; workers see it
// from their next request. Not kept across a reload (the config's lists
// are rebuilt then).
#pragma once

#include <functional>

#include "core/admin/admin_registry.h"
#include "core/state/acl_lists.h"

namespace lbd {

// The lists of the running configuration (changes on reload). Called on
// the control thread.
using CurrentAclLists = std::function<AclLists&()>;

void register_acl_commands(AdminRegistry& registry, CurrentAclLists current);

}  // namespace lbd
