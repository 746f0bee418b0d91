// Admin HTTP scenarios against the real lbd: /metrics counters against traffic the test made
// itself (and a strict parse of the exposition format), the JSON API, 404s, and the status page
// rendered by a real headless Chromium (DOM checked, screenshot kept as a build artifact).
//
// Chromium is Debian's package; the scenario that needs it is skipped (with a doctest MESSAGE)
// only when the binary is not installed.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

constexpr const char* kCurl = "/usr/bin/curl";
constexpr const char* kChromium = "/usr/bin/chromium";
// A cold Chromium start under a loaded CI machine takes seconds; a hung one must not hang the suite.
constexpr int kChromiumTimeoutMs = 60000;

bool executable(const char* path) { return ::access(path, X_OK) == 0; }

// single_pool_config with the HTTP admin listener on an ephemeral port and fast health checks,
// so a killed backend is DOWN within a few hundred ms.
std::string admin_config(const std::string& servers) {
    return single_pool_config(servers + fast_health_check(), "",
                              "workers: 2 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" }");
}

// ---- a minimal HTTP/1.0 client (no keep-alive in 1.0: the body ends at the server's EOF) ----

struct HttpReply {
    int status = 0;  // 0: no parsable reply
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
};

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

HttpReply http_request(uint16_t port, const std::string& method, const std::string& path,
                       const std::string& extra_headers = "") {
    HttpReply reply;
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    if (!fd) return reply;
    if (!send_all(fd.get(), method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n" +
                                       extra_headers + "\r\n", kIoTimeoutMs)) return reply;
    RecvResult r = recv_until_eof(fd.get(), kIoTimeoutMs);
    if (r.end != StreamEnd::kEof) return reply;
    size_t head_end = r.data.find("\r\n\r\n");
    bool http1 = r.data.starts_with("HTTP/1.0 ") || r.data.starts_with("HTTP/1.1 ");
    if (head_end == std::string::npos || !http1) return reply;
    size_t line_end = r.data.find("\r\n");
    for (size_t pos = line_end + 2; pos < head_end;) {
        size_t eol = r.data.find("\r\n", pos);
        std::string header = r.data.substr(pos, eol - pos);
        size_t colon = header.find(':');
        if (colon != std::string::npos) {
            size_t value = header.find_first_not_of(' ', colon + 1);
            reply.headers[lower(header.substr(0, colon))] = value == std::string::npos ? "" : header.substr(value);
        }
        pos = eol + 2;
    }
    reply.body = r.data.substr(head_end + 4);
    reply.status = std::atoi(r.data.c_str() + 9);
    return reply;
}

HttpReply http_get(uint16_t port, const std::string& path) { return http_request(port, "GET", path); }

// ---- the Prometheus text exposition format (version 0.0.4), parsed strictly ----

using Labels = std::map<std::string, std::string>;

struct Sample {
    std::string name;
    Labels labels;
    double value = 0;
};

struct Exposition {
    std::vector<Sample> samples;
    std::vector<std::string> errors;  // one per malformed or misplaced line; empty for a good scrape

    // The value of the sample named `name` with exactly these labels; -1 (which no check
    // expects: every value here is a count or a 0/1) if there is none.
    double value(const std::string& name, const Labels& labels = {}) const {
        for (const Sample& s : samples)
            if (s.name == name && s.labels == labels) return s.value;
        return -1;
    }
    std::vector<Sample> all(const std::string& name) const {
        std::vector<Sample> out;
        for (const Sample& s : samples)
            if (s.name == name) out.push_back(s);
        return out;
    }
};

