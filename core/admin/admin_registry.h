// Admin commands, registered by the module that implements them.
//
// A command is a field of the AdminRequest oneof; its handler fills the
// AdminResponse. Handlers run on the control thread, one at a time, so they
// may read and change shared state with the same rules as the health
// checker (atomics on servers, the stick tables' own locks).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "lbd/v1/admin.pb.h"

namespace lbd {

using AdminRequest = ::lbd::v1::AdminRequest;
using AdminResponse = ::lbd::v1::AdminResponse;

class AdminRegistry {
public:
    using Handler = std::function<void(const AdminRequest& request, AdminResponse& response)>;

    // `command` is the oneof case, e.g. AdminRequest::kServers.
    void add(AdminRequest::CommandCase command, Handler handler);
    // Runs the command's handler, or answers INVALID_ARGUMENT.
    void dispatch(const AdminRequest& request, AdminResponse& response) const;

private:
    std::map<int, Handler> handlers_;
};

// Fills `response` with an AdminError.
void admin_error(AdminResponse& response, ::lbd::v1::AdminError::Code code, const std::string& message);

}  // namespace lbd
