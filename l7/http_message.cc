#include "l7/http_message.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "l7/http1.h"
#include "l7/variables.h"

namespace lbd::l7 {

bool trusted_proxy(const HttpForwardedConfig& config, const SocketAddress& peer) {
    return std::any_of(config.trusted_proxies.begin(), config.trusted_proxies.end(),
                       [&](const Cidr& cidr) { return cidr.contains(peer); });
}

namespace {

// An X-Forwarded-For element: a bare IPv4 or IPv6 address.
std::optional<SocketAddress> parse_ip(std::string_view text) {
    std::string with_port = text.find(':') == std::string_view::npos ? std::string(text) + ":0"
                                                                     : "[" + std::string(text) + "]:0";
    return SocketAddress::parse(with_port);
}

// What add_forwarding_headers may append: X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, -Host,
// -Port, Forwarded and Via.
constexpr size_t kForwardingFields = 7;

// All lines of `name` joined as one list (RFC 9110 §5.3), then removed.
std::string take_joined(HeaderList& headers, std::string_view name) {
    std::string joined;
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) joined += (joined.empty() ? "" : ", ") + v;
    remove_header(headers, name);
    return joined;
}

size_t field_lines_size(const HeaderList& headers) {
    size_t size = 0;
    for (const auto& [name, value] : headers) size += name.size() + value.size() + 4;
    return size;
}

// "name: value\r\n" with one size check and four copies (four appends each check the capacity).
void append_line(std::string& out, std::string_view name, std::string_view value) {
    const size_t at = out.size();
    out.resize(at + name.size() + value.size() + 4);
    char* p = out.data() + at;
    p = std::copy(name.begin(), name.end(), p);
    *p++ = ':';
    *p++ = ' ';
    p = std::copy(value.begin(), value.end(), p);
    *p++ = '\r';
    *p = '\n';
}

// "HTTP/1.1 200 OK\r\n" (HTTP/1.0 to an HTTP/1.0 client).
void append_status_line(std::string& out, HttpVersion client_version, int status, std::string_view reason) {
    char number[12];
    const char* end = std::to_chars(number, number + sizeof number, status).ptr;
    out.append(client_version == HttpVersion::k10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        .append(number, static_cast<size_t>(end - number))
        .append(" ")
        // lbd's own answers (static files, `respond`, a hit) carry no phrase
        // of their own; a server's empty one gets the registry's too.
        .append(reason.empty() ? std::string_view(reason_phrase(status)) : reason)
        .append("\r\n");
}

// Connection for a response other than a 101: close, or keep-alive said
// to an HTTP/1.0 client (for which close is the default).
void append_connection(std::string& out, bool close, HttpVersion client_version) {
    if (close) {
        append_line(out, "Connection", "close");
    } else if (client_version == HttpVersion::k10) {
        append_line(out, "Connection", "keep-alive");
    }
}

}  // namespace

const std::string* find_header(const HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return &v;
    return nullptr;
}

void remove_header(HeaderList& headers, std::string_view name) {
    headers.erase(std::remove_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }),
                  headers.end());
}

void set_header(HeaderList& headers, std::string_view name, std::string_view value) {
    remove_header(headers, name);
    headers.emplace_back(std::string(name), std::string(value));
}

void apply_header_actions(HeaderList& headers, const HttpHeaderActions& actions, const VariableSource* vars) {
    for (const std::string& name : actions.remove) remove_header(headers, name);
    // A value without variables is used as written: no expansion, no copy of it first.
    for (const HttpHeaderValue& h : actions.set) {
        if (vars != nullptr && h.value_template.dynamic())
            set_header(headers, h.name, header_value(h, *vars));
        else
            set_header(headers, h.name, h.value);
    }
    for (const HttpHeaderValue& h : actions.add)
        headers.emplace_back(h.name, vars != nullptr && h.value_template.dynamic() ? header_value(h, *vars) : h.value);
}

