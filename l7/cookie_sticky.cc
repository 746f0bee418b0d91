#include "l7/cookie_sticky.h"

#include "core/loop/event.h"
#include "l7/cookie_header.h"

namespace lbd::l7 {

namespace {

std::shared_ptr<Server> server_for_value(Pool& pool, ServerPicker& picker, const std::string& value,
                                         std::span<const Server* const> excluded) {
    switch (pool.cookie_mode()) {
        case CookieMode::kNone: return nullptr;
        case CookieMode::kInsert: return picker.find_usable(value, true, excluded);
        case CookieMode::kLearn: {
            StickTable* table = pool.stick_table();
            if (table == nullptr || value.empty() || value.size() > kMaxLearnedCookieBytes) return nullptr;
            std::optional<std::string> name = table->lookup(value, monotonic_ms());
            return name ? picker.find_usable(*name, false, excluded) : nullptr;
        }
    }
    return nullptr;
}

}  // namespace

std::shared_ptr<Server> cookie_server(Pool& pool, ServerPicker& picker, const RequestInfo& request,
                                      std::span<const Server* const> excluded) {
    if (pool.cookie_mode() == CookieMode::kNone) return nullptr;
    std::optional<std::string> value = request_cookie(request.headers, pool.config().stickiness.cookie.name);
    return value ? server_for_value(pool, picker, *value, excluded) : nullptr;
}

void StickyRequest::begin(Pool& pool, RequestInfo& request) {
    pool_ = &pool;
    mode_ = pool.cookie_mode();
    value_.reset();
    if (mode_ == CookieMode::kNone) return;
    const std::string& name = pool.config().stickiness.cookie.name;
    value_ = request_cookie(request.headers, name);
    if (mode_ == CookieMode::kInsert) remove_request_cookie(request.headers, name);
}

std::shared_ptr<Server> StickyRequest::pick(ServerPicker& picker, const SocketAddress& client,
                                            std::span<const Server* const> excluded) {
    if (mode_ != CookieMode::kNone && value_) {
        if (auto server = server_for_value(*pool_, picker, *value_, excluded)) return server;
    }
    std::shared_ptr<Server> server = picker.pick(client, excluded);
    if (server != nullptr && mode_ == CookieMode::kLearn && value_ && !value_->empty() &&
        value_->size() <= kMaxLearnedCookieBytes)
        pool_->stick_table()->set(*value_, server->name(), monotonic_ms());
    return server;
}

void StickyRequest::on_response(const Server& server, HeaderList& headers) {
    if (mode_ == CookieMode::kInsert) {
        if (value_ && *value_ == server.id()) return;
        headers.emplace_back("Set-Cookie", insert_cookie_value(pool_->config().stickiness.cookie, server.id()));
        forbid_caching_set_cookie(headers);
        return;
    }
    if (mode_ != CookieMode::kLearn) return;
    std::optional<SetCookieSeen> seen = response_set_cookie(headers, pool_->config().stickiness.cookie.name);
    if (!seen) return;
    StickTable& table = *pool_->stick_table();
    if (seen->deleted) {
        // The session ended: forget the value the client came with.
        if (value_ && !value_->empty()) table.erase(*value_);
        if (!seen->value.empty()) table.erase(seen->value);
        return;
    }
    if (seen->value.size() <= kMaxLearnedCookieBytes) table.set(seen->value, server.name(), monotonic_ms());
}

}  // namespace lbd::l7
