// Values with variables ($host, ${request_id}) and regex groups ($1..$9):
// parsed once at load into the parts of an HttpTemplate
// (core/config/config_http.h); the proxy expands them (l7/variables.h).
#pragma once

#include <string>
#include <string_view>

#include "core/config/config_http.h"

namespace lbd::config_check {

// What a template may hold: header values take variables; rewrites and
// redirect locations take groups too, up to `max_group` (the route's regex's).
struct TemplateRules {
    bool groups = false;
    uint32_t max_group = 0;
};

// Parses `text`. A text without '$' gives no parts (plain). False with
// `error` set on an unknown variable, a group the rules refuse, or a
// '$' at the end. "$$" is a '$'.
bool parse_template(std::string_view text, const TemplateRules& rules, HttpTemplate& out, std::string* error);

}  // namespace lbd::config_check
