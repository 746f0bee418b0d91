#include "core/admin_http.h"

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstring>

#include "core/admin_status_page.h"
#include "core/log.h"

namespace lbd {

AdminHttp::AdminHttp(event_base* base, const AdminRegistry& registry) : base_(base), registry_(registry) {}

AdminHttp::~AdminHttp() {
    if (http_ != nullptr) evhttp_free(http_);
}

bool AdminHttp::start(const SocketAddress& bind, std::string* error) {
    http_ = evhttp_new(base_);
    evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(http_, &AdminHttp::on_request, this);
    evhttp_bound_socket* handle = evhttp_bind_socket_with_handle(http_, bind.ip_string().c_str(), bind.port());
    if (handle == nullptr) {
        *error = "admin http_bind " + bind.to_string() + ": cannot bind (" + strerror(errno) + ")";
        return false;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(evhttp_bound_socket_get_fd(handle), reinterpret_cast<sockaddr*>(&bound), &len);
    LOG_INFO("admin http listening on %s", SocketAddress(reinterpret_cast<sockaddr*>(&bound), len).to_string().c_str());
    return true;
}

void AdminHttp::on_request(evhttp_request* request, void* arg) {
    auto* self = static_cast<AdminHttp*>(arg);
    const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(request));
    std::string_view p = path != nullptr ? path : "/";
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
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(response, &json, options);
    evbuffer* body = evbuffer_new();
    evbuffer_add(body, json.data(), json.size());
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(request), "Cache-Control", "no-store");
    evhttp_send_reply(request, HTTP_OK, "OK", body);
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
