#include "l7/proxy_error.h"

namespace lbd::l7 {

Termination ProxyError::termination() const {
    switch (cause) {
        case ErrorCause::kBadRequest: return Termination::kBadRequest;
        case ErrorCause::kHeaderTimeout: return Termination::kHeaderTimeout;
        case ErrorCause::kClientClosed: return Termination::kClientAbort;
        case ErrorCause::kBodyTimeout: return Termination::kBodyTimeout;
        case ErrorCause::kNoServer: return Termination::kNoServer;
        case ErrorCause::kConnectFailed: return Termination::kConnectFailed;
        case ErrorCause::kResponseTimeout: return Termination::kServerTimeout;
        case ErrorCause::kBadResponse: return Termination::kBadResponse;
        case ErrorCause::kServerClosed: return Termination::kServerAbort;
        case ErrorCause::kShutdown: return Termination::kDrain;
        case ErrorCause::kLocalShortage: return Termination::kLocalError;
    }
    return Termination::kDrain;
}

int ProxyError::status() const {
    switch (cause) {
        case ErrorCause::kHeaderTimeout:
        case ErrorCause::kBodyTimeout: return 408;
        case ErrorCause::kBadRequest:
        case ErrorCause::kClientClosed: return 400;
        case ErrorCause::kNoServer:
        case ErrorCause::kConnectFailed:
        case ErrorCause::kShutdown:
        case ErrorCause::kLocalShortage: return 503;
        case ErrorCause::kResponseTimeout: return 504;
        case ErrorCause::kBadResponse:
        case ErrorCause::kServerClosed: return 502;
    }
    return 503;
}

const char* to_string(ErrorSource source) {
    switch (source) {
        case ErrorSource::kClient: return "client";
        case ErrorSource::kServer: return "server";
        case ErrorSource::kInternal: return "internal";
    }
    return "internal";
}

}  // namespace lbd::l7
