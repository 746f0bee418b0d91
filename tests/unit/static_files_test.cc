// Static files' pure parts (l7/static_files.h): Range parsing, path decoding, types, the answer's
// head (304, 206, 416, HEAD), and opening beneath a root by openat2 and by the O_NOFOLLOW walk.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "l7/static_files.h"

namespace lbd::l7 {
namespace {

using Kind = ByteRange::Kind;

TEST_CASE("parse_byte_range: a-b, a-, -n; unsatisfiable; several, bad or other units give the whole") {
    ByteRange r = parse_byte_range("bytes=10-19", 1000);
    CHECK(r.kind == Kind::kPart);
    CHECK(r.first == 10);
    CHECK(r.length == 10);
    r = parse_byte_range("bytes=990-", 1000);
    CHECK((r.kind == Kind::kPart && r.first == 990 && r.length == 10));
    r = parse_byte_range("bytes=-5", 1000);
    CHECK((r.kind == Kind::kPart && r.first == 995 && r.length == 5));
    r = parse_byte_range("bytes=-5000", 1000);  // more than the file: all of it
    CHECK((r.kind == Kind::kPart && r.first == 0 && r.length == 1000));
    r = parse_byte_range("bytes=900-5000", 1000);  // the end clipped
    CHECK((r.kind == Kind::kPart && r.first == 900 && r.length == 100));
    CHECK(parse_byte_range("bytes=1000-", 1000).kind == Kind::kUnsatisfiable);
    CHECK(parse_byte_range("bytes=-0", 1000).kind == Kind::kUnsatisfiable);
    CHECK(parse_byte_range("bytes=0-", 0).kind == Kind::kUnsatisfiable);
    CHECK(parse_byte_range("bytes=0-1,5-6", 1000).kind == Kind::kWhole);
    CHECK(parse_byte_range("bytes=5-1", 1000).kind == Kind::kWhole);
    CHECK(parse_byte_range("bytes=x-1", 1000).kind == Kind::kWhole);
    CHECK(parse_byte_range("items=0-1", 1000).kind == Kind::kWhole);
}

TEST_CASE("decode_path: %XX decoded; a bad escape or a NUL refused") {
    std::string out;
    CHECK(decode_path("/a%20b/%2e%2E", out));
    CHECK(out == "/a b/..");
    CHECK(!decode_path("/a%2", out));
    CHECK(!decode_path("/a%zz", out));
    CHECK(!decode_path("/a%00b", out));
}

TEST_CASE("content_type_for: by extension, case-insensitive, octet-stream otherwise") {
    CHECK(content_type_for("/x/index.HTML") == "text/html; charset=utf-8");
    CHECK(content_type_for("/a.css") == "text/css; charset=utf-8");
    CHECK(content_type_for("/img.png") == "image/png");
    CHECK(content_type_for("/a.tar.gz") == "application/gzip");
    CHECK(content_type_for("/dir.d/README") == "application/octet-stream");
    CHECK(content_type_for("/file.unknown") == "application/octet-stream");
}

RequestInfo request(HttpMethod method, HeaderList headers = {}) {
    RequestInfo r;
    r.method_kind = method;
    r.headers = std::move(headers);
    return r;
}

std::string field(const StaticAnswer& a, std::string_view name) {
    const std::string* v = find_header(a.response.headers, name);
    return v != nullptr ? *v : "";
}

TEST_CASE("static_answer: 200 with validators and expires, 304, 206, 416, HEAD without a body") {
    struct stat st {};
    st.st_size = 1000;
    st.st_ino = 0x1234;
    st.st_mtim.tv_sec = 1700000000;
    HttpStaticFiles config;
    config.expires_s = 60;
    StaticAnswer ok = static_answer(config, request(HttpMethod::kGet), "/f.txt", st, 1800000000);
    CHECK(ok.response.status == 200);
    CHECK(ok.length == 1000);
    CHECK(field(ok, "ETag") == "\"1234-3e8-6553f100\"");
    CHECK(field(ok, "Last-Modified") == "Tue, 14 Nov 2023 22:13:20 GMT");
    CHECK(field(ok, "Cache-Control") == "max-age=60");
    CHECK(field(ok, "Expires") == "Fri, 15 Jan 2027 08:01:00 GMT");
    CHECK(field(ok, "Content-Type") == "text/plain; charset=utf-8");
    CHECK(field(ok, "Content-Length") == "1000");

    StaticAnswer head = static_answer(config, request(HttpMethod::kHead), "/f.txt", st, 0);
    CHECK(head.length == 0);
    CHECK(field(head, "Content-Length") == "1000");
    CHECK(head.response.framing == BodyFraming::kNone);

    CHECK(static_answer(config, request(HttpMethod::kGet, {{"If-None-Match", "\"1234-3e8-6553f100\""}}), "/f", st, 0)
              .response.status == 304);
    CHECK(static_answer(config, request(HttpMethod::kGet, {{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"}}),
                        "/f", st, 0)
              .response.status == 304);
    CHECK(static_answer(config, request(HttpMethod::kGet, {{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}),
                        "/f", st, 0)
              .response.status == 200);

    StaticAnswer part = static_answer(config, request(HttpMethod::kGet, {{"Range", "bytes=-10"}}), "/f", st, 0);
    CHECK(part.response.status == 206);
    CHECK((part.offset == 990 && part.length == 10));
    CHECK(field(part, "Content-Range") == "bytes 990-999/1000");
    StaticAnswer stale =
        static_answer(config, request(HttpMethod::kGet, {{"Range", "bytes=-10"}, {"If-Range", "\"old\""}}), "/f", st, 0);
    CHECK(stale.response.status == 200);
    StaticAnswer none = static_answer(config, request(HttpMethod::kGet, {{"Range", "bytes=2000-"}}), "/f", st, 0);
    CHECK(none.response.status == 416);
    CHECK(none.length == 0);
    CHECK(field(none, "Content-Range") == "bytes */1000");
}

// A root with a file, a subdirectory, and links in and out; `outside` beside it.
struct Tree {
    std::string base;
    Tree() {
        char tmpl[] = "/tmp/lbd-static-XXXXXX";
        base = mkdtemp(tmpl);
        mkdir((base + "/root").c_str(), 0755);
        mkdir((base + "/root/sub").c_str(), 0755);
        mkdir((base + "/outside").c_str(), 0755);
        std::ofstream(base + "/root/file.txt") << "in";
        std::ofstream(base + "/outside/secret") << "out";
        symlink((base + "/outside/secret").c_str(), (base + "/root/abs").c_str());
        symlink("../outside/secret", (base + "/root/rel").c_str());
        symlink("../outside", (base + "/root/sub/up").c_str());
        symlink("file.txt", (base + "/root/in").c_str());
        mkfifo((base + "/root/fifo").c_str(), 0644);
    }
    ~Tree() { std::system(("rm -rf " + base).c_str()); }
};

TEST_CASE("open_beneath: openat2 and the O_NOFOLLOW walk never leave the root") {
    Tree tree;
    UniqueFd root(open((tree.base + "/root").c_str(), O_PATH | O_DIRECTORY));
    REQUIRE(root);
    for (bool openat2 : {true, false}) {
        CAPTURE(openat2);
        CHECK(open_beneath(root.get(), "file.txt", openat2));
        CHECK((bool(open_beneath(root.get(), "sub/../file.txt", openat2)) || !openat2));  // the walk refuses any ..
        CHECK(open_beneath(root.get(), "", openat2));                             // the root itself
        CHECK(!open_beneath(root.get(), "../outside/secret", openat2));
        CHECK(!open_beneath(root.get(), "sub/../../outside/secret", openat2));
        CHECK(!open_beneath(root.get(), "abs", openat2));
        CHECK(!open_beneath(root.get(), "rel", openat2));
        CHECK(!open_beneath(root.get(), "sub/up/secret", openat2));
        CHECK(!open_beneath(root.get(), "/proc/self/root/etc/passwd", openat2));
        CHECK(!open_beneath(root.get(), "sub/../../../../../etc/passwd", openat2));
    }
    CHECK(open_beneath(root.get(), "in", true));    // a link within the root: followed by openat2
    CHECK(!open_beneath(root.get(), "in", false));  // the walk follows none

    HttpStaticFiles config;
    config.root = tree.base + "/root";
    CHECK(open_static_file(config, "/file.txt").fd);
    CHECK(!open_static_file(config, "/%2e%2e/outside/secret").fd);
    CHECK(!open_static_file(config, "/sub").fd);  // a directory without index
    CHECK(!open_static_file(config, "/fifo").fd);  // not a regular file (and opening it did not block)
    config.index = "file.txt";
    CHECK(open_static_file(config, "/").fd);
}

}  // namespace
}  // namespace lbd::l7
