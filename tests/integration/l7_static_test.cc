// Static files (l7/static_files.h) on a real lbd with curl, over HTTP/1.1 (sendfile) and h2c
// (--http2-prior-knowledge: pieces read as the stream drains), and TLS with HTTP/1.1 and h2: content and type, HEAD, 304 by
// ETag and by date, Range 206/416, expires, traversal attempts (.., %2e%2e, symbolic links out of
// the root, a directory) all 404, a 20 MiB file byte for byte with lbd's RSS bounded, the request
// filters (access) before the file and the response filters (header actions, compression) on it,
// and a missing root refused at file:line:col.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/base/sanitizers.h"
#include "tests/integration/l7_scenario.h"
#include "tests/integration/l7_tls_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

// A root with files and traps, and a secret beside it that must never be served.
struct Site {
    TempDir root;
    TempDir outside;
    std::string data;  // data.bin: 1000 bytes, byte i = i % 251
    Site() {
        root.write_file("index.html", "<h1>home</h1>\n");
        root.write_file("robots.txt", "User-agent: *\nDisallow: /private/\n");
        root.write_file("a.css", std::string(400, 'x') + "\n");
        for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i % 251));
        root.write_file("data.bin", data);
        mkdir((root.path() + "/sub").c_str(), 0755);
        root.write_file("sub/page.txt", "in sub\n");
        mkdir((root.path() + "/noindex").c_str(), 0755);
        // Not regular files: a FIFO, and an "index.html" that is a directory.
        CHECK(mkfifo((root.path() + "/fifo").c_str(), 0644) == 0);
        mkdir((root.path() + "/dirindex").c_str(), 0755);
        mkdir((root.path() + "/dirindex/index.html").c_str(), 0755);
        outside.write_file("secret.txt", "TOP-SECRET\n");
        // Out of the root: absolute, relative with .., and to a directory outside.
        CHECK(symlink((outside.path() + "/secret.txt").c_str(), (root.path() + "/abs-link").c_str()) == 0);
        CHECK(symlink(("../" + outside.path().substr(outside.path().rfind('/') + 1) + "/secret.txt").c_str(),
                      (root.path() + "/rel-link").c_str()) == 0);
        CHECK(symlink(outside.path().c_str(), (root.path() + "/dir-link").c_str()) == 0);
        // Inside the root: followed (openat2 keeps it beneath).
        CHECK(symlink("robots.txt", (root.path() + "/in-link.txt").c_str()) == 0);
    }
};

std::string static_config(const Site& site, const HttpBackend& web, const std::string& extra_routes = "",
                          const std::string& http_extra = "") {
    return "global { workers: 2 drain_timeout_ms: 2000 }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n"
           "  pool: \"web\"\n"
           "  http {\n    http2 { cleartext: true }\n" + http_extra + extra_routes +
           "    routes { name: \"robots\" match { path_exact: \"/robots.txt\" } static_files { root: \"" +
           site.root.path() + "\" } }\n"
           "    routes { name: \"files\" match { path_prefix: \"/static/\" } strip_path_prefix: true"
           " static_files { root: \"" + site.root.path() + "\" index: \"index.html\" expires_s: 2592000 } }\n"
           "  }\n}\n" + http_pool("web", {&web});
}

// The value of header `name` in curl -i output (first match, case-insensitive name), "" if none.
std::string header_of(const std::string& output, std::string name) {
    std::string lower = output;
    for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("\n" + name + ": ");
    if (at == std::string::npos) return "";
    const size_t start = at + name.size() + 3;
    return output.substr(start, output.find('\r', start) - start);
}

// The body after the head of curl -i output.
std::string body_of(const std::string& output) {
    const size_t at = output.find("\r\n\r\n");
    return at == std::string::npos ? "" : output.substr(at + 4);
}

const std::vector<std::vector<std::string>> kProtocols{{"--http1.1"}, {"--http2-prior-knowledge"}};

