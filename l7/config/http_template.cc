#include "l7/config/http_template.h"

#include <algorithm>
#include <array>
#include <utility>

#include "core/http1/chars.h"

namespace lbd::config_check {
namespace {

constexpr std::array<std::pair<std::string_view, HttpVariable>, 8> kVariables{{
    {"remote_addr", HttpVariable::kRemoteAddr},
    {"remote_port", HttpVariable::kRemotePort},
    {"host", HttpVariable::kHost},
    {"scheme", HttpVariable::kScheme},
    {"request_uri", HttpVariable::kRequestUri},
    {"uri", HttpVariable::kUri},
    {"args", HttpVariable::kArgs},
    {"request_id", HttpVariable::kRequestId},
}};

bool is_name_char(char c) { return http1::is_alpha(c) || http1::is_digit(c) || c == '_'; }

void add_text(HttpTemplate& out, std::string_view text) {
    if (text.empty()) return;
    if (!out.parts.empty() && out.parts.back().kind == HttpTemplatePart::Kind::kText) {
        out.parts.back().text += text;
        return;
    }
    HttpTemplatePart part;
    part.text = std::string(text);
    out.parts.push_back(std::move(part));
}

}  // namespace

bool parse_template(std::string_view text, const TemplateRules& rules, HttpTemplate& out, std::string* error) {
    out = HttpTemplate{};
    if (text.find('$') == std::string_view::npos) return true;
    size_t i = 0;
    while (i < text.size()) {
        const size_t dollar = text.find('$', i);
        add_text(out, text.substr(i, dollar == std::string_view::npos ? std::string_view::npos : dollar - i));
        if (dollar == std::string_view::npos) break;
        i = dollar + 1;
        if (i < text.size() && text[i] == '$') {
            add_text(out, "$");
            ++i;
            continue;
        }
        if (i < text.size() && http1::is_digit(text[i])) {
            const uint32_t n = static_cast<uint32_t>(text[i] - '0');
            if (!rules.groups || n == 0 || n > rules.max_group) {
                *error = "$" + std::to_string(n) + " is not a group of the route's regex" +
                         (rules.groups ? " (it has " + std::to_string(rules.max_group) + ")" : " (none here)");
                return false;
            }
            HttpTemplatePart part;
            part.kind = HttpTemplatePart::Kind::kCapture;
            part.capture = static_cast<uint8_t>(n);
            out.parts.push_back(part);
            ++i;
            continue;
        }
        const bool braced = i < text.size() && text[i] == '{';
        size_t begin = braced ? i + 1 : i;
        size_t end = begin;
        while (end < text.size() && is_name_char(text[end])) ++end;
        const std::string_view name = text.substr(begin, end - begin);
        if (braced && (end >= text.size() || text[end] != '}')) {
            *error = "unclosed ${ in " + std::string(text);
            return false;
        }
        auto found = std::find_if(kVariables.begin(), kVariables.end(), [&](const auto& v) { return v.first == name; });
        if (name.empty() || found == kVariables.end()) {
            *error = "unknown variable $" + std::string(name) +
                     " (known: $remote_addr $remote_port $host $scheme $request_uri $uri $args $request_id; $$ is a "
                     "'$')";
            return false;
        }
        HttpTemplatePart part;
        part.kind = HttpTemplatePart::Kind::kVariable;
        part.variable = found->second;
        out.parts.push_back(part);
        i = braced ? end + 1 : end;
    }
    return true;
}

}  // namespace lbd::config_check