bool RequestInfo::replayable() const {
    const bool idempotent = method_kind == HttpMethod::kGet || method_kind == HttpMethod::kHead ||
                            method_kind == HttpMethod::kOptions || method_kind == HttpMethod::kTrace ||
                            method_kind == HttpMethod::kPut || method_kind == HttpMethod::kDelete;
    const bool no_body = framing == BodyFraming::kNone || (framing == BodyFraming::kContentLength && content_length == 0);
    return idempotent && no_body;
}

// "example.com:8080" -> "example.com"; "[::1]:80" -> "[::1]".
std::string host_without_port(std::string_view authority) {
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        return lower_ascii(authority.substr(0, close == std::string_view::npos ? authority.size() : close + 1));
    }
    std::string_view host = authority.substr(0, authority.find(':'));
    // "example.com." is the same name written fully qualified (nginx drops
    // the dot too): routes, the cache key and $host see one spelling.
    if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
    return lower_ascii(host);
}

// The Upgrade list without "h2c" (RFC 9113 §3.1 deprecates that upgrade).
// Passed on, a server's 101 would turn the connection into a tunnel of
// HTTP/2 requests that lbd never sees: past its routes, access rules and
// rate limits ("h2c smuggling"). HAProxy drops it too. lbd speaks h2c
// itself with prior knowledge (http2 { cleartext: true }).
namespace {
std::string without_h2c(std::string_view upgrade) {
    std::string kept;
    std::string_view rest = upgrade;
    while (auto protocol = next_list_element(rest)) {
        if (iequals(*protocol, "h2c")) continue;
        if (!kept.empty()) kept += ", ";
        kept += *protocol;
    }
    return kept;
}
}  // namespace

RequestInfo copy_request(const HttpRequestHead& head) {
    RequestInfo out;
    out.method = std::string(head.method_token);
    out.method_kind = head.method;
    out.version = head.version;
    out.target_form = head.target_form;
    if (head.target_form == TargetForm::kAsterisk) {
        out.path = "*";
    } else {
        std::string_view target = head.path.empty() ? std::string_view("/") : head.path;
        size_t q = target.find('?');
        out.path = std::string(target.substr(0, q));
        if (q != std::string_view::npos) out.query = std::string(target.substr(q));
        if (out.path.empty()) out.path = "/";
    }
    // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
    std::string_view authority = head.target_form == TargetForm::kAbsolute ? head.authority : head.host;
    out.host_header = std::string(authority);
    out.host = host_without_port(authority);
    // Room for the forwarding fields too: a vector grown one field at a time moves every string
    // it holds at each doubling.
    out.headers.reserve(head.headers.size() + kForwardingFields);
    for (size_t i = 0; i < head.headers.size(); ++i) {
        const HttpHeader& h = head.headers[i];
        if (iequals(h.name, "transfer-encoding")) {
            out.transfer_encoding += (out.transfer_encoding.empty() ? "" : ", ") + std::string(h.value);
            continue;
        }
        if (iequals(h.name, "te")) {
            std::string_view rest = h.value;
            while (auto element = next_list_element(rest))
                if (iequals(*element, "trailers")) out.te_trailers = true;
        }
        if (is_hop_by_hop(head, i) || iequals(h.name, "host") || iequals(h.name, "content-length")) continue;
        out.headers.emplace_back(std::string(h.name), std::string(h.value));
    }
    out.framing = head.framing;
    out.content_length = head.content_length;
    out.keep_alive = head.keep_alive;
    out.upgrade = head.upgrade_requested;
    out.upgrade_protocols = without_h2c(head.upgrade);
    if (out.upgrade_protocols.empty()) out.upgrade = false;
    out.expect_continue = head.expect_continue;
    return out;
}

