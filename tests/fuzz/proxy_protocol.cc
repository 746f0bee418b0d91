// Fuzz target: the PROXY protocol v1/v2 parser (core/net/proxy_protocol.h), TLVs included. Oracles:
//  - only the header is read: the header bytes alone parse to the same header;
//  - every shorter prefix of a complete header is kNeedMore (never kInvalid), asking for more
//    than it has and no more than the header's length; an invalid input says why;
//  - parse -> encode -> parse is stable: a header with addresses, encoded again in its version,
//    parses to the same version and addresses (TLVs are not kept, so only those are compared).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/net/proxy_protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace lbd;

bool same_header(const ProxyHeader& a, const ProxyHeader& b) {
    return a.version == b.version && a.local == b.local && a.v2_family == b.v2_family &&
           (a.local || (a.source == b.source && a.destination == b.destination));
}

void check_prefixes(const uint8_t* data, const ProxyParseResult& whole) {
    for (size_t len = 0; len < whole.consumed; ++len) {
        const ProxyParseResult prefix = parse_proxy_header(data, len);
        FUZZ_CHECK(prefix.status == ProxyParseStatus::kNeedMore);
        FUZZ_CHECK(prefix.need_at_least > len);
        FUZZ_CHECK(prefix.need_at_least <= whole.consumed);
    }
}

void check_round_trip(const ProxyHeader& header) {
    if (header.local) return;
    const std::string encoded = header.version == 1 ? encode_proxy_v1(header.source, header.destination)
                                                    : encode_proxy_v2(header.source, header.destination);
    const auto* bytes = reinterpret_cast<const uint8_t*>(encoded.data());
    const ProxyParseResult again = parse_proxy_header(bytes, encoded.size());
    FUZZ_CHECK(again.status == ProxyParseStatus::kComplete);
    FUZZ_CHECK(again.consumed == encoded.size());
    FUZZ_CHECK(again.header.version == header.version);
    FUZZ_CHECK(!again.header.local);
    FUZZ_CHECK(again.header.source == header.source);
    FUZZ_CHECK(again.header.destination == header.destination);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ProxyParseResult whole = parse_proxy_header(data, size);
    switch (whole.status) {
        case ProxyParseStatus::kInvalid:
            FUZZ_CHECK(whole.error != nullptr);
            return 0;
        case ProxyParseStatus::kNeedMore:
            FUZZ_CHECK(whole.need_at_least > size);
            return 0;
        case ProxyParseStatus::kComplete:
            break;
    }
    FUZZ_CHECK(whole.consumed >= kProxyMinLength && whole.consumed <= size);
    FUZZ_CHECK(whole.header.version == 1 || whole.header.version == 2);
    const ProxyParseResult alone = parse_proxy_header(data, whole.consumed);
    FUZZ_CHECK(alone.status == ProxyParseStatus::kComplete && alone.consumed == whole.consumed);
    FUZZ_CHECK(same_header(alone.header, whole.header));
    check_prefixes(data, whole);
    check_round_trip(whole.header);
    return 0;
}
