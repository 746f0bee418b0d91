#include "ha/link_watch.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "core/base/log.h"

namespace lbd::ha {

LinkWatch::LinkWatch(event_base* base, std::string interface, Handler on_change)
    : base_(base), interface_(std::move(interface)), on_change_(std::move(on_change)) {}

LinkWatch::~LinkWatch() {
    event_.reset();
    if (events_ != nullptr) nl_socket_free(events_);
}

bool LinkWatch::start(std::string* error) {
    events_ = nl_socket_alloc();
    if (events_ == nullptr) {
        *error = "link watch: cannot allocate a netlink socket";
        return false;
    }
    nl_socket_disable_seq_check(events_);
    nl_socket_modify_cb(events_, NL_CB_VALID, NL_CB_CUSTOM, &LinkWatch::on_message, this);
    int rc = nl_connect(events_, NETLINK_ROUTE);
    if (rc == 0) rc = nl_socket_add_memberships(events_, RTNLGRP_LINK, 0);
    if (rc == 0) rc = nl_socket_set_nonblocking(events_);
    if (rc < 0) {
        *error = std::string("link watch: netlink: ") + nl_geterror(rc);
        return false;
    }

    // Seed from a query on a second socket, after subscribing (as VipWatch).
    nl_sock* query = nl_socket_alloc();
    rtnl_link* link = nullptr;
    rc = query == nullptr ? -NLE_NOMEM : nl_connect(query, NETLINK_ROUTE);
    if (rc == 0) rc = rtnl_link_get_kernel(query, 0, interface_.c_str(), &link);
    if (query != nullptr) nl_socket_free(query);
    if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) {
        // Not there yet (a bond or VLAN made later): down until it appears,
        // as keepalived sees it.
        LOG_WARN("link watch: no interface %s yet; it counts as down until it appears", interface_.c_str());
    } else if (rc < 0) {
        *error = "link watch: interface " + interface_ + ": " + nl_geterror(rc);
        return false;
    } else {
        seen(reinterpret_cast<nl_object*>(link));
        rtnl_link_put(link);
    }

    event_ = make_event(base_, nl_socket_get_fd(events_), EV_READ | EV_PERSIST, &LinkWatch::on_readable, this);
    event_add(event_.get(), nullptr);
    report();
    return true;
}

void LinkWatch::on_readable(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<LinkWatch*>(arg);
    // On ENOBUFS (events lost) the state may be stale until the next event
    // of this interface; keepalived still decides the VRRP state.
    int rc = nl_recvmsgs_default(self->events_);
    if (rc < 0 && rc != -NLE_AGAIN) LOG_WARN("link watch: netlink: %s", nl_geterror(rc));
    self->report();
}

int LinkWatch::on_message(nl_msg* msg, void* arg) {
    int type = nlmsg_hdr(msg)->nlmsg_type;
    if (type != RTM_NEWLINK && type != RTM_DELLINK) return NL_OK;
    nl_msg_parse(
        msg, [](nl_object* object, void* self) { static_cast<LinkWatch*>(self)->seen(object); }, arg);
    return NL_OK;
}

void LinkWatch::seen(nl_object* object) {
    auto* link = reinterpret_cast<rtnl_link*>(object);
    const char* name = rtnl_link_get_name(link);
    if (name == nullptr || interface_ != name) return;
    const unsigned flags = rtnl_link_get_flags(link);
    up_ = nl_object_get_msgtype(object) != RTM_DELLINK && (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0;
}

void LinkWatch::report() {
    if (reported_ && up_ == last_reported_) return;
    reported_ = true;
    last_reported_ = up_;
    on_change_(up_);
}

}  // namespace lbd::ha
