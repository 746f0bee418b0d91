// Static files: opening beneath the root, the answer's head, the body's
// pieces (static_files.h).
#include "l7/static_files.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include <event2/buffer.h>

#include "l7/cache_policy.h"
#include "l7/http1.h"

namespace lbd::l7 {
namespace {

// O_NONBLOCK: opening a FIFO someone left under the root must not block
// the loop (it is refused after, as not a regular file).
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// openat2 beneath `dir_fd`: `..` and absolute symbolic links that leave it
// fail with EXDEV, /proc magic links with ELOOP.
int openat2_beneath(int dir_fd, const std::string& relative) {
    open_how how{};
    how.flags = kOpenFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof how));
}

// Before Linux 5.6: one component at a time, none a symbolic link
// (O_NOFOLLOW; a link to a directory fails O_DIRECTORY) and none `..`.
int open_walking(int dir_fd, std::string_view relative) {
    UniqueFd current;
    int at = dir_fd;
    size_t start = 0;
    while (start <= relative.size()) {
        size_t slash = relative.find('/', start);
        const bool last = slash == std::string_view::npos;
        if (last) slash = relative.size();
        const std::string part(relative.substr(start, slash - start));
        start = slash + 1;
        if (part == "..") {
            errno = EXDEV;
            return -1;
        }
        if (part.empty() || part == ".") {
            if (!last) continue;
            return openat(at, ".", kOpenFlags);
        }
        const int fd = last ? openat(at, part.c_str(), kOpenFlags | O_NOFOLLOW)
                            : openat(at, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || last) return fd;
        current = UniqueFd(fd);
        at = fd;
    }
    return -1;
}

struct TypeEntry {
    std::string_view extension;
    std::string_view type;
};
// The common types of a static folder (nginx's mime.types, shortened);
// text gets UTF-8, as most sites' files are.
constexpr std::array<TypeEntry, 34> kTypes{{
    {"html", "text/html; charset=utf-8"},   {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},     {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},   {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},     {"xml", "application/xml"},
    {"map", "application/json"},            {"webmanifest", "application/manifest+json"},
    {"svg", "image/svg+xml"},               {"png", "image/png"},
    {"jpg", "image/jpeg"},                  {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},                   {"webp", "image/webp"},
    {"avif", "image/avif"},                 {"ico", "image/x-icon"},
    {"pdf", "application/pdf"},             {"wasm", "application/wasm"},
    {"woff", "font/woff"},                  {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},                    {"otf", "font/otf"},
    {"mp4", "video/mp4"},                   {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},                  {"ogg", "audio/ogg"},
    {"zip", "application/zip"},             {"gz", "application/gzip"},
    {"tar", "application/x-tar"},           {"rss", "application/rss+xml"},
}};

// nginx's ETag is "mtime-size"; the inode is added so that a file replaced
// by another of the same size within a second still changes its tag.
std::string etag_of(const struct stat& st) {
    char buf[80];
    const int n = snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_ino),
                           static_cast<unsigned long long>(st.st_size),
                           static_cast<unsigned long long>(st.st_mtim.tv_sec));
    return std::string(buf, static_cast<size_t>(n));
}

std::optional<uint64_t> parse_number(std::string_view s) {
    uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// RFC 9110 §13.1.5: If-Range names the validator the client's part came
// from; a range is sent only if it still holds (a strong ETag, or exactly
// the Last-Modified date), else the whole file.
bool if_range_holds(const RequestInfo& request, const std::string& etag, const std::string& last_modified) {
    const std::string* value = find_header(request.headers, "if-range");
    if (value == nullptr) return true;
    if (!value->empty() && (value->front() == '"' || value->starts_with("W/"))) return *value == etag;
    return *value == last_modified;
}

}  // namespace

bool decode_path(std::string_view path, std::string& out) {
    out.clear();
    out.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%') {
            if (i + 2 >= path.size() || !is_hex_digit(path[i + 1]) || !is_hex_digit(path[i + 2])) return false;
            c = static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
            i += 2;
        }
        if (c == '\0') return false;
        out.push_back(c);
    }
    return true;
}

UniqueFd open_beneath(int dir_fd, std::string_view relative, bool use_openat2) {
    // openat2 takes "" as an error; the root itself is ".".
    const std::string path = relative.empty() ? std::string(".") : std::string(relative);
    if (use_openat2) {
        const int fd = openat2_beneath(dir_fd, path);
        if (fd >= 0 || errno != ENOSYS) return UniqueFd(fd);
    }
    return UniqueFd(open_walking(dir_fd, path));
}

