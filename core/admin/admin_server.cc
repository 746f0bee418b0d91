#include "core/admin/admin_server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/admin/admin_framing.h"
#include "core/base/log.h"
#include "core/net/local_errors.h"

namespace lbd {

// One lbctl connection: requests in, responses out, in order.
class AdminServer::Connection {
public:
    Connection(AdminServer& server, int fd) : server_(server) {
        bev_ = bufferevent_socket_new(server.base_, fd, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(bev_, &Connection::on_read, &Connection::on_written, &Connection::on_event, this);
        // lbctl sends its request at once and reads the answer; even
        // `--wait` polls every second. A silent connection is abandoned.
        timeval idle{kAdminIdleTimeoutMs / 1000, 0};
        bufferevent_set_timeouts(bev_, &idle, &idle);
        bufferevent_enable(bev_, EV_READ | EV_WRITE);
    }
    ~Connection() { bufferevent_free(bev_); }

private:
    static void on_read(bufferevent* bev, void* arg) {
        auto* self = static_cast<Connection*>(arg);
        evbuffer* in = bufferevent_get_input(bev);
        for (;;) {
            size_t available = evbuffer_get_length(in);
            if (available == 0) return;
            size_t peek = std::min<size_t>(available, 5);
            const auto* head = evbuffer_pullup(in, static_cast<ev_ssize_t>(peek));
            FrameHeader frame = decode_frame_header(head, peek, kAdminMaxRequestBytes);
            if (frame.status == FrameStatus::kInvalid) return self->close("bad or oversized frame length");
            if (frame.status == FrameStatus::kNeedMore) return;
            size_t total = frame.header_bytes + frame.body_bytes;
            if (available < total) return;
            const auto* bytes = evbuffer_pullup(in, static_cast<ev_ssize_t>(total));
            AdminRequest request;
            AdminResponse response;
            if (!request.ParseFromArray(bytes + frame.header_bytes, static_cast<int>(frame.body_bytes))) {
                admin_error(response, ::lbd::v1::AdminError::INVALID_ARGUMENT, "request is not an AdminRequest");
            } else {
                self->server_.registry_.dispatch(request, response);
            }
            evbuffer_drain(in, total);
            std::string out = encode_frame(response);
            bufferevent_write(bev, out.data(), out.size());
        }
    }

    static void on_event(bufferevent* bev, short what, void* arg) {
        auto* self = static_cast<Connection*>(arg);
        if (what & BEV_EVENT_ERROR) return self->close(nullptr);
        if (what & BEV_EVENT_TIMEOUT) return self->close("idle for too long");
        if (what & BEV_EVENT_EOF) {
            // The client is done sending (it may have half-closed after its
            // requests): answer what is queued, then close.
            self->peer_done_ = true;
            bufferevent_disable(bev, EV_READ);
            if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) self->close(nullptr);
        }
    }

    static void on_written(bufferevent*, void* arg) {
        auto* self = static_cast<Connection*>(arg);
        if (self->peer_done_) self->close(nullptr);
    }

    void close(const char* why) {
        if (why != nullptr) LOG_WARN("admin: closing a connection: %s", why);
        auto& list = server_.connections_;
        auto it = std::find_if(list.begin(), list.end(), [this](const auto& c) { return c.get() == this; });
        AdminServer& server = server_;
        if (it != list.end()) list.erase(it);  // destroys this
        server.connection_count_changed();
    }

    AdminServer& server_;
    bufferevent* bev_;
    bool peer_done_ = false;
};

AdminServer::AdminServer(event_base* base, const AdminRegistry& registry) : base_(base), registry_(registry) {}

AdminServer::~AdminServer() {
    connections_.clear();
    accept_event_.reset();
    if (fd_) ::unlink(path_.c_str());
}

static bool someone_answers(const sockaddr_un& addr) {
    UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return probe && connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

bool AdminServer::start(const AdminConfig& config, std::string* error) {
    path_ = config.socket_path;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);

    std::string dir = path_.substr(0, path_.rfind('/'));
    if (!dir.empty()) mkdir(dir.c_str(), 0755);  // EEXIST is fine; bind reports real problems
    if (someone_answers(addr)) {
        *error = "admin socket " + path_ + " is in use by another process (another lbd?)";
        return false;
    }
    ::unlink(path_.c_str());  // a stale socket left by a killed lbd

    fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_ || bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_.get(), 64) != 0) {
        *error = "admin socket " + path_ + ": " + strerror(errno);
        fd_.reset();
        return false;
    }
    // Owner root (or whoever runs lbd), group as configured, mode 0660:
    // members of the group may administer lbd; nobody else may.
    gid_t gid = static_cast<gid_t>(-1);
    if (!config.socket_group.empty()) {
        group* g = getgrnam(config.socket_group.c_str());
        if (g == nullptr) {
            *error = "admin socket_group " + config.socket_group + ": no such group";
            return false;
        }
        gid = g->gr_gid;
    }
    if (chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0 || chmod(path_.c_str(), 0660) != 0) {
        *error = "admin socket " + path_ + ": " + strerror(errno);
        return false;
    }
    accept_event_ = make_event(base_, fd_.get(), EV_READ | EV_PERSIST, &AdminServer::on_accept, this);
    event_add(accept_event_.get(), nullptr);
    LOG_INFO("admin socket listening on %s", path_.c_str());
    return true;
}

void AdminServer::on_accept(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<AdminServer*>(arg);
    for (;;) {
        int client = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client >= 0) {
            self->connections_.push_back(std::make_unique<Connection>(*self, client));
            if (self->connections_.size() >= kAdminMaxConnections) return self->connection_count_changed();
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            // The accept event is level-triggered: without a pause it would
            // fire again at once and spin until an fd frees up. Counted as
            // lbd's own shortage and logged once a second, not per pause.
            uint64_t unlogged = 0;
            if (count_local_error(LocalWhere::kAccept, *local_cause(errno), &unlogged))
                LOG_WARN("admin socket: accept: %s; pausing 100 ms (%llu more not logged)", strerror(errno),
                         static_cast<unsigned long long>(unlogged));
            self->accept_paused_ = true;
            self->connection_count_changed();
            timeval pause{0, 100 * 1000};
            // Runs on the control loop, which stops before the server is freed.
            event_base_once(
                self->base_, -1, EV_TIMEOUT,
                [](evutil_socket_t, short, void* p) {
                    auto* server = static_cast<AdminServer*>(p);
                    server->accept_paused_ = false;
                    server->connection_count_changed();
                },
                self, &pause);
        }
        return;
    }
}

// At the cap (or while accept is paused) new connections wait in the
// kernel's accept queue rather than taking descriptors.
void AdminServer::connection_count_changed() {
    if (!accept_event_) return;
    bool accept = !accept_paused_ && connections_.size() < kAdminMaxConnections;
    if (accept == accepting_) return;
    accepting_ = accept;
    if (accept) {
        event_add(accept_event_.get(), nullptr);
    } else {
        event_del(accept_event_.get());
    }
}

}  // namespace lbd
