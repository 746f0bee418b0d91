// lbd_ha_probe's `json`: values out of a JSON document, so the scripts
// need no jq (paths as described in ha_probe.cc).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "probe.h"

namespace probe {

namespace {

// ---------------------------------------------------------------- json

using google::protobuf::Value;

std::string print_value(const Value& v) {
    switch (v.kind_case()) {
        case Value::kStringValue: return v.string_value();
        case Value::kBoolValue: return v.bool_value() ? "true" : "false";
        case Value::kNullValue: return "null";
        case Value::kNumberValue: {
            double d = v.number_value();
            if (std::floor(d) == d && std::fabs(d) < 9e15) return std::to_string(static_cast<long long>(d));
            std::ostringstream out;
            out << d;
            return out.str();
        }
        default: {
            std::string out;
            google::protobuf::util::MessageToJsonString(v, &out);
            return out;
        }
    }
}

// The text of a scalar for matching key[f=v]: strings as they are, others printed.
bool field_equals(const Value& element, const std::string& field, const std::string& want) {
    if (element.kind_case() != Value::kStructValue) return false;
    const auto& fields = element.struct_value().fields();
    auto it = fields.find(field);
    return it != fields.end() && print_value(it->second) == want;
}

// One step of a path; nullptr when it does not exist.
const Value* step(const Value* at, const std::string& segment) {
    std::string key = segment;
    std::vector<std::pair<std::string, std::string>> filter;
    if (size_t open = segment.find('['); open != std::string::npos && segment.back() == ']') {
        key = segment.substr(0, open);
        std::stringstream conds(segment.substr(open + 1, segment.size() - open - 2));
        for (std::string cond; std::getline(conds, cond, ',');) {
            size_t eq = cond.find('=');
            if (eq == std::string::npos) return nullptr;
            filter.emplace_back(cond.substr(0, eq), cond.substr(eq + 1));
        }
    }
    if (!key.empty()) {
        if (at->kind_case() == Value::kStructValue) {
            const auto& fields = at->struct_value().fields();
            auto it = fields.find(key);
            if (it == fields.end()) return nullptr;
            at = &it->second;
        } else if (at->kind_case() == Value::kListValue) {
            char* end = nullptr;
            unsigned long index = std::strtoul(key.c_str(), &end, 10);
            if (*end != '\0' || index >= static_cast<unsigned long>(at->list_value().values_size())) return nullptr;
            at = &at->list_value().values(static_cast<int>(index));
        } else {
            return nullptr;
        }
    }
    if (filter.empty()) return at;
    if (at->kind_case() != Value::kListValue) return nullptr;
    for (const Value& element : at->list_value().values()) {
        bool all = true;
        for (const auto& [field, want] : filter) all = all && field_equals(element, field, want);
        if (all) return &element;
    }
    return nullptr;
}

}  // namespace

int json_get(const std::vector<std::string>& paths) {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    Value root;
    if (!google::protobuf::util::JsonStringToMessage(text, &root).ok()) {
        std::fprintf(stderr, "json: stdin is not a JSON document\n");
        return 1;
    }
    int missing = 0;
    for (const std::string& path : paths) {
        const Value* at = &root;
        // "/via/10.77.0.11": keys that contain dots take the '/' form.
        const char separator = !path.empty() && path[0] == '/' ? '/' : '.';
        std::stringstream segments(separator == '/' ? path.substr(1) : path);
        std::string segment;
        bool count = false;
        while (at && std::getline(segments, segment, separator)) {
            if (segment == "#") {
                count = true;
                break;
            }
            at = step(at, segment);
        }
        if (!at) {
            std::fprintf(stderr, "json: no %s\n", path.c_str());
            ++missing;
            continue;
        }
        if (count) {
            if (at->kind_case() == Value::kListValue)
                std::printf("%d\n", at->list_value().values_size());
            else if (at->kind_case() == Value::kStructValue)
                std::printf("%zu\n", at->struct_value().fields().size());
            else
                std::printf("0\n");
            continue;
        }
        std::printf("%s\n", print_value(*at).c_str());
    }
    return missing == 0 ? 0 : 1;
}

}  // namespace probe
