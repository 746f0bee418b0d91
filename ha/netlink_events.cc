#include "ha/netlink_events.h"

#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "core/base/log.h"

namespace lbd::ha {

NetlinkEvents::NetlinkEvents(event_base* base, std::string name, std::function<void(nl_msg*)> on_message,
                             std::function<void()> after_read)
    : base_(base), name_(std::move(name)), on_message_(std::move(on_message)), after_read_(std::move(after_read)) {}

NetlinkEvents::~NetlinkEvents() {
    event_.reset();
    if (socket_ != nullptr) nl_socket_free(socket_);
}

bool NetlinkEvents::subscribe(std::initializer_list<int> groups, std::string* error) {
    socket_ = nl_socket_alloc();
    if (socket_ == nullptr) {
        *error = name_ + ": cannot allocate a netlink socket";
        return false;
    }
    // Multicast events carry no sequence numbers of ours.
    nl_socket_disable_seq_check(socket_);
    nl_socket_modify_cb(socket_, NL_CB_VALID, NL_CB_CUSTOM, &NetlinkEvents::on_valid, this);
    int rc = nl_connect(socket_, NETLINK_ROUTE);
    for (int group : groups)
        if (rc == 0) rc = nl_socket_add_membership(socket_, group);
    if (rc == 0) rc = nl_socket_set_nonblocking(socket_);
    if (rc < 0) {
        *error = name_ + ": netlink: " + nl_geterror(rc);
        return false;
    }
    return true;
}

void NetlinkEvents::start_reading() {
    event_ = make_event(base_, nl_socket_get_fd(socket_), EV_READ | EV_PERSIST, &NetlinkEvents::on_readable, this);
    event_add(event_.get(), nullptr);
}

void NetlinkEvents::on_readable(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<NetlinkEvents*>(arg);
    // Reads until the socket is drained (non-blocking). On ENOBUFS (events
    // lost to a full receive buffer) the watch's state may be stale until
    // its next event; a warning is all we can do without a re-dump, and
    // keepalived's FIFO line still decides the role.
    int rc = nl_recvmsgs_default(self->socket_);
    if (rc < 0 && rc != -NLE_AGAIN) LOG_WARN("%s: netlink: %s", self->name_.c_str(), nl_geterror(rc));
    self->after_read_();
}

int NetlinkEvents::on_valid(nl_msg* msg, void* arg) {
    static_cast<NetlinkEvents*>(arg)->on_message_(msg);
    return NL_OK;
}

}  // namespace lbd::ha