TEST_CASE("static files over HTTP/1.1 and h2c: content, type, HEAD, 304, Range, expires, 405") {
    Site site;
    HttpBackend web("web");
    RunningLbd lbd(static_config(site, web));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    for (const auto& proto : kProtocols) {
        CAPTURE(proto[0]);
        auto get = [&](std::vector<std::string> args) {
            args.insert(args.begin(), proto.begin(), proto.end());
            args.insert(args.begin(), "-i");
            return curl(args);
        };
        // The body written by curl -o: binary bodies do not survive the line-based capture.
        TempDir out;
        auto body = [&](std::vector<std::string> args) {
            args.insert(args.begin(), proto.begin(), proto.end());
            args.insert(args.begin(), {"-o", out.path() + "/body"});
            curl(args);
            return out.read_file("body");
        };
        CurlRun css = get({url(lbd.port(), "/static/a.css")});
        CHECK(has(css.output, " 200"));
        if (proto[0] == "--http1.1") CHECK(has(css.output, "HTTP/1.1 200 OK"));  // lbd's own answer has its phrase
        CHECK(header_of(css.output, "content-type") == "text/css; charset=utf-8");
        CHECK(header_of(css.output, "content-length") == "401");
        CHECK(body_of(css.output) == std::string(400, 'x') + "\n");
        CHECK(header_of(css.output, "cache-control") == "max-age=2592000");
        CHECK(!header_of(css.output, "expires").empty());
        const std::string etag = header_of(css.output, "etag");
        const std::string modified = header_of(css.output, "last-modified");
        CHECK(etag.size() > 6);
        CHECK(!modified.empty());

        CHECK(body_of(get({url(lbd.port(), "/robots.txt")}).output) == "User-agent: *\nDisallow: /private/\n");
        CHECK(header_of(get({url(lbd.port(), "/robots.txt")}).output, "cache-control").empty());  // no expires there
        CurlRun index = get({url(lbd.port(), "/static/")});
        CHECK(body_of(index.output) == "<h1>home</h1>\n");
        CHECK(header_of(index.output, "content-type") == "text/html; charset=utf-8");
        CHECK(body_of(get({url(lbd.port(), "/static/sub/page.txt")}).output) == "in sub\n");
        CHECK(body_of(get({url(lbd.port(), "/static/in-link.txt")}).output) == "User-agent: *\nDisallow: /private/\n");
        CHECK(body_of(get({url(lbd.port(), "/static/%61.css")}).output) == std::string(400, 'x') + "\n");
        CHECK(header_of(get({url(lbd.port(), "/static/data.bin")}).output, "content-type") ==
              "application/octet-stream");

        // HEAD: the head of the GET, no body.
        CurlRun head = get({"-I", url(lbd.port(), "/static/a.css")});
        CHECK(has(head.output, " 200"));
        CHECK(header_of(head.output, "content-length") == "401");
        CHECK(body_of(head.output).empty());

        // 304 by ETag and by date; another tag or an older date: 200.
        CurlRun by_tag = get({"-H", "If-None-Match: " + etag, url(lbd.port(), "/static/a.css")});
        CHECK(has(by_tag.output, " 304"));
        CHECK(body_of(by_tag.output).empty());
        CHECK(header_of(by_tag.output, "etag") == etag);
        CHECK(has(get({"-H", "If-Modified-Since: " + modified, url(lbd.port(), "/static/a.css")}).output, " 304"));
        CHECK(has(get({"-H", "If-None-Match: \"other\"", url(lbd.port(), "/static/a.css")}).output, " 200"));
        CHECK(has(get({"-H", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT", url(lbd.port(), "/static/a.css")})
                      .output,
                  " 200"));

        // Range: a-b, a-, -n; past the end 416; several ranges the whole file (200).
        CurlRun part = get({"-H", "Range: bytes=10-19", url(lbd.port(), "/static/data.bin")});
        CHECK(has(part.output, " 206"));
        CHECK(header_of(part.output, "content-range") == "bytes 10-19/1000");
        CHECK(body({"-H", "Range: bytes=10-19", url(lbd.port(), "/static/data.bin")}) == site.data.substr(10, 10));
        CurlRun tail = get({"-H", "Range: bytes=-5", url(lbd.port(), "/static/data.bin")});
        CHECK(header_of(tail.output, "content-range") == "bytes 995-999/1000");
        CHECK(body({"-H", "Range: bytes=-5", url(lbd.port(), "/static/data.bin")}) == site.data.substr(995));
        CHECK(body({"-H", "Range: bytes=990-", url(lbd.port(), "/static/data.bin")}) == site.data.substr(990));
        CurlRun past = get({"-H", "Range: bytes=5000-", url(lbd.port(), "/static/data.bin")});
        CHECK(has(past.output, " 416"));
        CHECK(header_of(past.output, "content-range") == "bytes */1000");
        CurlRun multi = get({"-H", "Range: bytes=0-1,5-6", url(lbd.port(), "/static/data.bin")});
        CHECK(has(multi.output, " 200"));
        CHECK(body({"-H", "Range: bytes=0-1,5-6", url(lbd.port(), "/static/data.bin")}) == site.data);
        // If-Range with a stale validator: the whole file.
        CHECK(has(get({"-H", "Range: bytes=0-9", "-H", "If-Range: \"stale\"", url(lbd.port(), "/static/data.bin")})
                      .output,
                  " 200"));

        CurlRun post = get({"-d", "x", url(lbd.port(), "/static/a.css")});
        CHECK(has(post.output, " 405"));
        CHECK(header_of(post.output, "allow") == "GET, HEAD");
    }
    CHECK(web.requests() == 0);  // nothing was forwarded
    // The access log line, as for a server's answer: status and bytes.
    std::optional<std::string> line = lbd->await_line(LinePattern(" route=robots "), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "status") == "200");
    CHECK(std::stoul(field(*line, "out")) > 34);
}

TEST_CASE("static files refuse traversal: .., %2e%2e, symbolic links out of the root, directories: 404") {
    Site site;
    HttpBackend web("web");
    RunningLbd lbd(static_config(site, web));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string secret_name = site.outside.path().substr(site.outside.path().rfind('/') + 1);
    // Dot segments, plain or encoded, are resolved before routing
    // (normalize_path): these leave /static/ and go to the listener's pool.
    for (const std::string path : {"/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"}) {
        CAPTURE(path);
        CurlRun run = curl({"-i", "--path-as-is", url(lbd.port(), path)});
        CHECK(!has(run.output, "root:"));
        CHECK(web.heads().back().rfind("GET /etc/passwd HTTP/1.1\r\n", 0) == 0);
    }
    const std::vector<std::string> attempts{
        "/static/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/static/..%2f" + secret_name + "/secret.txt",
        "/static/abs-link",
        "/static/rel-link",
        "/static/dir-link/secret.txt",
        "/static/noindex",
        "/static/noindex/",
        "/static/sub",
        "/static/fifo",
        "/static/dirindex/",
        "/static/missing.txt",
        "/static/a.css%00.txt",
        "/static/%zz",
    };
    for (const auto& proto : kProtocols) {
        for (const std::string& path : attempts) {
            CAPTURE(proto[0]);
            CAPTURE(path);
            CurlRun run = curl({proto[0], "-i", "--path-as-is", url(lbd.port(), path)});
            CHECK(has(run.output, " 404"));
            CHECK(!has(run.output, "TOP-SECRET"));
            CHECK(!has(run.output, "root:"));
        }
    }
}

// A 20 MiB file of random bytes in `site`'s root as big.bin; its contents.
std::string add_big_file(Site& site) {
    std::string big(20u << 20, '\0');
    std::mt19937 random(15);
    for (size_t i = 0; i < big.size(); i += 4) {
        const uint32_t v = random();
        std::memcpy(&big[i], &v, 4);
    }
    site.root.write_file("big.bin", big);
    return big;
}

// Downloads `target` with curl `args` at 10 MB/s into `out`/got, sampling lbd's RSS meanwhile into
// `peak_kib`: a file held whole (even briefly) shows as +20 MiB. Checks the bytes against `big`.
void download_big(const std::vector<std::string>& args, const std::string& target, const TempDir& out,
                  const std::string& big, int pid, size_t& peak_kib) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "60", "--limit-rate", "10M", "-o",
                                  out.path() + "/got", "-w", "%{http_code} %{http_version}"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(target);
    ChildProcess child(argv);
    std::optional<int> exit_code;
    while (!(exit_code = child.wait_exit(20))) peak_kib = std::max(peak_kib, rss_kib(pid));
    CHECK(*exit_code == 0);
    child.await_output_end(kIoTimeoutMs);
    MESSAGE("curl: " << child.output());
    CHECK(has(child.output(), "200"));
    CHECK(out.read_file("got") == big);
}

