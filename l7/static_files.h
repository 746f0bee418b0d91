// Static files (lbd.v1.StaticFiles, a route's static_files): finding the
// request's file under the route's root without ever leaving it, and the
// head of the answer (type, validators, 304, Range, expires). Pure
// functions over the typed config, a request and a stat, apart from the
// opening itself; ExchangeDriver (exchange_driver.h) sends the body.
//
// Refusals, all 404 (nothing tells a client what exists outside the root):
//   - `..`, also percent-encoded, and symbolic links that leave the root:
//     openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from a directory fd
//     of the root (Linux 5.6+); where openat2 is missing (ENOSYS), each
//     component is opened with O_NOFOLLOW and `..` is refused, so no
//     symbolic link is followed at all;
//   - anything but a regular file (a directory without `index`, a FIFO, a
//     device), and a NUL or a bad %-escape in the path.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/unique_fd.h"
#include "core/config/config_http.h"
#include "l7/http_message.h"

struct evbuffer;
struct evbuffer_file_segment;

namespace lbd::l7 {

// The request path percent-decoded ("/a%20b" -> "/a b"), or false for a
// bad escape or a NUL (either decoded or sent).
bool decode_path(std::string_view path, std::string& out);

// Opens `relative` (no leading '/') for reading under the directory
// `dir_fd`, never leaving it; -1 with errno if refused or absent.
// `use_openat2` false takes the fallback walk (tests drive both).
UniqueFd open_beneath(int dir_fd, std::string_view relative, bool use_openat2 = true);

// The regular file the request's path names under `config.root` (its
// `index` for a directory), open for reading, and its stat; an invalid fd
// if there is none to serve (answer 404).
struct OpenedFile {
    UniqueFd fd;
    struct stat st {};
    std::string name;  // what its type is read from: the decoded path, or `index`
};
OpenedFile open_static_file(const HttpStaticFiles& config, std::string_view path);

// Content-Type by the file name's extension (case-insensitive), from a
// small built-in table; application/octet-stream for the rest.
std::string_view content_type_for(std::string_view name);

// The answer to `request` for the file `st`: its status (200, 206, 304,
// 416) and head (response.headers, framing: none for HEAD, 304, 416), and
// the part of the file its body is.
struct StaticAnswer {
    ResponseInfo response;
    uint64_t offset = 0;
    uint64_t length = 0;  // 0: no body
};
StaticAnswer static_answer(const HttpStaticFiles& config, const RequestInfo& request, std::string_view name,
                           const struct stat& st, int64_t now_s);

// A single byte range of `size` bytes out of a Range header (RFC 9110
// §14.1.2): bytes=a-b, a- or -n.
struct ByteRange {
    enum class Kind : uint8_t { kWhole, kPart, kUnsatisfiable };
    Kind kind = Kind::kWhole;  // kWhole: no range, a bad one, or several (the whole file, 200)
    uint64_t first = 0;
    uint64_t length = 0;
};
ByteRange parse_byte_range(std::string_view value, uint64_t size);

// The body of a file being sent, held by its Exchange: the file and what
// is left of its part. A sendfile segment (libevent's file segment) is
// made once per file and referenced by each piece queued.
struct StaticFileBody {
    UniqueFd fd;
    uint64_t offset = 0;
    uint64_t remaining = 0;
    evbuffer_file_segment* segment = nullptr;
    StaticFileBody() = default;
    StaticFileBody(const StaticFileBody&) = delete;
    StaticFileBody& operator=(const StaticFileBody&) = delete;
    ~StaticFileBody();
};

// Queues up to `max` bytes of `body` on `out`: by sendfile when
// `to_socket` (out drains straight to a plain socket), else read with
// pread. The bytes queued, or -1 on a read error.
int64_t queue_file_piece(StaticFileBody& body, evbuffer* out, size_t max, bool to_socket);

}  // namespace lbd::l7
