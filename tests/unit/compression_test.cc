// Compression's pure parts (l7/compression/): Accept-Encoding negotiation,
// media-type and token lists, weak ETags, the CPU governor's arithmetic, the
// encoders fed in pieces and decoded by zlib's, brotli's and zstd's own decoders, and
// the config block's defaults and errors.
#include <doctest/doctest.h>

#include <brotli/decode.h>
#include <zlib.h>
// ZSTD_getFrameHeader: the window a frame asks of its decoder.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include "core/config/config_loader.h"
#include "l7/compression/cpu_governor.h"
#include "l7/compression/encoder.h"
#include "l7/compression/negotiation.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using compression::AcceptEncoding;
using compression::Algorithm;

const std::vector<Algorithm> kBrGzip{Algorithm::kBrotli, Algorithm::kGzip};
const std::vector<Algorithm> kGzipBr{Algorithm::kGzip, Algorithm::kBrotli};
const std::vector<Algorithm> kAll{Algorithm::kBrotli, Algorithm::kGzip, Algorithm::kZstd};
const std::vector<Algorithm> kZstdBrGzip{Algorithm::kZstd, Algorithm::kBrotli, Algorithm::kGzip};

// The choice for one Accept-Encoding value: "br", "gzip", "zstd" or "identity".
std::string choose(const std::string& accept, const std::vector<Algorithm>& offered = kBrGzip) {
    AcceptEncoding parsed;
    parsed.add(accept);
    auto chosen = parsed.choose(offered);
    return chosen ? compression::to_token(*chosen) : "identity";
}

TEST_CASE("Accept-Encoding: q-values, the server's preference on ties, identity and *") {
    CHECK(choose("") == "identity");
    CHECK(choose("gzip") == "gzip");
    CHECK(choose("br") == "br");
    CHECK(choose("gzip, deflate, br") == "br");            // a tie: lbd prefers br
    CHECK(choose("gzip, deflate, br", kGzipBr) == "gzip");  // ... unless configured otherwise
    CHECK(choose("br;q=0.5, gzip") == "gzip");              // the client's q wins over the preference
    CHECK(choose("br;q=0.8, gzip;q=0.9") == "gzip");
    CHECK(choose("br;q=1.000, gzip;q=0.999") == "br");
    CHECK(choose("gzip;q=0") == "identity");
    CHECK(choose("gzip;q=0, br;q=0") == "identity");
    CHECK(choose("*") == "br");
    CHECK(choose("*;q=0.5, br;q=0") == "gzip");  // br refused, gzip through *
    CHECK(choose("*;q=0") == "identity");        // nothing acceptable: identity anyway, never a 406
    CHECK(choose("identity;q=0, gzip") == "gzip");
    CHECK(choose("identity, gzip;q=0.5") == "identity");  // the client prefers identity
    CHECK(choose("identity;q=0.5, gzip;q=0.5") == "gzip");  // a tie with identity compresses
    CHECK(choose("gzip;q=0.5, br;q=0, *") == "identity");     // identity at 1 through *
    CHECK(choose("gzip;q=0.1") == "gzip");                   // unlisted identity has no weight of its own
    CHECK(choose("deflate, compress") == "identity");
    CHECK(choose("x-gzip") == "gzip");                        // RFC 9110 8.4.1.3
    CHECK(choose("GZIP;Q=0.5") == "gzip");                    // case-insensitive
    CHECK(choose("  gzip ; q=0.7 ,br ; q=0.6 ") == "gzip");  // whitespace around ; and ,
    CHECK(choose("gzip;q=2, br;q=0.5") == "br");              // a malformed q drops its element
    CHECK(choose("gzip;q=0.1234") == "identity");             // more than 3 decimals is malformed
    CHECK(choose("gzip;level=1;q=0.3") == "gzip");
    CHECK(choose("br", {Algorithm::kGzip}) == "identity");  // not offered
    CHECK(choose(",,gzip,,") == "gzip");
    // zstd (RFC 8878), only where offered.
    CHECK(choose("zstd") == "identity");  // not in the default list
    CHECK(choose("zstd", kAll) == "zstd");
    CHECK(choose("gzip, deflate, br, zstd", kAll) == "br");  // a browser's field: the server's order
    CHECK(choose("gzip, deflate, br, zstd", kZstdBrGzip) == "zstd");
    CHECK(choose("zstd;q=0.5, gzip", kZstdBrGzip) == "gzip");  // the client's q first
    CHECK(choose("zstd;q=0.9, br;q=0.8", kZstdBrGzip) == "zstd");
    CHECK(choose("zstd;q=0, *", kZstdBrGzip) == "br");
    CHECK(choose("ZSTD", kAll) == "zstd");

    // Several Accept-Encoding lines are one list.
    AcceptEncoding two;
    two.add("gzip;q=0.4");
    two.add("br;q=0.6");
    CHECK(two.choose(kBrGzip) == Algorithm::kBrotli);
}

