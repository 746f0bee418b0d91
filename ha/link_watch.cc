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
    : interface_(std::move(interface)),
      on_change_(std::move(on_change)),
      events_(base, "link watch", [this](nl_msg* msg) { on_message(msg); }, [this] { report(); }) {}

LinkWatch::~LinkWatch() = default;

bool LinkWatch::start(std::string* error) {
    if (!events_.subscribe({RTNLGRP_LINK}, error)) return false;
    // Seed from a query on a second socket, after subscribing (netlink_events.h).
    nl_sock* query = nl_socket_alloc();
    rtnl_link* link = nullptr;
    int rc = query == nullptr ? -NLE_NOMEM : nl_connect(query, NETLINK_ROUTE);
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

    events_.start_reading();
    report();
    return true;
}

void LinkWatch::on_message(nl_msg* msg) {
    int type = nlmsg_hdr(msg)->nlmsg_type;
    if (type != RTM_NEWLINK && type != RTM_DELLINK) return;
    nl_msg_parse(
        msg, [](nl_object* object, void* self) { static_cast<LinkWatch*>(self)->seen(object); }, this);
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