ResponseInfo copy_response(const HttpResponseHead& head) {
    ResponseInfo out;
    out.status = head.status;
    out.reason = std::string(head.reason);
    out.version = head.version;
    out.headers.reserve(head.headers.size() + 2);  // Via, a header action: no growth on the way
    for (size_t i = 0; i < head.headers.size(); ++i) {
        const HttpHeader& h = head.headers[i];
        if (iequals(h.name, "transfer-encoding")) {
            out.transfer_encoding += (out.transfer_encoding.empty() ? "" : ", ") + std::string(h.value);
            continue;
        }
        if (is_hop_by_hop(head, i)) continue;
        // Content-Length is kept: it frames the body we relay as is (or, for
        // HEAD and 304, tells the size of the representation).
        out.headers.emplace_back(std::string(h.name), std::string(h.value));
    }
    out.framing = head.framing;
    out.keep_alive = head.keep_alive;
    out.tunnel = head.tunnel;
    out.upgrade_protocol = std::string(head.upgrade);
    return out;
}

SocketAddress client_address(const HttpForwardedConfig& forwarded, const RequestInfo& request,
                             const SocketAddress& peer) {
    if (forwarded.trusted_proxies.empty() || !trusted_proxy(forwarded, peer)) return peer;
    SocketAddress client = peer;
    for (auto line = request.headers.rbegin(); line != request.headers.rend(); ++line) {
        if (!iequals(line->first, "x-forwarded-for")) continue;
        std::string_view list = line->second;
        while (!list.empty()) {
            const size_t comma = list.rfind(',');
            const std::string_view element = trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
            list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
            auto hop = parse_ip(element);
            if (!hop) return client;
            client = *hop;
            if (!trusted_proxy(forwarded, client)) return client;
        }
    }
    return client;
}

void add_forwarding_headers(RequestInfo& request, const HttpForwardedConfig& config, const ClientEndpoint& client) {
    const bool from_trusted = trusted_proxy(config, client.peer);
    const std::string ip = client.peer.ip_string();
    HeaderList& h = request.headers;
    // Each of these is replaced for an untrusted peer, or, turned off, removed: a client's own
    // X-Forwarded-Host that the server reflects (links, redirects) would otherwise poison what a
    // cache stores for others. A trusted peer's own line is kept as it sent it.
    struct Forward {
        bool enabled;
        std::string_view name;
        bool keep = false;  // a trusted peer sent one
    };
    std::array<Forward, 4> forwards{{{config.x_real_ip, "X-Real-IP"},
                                     {config.x_forwarded_proto, "X-Forwarded-Proto"},
                                     {config.x_forwarded_host, "X-Forwarded-Host"},
                                     {config.x_forwarded_port, "X-Forwarded-Port"}}};
    auto forward_of = [&](std::string_view name) -> Forward* {
        for (Forward& f : forwards)
            if (iequals(name, f.name)) return &f;
        return nullptr;
    };
    std::string xff_chain;  // X-Forwarded-For as a trusted peer sent it
    // X-Real-IP names the client the access rules and rate limits see (nginx
    // realip): behind trusted proxies the X-Forwarded-For client, read
    // before the chain is replaced below.
    const std::string real_ip =
        from_trusted && config.x_real_ip ? client_address(config, request, client.peer).ip_string() : ip;
    if (from_trusted) {
        for (const auto& [name, value] : h) {
            if (Forward* f = forward_of(name)) f->keep = true;
            if (config.x_forwarded_for && iequals(name, "x-forwarded-for"))
                xff_chain += (xff_chain.empty() ? "" : ", ") + value;  // RFC 9110 §5.3: lines join as one list
        }
    }
    // One pass over the fields removes every line replaced below, instead of one pass per name.
    std::erase_if(h, [&](const auto& field) {
        if (config.x_forwarded_for && iequals(field.first, "x-forwarded-for")) return true;
        const Forward* f = forward_of(field.first);
        return f != nullptr && !f->keep;
    });
    h.reserve(h.size() + kForwardingFields);
    if (config.x_forwarded_for) h.emplace_back("X-Forwarded-For", !xff_chain.empty() ? xff_chain + ", " + ip : ip);
    const std::string port = std::to_string(client.local_port);
    const std::array<const std::string*, 4> values{&real_ip, &client.scheme, &request.host_header, &port};
    for (size_t i = 0; i < forwards.size(); ++i)
        if (forwards[i].enabled && !forwards[i].keep) h.emplace_back(forwards[i].name, *values[i]);
    if (config.forwarded) {
        // RFC 7239 §6: an IPv6 node is quoted and bracketed.
        std::string node = client.peer.is_v6() ? "\"[" + ip + "]\"" : ip;
        std::string element = "for=" + node + ";proto=" + client.scheme;
        if (!request.host_header.empty()) element += ";host=\"" + request.host_header + "\"";
        std::string chain = take_joined(h, "forwarded");
        h.emplace_back("Forwarded", from_trusted && !chain.empty() ? chain + ", " + element : element);
    }
    if (config.via) {
        std::string chain = take_joined(h, "via");
        const char* self = request.version == HttpVersion::k10 ? "1.0 lbd" : "1.1 lbd";
        h.emplace_back("Via", chain.empty() ? self : chain + ", " + self);
    }
}

