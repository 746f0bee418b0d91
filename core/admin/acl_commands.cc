#include "core/admin/acl_commands.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/base/log.h"

namespace lbd {
namespace {

using ::lbd::v1::AclChangeRequest;
using ::lbd::v1::AdminError;

constexpr uint32_t kDefaultShowLimit = 1000;

void describe(const AclList& list, uint32_t limit, ::lbd::v1::AclInfo& out) {
    const auto prefixes = list.prefixes();
    out.set_name(list.name());
    out.set_file(list.file());
    out.set_size(prefixes->size());
    const size_t shown = std::min<size_t>(prefixes->size(), limit);
    for (size_t i = 0; i < shown; ++i) out.add_prefixes(prefixes->prefixes()[i].to_string());
    out.set_truncated(shown < prefixes->size());
}

// The request's prefixes, or an INVALID_ARGUMENT naming the first bad one.
bool parse_all(const AclChangeRequest& request, std::vector<IpPrefix>& out, AdminResponse& response) {
    for (const std::string& text : request.prefixes()) {
        std::string why;
        auto prefix = IpPrefix::parse(text, &why);
        if (!prefix) {
            admin_error(response, AdminError::INVALID_ARGUMENT, "bad prefix '" + text + "': " + why);
            return false;
        }
        out.push_back(*prefix);
    }
    if (out.empty() && request.op() != AclChangeRequest::LOAD) {
        admin_error(response, AdminError::INVALID_ARGUMENT, "no prefix given");
        return false;
    }
    return true;
}

// The list's prefixes after the change, or nullopt with the error set.
std::optional<std::vector<IpPrefix>> changed(const AclList& list, const AclChangeRequest& request,
                                             AdminResponse& response) {
    std::vector<IpPrefix> given;
    if (!parse_all(request, given, response)) return std::nullopt;
    std::vector<IpPrefix> now = list.prefixes()->prefixes();  // sorted, unique
    switch (request.op()) {
        case AclChangeRequest::ADD:
            now.insert(now.end(), given.begin(), given.end());
            return now;
        case AclChangeRequest::DEL:
            for (const IpPrefix& prefix : given) {
                auto it = std::lower_bound(now.begin(), now.end(), prefix);
                if (it == now.end() || *it != prefix) {
                    admin_error(response, AdminError::NOT_FOUND,
                                prefix.to_string() + " is not in acl list '" + list.name() + "'");
                    return std::nullopt;
                }
                now.erase(it);
            }
            return now;
        case AclChangeRequest::LOAD: {
            std::vector<IpPrefix> loaded;
            std::string why;
            if (request.file().empty() || !read_prefix_file(request.file(), loaded, &why)) {
                admin_error(response, AdminError::INVALID_ARGUMENT, request.file().empty() ? "no file given" : why);
                return std::nullopt;
            }
            return loaded;
        }
        default: admin_error(response, AdminError::INVALID_ARGUMENT, "unknown acl operation"); return std::nullopt;
    }
}

}  // namespace

void register_acl_commands(AdminRegistry& registry, CurrentAclLists current) {
    registry.add(AdminRequest::kAclShow, [current](const AdminRequest& request, AdminResponse& response) {
        const auto& args = request.acl_show();
        auto* reply = response.mutable_acl();
        for (const auto& list : current().all()) {
            if (!args.list().empty() && list->name() != args.list()) continue;
            describe(*list, args.list().empty() ? 0 : (args.limit() != 0 ? args.limit() : kDefaultShowLimit),
                     *reply->add_lists());
        }
        if (!args.list().empty() && reply->lists_size() == 0)
            admin_error(response, AdminError::NOT_FOUND, "no acl list named '" + args.list() + "'");
    });
    registry.add(AdminRequest::kAclChange, [current](const AdminRequest& request, AdminResponse& response) {
        const auto& args = request.acl_change();
        AclList* list = current().find(args.list());
        if (list == nullptr) return admin_error(response, AdminError::NOT_FOUND, "no acl list named '" + args.list() + "'");
        auto prefixes = changed(*list, args, response);
        if (!prefixes) return;
        list->replace(std::make_shared<const PrefixSet>(std::move(*prefixes)));
        LOG_INFO("acl list '%s' changed by lbctl: %zu prefixes (until the next reload)", list->name().c_str(),
                 list->prefixes()->size());
        describe(*list, 0, *response.mutable_acl()->add_lists());
    });
}

}  // namespace lbd