TEST_CASE("media types, token lists and weak ETags") {
    const std::vector<std::string> types{"text/*", "application/json"};
    CHECK(compression::type_listed("text/html", types));
    CHECK(compression::type_listed("Text/HTML; charset=utf-8", types));
    CHECK(compression::type_listed("application/json", types));
    CHECK(compression::type_listed(" application/json ;charset=utf-8", types));
    CHECK_FALSE(compression::type_listed("application/jsonx", types));
    CHECK_FALSE(compression::type_listed("image/png", types));
    CHECK_FALSE(compression::type_listed("textual/plain", types));
    CHECK_FALSE(compression::type_listed("", types));

    CHECK(compression::list_has("public, no-transform", "no-transform"));
    CHECK(compression::list_has("max-age=60,No-Transform", "no-transform"));
    CHECK_FALSE(compression::list_has("no-transformx", "no-transform"));
    CHECK(compression::list_has("Cookie, Accept-Encoding", "accept-encoding"));
    CHECK_FALSE(compression::list_has("Cookie", "accept-encoding"));

    CHECK(compression::weak_etag("\"abc\"") == "W/\"abc\"");
    CHECK(compression::weak_etag("W/\"abc\"") == "W/\"abc\"");
}

TEST_CASE("the CPU governor: a sliding window of compressing time, any window over one meter") {
    constexpr uint64_t kMs = 1'000'000;
    compression::CpuGovernor governor;
    CHECK(governor.percent(1000, 0) == 0);
    governor.spent(100 * kMs, 10 * kMs);
    CHECK(governor.percent(1000, 20 * kMs) == 10);  // 100 ms of a 1 s window
    CHECK(governor.percent(10000, 20 * kMs) == 1);  // of a 10 s one, read from the same meter
    using V = compression::CpuGovernor::Verdict;
    CHECK(governor.verdict(0, 1000, 20 * kMs) == V::kFull);  // no limit
    CHECK(governor.verdict(50, 1000, 20 * kMs) == V::kFull);
    CHECK(governor.verdict(13, 1000, 20 * kMs) == V::kLowered);  // 10 >= 3/4 of 13
    CHECK(governor.verdict(10, 1000, 20 * kMs) == V::kOff);
    CHECK(governor.verdict(10, 10000, 20 * kMs) == V::kFull);
    // The window slides: 5 ms later than a second on, the 100 ms slot they
    // were spent in is 95% inside the last second.
    CHECK(governor.percent(1000, 1005 * kMs) == 9);
    CHECK(governor.percent(1000, 1100 * kMs) == 0);
    CHECK(governor.percent(10000, 1100 * kMs) == 1);
    // Spending adds up, in any slot.
    governor.spent(400 * kMs, 1150 * kMs);
    CHECK(governor.percent(1000, 1150 * kMs) == 40);
    CHECK(governor.percent(10000, 1150 * kMs) == 5);
    // Past the longest window (and a clock far on), nothing is left.
    CHECK(governor.percent(60000, 62000 * kMs) == 0);
    CHECK(governor.percent(60000, 1'000'000'000 * kMs) == 0);
    const uint64_t t0 = compression::CpuGovernor::now_ns();
    CHECK(t0 > 0);
    CHECK(compression::CpuGovernor::now_ns() >= t0);
}

std::string gunzip(const std::string& data) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    std::string out;
    char buf[65536];
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
    }
    inflateEnd(&z);
    CHECK(rc == Z_STREAM_END);
    return out;
}

std::string unzstd(const std::string& data) {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    REQUIRE(dctx != nullptr);
    // RFC 9659 3: what a browser decodes; lbd's frames must fit it.
    REQUIRE(!ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 23)));
    std::string out;
    char buf[65536];
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    size_t left = 0;
    for (;;) {  // until all is read and a window comes back not full (nothing held back)
        ZSTD_outBuffer window{buf, sizeof buf, 0};
        left = ZSTD_decompressStream(dctx, &window, &in);
        REQUIRE(!ZSTD_isError(left));
        out.append(buf, window.pos);
        if (in.pos == in.size && window.pos < sizeof buf) break;
    }
    ZSTD_freeDCtx(dctx);
    CHECK(left == 0);  // the frame is complete
    return out;
}

