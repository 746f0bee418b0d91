// Fuzz target: HTTP/2 request heads, through nghttp2 as lbd sets it up (l7/h2_connection.cc) into
// lbd's translation to HTTP/1.1 (l7/h2_request_head.h). The input's first byte is the server's
// setup: bit 0 set, lbd advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (`http2 { websocket: true }`,
// RFC 8441). The rest is the client's bytes after the connection preface and an empty SETTINGS
// frame (both added here): frames, HPACK, CONTINUATIONs, trailers, resets. Every head nghttp2
// accepts is translated; oracles on what would go to an HTTP/1.1 server when the translation
// succeeds:
//  - no byte that could end or split the request line or a field (CR, LF, NUL; SP in the request
//    line) in the method, path, query, Host or any field; the method is a token;
//  - origin-form paths start with '/'; Host is never empty;
//  - no pseudo-header, Host, TE, content-length or connection-specific field among the fields
//    (RFC 9113 §8.2.2), field names lower case, at most one cookie field;
//  - the body framing is one of: none, a content-length, chunked (with transfer_encoding);
//  - a :protocol reaches lbd only with the setting advertised and only on a CONNECT (nghttp2's
//    check, RFC 8441 §4), and comes out as the HTTP/1.1 upgrade it stands for: GET, origin-form,
//    r.upgrade with that protocol (a token), no body framing, without the client's sec-websocket-key; a
//    CONNECT without :protocol stays an authority-form CONNECT (answered 405 by the driver).
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "l7/h2_request_head.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace lbd;

constexpr size_t kMaxHeaderList = 16384;

struct Session {
    bool connect_protocol = false;  // SETTINGS_ENABLE_CONNECT_PROTOCOL advertised
    std::map<int32_t, std::unique_ptr<l7::H2RequestHead>> heads;
};

bool clean(std::string_view text, bool space_ok) {
    for (char c : text)
        if (c == '\r' || c == '\n' || c == '\0' || (!space_ok && (c == ' ' || c == '\t'))) return false;
    return true;
}

bool is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void check_request(const l7::RequestInfo& r, const l7::H2RequestHead& head) {
    FUZZ_CHECK(!r.method.empty());
    for (char c : r.method) FUZZ_CHECK(is_tchar(c));
    FUZZ_CHECK(clean(r.path, false));
    FUZZ_CHECK(clean(r.query, false));
    if (r.target_form == l7::TargetForm::kOrigin) FUZZ_CHECK(!r.path.empty() && r.path.front() == '/');
    FUZZ_CHECK(!r.host_header.empty());
    FUZZ_CHECK(clean(r.host_header, false));
    size_t cookies = 0;
    for (const auto& field : r.headers) {
        const std::string& name = field.first;
        FUZZ_CHECK(!name.empty() && name.front() != ':');
        FUZZ_CHECK(clean(name, false));
        for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        FUZZ_CHECK(clean(field.second, true));
        FUZZ_CHECK(name != "host" && name != "te" && name != "content-length" && name != "connection" &&
                   name != "keep-alive" && name != "proxy-connection" && name != "transfer-encoding" &&
                   name != "upgrade");
        cookies += name == "cookie" ? 1 : 0;
    }
    FUZZ_CHECK(cookies <= 1);
    if (!head.protocol().empty()) {
        FUZZ_CHECK(r.method == "GET" && r.method_kind == l7::HttpMethod::kGet);
        FUZZ_CHECK(r.target_form == l7::TargetForm::kOrigin);
        FUZZ_CHECK(r.upgrade && r.upgrade_protocols == head.protocol());
        for (char c : r.upgrade_protocols) FUZZ_CHECK(is_tchar(c));  // a token (RFC 9110 §7.8)
        FUZZ_CHECK(r.framing == l7::BodyFraming::kNone);
        for (const auto& field : r.headers) FUZZ_CHECK(field.first != "sec-websocket-key");
    } else {
        FUZZ_CHECK(!r.upgrade);
        if (r.method_kind == l7::HttpMethod::kConnect) FUZZ_CHECK(r.target_form == l7::TargetForm::kAuthority);
    }
    if (r.framing == l7::BodyFraming::kChunked) FUZZ_CHECK(r.transfer_encoding == "chunked");
    else FUZZ_CHECK(r.framing == l7::BodyFraming::kNone || r.framing == l7::BodyFraming::kContentLength);
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        static_cast<Session*>(user)->heads[frame->hd.stream_id] = std::make_unique<l7::H2RequestHead>(kMaxHeaderList);
    return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& heads = static_cast<Session*>(user)->heads;
    const auto it = heads.find(frame->hd.stream_id);
    if (it != heads.end())
        it->second->add({reinterpret_cast<const char*>(name), namelen}, {reinterpret_cast<const char*>(value), valuelen});
    return 0;
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto* state = static_cast<Session*>(user);
    auto& heads = state->heads;
    const auto it = heads.find(frame->hd.stream_id);
    if (it == heads.end()) return 0;
    const l7::H2RequestHead& head = *it->second;
    // nghttp2 lets a :protocol through only when lbd advertised the setting, and only on a CONNECT.
    if (!head.too_large() && !head.protocol().empty())
        FUZZ_CHECK(state->connect_protocol && head.method() == "CONNECT");
    l7::RequestInfo r;
    const bool ended = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (!it->second->too_large() && it->second->translate(r, ended)) check_request(r, head);
    heads.erase(it);
    return 0;
}

nghttp2_session* make_session(Session& state) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    // As H2Connection::start.
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_option_set_max_settings(option, 32);
    nghttp2_option_set_max_continuations(option, 8);
    nghttp2_session* session = nullptr;
    nghttp2_session_server_new2(&session, cbs, &state, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 256 * 1024},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, kMaxHeaderList},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},  // last, as in H2Connection::start
    };
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
                            std::size(settings) - (state.connect_protocol ? 0 : 1));
    return session;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string kStart = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9);
    if (size == 0) return 0;
    Session state;
    state.connect_protocol = (data[0] & 1) != 0;
    ++data;
    --size;
    nghttp2_session* session = make_session(state);
    if (session == nullptr) return 0;
    if (nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(kStart.data()), kStart.size()) ==
        static_cast<ssize_t>(kStart.size()))
        nghttp2_session_mem_recv(session, data, size);
    // What the server would answer (SETTINGS ACK, RST_STREAM, GOAWAY): framed and dropped.
    const uint8_t* out = nullptr;
    while (nghttp2_session_mem_send(session, &out) > 0) {
    }
    nghttp2_session_del(session);
    return 0;
}
