#include "core/net/dns.h"

#include <event2/dns.h>
#include <event2/util.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace lbd {

namespace {

evdns_base* make_dns(event_base* base, const DnsSettings& settings) {
    evdns_base* dns = evdns_base_new(base, settings.nameservers.empty() ? EVDNS_BASE_INITIALIZE_NAMESERVERS : 0);
    if (dns == nullptr) return nullptr;
    // /etc/hosts first, as libc does: "localhost" and local names work
    // without a nameserver.
    evdns_base_load_hosts(dns, nullptr);
    for (const SocketAddress& ns : settings.nameservers)
        evdns_base_nameserver_sockaddr_add(dns, ns.sockaddr_ptr(), ns.length(), 0);
    const std::string timeout = std::to_string(settings.timeout_ms / 1000) + "." +
                                std::to_string(settings.timeout_ms % 1000 / 100) +
                                std::to_string(settings.timeout_ms % 100 / 10) + std::to_string(settings.timeout_ms % 10);
    evdns_base_set_option(dns, "timeout:", timeout.c_str());
    evdns_base_set_option(dns, "attempts:", std::to_string(std::max<uint32_t>(1, settings.attempts)).c_str());
    // Names are looked up as written: no resolv.conf search list.
    evdns_base_search_clear(dns);
    return dns;
}

DnsAnswer to_answer(int result, evutil_addrinfo* res) {
    DnsAnswer out;
    if (result != 0) {
        out.error = evutil_gai_strerror(result);
        return out;
    }
    for (evutil_addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        SocketAddress address(ai->ai_addr, static_cast<socklen_t>(ai->ai_addrlen));
        address.set_port(0);
        if (std::find(out.addresses.begin(), out.addresses.end(), address) == out.addresses.end())
            out.addresses.push_back(address);
    }
    if (res != nullptr) evutil_freeaddrinfo(res);
    std::stable_partition(out.addresses.begin(), out.addresses.end(), [](const SocketAddress& a) { return a.is_v4(); });
    if (out.addresses.empty()) out.error = "no address";
    return out;
}

evutil_addrinfo stream_hints() {
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    return hints;
}

}  // namespace

bool split_host_port(std::string_view text, std::string* host, uint16_t* port) {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view digits = text.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535)
        return false;
    std::string_view name = text.substr(0, colon);
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    *host = std::string(name);
    *port = static_cast<uint16_t>(value);
    return true;
}

bool is_host_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    if (name.back() == '.') name.remove_suffix(1);  // fully qualified
    size_t start = 0;
    while (start <= name.size()) {
        size_t end = name.find('.', start);
        if (end == std::string_view::npos) end = name.size();
        std::string_view label = name.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
        start = end + 1;
    }
    // All digits and dots is an (invalid) IPv4 address, not a name.
    return !std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

// --- at load ----------------------------------------------------------------

std::vector<DnsAnswer> resolve_names_now(const std::vector<std::string>& names, const DnsSettings& settings) {
    std::vector<DnsAnswer> answers(names.size());
    if (names.empty()) return answers;
    std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), &event_base_free);
    if (!base) {
        for (DnsAnswer& a : answers) a.error = "no event base";
        return answers;
    }
    {
        DnsResolver resolver(base.get(), settings);
        for (size_t i = 0; i < names.size(); ++i)
            resolver.resolve(names[i], [&answers, i](DnsAnswer answer) { answers[i] = std::move(answer); });
        while (resolver.pending() != 0)
            if (event_base_loop(base.get(), EVLOOP_ONCE) != 0) break;
    }
    for (DnsAnswer& a : answers)
        if (a.addresses.empty() && a.error.empty()) a.error = "no answer";
    return answers;
}

// --- on a loop --------------------------------------------------------------

struct DnsResolver::Request {
    DnsResolver* owner = nullptr;
    Callback done;
    DnsAnswer answer;
    event* deliver = nullptr;  // runs `done` from the loop, never inside resolve()
};

DnsResolver::DnsResolver(event_base* base, const DnsSettings& settings) : base_(base), dns_(make_dns(base, settings)) {}

DnsResolver::~DnsResolver() {
    for (Request* r : requests_) {
        r->owner = nullptr;
        if (r->deliver != nullptr) {  // answered, not yet delivered
            event_free(r->deliver);
            delete r;
        }
    }
    // What is still in flight is dropped without its callback (libevent
    // would run "shutdown" callbacks later, from the loop, on freed state):
    // its Request leaks, which is why owners free a resolver only once it is
    // idle or its loop will not run again (header).
    if (dns_ != nullptr) evdns_base_free(dns_, 0);
}

void DnsResolver::resolve(const std::string& name, Callback done) {
    auto* request = new Request{this, std::move(done), {}, nullptr};
    requests_.push_back(request);
    ++pending_;
    if (dns_ == nullptr) return on_answer(EVUTIL_EAI_FAIL, nullptr, request);
    evutil_addrinfo hints = stream_hints();
    // May answer at once (hosts file, a literal): on_answer defers delivery.
    evdns_getaddrinfo(dns_, name.c_str(), nullptr, &hints, &DnsResolver::on_answer, request);
}

void DnsResolver::on_answer(int result, evutil_addrinfo* res, void* arg) {
    auto* request = static_cast<Request*>(arg);
    DnsAnswer answer = to_answer(result, res);
    if (request->owner == nullptr) {  // the resolver is going away
        delete request;
        return;
    }
    request->answer = std::move(answer);
    request->deliver = event_new(request->owner->base_, -1, 0, &DnsResolver::on_deliver, request);
    event_active(request->deliver, EV_TIMEOUT, 0);
}

void DnsResolver::on_deliver(evutil_socket_t, short, void* arg) {
    auto* request = static_cast<Request*>(arg);
    DnsResolver* owner = request->owner;
    event_free(request->deliver);
    owner->requests_.erase(std::find(owner->requests_.begin(), owner->requests_.end(), request));
    --owner->pending_;
    Callback done = std::move(request->done);
    DnsAnswer answer = std::move(request->answer);
    delete request;
    done(std::move(answer));
}

}  // namespace lbd
