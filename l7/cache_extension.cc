// Cache deception armor (cache_extension.h).
#include "l7/cache_extension.h"

#include <string>

#include "l7/http_message.h"

namespace lbd::l7 {
namespace {

// The media types an extension may carry. "image/" stands for every image
// type (origins often send a .jpg as image/png; no such type can be a
// private page), "+json" / "+xml" for a structured suffix (RFC 6838 §4.2.8).
struct ExtensionTypes {
    std::string_view extension;
    std::string_view types[5];  // unused slots empty
};

// Fonts and other binaries are often served as application/octet-stream,
// which a private HTML or JSON page never is.
const ExtensionTypes kExtensions[] = {
    {"css", {"text/css"}},
    {"js", {"text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript",
            "text/ecmascript"}},
    {"mjs", {"text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript",
             "text/ecmascript"}},
    {"json", {"application/json", "text/json", "+json"}},
    {"map", {"application/json", "+json"}},  // source maps
    {"png", {"image/"}},
    {"jpg", {"image/"}},
    {"jpeg", {"image/"}},
    {"gif", {"image/"}},
    {"webp", {"image/"}},
    {"avif", {"image/"}},
    {"svg", {"image/"}},
    {"ico", {"image/"}},
    {"bmp", {"image/"}},
    {"woff", {"font/", "application/font-woff", "application/x-font-woff", "application/octet-stream"}},
    {"woff2", {"font/", "application/font-woff2", "application/octet-stream"}},
    {"ttf", {"font/", "application/x-font-ttf", "application/font-sfnt", "application/octet-stream"}},
    {"otf", {"font/", "application/x-font-otf", "application/font-sfnt", "application/octet-stream"}},
    {"eot", {"application/vnd.ms-fontobject", "application/octet-stream"}},
    {"txt", {"text/plain"}},
    {"csv", {"text/csv", "text/plain"}},
    {"html", {"text/html"}},
    {"htm", {"text/html"}},
    {"xml", {"application/xml", "text/xml", "+xml"}},
    {"pdf", {"application/pdf"}},
    {"wasm", {"application/wasm"}},
    {"mp4", {"video/mp4", "application/mp4"}},
    {"webm", {"video/webm", "audio/webm"}},
    {"mp3", {"audio/mpeg", "audio/mp3"}},
    {"zip", {"application/zip", "application/x-zip-compressed", "application/octet-stream"}},
    {"gz", {"application/gzip", "application/x-gzip", "application/octet-stream"}},
};

const ExtensionTypes* find_extension(std::string_view path) {
    const size_t slash = path.rfind('/');
    const std::string_view segment = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const size_t dot = segment.rfind('.');
    if (dot == std::string_view::npos) return nullptr;
    const std::string_view extension = segment.substr(dot + 1);
    for (const ExtensionTypes& entry : kExtensions)
        if (iequals(entry.extension, extension)) return &entry;
    return nullptr;
}

bool type_matches(std::string_view type, std::string_view allowed) {
    if (allowed.starts_with('+')) return type.ends_with(allowed);
    if (allowed.ends_with('/')) return type.starts_with(allowed);
    return type == allowed;
}

}  // namespace

std::string_view known_extension(std::string_view path) {
    const ExtensionTypes* entry = find_extension(path);
    return entry != nullptr ? entry->extension : std::string_view();
}

bool content_type_fits_extension(std::string_view path, const std::string* content_type) {
    const ExtensionTypes* entry = find_extension(path);
    if (entry == nullptr) return true;
    if (content_type == nullptr) return false;
    // RFC 9110 §8.3.1: type "/" subtype, case-insensitive, then parameters.
    std::string_view value = *content_type;
    value = trim_ows(value.substr(0, value.find(';')));
    const std::string type = lower_ascii(value);
    for (std::string_view allowed : entry->types)
        if (!allowed.empty() && type_matches(type, allowed)) return true;
    return false;
}

}  // namespace lbd::l7
