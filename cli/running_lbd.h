// `lbd -t` beside a running lbd: the listeners that lbd serves, asked over
// the admin socket the config names, so that the check does not count the
// running lbd's own sockets as conflicts (the edit, check, reload habit of
// nginx -t and haproxy -c). A listener counts as the running one only with
// the same name, address and mode: exactly when a reload would keep its
// socket; any other use of a busy address is still a conflict.
#pragma once

#include "core/config/config.h"
#include "core/config/config_loader.h"

namespace lbd {

// Asks once; without an admin socket or an lbd answering on it, nothing is running.
RunningListenerFn running_listeners(const Config& config);

}  // namespace lbd
