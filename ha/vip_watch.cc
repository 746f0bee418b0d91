#include "ha/vip_watch.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/socket.h>

#include "core/base/log.h"

namespace lbd::ha {

namespace {

// The key of an address: its family, then its bytes.
std::string address_key(int family, const void* bytes, size_t length) {
    std::string key(1, static_cast<char>(family));
    key.append(static_cast<const char*>(bytes), length);
    return key;
}

bool parse_vip(const std::string& text, std::string* key) {
    std::string address = text.substr(0, text.find('/'));
    unsigned char buf[16];
    if (inet_pton(AF_INET, address.c_str(), buf) == 1) {
        *key = address_key(AF_INET, buf, 4);
        return true;
    }
    if (inet_pton(AF_INET6, address.c_str(), buf) == 1) {
        *key = address_key(AF_INET6, buf, 16);
        return true;
    }
    return false;
}

struct Parsed {
    VipWatch* watch;
    bool added;
};

}  // namespace

VipWatch::VipWatch(event_base* base, const std::vector<std::string>& vips, Handler on_change)
    : on_change_(std::move(on_change)),
      events_(base, "vip watch", [this](nl_msg* msg) { on_message(msg); }, [this] { report(); }) {
    for (const std::string& vip : vips) {
        std::string key;
        if (parse_vip(vip, &key)) wanted_.insert(key);  // the config loader checked them
    }
}

VipWatch::~VipWatch() = default;

bool VipWatch::start(std::string* error) {
    if (!events_.subscribe({RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}, error)) return false;
    // Seed from a dump on a second socket, after subscribing: an address
    // added in between is in the dump or in an event (or both; the set
    // does not mind).
    nl_sock* dump = nl_socket_alloc();
    nl_cache* cache = nullptr;
    int rc = dump == nullptr ? -NLE_NOMEM : nl_connect(dump, NETLINK_ROUTE);
    if (rc == 0) rc = rtnl_addr_alloc_cache(dump, &cache);
    if (rc < 0) {
        *error = std::string("vip watch: address dump: ") + nl_geterror(rc);
        if (dump != nullptr) nl_socket_free(dump);
        return false;
    }
    for (nl_object* object = nl_cache_get_first(cache); object != nullptr; object = nl_cache_get_next(object))
        seen(object, true);
    nl_cache_free(cache);
    nl_socket_free(dump);

    events_.start_reading();
    report();
    return true;
}

void VipWatch::on_message(nl_msg* msg) {
    int type = nlmsg_hdr(msg)->nlmsg_type;
    if (type != RTM_NEWADDR && type != RTM_DELADDR) return;
    Parsed parsed{this, type == RTM_NEWADDR};
    nl_msg_parse(
        msg, [](nl_object* object, void* p) {
            auto* parsed = static_cast<Parsed*>(p);
            parsed->watch->seen(object, parsed->added);
        },
        &parsed);
}

void VipWatch::seen(nl_object* object, bool added) {
    auto* addr = reinterpret_cast<rtnl_addr*>(object);
    nl_addr* local = rtnl_addr_get_local(addr);
    if (local == nullptr) return;
    std::string key = address_key(nl_addr_get_family(local), nl_addr_get_binary_addr(local), nl_addr_get_len(local));
    if (wanted_.count(key) == 0) return;
    if (added)
        present_.insert(key);
    else
        present_.erase(key);
}

void VipWatch::report() {
    bool now = present();
    if (reported_ && now == last_reported_) return;
    reported_ = true;
    last_reported_ = now;
    on_change_(now);
}

}  // namespace lbd::ha
