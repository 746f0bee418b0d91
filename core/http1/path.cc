#include "core/http1/path.h"

#include <string_view>

#include "core/http1/chars.h"

namespace lbd::http1 {
namespace {

// Whether the path may need work: a '%', an empty segment, or a segment
// that is "." or "..".
bool needs_work(std::string_view path) {
    for (size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if (c == '%') return true;
        if (c != '/') continue;
        if (i + 1 < path.size() && path[i + 1] == '/') return true;
        if (i + 1 < path.size() && path[i + 1] == '.') {
            const size_t end = i + 2 < path.size() && path[i + 2] == '.' ? i + 3 : i + 2;
            if (end >= path.size() || path[end] == '/') return true;
        }
    }
    return false;
}

// §6.2.2.1 and §6.2.2.2: unreserved characters decoded, other escapes'
// hex upper-cased.
std::string decode_unreserved(std::string_view path) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        const bool escape = path[i] == '%' && i + 2 < path.size() && is_hex_digit(path[i + 1]) &&
                            is_hex_digit(path[i + 2]);
        if (!escape) {
            // A '%' that starts no escape is taken as itself and written as
            // one ("%25"): left bare, a decoded neighbour could make it one
            // ("%%32E" would become "%2E", which the server decodes to ".").
            if (path[i] == '%') out.append("%25");
            else out.push_back(path[i]);
            continue;
        }
        const int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
        const auto decoded = static_cast<char>(hi * 16 + lo);
        if (is_unreserved(decoded)) {
            out.push_back(decoded);
        } else {
            out.push_back('%');
            out.push_back(kHex[hi]);
            out.push_back(kHex[lo]);
        }
        i += 2;
    }
    return out;
}

}  // namespace

bool normalize_path(std::string& path) {
    if (path.empty() || path.front() != '/' || !needs_work(path)) return false;
    const std::string decoded = decode_unreserved(path);
    // Segment by segment: empty ones (merged slashes) and "." dropped, ".."
    // takes the last kept one back. A trailing "/", "/." or "/.." keeps the
    // path ending in '/' (RFC 3986 §5.2.4's output for "/a/b/.." is "/a/").
    std::string out;
    out.reserve(decoded.size());
    size_t pos = 1;  // past the leading '/'
    bool ends_in_slash = true;
    while (pos <= decoded.size()) {
        size_t slash = decoded.find('/', pos);
        if (slash == std::string::npos) slash = decoded.size();
        const std::string_view segment(decoded.data() + pos, slash - pos);
        const bool last = slash == decoded.size();
        if (segment.empty() || segment == ".") {
            ends_in_slash = true;
        } else if (segment == "..") {
            const size_t cut = out.rfind('/');
            out.erase(cut == std::string::npos ? 0 : cut);
            ends_in_slash = true;
        } else {
            out.push_back('/');
            out.append(segment);
            ends_in_slash = false;
        }
        if (last) break;
        pos = slash + 1;
    }
    if (ends_in_slash) out.push_back('/');
    if (out == path) return false;
    path = std::move(out);
    return true;
}

}  // namespace lbd::http1
