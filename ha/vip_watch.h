// Watches for the virtual IPs on this host with netlink address events
// (RTNLGRP_IPV4_IFADDR / RTNLGRP_IPV6_IFADDR through libnl-route): no
// polling, so lbd knows within the same millisecond that keepalived added or
// removed a VIP. The present set is seeded by one address dump at start;
// the subscription is made before the dump, so no event falls between them.
//
// A VIP counts wherever it appears (keepalived puts it on the VRRP
// interface); the VIPs are present when all of them are.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ha/netlink_events.h"

struct nl_msg;
struct nl_object;

namespace lbd::ha {

class VipWatch {
public:
    // Called on the loop's thread when "all VIPs present" flips.
    using Handler = std::function<void(bool present)>;

    // `vips` as configured ("192.0.2.10/24", "2001:db8::10/64").
    VipWatch(event_base* base, const std::vector<std::string>& vips, Handler on_change);
    ~VipWatch();
    VipWatch(const VipWatch&) = delete;
    VipWatch& operator=(const VipWatch&) = delete;

    bool start(std::string* error);
    bool present() const { return !wanted_.empty() && present_.size() == wanted_.size(); }

private:
    void on_message(nl_msg* msg);
    void seen(nl_object* object, bool added);
    void report();

    std::set<std::string> wanted_;   // family byte + address bytes
    std::set<std::string> present_;
    Handler on_change_;
    NetlinkEvents events_;
    bool reported_ = false;
    bool last_reported_ = false;
};

}  // namespace lbd::ha