void check_rss_bound(size_t before_kib, size_t peak_kib) {
    MESSAGE("lbd RSS " << before_kib / 1024 << " MiB before, at most " << peak_kib / 1024
                       << " MiB while sending two 20 MiB files");
    // Under ASan its quarantine (256 MiB by default) keeps every freed 64 KiB piece and TLS record
    // buffer before reuse (seen: +59 MiB plain/h2c, +148 MiB over TLS), as l7_h2_test's bound allows.
    CHECK(peak_kib - before_kib < (lbd::kAddressSanitizer ? (12 + 256) * 1024 : 12 * 1024));
}

TEST_CASE("a 20 MiB file byte for byte over HTTP/1.1 (sendfile) and h2c, lbd's RSS bounded") {
    Site site;
    const std::string big = add_big_file(site);
    HttpBackend web("web");
    RunningLbd lbd(static_config(site, web));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const int pid = lbd->pid();
    const size_t before_kib = rss_kib(pid);
    size_t peak_kib = before_kib;
    TempDir out;
    for (const auto& proto : kProtocols) {
        CAPTURE(proto[0]);
        download_big(proto, url(lbd.port(), "/static/big.bin"), out, big, pid, peak_kib);
    }
    check_rss_bound(before_kib, peak_kib);
    std::optional<std::string> line = lbd->await_line(LinePattern(" route=files "), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(std::stoull(field(*line, "out")) > (20u << 20));
}

TEST_CASE("a 20 MiB file over TLS, HTTP/1.1 and h2 by ALPN (pieces read as TLS drains), RSS bounded") {
    Site site;
    const std::string big = add_big_file(site);
    const std::string config =
        "global { workers: 2 drain_timeout_ms: 2000 }\n"
        "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n" +
        sni_tls("      alpn: \"h2\"\n      alpn: \"http/1.1\"\n") +
        "  http {\n    routes { static_files { root: \"" + site.root.path() + "\" } }\n  }\n}\n";
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string p = std::to_string(lbd.port());
    const int pid = lbd->pid();
    const size_t before_kib = rss_kib(pid);
    size_t peak_kib = before_kib;
    TempDir out;
    for (const std::string proto : {"--http1.1", "--http2"}) {
        CAPTURE(proto);
        download_big({proto, "--cacert", pem("ca"), "--resolve", "a.example.test:" + p + ":127.0.0.1"},
                     "https://a.example.test:" + p + "/big.bin", out, big, pid, peak_kib);
    }
    check_rss_bound(before_kib, peak_kib);
    CHECK(lbd->await_line(LinePattern(" proto=h2 tls="), kIoTimeoutMs));
}

TEST_CASE("static files: access rules before the file, header actions and compression on it") {
    Site site;
    HttpBackend web("web");
    const std::string routes =
        "    routes { name: \"closed\" match { path_prefix: \"/closed/\" } strip_path_prefix: true"
        " access { rules { deny: \"all\" } } static_files { root: \"" + site.root.path() + "\" } }\n"
        "    routes { name: \"tagged\" match { path_prefix: \"/tagged/\" } strip_path_prefix: true"
        " response_headers { set { name: \"X-Static\" value: \"$host\" } }"
        " static_files { root: \"" + site.root.path() + "\" } }\n";
    RunningLbd lbd(static_config(site, web, routes, "    compression { algorithms: \"gzip\" types: \"text/css\" }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    for (const auto& proto : kProtocols) {
        CAPTURE(proto[0]);
        CurlRun closed = curl({proto[0], "-i", url(lbd.port(), "/closed/robots.txt")});
        CHECK(has(closed.output, " 403"));
        CHECK(!has(closed.output, "Disallow"));
        CurlRun tagged = curl({proto[0], "-i", "-H", "Host: files.example", url(lbd.port(), "/tagged/robots.txt")});
        CHECK(header_of(tagged.output, "x-static") == "files.example");
        CurlRun gz = curl({proto[0], "-i", "--compressed", url(lbd.port(), "/static/a.css")});
        CHECK(header_of(gz.output, "content-encoding") == "gzip");
        CHECK(body_of(gz.output) == std::string(400, 'x') + "\n");
    }
}

TEST_CASE("static_files config: a missing or relative root is refused at file:line:col by lbd -t and lbctl") {
    HttpBackend web("web");
    const std::string config = "listeners {\n"                                           // 1
                               "  name: \"front\"\n"                                     // 2
                               "  bind: \"127.0.0.1:0\"\n"                               // 3
                               "  mode: MODE_HTTP\n"                                     // 4
                               "  pool: \"web\"\n"                                       // 5
                               "  http {\n"                                              // 6
                               "    routes { static_files { root: \"/nonexistent-lbd-root\" } }\n"  // 7
                               "    routes { static_files { root: \"relative/dir\" } }\n"           // 8
                               "  }\n}\n" + http_pool("web", {&web});
    // file:LINE:COL of `needle`'s first appearance.
    auto at = [&](const std::string& needle) {
        const size_t pos = config.find(needle);
        const size_t line_start = config.rfind('\n', pos) + 1;
        const size_t line = static_cast<size_t>(std::count(config.begin(), config.begin() + static_cast<long>(pos), '\n')) + 1;
        return ":" + std::to_string(line) + ":" + std::to_string(pos - line_start + 1) + ": ";
    };
    const std::string missing = at("root: \"/nonexistent") + "static_files root '/nonexistent-lbd-root': No such file or directory";
    const std::string relative = at("root: \"relative") + "static_files root 'relative/dir' must be an absolute path";
    LbdProcess::CheckResult check = LbdProcess::run_check(config);
    INFO(check.output);
    CHECK(check.exit_code == 1);
    CHECK(has(check.output, check.config_path + missing));
    CHECK(has(check.output, check.config_path + relative));
    TempFile file(config);
    Run lbctl_check = lbctl({"config", "check", file.path()});
    INFO(lbctl_check.output);
    CHECK(lbctl_check.exit_code == 1);
    CHECK(has(lbctl_check.output, file.path() + missing));
    CHECK(has(lbctl_check.output, file.path() + relative));
}

}  // namespace
}  // namespace lbd::test