std::string unbrotli(const std::string& data) {
    std::string out(1 << 20, '\0');  // the inputs here are at most 300 KB
    size_t size = out.size();
    REQUIRE(BrotliDecoderDecompress(data.size(), reinterpret_cast<const uint8_t*>(data.data()), &size,
                                    reinterpret_cast<uint8_t*>(out.data())) == BROTLI_DECODER_RESULT_SUCCESS);
    out.resize(size);
    return out;
}

// `input` through an encoder in pieces of `piece` bytes, each flushed, then
// finished; output through windows of 100 bytes (many kNeedOutput rounds).
std::string encode(Algorithm algorithm, const std::string& input, size_t piece, uint64_t hint) {
    auto encoder = compression::make_encoder(algorithm, algorithm == Algorithm::kGzip ? 6 : algorithm == Algorithm::kZstd ? 3 : 4, hint);
    REQUIRE(encoder);
    std::string out;
    uint8_t window[100];
    const auto drive = [&](const uint8_t* in, size_t len, compression::Encoder::Mode mode) {
        for (int rounds = 0;; ++rounds) {
            REQUIRE(rounds < 10'000'000);
            uint8_t* cursor = window;
            size_t room = sizeof window;
            auto step = encoder->run(in, len, cursor, room, mode);
            out.append(reinterpret_cast<char*>(window), static_cast<size_t>(cursor - window));
            REQUIRE(step != compression::Encoder::Step::kError);
            if (step == compression::Encoder::Step::kDone) break;
        }
        CHECK(len == 0);
    };
    for (size_t at = 0; at < input.size(); at += piece) {
        const size_t n = std::min(piece, input.size() - at);
        drive(reinterpret_cast<const uint8_t*>(input.data() + at), n, compression::Encoder::Mode::kNone);
        drive(nullptr, 0, compression::Encoder::Mode::kFlush);
    }
    drive(nullptr, 0, compression::Encoder::Mode::kFinish);
    return out;
}