bool name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool name_char(char c) { return name_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Reads a metric or label name at `pos`; empty if there is none.
std::string read_name(std::string_view line, size_t& pos, bool label) {
    size_t start = pos;
    if (pos < line.size() && name_start(line[pos]) && !(label && line[pos] == ':')) ++pos;
    else return "";
    while (pos < line.size() && name_char(line[pos]) && !(label && line[pos] == ':')) ++pos;
    return std::string(line.substr(start, pos - start));
}

// `{k="v",...}` at `pos` (which is at '{'); label values unescape \\, \" and \n.
bool read_labels(std::string_view line, size_t& pos, Labels& labels) {
    ++pos;  // '{'
    while (pos < line.size() && line[pos] != '}') {
        std::string key = read_name(line, pos, true);
        if (key.empty() || pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') return false;
        pos += 2;
        std::string value;
        for (;; ++pos) {
            if (pos >= line.size()) return false;
            char c = line[pos];
            if (c == '"') break;
            if (c == '\\') {
                if (++pos >= line.size()) return false;
                char e = line[pos];
                if (e == 'n') value += '\n';
                else if (e == '\\' || e == '"') value += e;
                else return false;
                continue;
            }
            value += c;
        }
        ++pos;  // closing quote
        if (!labels.emplace(key, value).second) return false;  // a label given twice
        if (pos < line.size() && line[pos] == ',') ++pos;
        else if (pos >= line.size() || line[pos] != '}') return false;
    }
    if (pos >= line.size()) return false;
    ++pos;  // '}'
    return true;
}

// A sample value: a float, or +Inf / -Inf / NaN.
std::optional<double> read_value(std::string_view text) {
    if (text == "+Inf") return HUGE_VAL;
    if (text == "-Inf") return -HUGE_VAL;
    if (text == "NaN") return NAN;
    std::string copy(text);
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size()) return std::nullopt;
    return v;
}

// Every line is `# HELP name text`, `# TYPE name type`, another comment, or `name{labels} value`.
// Each family has one HELP and one TYPE line, both before its samples, and its samples form one
// group (Prometheus rejects a family that comes back after another one started).
Exposition parse_exposition(const std::string& text) {
    static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
    Exposition e;
    std::set<std::string> helped, finished;
    std::map<std::string, std::string> types;
    std::string current;  // the family whose samples are being read
    size_t number = 0;
    size_t start = 0;
    if (!text.empty() && text.back() != '\n') e.errors.push_back("the text does not end with a newline");
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        std::string_view line(text.data() + start, nl - start);
        start = nl + 1;
        ++number;
        auto error = [&](const std::string& what) { e.errors.push_back("line " + std::to_string(number) + ": " + what + ": " + std::string(line)); };
        if (line.empty()) continue;
        if (line[0] == '#') {
            bool help = line.starts_with("# HELP "), type = line.starts_with("# TYPE ");
            if (!help && !type) continue;  // a plain comment
            size_t pos = 7;
            std::string name = read_name(line, pos, false);
            if (name.empty() || pos >= line.size() || line[pos] != ' ') {
                error("malformed HELP/TYPE");
                continue;
            }
            if (finished.count(name) || name == current) error("HELP/TYPE after the family's samples");
            if (help && !helped.insert(name).second) error("second HELP");
            if (type) {
                std::string t(line.substr(pos + 1));
                if (!kTypes.count(t)) error("unknown type");
                if (!types.emplace(name, t).second) error("second TYPE");
            }
            continue;
        }
        Sample s;
        size_t pos = 0;
        s.name = read_name(line, pos, false);
        if (s.name.empty()) {
            error("no metric name");
            continue;
        }
        if (pos < line.size() && line[pos] == '{' && !read_labels(line, pos, s.labels)) {
            error("malformed labels");
            continue;
        }
        if (pos >= line.size() || line[pos] != ' ') {
            error("no value");
            continue;
        }
        std::string_view rest = line.substr(pos + 1);
        std::string_view value_text = rest.substr(0, rest.find(' '));  // a timestamp may follow
        std::optional<double> value = read_value(value_text);
        if (!value) {
            error("bad value");
            continue;
        }
        s.value = *value;
        // The family: the sample's own name, or for histograms and summaries its base name.
        std::string family = s.name;
        if (!types.count(family))
            for (const char* suffix : {"_bucket", "_sum", "_count"})
                if (family.ends_with(suffix)) {
                    std::string base = family.substr(0, family.size() - std::strlen(suffix));
                    if (types.count(base) && (types[base] == "histogram" || types[base] == "summary")) family = base;
                }
        if (!helped.count(family)) error("no HELP before the sample");
        if (!types.count(family)) error("no TYPE before the sample");
        if (types.count(family) && types[family] == "counter" && !(s.value >= 0)) error("negative counter");
        if (family != current) {
            if (finished.count(family)) error("family split in two groups");
            if (!current.empty()) finished.insert(current);
            current = family;
        }
        e.samples.push_back(std::move(s));
    }
    return e;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& l : lines) out += l + "\n";
    return out;
}

