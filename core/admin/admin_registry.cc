#include "core/admin/admin_registry.h"

namespace lbd {

void AdminRegistry::add(AdminRequest::CommandCase command, Handler handler) {
    handlers_[static_cast<int>(command)] = std::move(handler);
}

void AdminRegistry::dispatch(const AdminRequest& request, AdminResponse& response) const {
    auto it = handlers_.find(static_cast<int>(request.command_case()));
    if (it == handlers_.end()) {
        admin_error(response, ::lbd::v1::AdminError::INVALID_ARGUMENT,
                    request.command_case() == AdminRequest::COMMAND_NOT_SET
                        ? "empty request: no command"
                        : "command " + std::to_string(request.command_case()) + " is not available in this lbd");
        return;
    }
    it->second(request, response);
}

void admin_error(AdminResponse& response, ::lbd::v1::AdminError::Code code, const std::string& message) {
    response.Clear();
    auto* error = response.mutable_error();
    error->set_code(code);
    error->set_message(message);
}

}  // namespace lbd
