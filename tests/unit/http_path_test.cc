// Request paths put in one form before routing (core/http1/path.h).
#include "core/http1/path.h"

#include <doctest/doctest.h>

#include <string>

namespace {

std::string normalized(std::string path) {
    lbd::http1::normalize_path(path);
    return path;
}

TEST_CASE("every spelling of a path that a server resolves alike becomes one") {
    CHECK(normalized("/%61dmin/x") == "/admin/x");
    CHECK(normalized("/%41DMIN/x") == "/ADMIN/x");  // decoded, case kept
    CHECK(normalized("//admin/x") == "/admin/x");
    CHECK(normalized("/admin//x///y") == "/admin/x/y");
    CHECK(normalized("/./admin/x") == "/admin/x");
    CHECK(normalized("/foo/../admin/x") == "/admin/x");
    CHECK(normalized("/%2e%2e/admin/x") == "/admin/x");
    CHECK(normalized("/x/%2E/admin") == "/x/admin");
    CHECK(normalized("/../../admin") == "/admin");  // nothing above the root
    CHECK(normalized("/a/b/..") == "/a/");
    CHECK(normalized("/a/b/.") == "/a/b/");
    CHECK(normalized("/a/..") == "/");
    CHECK(normalized("/a/b/../../..") == "/");
    CHECK(normalized("/%7Euser/%5f%2D") == "/~user/_-");
}

TEST_CASE("what would change a path's meaning is left alone") {
    CHECK(normalized("/a%2Fb") == "/a%2Fb");  // an encoded slash is not a segment break
    CHECK(normalized("/a%2fb%5c") == "/a%2Fb%5C");  // only its hex digits upper-cased
    CHECK(normalized("/a%20b") == "/a%20b");
    CHECK(normalized("/%3F%23") == "/%3F%23");
    CHECK(normalized("/100%") == "/100%25");  // not an escape: a literal '%', written as one
    CHECK(normalized("/%zz/%4") == "/%25zz/%254");
    // Decoding never makes a new escape (found by fuzzing: "%%32E" would have become "%2E",
    // which the server decodes to "." after lbd matched the path).
    CHECK(normalized("/%%32E%%32E/admin") == "/%252E%252E/admin");
    CHECK(normalized("/%00") == "/%00");
    CHECK(normalized("/a.b/..c/c../...") == "/a.b/..c/c../...");  // dots inside names are names
    CHECK(normalized("/a/") == "/a/");
    CHECK(normalized("/") == "/");
    CHECK(normalized("*") == "*");
}

TEST_CASE("the usual path is not rewritten, and the answer says whether it was") {
    std::string plain = "/assets/app.v2.js";
    CHECK_FALSE(lbd::http1::normalize_path(plain));
    CHECK(plain == "/assets/app.v2.js");
    std::string dotted = "/x/./y";
    CHECK(lbd::http1::normalize_path(dotted));
    CHECK(dotted == "/x/y");
    std::string upper = "/a%2Fb";
    CHECK_FALSE(lbd::http1::normalize_path(upper));  // already in the one form
}

}  // namespace
