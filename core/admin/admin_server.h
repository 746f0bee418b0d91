// The admin socket: a Unix stream socket on the control loop that reads
// delimited AdminRequests and answers each with an AdminResponse.
#pragma once

#include <memory>
#include <string>

#include "core/admin/admin_registry.h"
#include "core/config/config.h"
#include "core/loop/event.h"

namespace lbd {

class AdminServer {
public:
    AdminServer(event_base* base, const AdminRegistry& registry);
    ~AdminServer();

    // Creates the socket (and its directory), mode 0660, group as
    // configured. Replaces a stale socket file, but refuses to take over one
    // that another process still answers on.
    bool start(const AdminConfig& config, std::string* error);

private:
    class Connection;
    static void on_accept(evutil_socket_t fd, short what, void* arg);

    event_base* base_;
    const AdminRegistry& registry_;
    std::string path_;
    UniqueFd fd_;
    EventPtr accept_event_;
    std::vector<std::unique_ptr<Connection>> connections_;
    friend class Connection;
};

}  // namespace lbd
