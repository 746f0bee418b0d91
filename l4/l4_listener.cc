#include "l4/l4_listener.h"

#include "l4/l4_worker.h"
#include "l4/splice_session.h"

namespace lbd::l4 {

L4Listener::L4Listener(L4Worker& worker, RuntimePtr runtime, const ListenerConfig& config, Pool& pool,
                       ListenerStats& stats, UniqueFd fd, AcceptSpread spread)
    : worker_(worker),
      runtime_(std::move(runtime)),
      pool_(pool),
      stats_(stats),
      listener_(worker.base(), config, stats.accepted, stats.active, std::move(fd), std::move(spread),
                [this](UniqueFd client, const SocketAddress& peer) { accepted(std::move(client), peer); }) {}

void L4Listener::accepted(UniqueFd fd, const SocketAddress& peer) {
    worker_.start_session(std::make_unique<SpliceSession>(worker_, shared_from_this(), std::move(fd), peer));
}

}  // namespace lbd::l4