std::string& head_scratch() {
    thread_local std::string buffer;
    return buffer;
}

std::string serialize_request(const RequestInfo& request) {
    std::string out;
    serialize_request(request, out);
    return out;
}

void serialize_request(const RequestInfo& request, std::string& out) {
    out.clear();
    // Exactly enough but for the fixed words (request line, Host, framing, Upgrade): one allocation at most.
    out.reserve(request.method.size() + request.path.size() + request.query.size() + request.host_header.size() +
                request.transfer_encoding.size() + request.upgrade_protocols.size() + field_lines_size(request.headers) +
                128);
    out.append(request.method).append(" ").append(request.path).append(request.query).append(" HTTP/1.1\r\n");
    if (!find_header(request.headers, "host")) append_line(out, "Host", request.host_header);
    for (const auto& [name, value] : request.headers) append_line(out, name, value);
    if (request.framing == BodyFraming::kChunked)
        append_line(out, "Transfer-Encoding", request.transfer_encoding);
    else if (request.framing == BodyFraming::kContentLength)
        append_line(out, "Content-Length", std::to_string(request.content_length));
    if (request.upgrade) {
        append_line(out, "Connection", "upgrade");
        append_line(out, "Upgrade", request.upgrade_protocols);
    }
    out.append("\r\n");
}

ClientFraming client_framing(const ResponseInfo& response, HttpVersion client_version) {
    switch (response.framing) {
        case BodyFraming::kNone: return ClientFraming::kNone;
        case BodyFraming::kContentLength: return ClientFraming::kAsIs;
        case BodyFraming::kChunked:
            // RFC 9112 §6.1: no chunked to an HTTP/1.0 recipient.
            return client_version == HttpVersion::k10 ? ClientFraming::kDechunk : ClientFraming::kAsIs;
        case BodyFraming::kUntilClose: return ClientFraming::kUntilClose;
    }
    return ClientFraming::kUntilClose;
}

ClientFraming staged_framing(const ResponseInfo& response, HttpVersion client_version) {
    if (response.framing == BodyFraming::kNone) return ClientFraming::kNone;
    if (find_header(response.headers, "Content-Length") != nullptr) return ClientFraming::kAsIs;
    return client_version == HttpVersion::k10 ? ClientFraming::kDechunk : ClientFraming::kChunkEncode;
}

std::string serialize_response(const ResponseInfo& response, ClientFraming framing, HttpVersion client_version,
                               bool close) {
    std::string out;
    serialize_response(response, framing, client_version, close, out);
    return out;
}

