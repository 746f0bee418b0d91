// lbctl's side of the admin socket: a blocking client that sends one
// AdminRequest and reads its AdminResponse, with a deadline on every step.
//
// The wire format is lbd's (core/admin/admin_framing.h): each message preceded by
// its length as a varint. One connection carries any number of
// request/response pairs, so `server drain --wait` polls over one socket.
//
// Threads: one AdminClient per thread; it owns its socket.
#pragma once

#include <string>

#include "core/admin/admin_registry.h"
#include "core/loop/event.h"

namespace lbd::lbctl {

struct ClientError {
    enum class Kind {
        // No lbd answers: the socket is missing, refuses, or the deadline
        // passed before a whole reply came. lbctl exits 3.
        kUnreachable,
        // Something answered, but not with an AdminResponse (a frame too
        // long, bytes that do not parse): a different program on the socket
        // or a version mismatch. lbctl exits 3 too, with another wording.
        kBadReply,
    };
    Kind kind = Kind::kUnreachable;
    std::string message;  // the reason, without the socket path
};

class AdminClient {
public:
    // `timeout_ms` bounds each call() as a whole: connect, send and reply.
    AdminClient(std::string socket_path, int timeout_ms);

    // Connects on first use, sends `request`, and waits for one response.
    // False with `error` set if no valid response came; the connection is
    // then closed, and a later call reconnects. An AdminError reply is a
    // successful call: the caller looks at response->result_case().
    bool call(const AdminRequest& request, AdminResponse* response, ClientError* error);

    const std::string& socket_path() const { return socket_path_; }

private:
    bool connect_socket(uint64_t deadline_ms, ClientError* error);
    bool send_frame(const std::string& frame, uint64_t deadline_ms, ClientError* error);
    bool read_frame(std::string* body, uint64_t deadline_ms, ClientError* error);

    std::string socket_path_;
    int timeout_ms_;
    UniqueFd fd_;
};

}  // namespace lbd::lbctl