OpenedFile open_static_file(const HttpStaticFiles& config, std::string_view path) {
    OpenedFile out;
    if (!decode_path(path, out.name)) return out;
    const size_t start = out.name.find_first_not_of('/');
    const std::string_view relative =
        start == std::string::npos ? std::string_view() : std::string_view(out.name).substr(start);
    const UniqueFd root(open(config.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return out;
    UniqueFd fd = open_beneath(root.get(), relative);
    if (!fd || fstat(fd.get(), &out.st) != 0) return out;
    if (S_ISDIR(out.st.st_mode)) {
        // nginx's `index`: the file of that name in the directory, itself
        // opened beneath the directory.
        if (config.index.empty()) return out;
        UniqueFd dir = std::move(fd);
        fd = open_beneath(dir.get(), config.index);
        out.name = config.index;
        if (!fd || fstat(fd.get(), &out.st) != 0) return out;
    }
    if (!S_ISREG(out.st.st_mode)) return out;
    out.fd = std::move(fd);
    return out;
}

std::string_view content_type_for(std::string_view name) {
    const size_t slash = name.rfind('/');
    const size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
        return "application/octet-stream";
    const std::string_view extension = name.substr(dot + 1);
    for (const TypeEntry& entry : kTypes)
        if (iequals(entry.extension, extension)) return entry.type;
    return "application/octet-stream";
}

ByteRange parse_byte_range(std::string_view value, uint64_t size) {
    ByteRange whole;
    if (!istarts_with(value, "bytes=")) return whole;  // another unit: ignored (RFC 9110 §14.2)
    std::string_view spec = value.substr(6);
    while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
    while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
    // Several ranges: the whole file (a multipart answer is not made).
    if (spec.find(',') != std::string_view::npos) return whole;
    const size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return whole;
    const std::optional<uint64_t> a = parse_number(spec.substr(0, dash));
    const std::optional<uint64_t> b = parse_number(spec.substr(dash + 1));
    ByteRange r;
    r.kind = ByteRange::Kind::kPart;
    if (dash != 0 && !a) return whole;
    if (!a) {
        // -n: the last n bytes.
        if (!b) return whole;
        if (*b == 0 || size == 0) return {ByteRange::Kind::kUnsatisfiable, 0, 0};
        r.length = std::min(*b, size);
        r.first = size - r.length;
        return r;
    }
    if (dash + 1 < spec.size() && !b) return whole;
    if (b && *b < *a) return whole;  // invalid: ignored
    if (*a >= size) return {ByteRange::Kind::kUnsatisfiable, 0, 0};
    r.first = *a;
    r.length = (b ? std::min(*b, size - 1) : size - 1) - *a + 1;
    return r;
}

StaticAnswer static_answer(const HttpStaticFiles& config, const RequestInfo& request, std::string_view name,
                           const struct stat& st, int64_t now_s) {
    StaticAnswer out;
    ResponseInfo& response = out.response;
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    HeaderList& h = response.headers;
    const std::string etag = etag_of(st);
    const std::string last_modified = format_http_date(st.st_mtim.tv_sec);
    h.emplace_back("Last-Modified", last_modified);
    h.emplace_back("ETag", etag);
    if (config.expires_s != 0) {
        h.emplace_back("Cache-Control", "max-age=" + std::to_string(config.expires_s));
        h.emplace_back("Expires", format_http_date(now_s + config.expires_s));
    }
    response.keep_alive = true;
    // RFC 9110 §13.2.2: the conditions before the range.
    if (fields_not_modified(request, h)) {
        response.status = 304;
        return out;
    }
    h.emplace_back("Accept-Ranges", "bytes");
    ByteRange range;
    if (const std::string* value = find_header(request.headers, "range");
        value != nullptr && if_range_holds(request, etag, last_modified))
        range = parse_byte_range(*value, size);
    if (range.kind == ByteRange::Kind::kUnsatisfiable) {
        response.status = 416;
        h.emplace_back("Content-Range", "bytes */" + std::to_string(size));
        h.emplace_back("Content-Length", "0");
        return out;
    }
    h.emplace_back("Content-Type", std::string(content_type_for(name)));
    if (range.kind == ByteRange::Kind::kPart) {
        response.status = 206;
        out.offset = range.first;
        out.length = range.length;
        h.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                            std::to_string(range.first + range.length - 1) + "/" +
                                            std::to_string(size));
    } else {
        response.status = 200;
        out.length = size;
    }
    h.emplace_back("Content-Length", std::to_string(out.length));
    if (request.method_kind == HttpMethod::kHead) out.length = 0;
    response.framing = out.length != 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
    return out;
}

StaticFileBody::~StaticFileBody() {
    if (segment != nullptr) evbuffer_file_segment_free(segment);
}

int64_t queue_file_piece(StaticFileBody& body, evbuffer* out, size_t max, bool to_socket) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(body.remaining, max));
    if (n == 0) return 0;
    if (to_socket) {
        // One segment over the whole file, on its own descriptor: the pieces
        // queued may outlive this body (an exchange cut with bytes queued).
        if (body.segment == nullptr) {
            const int dup_fd = fcntl(body.fd.get(), F_DUPFD_CLOEXEC, 0);
            if (dup_fd < 0) return -1;
            body.segment = evbuffer_file_segment_new(dup_fd, 0, -1, EVBUF_FS_CLOSE_ON_FREE);
            if (body.segment == nullptr) {
                close(dup_fd);
                return -1;
            }
        }
        if (evbuffer_add_file_segment(out, body.segment, static_cast<ev_off_t>(body.offset),
                                      static_cast<ev_off_t>(n)) != 0)
            return -1;
    } else {
        evbuffer_iovec vec{};
        if (evbuffer_reserve_space(out, static_cast<ev_ssize_t>(n), &vec, 1) < 1) return -1;
        const ssize_t got = pread(body.fd.get(), vec.iov_base, n, static_cast<off_t>(body.offset));
        // A file shorter than its stat said (truncated meanwhile): the
        // response cannot keep its Content-Length; the caller cuts it.
        if (got <= 0) return -1;
        n = static_cast<size_t>(got);
        vec.iov_len = n;
        evbuffer_commit_space(out, &vec, 1);
    }
    body.offset += n;
    body.remaining -= n;
    return static_cast<int64_t>(n);
}

}  // namespace lbd::l7
