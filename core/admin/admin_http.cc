#include "core/admin/admin_http.h"

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstring>

#include "core/admin/admin_status_page.h"
#include "core/base/log.h"

namespace lbd {

AdminHttp::AdminHttp(event_base* base, const AdminRegistry& registry, std::string token)
    : base_(base), registry_(registry), token_(std::move(token)), limits_(base) {}

AdminHttp::~AdminHttp() {
    if (http_ != nullptr) evhttp_free(http_);
}

bool AdminHttp::start(const SocketAddress& bind, std::string* error) {
    http_ = evhttp_new(base_);
    evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
    evhttp_set_gencb(http_, &AdminHttp::on_request, this);
    limits_.apply(http_);
    evhttp_bound_socket* handle = evhttp_bind_socket_with_handle(http_, bind.ip_string().c_str(), bind.port());
    if (handle == nullptr) {
        *error = "admin http_bind " + bind.to_string() + ": cannot bind (" + strerror(errno) + ")";
        return false;
    }
    limits_.watch(handle);
    const std::optional<SocketAddress> bound = SocketAddress::local_of(evhttp_bound_socket_get_fd(handle));
    LOG_INFO("admin http listening on %s", bound ? bound->to_string().c_str() : bind.to_string().c_str());
    return true;
}

void AdminHttp::on_request(evhttp_request* request, void* arg) {
    auto* self = static_cast<AdminHttp*>(arg);
    self->limits_.request_arrived(request);
    const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(request));
    std::string_view p = path != nullptr ? path : "/";
    if (evhttp_request_get_command(request) == EVHTTP_REQ_POST) return self->serve_action(request, p);
    if (p == "/metrics") return self->serve_metrics(request);
    if (p == "/api/status") return self->serve_command(request, AdminRequest::kStatus);
    if (p == "/api/servers") return self->serve_command(request, AdminRequest::kServers);
    if (p == "/" || p == "/index.html") {
        evbuffer* body = evbuffer_new();
        evbuffer_add(body, kStatusPageHtml, std::strlen(kStatusPageHtml));
        evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "text/html; charset=utf-8");
        evhttp_send_reply(request, HTTP_OK, "OK", body);
        evbuffer_free(body);
        return;
    }
    evhttp_send_error(request, HTTP_NOTFOUND, "Not Found");
}