TEST_CASE("the encoders stream in pieces and decode to the same bytes") {
    std::mt19937 rng(7);
    std::string random(300'000, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    std::string text;
    while (text.size() < 300'000) text += "<li class=\"item\">item " + std::to_string(text.size() % 977) + "</li>\n";
    for (Algorithm algorithm : kAll) {
        const auto decode = algorithm == Algorithm::kGzip ? gunzip : algorithm == Algorithm::kZstd ? unzstd : unbrotli;
        const std::string token = compression::to_token(algorithm);  // CAPTURE of a char* shows the pointer
        CAPTURE(token);
        CHECK(decode(encode(algorithm, "", 1, 0)).empty());
        CHECK(decode(encode(algorithm, "x", 1, 1)) == "x");
        CHECK(decode(encode(algorithm, random, 65536, 0)) == random);
        CHECK(decode(encode(algorithm, random, 7000, random.size())) == random);
        const std::string packed = encode(algorithm, text, 65536, 0);
        CHECK(decode(packed) == text);
        CHECK(packed.size() < text.size() / 5);
        if (algorithm == Algorithm::kZstd) {
            // The window lbd asks of the client: 512 KiB, well under the 8 MiB browsers decode.
            ZSTD_frameHeader header{};
            REQUIRE(ZSTD_getFrameHeader(&header, packed.data(), packed.size()) == 0);
            CHECK(header.windowSize == 512 * 1024);
        }
        // A small size hint (a small window) still decodes a longer body.
        CHECK(decode(encode(algorithm, text, 4096, 600)) == text);
    }
}

// An HTTP listener with `http_body` in its http block and one pool.
std::string config_with(const std::string& http_body) {
    return "listeners {\n  name: \"web\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"p\"\n  http {\n" +
           http_body + "  }\n}\npools {\n  name: \"p\"\n  servers { name: \"s1\" address: \"127.0.0.1:9001\" }\n}\n";
}

TEST_CASE("compression config: defaults, the typed result, errors at their lines") {
    ConfigLoadResult none = load_config_text(config_with(""), "test.conf");
    REQUIRE(none.config);
    CHECK_FALSE(none.config->listeners[0].http.compression);

    ConfigLoadResult defaults = load_config_text(config_with("    compression {}\n"), "test.conf");
    INFO(test::all_errors(defaults));
    REQUIRE(defaults.config);
    const HttpCompressionConfig& c = *defaults.config->listeners[0].http.compression;
    CHECK(c.algorithms == kBrGzip);
    CHECK(c.gzip_level == 6);
    CHECK(c.brotli_level == 4);
    CHECK(c.zstd_level == 3);
    CHECK(c.min_length == 256);
    CHECK(c.statuses.contains(200));
    CHECK(c.statuses.contains(404));
    CHECK_FALSE(c.statuses.contains(304));
    CHECK(c.types.front() == "text/*");
    CHECK(c.max_cpu_percent == 0);

    ConfigLoadResult set = load_config_text(
        config_with("    compression { algorithms: [\"gzip\"] gzip_level: 1 brotli_level: 0 types: \"Text/HTML\" "
                    "min_length: 0 statuses: \"200\" max_cpu_percent: 30 cpu_window_ms: 500 }\n"
                    "    routes { match { path_prefix: \"/account\" } pool: \"p\" compression_off: true }\n"
                    "    routes { match { path_prefix: \"/big\" } pool: \"p\" compression { gzip_level: 9 } }\n"
                    "    routes { match { path_prefix: \"/z\" } pool: \"p\"\n"
                    "      compression { algorithms: [\"zstd\", \"gzip\"] zstd_level: 19 } }\n"),
        "test.conf");
    INFO(test::all_errors(set));
    REQUIRE(set.config);
    const HttpConfig& http = set.config->listeners[0].http;
    CHECK(http.compression->algorithms == std::vector<Algorithm>{Algorithm::kGzip});
    CHECK(http.compression->gzip_level == 1);
    CHECK(http.compression->brotli_level == 0);
    CHECK(http.compression->types == std::vector<std::string>{"text/html"});
    CHECK(http.compression->min_length == 0);
    CHECK_FALSE(http.compression->statuses.contains(201));
    CHECK(http.compression->max_cpu_percent == 30);
    CHECK(http.compression->cpu_window_ms == 500);
    CHECK(http.routes[0].compression_off);
    CHECK(http.routes[1].compression->gzip_level == 9);
    CHECK(http.routes[2].compression->algorithms == std::vector<Algorithm>{Algorithm::kZstd, Algorithm::kGzip});
    CHECK(http.routes[2].compression->zstd_level == 19);

    const auto expect = [](const std::string& body, const std::string& at, const std::string& message) {
        test::expect_error_on_line(config_with(body), at, message);
    };
    expect("    compression {\n      algorithms: \"deflate\"\n    }\n", "deflate",
           "unknown compression algorithm 'deflate' (expected \"br\", \"gzip\" or \"zstd\")");
    expect("    compression {\n      zstd_level: 0\n    }\n", "zstd_level", "zstd_level 0 out of range 1..19");
    expect("    compression {\n      zstd_level: 20\n    }\n", "zstd_level", "zstd_level 20 out of range 1..19");
    expect("    compression {\n      algorithms: \"br\"\n      algorithms: \"gzip\"\n      algorithms: \"br\" # again\n    }\n", "# again",
           "compression algorithm 'br' listed twice");
    expect("    compression {\n      gzip_level: 0\n    }\n", "gzip_level", "gzip_level 0 out of range 1..9");
    expect("    compression {\n      brotli_level: 12\n    }\n", "brotli_level", "brotli_level 12 out of range 0..11");
    expect("    compression {\n      types: \"html\"\n    }\n", "types",
           "compression: bad type 'html' (expected type/subtype or type/*)");
    expect("    compression {\n      max_cpu_percent: 101\n    }\n", "max_cpu",
           "max_cpu_percent 101 out of range 0..100");
    expect("    compression {\n      cpu_window_ms: 10\n    }\n", "cpu_window", "cpu_window_ms 10 out of range 100..60000");
    expect("    routes {\n      pool: \"p\"\n      compression {}\n      compression_off: true\n    }\n",
           "compression_off", "route #1: compression_off and compression are both set");
    ConfigLoadResult bad_status = load_config_text(config_with("    compression { statuses: \"abc\" }\n"), "t.conf");
    CHECK(bad_status.errors.size() == 1);
}

}  // namespace
}  // namespace lbd
