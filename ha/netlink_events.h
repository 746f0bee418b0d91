// A netlink route socket subscribed to multicast groups and read on the
// event loop, shared by the watches of addresses (VipWatch) and of a link
// (LinkWatch). Each one subscribes first, then seeds its state from a dump
// or query of its own, then starts reading: an event between the two is in
// the dump or in the events (or both), never in neither.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>

#include "core/loop/event.h"

struct nl_sock;
struct nl_msg;

namespace lbd::ha {

class NetlinkEvents {
public:
    // `on_message` gets every valid message; `after_read` runs once the
    // socket is drained (the watch reports its state then). `name` prefixes
    // errors and warnings ("vip watch").
    NetlinkEvents(event_base* base, std::string name, std::function<void(nl_msg*)> on_message,
                  std::function<void()> after_read);
    ~NetlinkEvents();
    NetlinkEvents(const NetlinkEvents&) = delete;
    NetlinkEvents& operator=(const NetlinkEvents&) = delete;

    // Connects and joins `groups` (RTNLGRP_*), non-blocking.
    bool subscribe(std::initializer_list<int> groups, std::string* error);
    // Reads on the loop from now on.
    void start_reading();

private:
    static void on_readable(evutil_socket_t fd, short what, void* arg);
    static int on_valid(nl_msg* msg, void* arg);

    event_base* base_;
    std::string name_;
    std::function<void(nl_msg*)> on_message_;
    std::function<void()> after_read_;
    nl_sock* socket_ = nullptr;
    EventPtr event_;
};

}  // namespace lbd::ha
