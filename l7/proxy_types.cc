#include "l7/proxy_types.h"

namespace lbd::l7 {

const char* to_string(Termination t) {
    switch (t) {
        case Termination::kOk: return "ok";
        case Termination::kLocal: return "local";
        case Termination::kNoRoute: return "no_route";
        case Termination::kRateLimited: return "rate_limited";
        case Termination::kBadRequest: return "bad_request";
        case Termination::kHeaderTimeout: return "header_timeout";
        case Termination::kClientAbort: return "client_abort";
        case Termination::kNoServer: return "no_server";
        case Termination::kConnectFailed: return "connect_failed";
        case Termination::kLocalError: return "local_error";
        case Termination::kAccessDenied: return "acl_denied";
        case Termination::kAuthFailed: return "auth_failed";
        case Termination::kServerTimeout: return "server_timeout";
        case Termination::kBadResponse: return "bad_response";
        case Termination::kServerAbort: return "server_abort";
        case Termination::kBodyTimeout: return "body_timeout";
        case Termination::kTunnel: return "tunnel";
        case Termination::kDrain: return "drain";
        case Termination::kCount: break;
    }
    return "?";
}

const char* to_string(H2Limit limit) {
    switch (limit) {
        case H2Limit::kConcurrentStreams: return "concurrent_streams";
        case H2Limit::kHeaderList: return "header_list";
        case H2Limit::kProtocolError: return "protocol_error";
        case H2Limit::kEmptyData: return "empty_data";
        case H2Limit::kResetRate: return "reset_rate";
        case H2Limit::kGlitches: return "glitches";
        case H2Limit::kFlood: return "flood";
        case H2Limit::kIdleTimeout: return "idle_timeout";
        case H2Limit::kServerResets: return "server_resets";
        case H2Limit::kContinuations: return "continuations";
        case H2Limit::kPingFlood: return "ping_flood";
        case H2Limit::kSettingsFlood: return "settings_flood";
        case H2Limit::kSmallWindowUpdate: return "small_window_update";
        case H2Limit::kHeaderTimeout: return "header_timeout";
        case H2Limit::kCount: break;
    }
    return "?";
}

}  // namespace lbd::l7
