// Fuzz target: HTTP/1.1 request heads (core/http1/parser.h parse_request_head). Oracles in
// http_head_oracle.h: split input parses as whole input, trailing bytes never change the head,
// and no request is accepted with an ambiguous length.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/http_head_oracle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lbd;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const l7::HttpLimits limits = fuzz::fuzz_http_limits();
    auto parse = [&](std::string_view bytes, l7::HttpRequestHead& head, l7::HeadScanState* scan) {
        return l7::parse_request_head(bytes, limits, head, scan);
    };
    fuzz::check_head<l7::HttpRequestHead>(input, fuzz::split_point(input), parse);
    fuzz::check_byte_by_byte<l7::HttpRequestHead>(input, parse);

    l7::HttpRequestHead head;
    if (l7::parse_request_head(input, limits, head).status == l7::HeadStatus::kComplete) {
        // §3.2: HTTP/1.1 requires Host; §6.3 item 4: a request body is never read until close.
        FUZZ_CHECK(head.version != l7::HttpVersion::k11 || head.has_host);
        FUZZ_CHECK(head.framing != l7::BodyFraming::kUntilClose);
    }
    return 0;
}
