// Watches one network interface's link (the VRRP interface) with netlink
// link events (RTNLGRP_LINK through libnl-route): no polling. "Up" is what
// keepalived calls up: administratively up and running (carrier), so lbd
// sees the link come back in the same millisecond as keepalived does. The
// state is seeded by one link query at start, made after subscribing, so no
// change falls between them.
#pragma once

#include <functional>
#include <string>

#include "ha/netlink_events.h"

struct nl_msg;
struct nl_object;

namespace lbd::ha {

class LinkWatch {
public:
    // Called on the loop's thread when the link goes up or down (and once at
    // start with the state then).
    using Handler = std::function<void(bool up)>;

    LinkWatch(event_base* base, std::string interface, Handler on_change);
    ~LinkWatch();
    LinkWatch(const LinkWatch&) = delete;
    LinkWatch& operator=(const LinkWatch&) = delete;

    bool start(std::string* error);
    bool up() const { return up_; }

private:
    void on_message(nl_msg* msg);
    void seen(nl_object* object);
    void report();

    std::string interface_;
    Handler on_change_;
    NetlinkEvents events_;
    bool up_ = false;
    bool reported_ = false;
    bool last_reported_ = false;
};

}  // namespace lbd::ha
