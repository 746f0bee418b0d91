#include "core/config/config_modules.h"

#include <algorithm>

namespace lbd::config_check {
namespace {

std::vector<ConfigModule>& registry() {
    static std::vector<ConfigModule> modules;  // built before main(), read-only after
    return modules;
}

bool owned(const std::string& field) {
    return std::any_of(registry().begin(), registry().end(), [&](const ConfigModule& m) {
        return std::find(m.owns.begin(), m.owns.end(), field) != m.owns.end();
    });
}

void refuse_unowned(const std::string& field, Loc at, Errors& errors) {
    if (!owned(field))
        errors.add(at, field + " is checked by a part of lbd that this program does not include "
                               "(a build error: its config library was not linked)");
}

}  // namespace

bool register_config_module(ConfigModule module) {
    registry().push_back(std::move(module));
    return true;
}

const std::vector<ConfigModule>& config_modules() { return registry(); }

void check_owned_fields_have_modules(const pb::Config& msg, const Node& root, Errors& errors) {
    using C = pb::Config;
    if (msg.global().has_ha())
        refuse_unowned("Global.ha", root.child(C::kGlobalFieldNumber).at(pb::Global::kHaFieldNumber), errors);
    if (msg.global().cache_zones_size() > 0)
        refuse_unowned("Global.cache_zones",
                       root.child(C::kGlobalFieldNumber).at(pb::Global::kCacheZonesFieldNumber), errors);
    if (msg.global().acl_lists_size() != 0)
        refuse_unowned("Global.acl_lists", root.child(C::kGlobalFieldNumber).at(pb::Global::kAclListsFieldNumber),
                       errors);
    for (int i = 0; i < msg.listeners_size(); ++i) {
        const Node node = root.child(C::kListenersFieldNumber, i);
        if (msg.listeners(i).has_http()) refuse_unowned("Listener.http", node.at(pb::Listener::kHttpFieldNumber), errors);
        if (msg.listeners(i).has_tls()) refuse_unowned("Listener.tls", node.at(pb::Listener::kTlsFieldNumber), errors);
    }
    for (int i = 0; i < msg.pools_size(); ++i) {
        const pb::Pool& pool = msg.pools(i);
        const Node node = root.child(C::kPoolsFieldNumber, i);
        if (!pool.balance().empty()) refuse_unowned("Pool.balance", node.at(pb::Pool::kBalanceFieldNumber), errors);
        if (pool.has_tls()) refuse_unowned("Pool.tls", node.at(pb::Pool::kTlsFieldNumber), errors);
        if (pool.stickiness().has_cookie())
            refuse_unowned("Stickiness.cookie",
                           node.child(pb::Pool::kStickinessFieldNumber).at(pb::Stickiness::kCookieFieldNumber), errors);
    }
}

}  // namespace lbd::config_check