void serialize_response(const ResponseInfo& response, ClientFraming framing, HttpVersion client_version, bool close,
                        std::string& out) {
    out.clear();
    out.reserve(response.reason.size() + response.transfer_encoding.size() + response.upgrade_protocol.size() +
                field_lines_size(response.headers) + 96);
    append_status_line(out, client_version, response.status, response.reason);
    for (const auto& [name, value] : response.headers) append_line(out, name, value);
    if (framing == ClientFraming::kAsIs && response.framing == BodyFraming::kChunked)
        append_line(out, "Transfer-Encoding", response.transfer_encoding);
    if (framing == ClientFraming::kChunkEncode) append_line(out, "Transfer-Encoding", "chunked");
    if (response.status == 101) {
        append_line(out, "Connection", "upgrade");
        append_line(out, "Upgrade", response.upgrade_protocol);
    } else {
        append_connection(out, close, client_version);
    }
    out.append("\r\n");
}

// The phrases of IANA's HTTP Status Code Registry (RFC 9110 §15 and the
// RFCs it names): what lbd writes for its own answers and for responses
// served from a cache zone, which keeps the status, not the server's phrase.
const char* reason_phrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 102: return "Processing";
        case 103: return "Early Hints";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 207: return "Multi-Status";
        case 208: return "Already Reported";
        case 226: return "IM Used";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 305: return "Use Proxy";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 421: return "Misdirected Request";
        case 422: return "Unprocessable Content";
        case 423: return "Locked";
        case 424: return "Failed Dependency";
        case 425: return "Too Early";
        case 426: return "Upgrade Required";
        case 428: return "Precondition Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 451: return "Unavailable For Legal Reasons";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        case 506: return "Variant Also Negotiates";
        case 507: return "Insufficient Storage";
        case 508: return "Loop Detected";
        case 511: return "Network Authentication Required";
        default: return "";
    }
}

std::pair<std::string, std::string> error_body(const HttpConfig& config, int status) {
    if (const HttpErrorPage* page = config.error_page(status)) return {page->content_type, page->body};
    return {"text/plain; charset=utf-8", std::to_string(status) + " " + reason_phrase(status) + "\n"};
}

std::string field_lines(const HeaderList& headers) {
    std::string out;
    out.reserve(field_lines_size(headers));
    for (const auto& [name, value] : headers) append_line(out, name, value);
    return out;
}

std::string stored_response_head(int status, const std::string* lines, const HeaderList& headers, size_t body_size,
                                 bool close, HttpVersion client_version) {
    // What serialize_response writes for such a response, with no copy of
    // the fields into a ResponseInfo first (a hit's cost is mostly this).
    char number[24];
    const std::string_view reason = reason_phrase(status);
    // RFC 9110 §8.6: no Content-Length on a 204; on a 304 it would have to be the 200's.
    const bool bodiless = status == 304 || status == 204;
    const auto length = std::to_chars(number, number + sizeof number, body_size).ptr - number;
    std::string out;
    out.reserve(64 + reason.size() + (lines != nullptr ? lines->size() : 0) + field_lines_size(headers));
    append_status_line(out, client_version, status, reason);
    if (lines != nullptr) out.append(*lines);
    for (const auto& [name, value] : headers) append_line(out, name, value);
    if (!bodiless) append_line(out, "Content-Length", std::string_view(number, static_cast<size_t>(length)));
    append_connection(out, close, client_version);
    out.append("\r\n");
    return out;
}

std::string local_response(int status, std::string_view content_type, std::string_view body, const HeaderList& extra,
                           const HttpHeaderActions& actions, bool head_only, bool close, HttpVersion client_version,
                           const VariableSource* vars) {
    ResponseInfo response;
    response.status = status;
    response.reason = reason_phrase(status);
    response.headers = extra;
    response.headers.emplace_back("Content-Type", std::string(content_type));
    response.headers.emplace_back("Content-Length", std::to_string(body.size()));
    apply_header_actions(response.headers, actions, vars);
    response.framing = BodyFraming::kContentLength;
    std::string out = serialize_response(response, ClientFraming::kAsIs, client_version, close);
    if (!head_only) out.append(body);
    return out;
}

}  // namespace lbd::l7
