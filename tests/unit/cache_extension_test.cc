// The cache deception armor (l7/cache_extension.h): which paths carry an
// extension lbd knows, which Content-Types fit it, and decide_store
// refusing a response that does not fit (l7/cache_policy.h); and the
// override headers that make a request bypass the cache.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "l7/cache_extension.h"
#include "l7/cache_policy.h"

namespace lbd::l7 {
namespace {

bool fits(std::string_view path, const char* content_type) {
    if (content_type == nullptr) return content_type_fits_extension(path, nullptr);
    const std::string value = content_type;
    return content_type_fits_extension(path, &value);
}

TEST_CASE("the extension is the last segment's, case-insensitive, and only one the table knows") {
    CHECK(known_extension("/static/app.css") == "css");
    CHECK(known_extension("/static/APP.CSS") == "css");
    CHECK(known_extension("/account/profile.php/x.css") == "css");
    CHECK(known_extension("/account/profile.php;x.css") == "css");  // a path parameter hides nothing
    CHECK(known_extension("/a.b/c.min.js") == "js");
    CHECK(known_extension("/account/profile.php") == "");  // php: not a static type lbd judges
    CHECK(known_extension("/static.css/profile") == "");   // a directory's dot is not the file's
    CHECK(known_extension("/v1.2") == "");
    CHECK(known_extension("/") == "");
    CHECK(known_extension("/x.") == "");
}

TEST_CASE("a Content-Type fits its extension: exact types, image/* and font/*, +json and +xml suffixes") {
    CHECK(fits("/x.css", "text/css"));
    CHECK(fits("/x.css", "Text/CSS; charset=utf-8"));
    CHECK_FALSE(fits("/x.css", "text/html"));
    CHECK_FALSE(fits("/x.css", "text/html; charset=utf-8"));
    CHECK_FALSE(fits("/x.css", nullptr));  // none is no match
    CHECK_FALSE(fits("/x.css", ""));
    CHECK(fits("/x.js", "application/javascript"));
    CHECK(fits("/x.mjs", "text/javascript; charset=utf-8"));
    CHECK_FALSE(fits("/x.js", "application/json"));
    CHECK(fits("/x.json", "application/json"));
    CHECK(fits("/x.json", "application/problem+json"));
    CHECK_FALSE(fits("/x.json", "text/html"));
    CHECK(fits("/x.png", "image/png"));
    CHECK(fits("/x.jpg", "image/webp"));  // any image: none is a private page
    CHECK(fits("/x.svg", "image/svg+xml"));
    CHECK_FALSE(fits("/x.png", "text/html"));
    CHECK(fits("/x.woff2", "font/woff2"));
    CHECK(fits("/x.woff2", "application/octet-stream"));
    CHECK(fits("/x.xml", "application/atom+xml"));
    CHECK(fits("/x.txt", "text/plain"));
    CHECK_FALSE(fits("/x.txt", "text/html"));
    CHECK(fits("/x.html", "text/html"));
    CHECK_FALSE(fits("/x.html", "application/json"));
    CHECK(fits("/x.pdf", "application/pdf"));
    CHECK(fits("/x.mp4", "video/mp4"));
    // No known extension: anything fits, a missing type too.
    CHECK(fits("/account/profile", "text/html"));
    CHECK(fits("/account/profile", nullptr));
    CHECK(fits("/x.php", "text/html"));
}

RequestInfo get(std::string path, HeaderList headers = {}) {
    RequestInfo r;
    r.method = "GET";
    r.method_kind = HttpMethod::kGet;
    r.host = "www.example.com";
    r.path = std::move(path);
    r.headers = std::move(headers);
    return r;
}

TEST_CASE("decide_store refuses a response that does not fit the path's extension, unless turned off") {
    HttpRouteCache route;
    route.zone = "z";
    ResponseInfo html;
    html.status = 200;
    html.headers = {{"Cache-Control", "max-age=60"}, {"Content-Type", "text/html"}};
    StoreDecision deceived = decide_store(get("/account/profile.php/x.css"), html, route, 0);
    CHECK_FALSE(deceived.store);
    CHECK(std::string_view(deceived.why) == kNotStoredExtensionMismatch);
    CHECK(decide_store(get("/account/profile.php"), html, route, 0).store);
    // Refused for its own reason first: not counted as a mismatch.
    ResponseInfo private_html = html;
    private_html.headers[0].second = "private, max-age=60";
    CHECK(std::string(decide_store(get("/x.css"), private_html, route, 0).why) == "private");
    route.check_extension_type = false;
    CHECK(decide_store(get("/account/profile.php/x.css"), html, route, 0).store);
}

TEST_CASE("URL and method override headers from an untrusted client bypass the cache") {
    HttpRouteCache route;
    route.zone = "z";
    CHECK(cache_bypass_reason(get("/"), route) == nullptr);
    for (const char* name : {"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-Forwarded-Prefix"}) {
        INFO(name);
        const RequestInfo request = get("/", {{name, "/admin"}});
        CHECK(std::string(cache_bypass_reason(request, route)) == "override header");
        CHECK(cache_bypass_reason(request, route, true) == nullptr);  // a trusted proxy's own
    }
    // lbd replaces these itself (http.forwarded): no reason to bypass.
    CHECK(cache_bypass_reason(get("/", {{"X-Forwarded-Host", "evil.example"}}), route) == nullptr);
}

}  // namespace
}  // namespace lbd::l7