void AdminHttp::serve_metrics(evhttp_request* request) {
    std::string text;
    for (const auto& writer : writers_) writer(text);
    evbuffer* body = evbuffer_new();
    evbuffer_add(body, text.data(), text.size());
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(request, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

void AdminHttp::serve_command(evhttp_request* request, AdminRequest::CommandCase command) {
    AdminRequest admin_request;
    if (command == AdminRequest::kStatus) admin_request.mutable_status();
    if (command == AdminRequest::kServers) admin_request.mutable_servers();
    AdminResponse response;
    registry_.dispatch(admin_request, response);
    reply_json(request, HTTP_OK, response);
}

// Compares without an early exit, so the time taken says nothing about how
// much of a guessed token was right.
static bool same_token(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

void AdminHttp::serve_action(evhttp_request* request, std::string_view path) {
    AdminResponse response;
    if (token_.empty()) {
        admin_error(response, ::lbd::v1::AdminError::FAILED_PRECONDITION,
                    "read-only: set global.admin.http_token to allow changes from HTTP");
        return reply_json(request, 403, response);
    }
    const char* auth = evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
    std::string_view given = auth != nullptr ? auth : "";
    if (given.substr(0, 7) != "Bearer " || !same_token(given.substr(7), token_)) {
        admin_error(response, ::lbd::v1::AdminError::FAILED_PRECONDITION, "missing or wrong admin token");
        return reply_json(request, 401, response);
    }
    constexpr std::string_view cache = "/api/cache/";
    if (path.substr(0, cache.size()) == cache) return serve_cache_purge(request, path.substr(cache.size()));
    // /api/servers/POOL/NAME/ACTION
    constexpr std::string_view prefix = "/api/servers/";
    std::string_view rest = path.substr(0, prefix.size()) == prefix ? path.substr(prefix.size()) : "";
    size_t a = rest.find('/'), b = a == std::string_view::npos ? a : rest.find('/', a + 1);
    if (b == std::string_view::npos) {
        evhttp_send_error(request, HTTP_NOTFOUND, "Not Found");
        return;
    }
    std::string_view action = rest.substr(b + 1);
    ::lbd::v1::AdminState state;
    if (action == "drain") state = ::lbd::v1::ADMIN_STATE_DRAIN;
    else if (action == "enable") state = ::lbd::v1::ADMIN_STATE_READY;
    else if (action == "maint") state = ::lbd::v1::ADMIN_STATE_MAINT;
    else {
        evhttp_send_error(request, HTTP_NOTFOUND, "Not Found");
        return;
    }
    AdminRequest admin_request;
    auto* args = admin_request.mutable_set_server_state();
    args->set_pool(std::string(rest.substr(0, a)));
    args->set_server(std::string(rest.substr(a + 1, b - a - 1)));
    args->set_admin_state(state);
    registry_.dispatch(admin_request, response);
    if (response.has_error()) return reply_json(request, response.error().code() == ::lbd::v1::AdminError::NOT_FOUND ? 404 : 400, response);
    LOG_INFO("admin http: %s %s/%s", std::string(action).c_str(), args->pool().c_str(), args->server().c_str());
    reply_json(request, HTTP_OK, response);
}

// ZONE/purge, the token checked: the query's target (prefix) or tag, as
// the cache_purge command takes them (which refuses a wrong mix).
void AdminHttp::serve_cache_purge(evhttp_request* request, std::string_view rest) {
    constexpr std::string_view action = "/purge";
    const size_t slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos || rest.substr(slash) != action) {
        evhttp_send_error(request, HTTP_NOTFOUND, "Not Found");
        return;
    }
    AdminRequest admin_request;
    auto* args = admin_request.mutable_cache_purge();
    args->set_zone(std::string(rest.substr(0, slash)));
    evkeyvalq query{};
    const char* raw = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(request));
    if (raw != nullptr && evhttp_parse_query_str(raw, &query) == 0) {
        if (const char* v = evhttp_find_header(&query, "target")) args->set_target(v);
        if (const char* v = evhttp_find_header(&query, "tag")) args->set_tag(v);
        if (const char* v = evhttp_find_header(&query, "prefix")) args->set_prefix(std::string_view(v) == "1");
    }
    evhttp_clear_headers(&query);
    AdminResponse response;
    registry_.dispatch(admin_request, response);
    if (response.has_error())
        return reply_json(request, response.error().code() == ::lbd::v1::AdminError::NOT_FOUND ? 404 : 400, response);
    LOG_INFO("admin http: cache purge zone %s, %s%s: %llu objects", args->zone().c_str(),
             args->tag().empty() ? args->target().c_str() : ("tag " + args->tag()).c_str(),
             args->prefix() ? " (prefix)" : "", static_cast<unsigned long long>(response.cache_purge().purged()));
    reply_json(request, HTTP_OK, response);
}

void AdminHttp::reply_json(evhttp_request* request, int code, const AdminResponse& response) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(response, &json, options);
    evbuffer* body = evbuffer_new();
    evbuffer_add(body, json.data(), json.size());
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(request), "Cache-Control", "no-store");
    evhttp_send_reply(request, code, code == HTTP_OK ? "OK" : "Error", body);
    evbuffer_free(body);
}

void metric_header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void metric_sample(std::string& out, const char* name,
                   std::initializer_list<std::pair<const char*, std::string>> labels, double value) {
    out += name;
    if (labels.size() > 0) {
        out += '{';
        bool first = true;
        for (const auto& [key, raw] : labels) {
            if (!first) out += ',';
            first = false;
            out += key;
            out += "=\"";
            // Label values escape backslash, double quote and newline.
            for (char c : raw) {
                if (c == '\\' || c == '"') out += '\\';
                if (c == '\n') {
                    out += "\\n";
                    continue;
                }
                out += c;
            }
            out += '"';
        }
        out += '}';
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.15g\n", value);
    out += buf;
}

}  // namespace lbd
