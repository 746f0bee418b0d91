// Fuzz target: HTTP/1.1 response heads (core/http1/parser.h parse_response_head), for a GET, a HEAD
// and a CONNECT request. Oracles in http_head_oracle.h: split input parses as whole input,
// trailing bytes never change the head, and no response is accepted with an ambiguous length.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/http_head_oracle.h"

namespace {
constexpr lbd::l7::HttpMethod kRequestMethods[] = {lbd::l7::HttpMethod::kGet, lbd::l7::HttpMethod::kHead,
                                                    lbd::l7::HttpMethod::kConnect};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lbd;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const l7::HttpLimits limits = fuzz::fuzz_http_limits();
    for (l7::HttpMethod method : kRequestMethods) {
        auto parse = [&](std::string_view bytes, l7::HttpResponseHead& head, l7::HeadScanState* scan) {
            return l7::parse_response_head(bytes, method, limits, head, scan);
        };
        fuzz::check_head<l7::HttpResponseHead>(input, fuzz::split_point(input), parse);
        fuzz::check_byte_by_byte<l7::HttpResponseHead>(input, parse);

        l7::HttpResponseHead head;
        if (l7::parse_response_head(input, method, limits, head).status != l7::HeadStatus::kComplete) continue;
        FUZZ_CHECK(head.status >= 100 && head.status <= 599);
        // §6.3 items 1-2: these responses have no body, whatever their fields say.
        const bool bodiless = head.status < 200 || head.status == 204 || head.status == 304 ||
                              method == l7::HttpMethod::kHead ||
                              (method == l7::HttpMethod::kConnect && head.status < 300);
        if (bodiless) FUZZ_CHECK(head.framing == l7::BodyFraming::kNone);
        // A response read until close cannot leave the connection for another one (§9.3).
        if (head.framing == l7::BodyFraming::kUntilClose) FUZZ_CHECK(!head.keep_alive);
    }
    return 0;
}
