// The HTTP side of the admin plane, on the control loop (libevent's evhttp:
// a few requests a minute from Prometheus and browsers, no need for the L7
// tier's machinery):
//   GET /metrics          Prometheus text format; each module registers a
//                         writer for its own metrics
//   GET /                 status page (HTML, no external assets), which
//                         polls the two endpoints below
//   GET /api/status       the `status` admin command's reply, as JSON
//   GET /api/servers      the `servers` admin command's reply, as JSON
//   POST /api/servers/POOL/NAME/{drain,enable,maint}
//                         only with a configured token, sent as
//                         "Authorization: Bearer TOKEN" (403 without a
//                         token configured, 401 with a wrong one)
//   POST /api/cache/ZONE/purge?target=PATH_OR_KEY[&prefix=1] | ?tag=TAG
//                         `lbctl cache purge`, with the same token (and,
//                         in an HA pair, sent to the peer as lbctl's is)
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/address.h"
#include "core/admin/admin_http_limits.h"
#include "core/admin/admin_registry.h"
#include "core/loop/event.h"

struct evhttp;
struct evhttp_request;

namespace lbd {

// Appends Prometheus exposition text (with # HELP / # TYPE lines).
using MetricsWriter = std::function<void(std::string& out)>;

class AdminHttp {
public:
    // `token` empty = read-only.
    AdminHttp(event_base* base, const AdminRegistry& registry, std::string token);
    ~AdminHttp();

    void add_metrics(MetricsWriter writer) { writers_.push_back(std::move(writer)); }
    // Binds and starts serving; logs the bound address (port 0 resolved).
    bool start(const SocketAddress& bind, std::string* error);

private:
    static void on_request(struct evhttp_request* request, void* arg);
    void serve_metrics(struct evhttp_request* request);
    void serve_command(struct evhttp_request* request, AdminRequest::CommandCase command);
    void serve_action(struct evhttp_request* request, std::string_view path);
    void serve_cache_purge(struct evhttp_request* request, std::string_view rest);
    void reply_json(struct evhttp_request* request, int code, const AdminResponse& response);

    event_base* base_;
    const AdminRegistry& registry_;
    std::string token_;
    AdminHttpLimits limits_;  // outlives http_: evhttp_free may still call into it
    evhttp* http_ = nullptr;
    std::vector<MetricsWriter> writers_;
};

// Helpers for writers: one sample line, labels escaped per the format.
void metric_header(std::string& out, const char* name, const char* type, const char* help);
void metric_sample(std::string& out, const char* name,
                   std::initializer_list<std::pair<const char*, std::string>> labels, double value);

}  // namespace lbd
