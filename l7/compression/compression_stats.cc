#include "l7/compression/compression_stats.h"

namespace lbd::compression {

const char* to_string(SkipCause cause) {
    switch (cause) {
        case SkipCause::kNotAccepted: return "not_accepted";
        case SkipCause::kAlreadyEncoded: return "already_encoded";
        case SkipCause::kNoTransform: return "no_transform";
        case SkipCause::kRange: return "range";
        case SkipCause::kNoBody: return "no_body";
        case SkipCause::kStatus: return "status";
        case SkipCause::kTooSmall: return "too_small";
        case SkipCause::kType: return "type";
        case SkipCause::kRouteOff: return "route_off";
        case SkipCause::kCpu: return "cpu";
        case SkipCause::kError: return "error";
        case SkipCause::kCount: break;
    }
    return "?";
}

const char* to_string(GzipPath path) {
    switch (path) {
        case GzipPath::kWhole: return "whole";
        case GzipPath::kStreamed: return "streamed";
        case GzipPath::kCount: break;
    }
    return "?";
}

}  // namespace lbd::compression
