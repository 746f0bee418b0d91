// The admin socket: a Unix stream socket on the control loop that reads
// delimited AdminRequests and answers each with an AdminResponse.
#pragma once

#include <memory>
#include <string>

#include "core/admin/admin_registry.h"
#include "core/config/config.h"
#include "core/loop/event.h"

namespace lbd {

// lbctl runs one command per connection; a few operators and scripts at
// once fit, and the cap bounds the descriptors the admin socket can take.
constexpr size_t kAdminMaxConnections = 16;
// A connection with nothing read or written for this long is closed.
constexpr long kAdminIdleTimeoutMs = 10000;

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
    // Stops or resumes accepting after a connection opened or closed.
    void connection_count_changed();

    event_base* base_;
    const AdminRegistry& registry_;
    std::string path_;
    UniqueFd fd_;
    EventPtr accept_event_;
    std::vector<std::unique_ptr<Connection>> connections_;
    bool accepting_ = true;
    bool accept_paused_ = false;  // accept failed for lack of descriptors or memory
    friend class Connection;
};

}  // namespace lbd
