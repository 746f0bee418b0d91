// bench/h2_session_mem.cc - what one idle nghttp2 server session holds, allocation by allocation,
// with the options and settings lbd's H2Connection::start() uses (l7/h2_connection.cc) and the
// client of bench/h2_idle.py (python3-h2: preface, SETTINGS, one GET /tiny; then lbd's SETTINGS
// acknowledged). A counting nghttp2_mem records every allocation nghttp2 makes and prints what is
// still held once the response is sent and the stream closed. See bench/README.md (h2.sh, "Where
// an idle HTTP/2 connection's bytes go").
//
//   g++ -std=c++20 -O1 bench/h2_session_mem.cc -o /tmp/h2_session_mem -lnghttp2 && /tmp/h2_session_mem
#include <malloc.h>
#include <nghttp2/nghttp2.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace {

std::map<void*, size_t> held;  // pointer -> bytes asked for

void* count_malloc(size_t n, void*) {
    void* p = std::malloc(n);
    held[p] = n;
    return p;
}
void count_free(void* p, void*) {
    held.erase(p);
    std::free(p);
}
void* count_calloc(size_t k, size_t n, void*) {
    void* p = std::calloc(k, n);
    held[p] = k * n;
    return p;
}
void* count_realloc(void* p, size_t n, void*) {
    held.erase(p);
    void* q = std::realloc(p, n);
    held[q] = n;
    return q;
}

// python3-h2 4.1 as bench/h2_idle.py drives it: the preface, its SETTINGS, GET /tiny (HPACK:
// :authority and :path indexed in our decoder's table).
const uint8_t kClient[] = {
    0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a,
    0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x00, 0x2a, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0xff, 0xff, 0x00, 0x05, 0x00,
    0x00, 0x40, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x64, 0x00, 0x06, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x11, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01, 0x82, 0x86, 0x41, 0x87, 0x08, 0x9d,
    0x5c, 0x0b, 0x81, 0x70, 0xff, 0x44, 0x84, 0x61, 0x26, 0xab, 0xd7};
const uint8_t kSettingsAck[] = {0, 0, 0, 4, 1, 0, 0, 0, 0};

ssize_t read_ok(nghttp2_session*, int32_t, uint8_t* buf, size_t, uint32_t* flags, nghttp2_data_source*, void*) {
    std::memcpy(buf, "ok\n", 3);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 3;
}

// The backend's answer to /tiny as lbd relays it.
int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    const char* fields[][2] = {{":status", "200"}, {"server", "nginx/1.22.1"}, {"date", "Sun, 06 Dec 2026 08:00:00 GMT"},
                               {"content-type", "application/octet-stream"}, {"content-length", "3"}};
    std::vector<nghttp2_nv> nv;
    for (auto& f : fields)
        nv.push_back({(uint8_t*)f[0], (uint8_t*)f[1], std::strlen(f[0]), std::strlen(f[1]), NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider body{};
    body.read_callback = read_ok;
    nghttp2_submit_response(session, frame->hd.stream_id, nv.data(), nv.size(), &body);
    return 0;
}

void send_all(nghttp2_session* session) {
    const uint8_t* out = nullptr;
    while (nghttp2_session_mem_send(session, &out) > 0) {
    }
}

}  // namespace

int main() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_option_set_max_settings(option, 32);
    nghttp2_option_set_no_closed_streams(option, 1);
    nghttp2_option_set_max_deflate_dynamic_table_size(option, 0);
    nghttp2_mem mem{nullptr, count_malloc, count_free, count_calloc, count_realloc};
    nghttp2_session* session = nullptr;
    if (nghttp2_session_server_new3(&session, callbacks, nullptr, option, &mem) != 0) return 1;
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 256 * 1024},
                                               {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 32 * 1024}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 3);
    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, 1024 * 1024);
    if (nghttp2_session_mem_recv(session, kClient, sizeof kClient) != sizeof kClient) return 1;
    send_all(session);
    nghttp2_session_mem_recv(session, kSettingsAck, sizeof kSettingsAck);
    send_all(session);

    std::map<size_t, int> by_size;
    size_t asked = 0, heap = 0;
    for (auto& [p, n] : held) {
        ++by_size[n];
        asked += n;
        heap += malloc_usable_size(p) + sizeof(size_t);  // glibc: the chunk with its size field
    }
    std::printf("idle nghttp2 session: %zu allocations, %zu bytes asked for, %zu bytes of heap\n", held.size(), asked,
                heap);
    for (auto& [n, k] : by_size) std::printf("  %6zu bytes x %d\n", n, k);
    nghttp2_session_del(session);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
}
