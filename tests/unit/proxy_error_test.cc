// ProxyError (l7/proxy_error.h): the termination and status derived from a
// failure, and the retry state an Exchange keeps from it.
#include <doctest/doctest.h>

#include <cstring>

#include "l7/exchange.h"
#include "l7/proxy_error.h"

namespace lbd::l7 {
namespace {

TEST_CASE("a proxy error gives the access log's termination and the status lbd answers") {
    struct Row {
        ErrorCause cause;
        Termination term;
        int status;
    };
    const Row rows[] = {
        {ErrorCause::kBadRequest, Termination::kBadRequest, 400},
        {ErrorCause::kHeaderTimeout, Termination::kHeaderTimeout, 408},
        {ErrorCause::kClientClosed, Termination::kClientAbort, 400},
        {ErrorCause::kBodyTimeout, Termination::kBodyTimeout, 408},
        {ErrorCause::kNoServer, Termination::kNoServer, 503},
        {ErrorCause::kConnectFailed, Termination::kConnectFailed, 503},
        {ErrorCause::kResponseTimeout, Termination::kServerTimeout, 504},
        {ErrorCause::kBadResponse, Termination::kBadResponse, 502},
        {ErrorCause::kServerClosed, Termination::kServerAbort, 502},
        {ErrorCause::kShutdown, Termination::kDrain, 503},
    };
    for (const Row& row : rows) {
        ProxyError error{ErrorSource::kServer, row.cause, false};
        CAPTURE(static_cast<int>(row.cause));
        CHECK(error.termination() == row.term);
        CHECK(error.status() == row.status);
    }
}

TEST_CASE("server and client errors carry their source; only a server error may be retryable") {
    ProxyError connect = ProxyError::server(ErrorCause::kConnectFailed, true);
    CHECK(connect.source == ErrorSource::kServer);
    CHECK(connect.retryable);
    CHECK_FALSE(ProxyError::server(ErrorCause::kBadResponse).retryable);
    ProxyError client = ProxyError::client(ErrorCause::kClientClosed);
    CHECK(client.source == ErrorSource::kClient);
    CHECK_FALSE(client.retryable);
    CHECK(std::strcmp(to_string(ErrorSource::kInternal), "internal") == 0);
}

TEST_CASE("an exchange retries on a fresh connection only right after a retryable server close") {
    ClientEndpoint endpoint;
    Exchange exchange(endpoint, 0);
    CHECK_FALSE(exchange.fresh_connection_only());
    exchange.last_error = ProxyError::server(ErrorCause::kServerClosed, true);
    CHECK(exchange.fresh_connection_only());
    // The fresh connection closed too: not retried again.
    exchange.last_error = ProxyError::server(ErrorCause::kServerClosed, false);
    CHECK_FALSE(exchange.fresh_connection_only());
    // A failed connect moves to another server, which may reuse a connection.
    exchange.last_error = ProxyError::server(ErrorCause::kConnectFailed, true);
    CHECK_FALSE(exchange.fresh_connection_only());
}

}  // namespace
}  // namespace lbd::l7
