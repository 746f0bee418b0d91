// Host names of servers, resolved with libevent's own asynchronous DNS
// (evdns): once for every name at config load (resolve_names_now, on a
// private event base), then again and again on the control thread
// (DnsResolver) without blocking any loop.
//
// Where answers come from, in order: /etc/hosts, then the nameservers of the
// configuration's `resolvers` block or, without one, those of
// /etc/resolv.conf. Both A and AAAA are asked; every address of the answer
// is returned (IPv4 first), and the caller chooses (it keeps the address it
// has while the answer still holds it, as HAProxy does).
//
// Why evdns rather than getaddrinfo(3): getaddrinfo blocks the thread for
// the whole timeout of an unreachable nameserver, and runs no timer
// meanwhile; HAProxy and nginx have their own resolvers for the same reason.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/address.h"

struct evdns_base;

namespace lbd {

struct DnsSettings {
    std::vector<SocketAddress> nameservers;  // empty = /etc/resolv.conf
    uint32_t timeout_ms = 2000;              // per attempt
    uint32_t attempts = 2;
};

// "name:port" or "[v6]:port"/"1.2.3.4:port" split; false when there is no
// ":port" or the port is not 1..65535.
bool split_host_port(std::string_view text, std::string* host, uint16_t* port);
// A DNS name as RFC 1123 allows in a host name: labels of letters, digits
// and '-', not starting or ending with '-', at most 63 bytes each, 253 in all.
bool is_host_name(std::string_view name);

struct DnsAnswer {
    std::vector<SocketAddress> addresses;  // port 0; empty = no answer
    std::string error;                     // why, when empty
};

// Resolves every name at once and waits for all the answers (config load:
// `lbd -t`, `lbctl config check`, start and reload). At most about
// timeout_ms * attempts, whatever the number of names.
std::vector<DnsAnswer> resolve_names_now(const std::vector<std::string>& names, const DnsSettings& settings);

// Asynchronous resolution on `base` (the control thread's loop). Callbacks
// run on that loop, never inside resolve(); none runs after destruction.
// Destroy it when pending() is 0, or when `base` will not run again: evdns
// cannot cancel a lookup without a later callback from the loop.
class DnsResolver {
public:
    using Callback = std::function<void(DnsAnswer)>;
    DnsResolver(event_base* base, const DnsSettings& settings);
    ~DnsResolver();
    DnsResolver(const DnsResolver&) = delete;
    DnsResolver& operator=(const DnsResolver&) = delete;

    void resolve(const std::string& name, Callback done);
    // Requests not yet answered.
    size_t pending() const { return pending_; }

private:
    struct Request;
    static void on_answer(int result, struct evutil_addrinfo* res, void* arg);
    static void on_deliver(evutil_socket_t, short, void* arg);

    event_base* base_;
    evdns_base* dns_ = nullptr;
    size_t pending_ = 0;
    // Requests in flight; their `owner` is cleared on destruction.
    std::vector<Request*> requests_;
};

}  // namespace lbd
