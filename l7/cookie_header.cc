#include "l7/cookie_header.h"

#include <charconv>

#include "l7/http1.h"

namespace lbd::l7 {

namespace {

// One "name=value" of a cookie string: trimmed name and value (unquoted).
struct CookiePair {
    std::string_view name;
    std::string_view value;
    bool has_equals = false;
};

CookiePair split_pair(std::string_view text) {
    CookiePair pair;
    text = trim_ows(text);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
        pair.name = text;
        return pair;
    }
    pair.has_equals = true;
    pair.name = trim_ows(text.substr(0, eq));
    std::string_view value = trim_ows(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    pair.value = value;
    return pair;
}

// Calls fn(piece) for each ';'-separated piece of `list`; stops when fn returns true.
template <typename Fn>
bool for_each_piece(std::string_view list, Fn&& fn) {
    while (true) {
        size_t semi = list.find(';');
        if (fn(list.substr(0, semi))) return true;
        if (semi == std::string_view::npos) return false;
        list.remove_prefix(semi + 1);
    }
}

}  // namespace

std::optional<std::string> request_cookie(const HeaderList& headers, std::string_view name) {
    for (const auto& [field, value] : headers) {
        if (!iequals(field, "cookie")) continue;
        std::optional<std::string> found;
        for_each_piece(value, [&](std::string_view piece) {
            CookiePair pair = split_pair(piece);
            if (!pair.has_equals || pair.name != name) return false;
            found = std::string(pair.value);
            return true;
        });
        if (found) return found;
    }
    return std::nullopt;
}

void remove_request_cookie(HeaderList& headers, std::string_view name) {
    for (auto it = headers.begin(); it != headers.end();) {
        if (!iequals(it->first, "cookie")) {
            ++it;
            continue;
        }
        std::string kept;
        bool removed = false;
        for_each_piece(it->second, [&](std::string_view piece) {
            CookiePair pair = split_pair(piece);
            if (pair.has_equals && pair.name == name) {
                removed = true;
            } else if (!trim_ows(piece).empty()) {
                if (!kept.empty()) kept += "; ";
                kept += trim_ows(piece);
            }
            return false;
        });
        if (!removed) {
            ++it;
        } else if (kept.empty()) {
            it = headers.erase(it);
        } else {
            it->second = std::move(kept);
            ++it;
        }
    }
}

std::optional<SetCookieSeen> response_set_cookie(const HeaderList& headers, std::string_view name) {
    std::optional<SetCookieSeen> seen;
    for (const auto& [field, value] : headers) {
        if (!iequals(field, "set-cookie")) continue;
        std::string_view rest = value;
        size_t semi = rest.find(';');
        CookiePair pair = split_pair(rest.substr(0, semi));
        if (!pair.has_equals || pair.name != name) continue;
        SetCookieSeen now;
        now.value = std::string(pair.value);
        now.deleted = now.value.empty();
        if (semi != std::string_view::npos) {
            for_each_piece(rest.substr(semi + 1), [&](std::string_view piece) {
                CookiePair attribute = split_pair(piece);
                if (!attribute.has_equals || !iequals(attribute.name, "max-age")) return false;
                // RFC 6265 §5.2.2: a leading '-' or a zero means "expire now".
                std::string_view digits = attribute.value;
                if (!digits.empty() && digits.front() == '-') {
                    now.deleted = true;
                    return false;
                }
                uint64_t seconds = 0;
                auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
                if (ec == std::errc() && end == digits.data() + digits.size() && seconds == 0) now.deleted = true;
                return false;
            });
        }
        seen = std::move(now);
    }
    return seen;
}

std::string insert_cookie_value(const CookieStickinessConfig& config, std::string_view value) {
    std::string out = config.name + "=" + std::string(value) + "; Path=" + config.path;
    if (config.max_age_s != 0) out += "; Max-Age=" + std::to_string(config.max_age_s);
    if (!config.domain.empty()) out += "; Domain=" + config.domain;
    if (config.secure) out += "; Secure";
    if (config.http_only) out += "; HttpOnly";
    if (!config.same_site.empty()) out += "; SameSite=" + config.same_site;
    return out;
}

void forbid_caching_set_cookie(HeaderList& headers) {
    for (auto& [field, value] : headers) {
        if (!iequals(field, "cache-control")) continue;
        // Directives are ','-separated (RFC 9111 §5.2).
        bool already = false;
        std::string_view rest = value;
        while (!rest.empty() && !already) {
            size_t comma = rest.find(',');
            std::string_view directive = trim_ows(rest.substr(0, comma));
            std::string_view directive_name = directive.substr(0, directive.find('='));
            already = iequals(directive_name, "private") || iequals(directive_name, "no-store") ||
                      iequals(directive, "no-cache");
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
        if (!already) value += ", no-cache=\"Set-Cookie\"";
        return;
    }
    headers.emplace_back("Cache-Control", "no-cache=\"Set-Cookie\"");
}

}  // namespace lbd::l7