// Scrapes /metrics and parses it; every scrape must be well-formed.
Exposition scrape(uint16_t port) {
    HttpReply reply = http_get(port, "/metrics");
    CHECK(reply.status == 200);
    CHECK(reply.headers["content-type"].starts_with("text/plain"));
    Exposition e = parse_exposition(reply.body);
    INFO(reply.body);
    CHECK_MESSAGE(e.errors.empty(), join(e.errors));
    return e;
}

Labels server_labels(const std::string& server) { return {{"pool", "p"}, {"server", server}}; }

// lbd_server_state of one server is one-hot: returns the state whose sample is 1, or "" if not
// exactly one of the four states is 1 (or a state is missing).
std::string one_hot_state(const Exposition& e, const std::string& server) {
    std::string found;
    int ones = 0;
    for (const char* state : {"UP", "DOWN", "DRAIN", "MAINT"}) {
        Labels labels = server_labels(server);
        labels["state"] = state;
        double v = e.value("lbd_server_state", labels);
        if (v != 0 && v != 1) return "";  // missing (-1) or not a 0/1 gauge
        if (v == 1) {
            ++ones;
            found = state;
        }
    }
    return ones == 1 ? found : "";
}

TEST_CASE("/metrics counts exactly the connections made, per listener and per server") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    RunningLbd lbd(admin_config(server_entry("a", a.port()) + server_entry("b", b.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    // Twelve connections, each reads its greeting and closes. With two workers balancing on their
    // own, the split is not fixed: the client's count per server is the reference.
    constexpr size_t kConnections = 12;
    std::map<std::string, size_t> hits;
    for (size_t i = 0; i < kConnections; ++i) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        std::optional<std::string> greeting = recv_line(client.get(), kIoTimeoutMs);
        REQUIRE(greeting);
        ++hits[greeting->substr(0, greeting->size() - 1)];
    }
    REQUIRE(hits["a"] + hits["b"] == kConnections);
    // The counters are updated before the connection's log line is written.
    REQUIRE(lbd->await_count(" l4 listener=front ", kConnections, kIoTimeoutMs));
    CHECK(lbd->count(LinePattern::regex(" l4 listener=front .* end=closed$")) == kConnections);
    CHECK(lbd->count(LinePattern::regex(" l4 listener=front .* server=p/a ")) == hits["a"]);

    Exposition e = scrape(admin);
    CHECK(e.value("lbd_listener_connections_accepted_total", {{"listener", "front"}}) == kConnections);
    CHECK(e.value("lbd_listener_connections_active", {{"listener", "front"}}) == 0);
    CHECK(e.value("lbd_listener_connections_ended_total", {{"listener", "front"}, {"end", "closed"}}) == kConnections);
    double ended = 0;
    for (const Sample& s : e.all("lbd_listener_connections_ended_total")) ended += s.value;
    CHECK(ended == kConnections);  // no connection counted under another end as well

    double total = 0;
    for (const Sample& s : e.all("lbd_server_connections_total")) total += s.value;
    CHECK(total == kConnections);
    for (const NamedServer* server : {&a, &b}) {
        CAPTURE(server->name());
        const size_t n = hits[server->name()];
        const double greeting_bytes = double(server->name().size() + 1);  // "a\n"
        CHECK(e.value("lbd_server_connections_total", server_labels(server->name())) == n);
        CHECK(e.value("lbd_server_bytes_received_total", server_labels(server->name())) == greeting_bytes * n);
        CHECK(e.value("lbd_server_bytes_sent_total", server_labels(server->name())) == 0);
        CHECK(e.value("lbd_server_connections_active", server_labels(server->name())) == 0);
        CHECK(one_hot_state(e, server->name()) == "UP");
    }
    CHECK(e.value("lbd_workers") == 2);
    // The malloc serving lbd, as lbd found it at run time (cli/allocator.h): mimalloc unless the
    // build left it out (a sanitizer build), so a link that lost it shows here.
    std::vector<Sample> build = e.all("lbd_build_info");
    REQUIRE(build.size() == 1);
    CHECK(build[0].value == 1);
    CHECK(build[0].labels["malloc"].starts_with(LBD_WITH_MIMALLOC ? "mimalloc 2." : "glibc malloc"));
    CHECK(e.value("lbd_process_open_fds") > 0);
    CHECK(e.value("lbd_process_resident_memory_bytes") > 0);

    // A dead backend shows up in the next scrape.
    b.kill();
    REQUIRE(lbd->wait_for_line("server p/b is DOWN", kIoTimeoutMs));
    Exposition after = scrape(admin);
    CHECK(one_hot_state(after, "b") == "DOWN");
    CHECK(after.value("lbd_server_state", {{"pool", "p"}, {"server", "b"}, {"state", "DOWN"}}) == 1);
    CHECK(one_hot_state(after, "a") == "UP");
    // Counters only go up: the scrape after the kill still holds the traffic.
    CHECK(after.value("lbd_listener_connections_accepted_total", {{"listener", "front"}}) == kConnections);
}

TEST_CASE("/metrics shows each worker's open connections, evened out over the workers") {
    NamedServer a("a");
    REQUIRE(a.port());
    RunningLbd lbd(admin_config(server_entry("a", a.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    // Held open one after another. The kernel spreads them over the two workers' sockets by a
    // hash of their addresses (60 split 25/35 as often as not); a worker holding more than
    // kSlack (2) beyond the other hands the next one over, so they end at most 3 apart.
    constexpr size_t kConnections = 60;
    std::vector<UniqueFd> clients;
    for (size_t i = 0; i < kConnections; ++i) {
        clients.push_back(connect_tcp(lbd.port(), kIoTimeoutMs));
        REQUIRE(clients.back());
        REQUIRE(recv_line(clients.back().get(), kIoTimeoutMs));  // the session is up
    }
    Exposition e = scrape(admin);
    const double w0 = e.value("lbd_worker_connections", {{"worker", "0"}});
    const double w1 = e.value("lbd_worker_connections", {{"worker", "1"}});
    CAPTURE(w0);
    CAPTURE(w1);
    CHECK(w0 + w1 == kConnections);
    CHECK(std::abs(w0 - w1) <= 3);
    const double handed = e.value("lbd_worker_connections_handed_total", {{"worker", "0"}}) +
                          e.value("lbd_worker_connections_handed_total", {{"worker", "1"}});
    CHECK(handed >= 0);
    CHECK(handed <= kConnections);

    clients.clear();
    REQUIRE(lbd->await_count(" l4 listener=front ", kConnections, kIoTimeoutMs));
    Exposition after = scrape(admin);
    CHECK(after.value("lbd_worker_connections", {{"worker", "0"}}) == 0);
    CHECK(after.value("lbd_worker_connections", {{"worker", "1"}}) == 0);
}

// A worker that worked and then went quiet for global.memory_release_idle_ms gives its
// allocator's free memory back, once per busy spell (core/loop/quiet_timer.h); the count is
// what an operator sees of it. What RSS it wins back depends on the heap (bench/README.md).
TEST_CASE("a worker gone quiet after work gives memory back once, counted per worker") {
    NamedServer a("a");
    REQUIRE(a.port());
    RunningLbd lbd(single_pool_config(server_entry("a", a.port()) + fast_health_check(), "",
                                      "workers: 1 memory_release_idle_ms: 100 admin { http_bind: \"127.0.0.1:0\" }"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    auto releases = [&] { return scrape(admin).value("lbd_worker_memory_releases_total", {{"worker", "0"}}); };

    // Start-up is work: the first quiet period after it gives back once. Polled: only the
    // worker's own timer says when (every 100 ms here).
    REQUIRE(poll_until([&] { return releases() >= 1; }));
    const double after_start = releases();

    // 400 ms of connections through the worker, each a connect, a line and a close: far more
    // than 1% of a CPU in every 100 ms period.
    size_t connections = 0;
    for (Deadline busy(400); !busy.expired(); ++connections) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        REQUIRE(recv_line(client.get(), kIoTimeoutMs));
    }
    CAPTURE(connections);
    CHECK(poll_until([&] { return releases() >= after_start + 1; }));

    // Quiet since: a worker that stays quiet is not called again (each call walks its heap).
    // A negative, so watched for three periods: no event would say "it did not happen".
    REQUIRE(lbd->await_count(" l4 listener=front ", connections, kIoTimeoutMs));
    const double settled = releases();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(releases() <= settled + 1);
}

// The JSON object of server `name` in an /api/servers reply (a ServerInfo is flat: no nested
// braces), so substring checks apply to that one server only. "" if absent.
std::string server_object(const std::string& json, const std::string& name) {
    size_t at = json.find("\"name\":\"" + name + "\"");
    if (at == std::string::npos) return "";
    size_t object_start = json.rfind('{', at);
    size_t object_end = json.find('}', at);
    return json.substr(object_start, object_end == std::string::npos ? std::string::npos : object_end - object_start + 1);
}

TEST_CASE("/api/servers and /api/status answer JSON; unknown paths are 404") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    RunningLbd lbd(admin_config(server_entry("a", a.port()) + server_entry("b", b.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    HttpReply servers = http_get(admin, "/api/servers");
    INFO(servers.body);
    CHECK(servers.status == 200);
    CHECK(servers.headers["content-type"] == "application/json");
    for (const NamedServer* server : {&a, &b}) {
        CAPTURE(server->name());
        std::string object = server_object(servers.body, server->name());
        CHECK(object.find("\"pool\":\"p\"") != std::string::npos);
        CHECK(object.find("\"address\":\"127.0.0.1:" + std::to_string(server->port()) + "\"") != std::string::npos);
        CHECK(object.find("\"state\":\"UP\"") != std::string::npos);
    }

    HttpReply status = http_get(admin, "/api/status");
    INFO(status.body);
    CHECK(status.status == 200);
    CHECK(status.body.find("\"workers\":2") != std::string::npos);
    CHECK(status.body.find("\"name\":\"front\"") != std::string::npos);

    HttpReply page = http_get(admin, "/");
    CHECK(page.status == 200);
    CHECK(page.headers["content-type"].starts_with("text/html"));
    CHECK(page.body.find("<title>lbd status</title>") != std::string::npos);

    for (const char* path : {"/nope", "/api", "/api/servers/a", "/metrics/x"}) {
        CAPTURE(path);
        CHECK(http_get(admin, path).status == 404);
    }
    // And as a real client sees it.
    REQUIRE(executable(kCurl));
    ChildProcess curl({kCurl, "-sS", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}\n",
                       "http://127.0.0.1:" + std::to_string(admin) + "/does-not-exist"});
    CHECK(curl.wait_exit(5000).value_or(-1) == 0);
    CHECK(curl.await_output_end(kIoTimeoutMs));
    CHECK(curl.output() == "404\n");
}

// ---- the status page in a real browser ----

// Runs Chromium headless on `url` with `extra` arguments and a fresh profile; its stdout goes to
// `stdout_path` (through sh, so Chromium's own log on stderr cannot interleave with a DOM dump).
// Returns the exit code, nullopt if it was still running at the deadline (it is killed then).
std::optional<int> run_chromium(const std::string& url, const std::vector<std::string>& extra,
                                const std::string& stdout_path, std::string* log) {
    TempDir profile;
    std::vector<std::string> argv = {"/bin/sh", "-c", "out=$1; shift; exec \"$@\" >\"$out\"", "sh", stdout_path,
                                     kChromium,
                                     // Explicit: a Chromium older than 132 takes a bare --headless as the old mode.
                                     "--headless=new",
                                     "--no-sandbox",  // as root, the sandbox refuses to start
                                     "--disable-gpu", "--disable-quic", "--no-first-run",
                                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                     "--user-data-dir=" + profile.path(), "--virtual-time-budget=5000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    ChildProcess chromium(argv);
    std::optional<int> status = chromium.wait_exit(kChromiumTimeoutMs);
    if (!status) chromium.stop(1000);  // SIGTERM, then SIGKILL to its whole process group
    chromium.await_output_end(kIoTimeoutMs);
    *log = chromium.output();
    return status;
}

// The `<tr data-server="NAME" ...>...</tr>` element of the dumped DOM ("" if absent).
std::string server_row(const std::string& dom, const std::string& name) {
    size_t at = dom.find("data-server=\"" + name + "\"");
    if (at == std::string::npos) return "";
    size_t end = dom.find("</tr>", at);
    return dom.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

TEST_CASE("the status page renders every server with its state in headless Chromium") {
    if (!executable(kChromium)) {
        MESSAGE("skipped: " << std::string(kChromium) << " is not installed (apt-get install chromium)");
        return;
    }
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    RunningLbd lbd(admin_config(server_entry("a", a.port()) + server_entry("b", b.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    b.kill();
    REQUIRE(lbd->wait_for_line("server p/b is DOWN", kIoTimeoutMs));
    const std::string url = "http://127.0.0.1:" + std::to_string(admin) + "/";

    TempDir out;
    std::string log;
    std::optional<int> status = run_chromium(url, {"--dump-dom"}, out.path() + "/dom.html", &log);
    INFO("chromium's output:\n" << log);
    REQUIRE_MESSAGE(status.has_value(), "chromium still running after " << kChromiumTimeoutMs << " ms");
    CHECK(*status == 0);
    std::string dom = out.read_file("dom.html");
    INFO("DOM:\n" << dom);
    CHECK(dom.find("data-loaded=\"true\"") != std::string::npos);  // the first render succeeded
    CHECK(dom.find("2 workers (connections 0, 0)") != std::string::npos);
    std::string row_a = server_row(dom, "p/a"), row_b = server_row(dom, "p/b");
    CHECK(row_a.find("class=\"state UP\"") != std::string::npos);
    CHECK(row_b.find("class=\"state DOWN\"") != std::string::npos);
    CHECK(dom.find("<span id=\"error\"></span>") != std::string::npos);  // no "lbd unreachable: ..."

    // The screenshot stays in the test's working directory (ctest runs it in the build dir of
    // tests/integration) for a human to look at.
    const std::string png = std::filesystem::current_path().string() + "/status_page.png";
    std::filesystem::remove(png);
    status = run_chromium(url, {"--screenshot=" + png, "--window-size=1280,720"}, "/dev/null", &log);
    REQUIRE_MESSAGE(status.has_value(), "chromium still running after " << kChromiumTimeoutMs << " ms");
    CHECK(*status == 0);
    struct stat st {};
    REQUIRE_MESSAGE(::stat(png.c_str(), &st) == 0, png << " was not written");
    CHECK(st.st_size > 5 * 1024);
}

TEST_CASE("status page actions need the configured token; without one the HTTP side is read-only") {
    NamedServer a("a");
    const std::string token = "0123456789abcdef-test";
    RunningLbd lbd(single_pool_config(server_entry("a", a.port()), "",
                                      "workers: 1 admin { http_bind: \"127.0.0.1:0\" http_token: \"" + token + "\" }"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t port = admin_port(lbd);
    REQUIRE(port != 0);

    CHECK(http_request(port, "POST", "/api/servers/p/a/drain").status == 401);
    CHECK(http_request(port, "POST", "/api/servers/p/a/drain", "Authorization: Bearer wrong-token-0000\r\n").status == 401);
    CHECK(http_get(port, "/api/servers").body.find("\"admin_state\":\"READY\"") != std::string::npos);

    std::string auth = "Authorization: Bearer " + token + "\r\n";
    HttpReply drained = http_request(port, "POST", "/api/servers/p/a/drain", auth);
    CHECK(drained.status == 200);
    CHECK(drained.body.find("\"state\":\"DRAIN\"") != std::string::npos);
    CHECK(lbd->wait_for_line("server p/a is DRAIN", kIoTimeoutMs));
    CHECK(http_request(port, "POST", "/api/servers/p/zzz/drain", auth).status == 404);
    CHECK(http_request(port, "POST", "/api/servers/p/a/explode", auth).status == 404);
    CHECK(http_request(port, "POST", "/api/servers/p/a/enable", auth).status == 200);
    CHECK(http_get(port, "/api/status").body.find("\"http_writes_enabled\":true") != std::string::npos);

    // Without a token configured, no POST is accepted, whatever it carries.
    RunningLbd readonly(admin_config(server_entry("a", a.port())));
    REQUIRE(readonly.ok());
    uint16_t ro_port = admin_port(readonly);
    REQUIRE(ro_port != 0);
    CHECK(http_request(ro_port, "POST", "/api/servers/p/a/drain", auth).status == 403);
}

}  // namespace
}  // namespace lbd::test
