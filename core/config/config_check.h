// For the config loader and the modules' checks (config_modules.h): positions,
// error collection, and the parsed-message view that lets every check name
// the line of the field it complains about. Not for use elsewhere: the rest
// of lbd sees only the typed Config.
#pragma once

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/net/address.h"
#include "core/config/config.h"
#include "core/config/config_loader.h"
#include "core/http1/chars.h"
#include "lbd/v1/config.pb.h"

namespace lbd::config_check {

namespace pb = ::lbd::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using ParseInfoTree = google::protobuf::TextFormat::ParseInfoTree;

// A 1-based position in the text; line 0 = not tied to a line.
struct Loc {
    int line = 0;
    int column = 0;
};

// Every error of one load, each with its position.
class Errors {
public:
    explicit Errors(std::string file) : file_(std::move(file)) {}
    void add(Loc at, std::string message) { list_.push_back({file_, at.line, at.column, std::move(message)}); }
    bool empty() const { return list_.empty(); }
    size_t size() const { return list_.size(); }
    // In text order, the way a compiler lists them.
    std::vector<ConfigError> take() {
        std::stable_sort(list_.begin(), list_.end(), [](const ConfigError& a, const ConfigError& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        return std::move(list_);
    }

private:
    std::string file_;
    std::vector<ConfigError> list_;
};

// One parsed message and where its fields were written. Fields are named by
// their generated k*FieldNumber constants, so a typo does not compile.
class Node {
public:
    Node(const Descriptor* type, const ParseInfoTree* tree, Loc self) : type_(type), tree_(tree), self_(self) {}

    // Where the message starts: its field name in the parent, or line 0 for
    // the root and for messages not written in the text.
    Loc self() const { return self_; }

    // Where field `number` (its index-th value, if repeated) was written;
    // the message's own position when it was not.
    Loc at(int number, int index = 0) const {
        const FieldDescriptor* field = type_->FindFieldByNumber(number);
        if (tree_ == nullptr || field == nullptr) return self_;
        if (!field->is_repeated()) index = -1;
        // `f: [a, b]` records one position for the whole list, so an element
        // without its own takes the closest one before it.
        for (int i = index; i >= std::min(index, 0); --i) {
            auto where = tree_->GetLocation(field, i);
            if (where.line >= 0) return {where.line + 1, where.column + 1};
        }
        return self_;
    }

    // Whether a (singular) field appears in the text, even with value 0.
    bool written(int number) const {
        const FieldDescriptor* field = type_->FindFieldByNumber(number);
        return tree_ != nullptr && field != nullptr && tree_->GetLocation(field, -1).line >= 0;
    }

    // The nested message in field `number`.
    Node child(int number, int index = 0) const {
        const FieldDescriptor* field = type_->FindFieldByNumber(number);
        const ParseInfoTree* tree = nullptr;
        if (tree_ != nullptr) tree = tree_->GetTreeForNested(field, field->is_repeated() ? index : -1);
        return Node(field->message_type(), tree, at(number, index));
    }

private:
    const Descriptor* type_;
    const ParseInfoTree* tree_;  // null when the message was not in the text
    Loc self_;
};

// Names seen so far in one scope, with the line of their first use.
class NameSet {
public:
    // The line of an earlier `name`, or nullopt when this is the first.
    std::optional<int> add(const std::string& name, int line) {
        auto [it, inserted] = first_line_.emplace(name, line);
        if (inserted) return std::nullopt;
        return it->second;
    }
    bool contains(const std::string& name) const { return first_line_.count(name) != 0; }

private:
    std::map<std::string, int> first_line_;
};

inline uint32_t or_default(uint32_t value, uint32_t fallback) { return value != 0 ? value : fallback; }

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

// "listener 'web'", or "listener #2" when the name is missing.
inline std::string label(const char* kind, const std::string& name, int index) {
    return std::string(kind) + " " + (name.empty() ? "#" + std::to_string(index + 1) : quote(name));
}

// Names show up in logs, metrics labels and lbctl arguments: keep them plain.
inline bool plain_name(const std::string& name) {
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.' || c == ':';
    });
}

// A listener, pool or server name: present, plain, unique in its scope.
inline void check_name(const char* kind, const std::string& name, Loc at, NameSet& seen, const std::string& scope,
                Errors& errors) {
    if (name.empty()) {
        errors.add(at, std::string(kind) + " has no name");
        return;
    }
    if (!plain_name(name))
        errors.add(at, std::string(kind) + " name " + quote(name) + " may only contain letters, digits and . _ - :");
    if (auto first = seen.add(name, at.line))
        errors.add(at, "duplicate " + std::string(kind) + " name " + quote(name) + scope + " (first defined at line " +
                           std::to_string(*first) + ")");
}

inline std::optional<SocketAddress> parse_address(const std::string& text, Loc at, Errors& errors) {
    auto address = SocketAddress::parse(text);
    if (!address) errors.add(at, "bad address " + quote(text) + ": expected host:port or [v6]:port");
    return address;
}

inline bool is_prime(uint32_t n) {
    if (n < 2) return false;
    for (uint32_t d = 2; d <= n / d; ++d)
        if (n % d == 0) return false;
    return true;
}


// HTTP syntax shared by the http block (l7/config/) and the HTTP health check:
// RFC 9110 token and field value from the grammar the proxy parses with
// (core/http1: ASCII, no locale), and a configured header line
// (config_http_syntax.cc; named in errors as `what`).
using http1::is_field_value;
using http1::is_token;
HttpHeaderValue check_header_value(const pb::HeaderValue& msg, Loc at, const char* what, Errors& errors);

// A pool's health_check and passive_health (config_health.cc).
HealthCheckConfig check_health_check(const pb::HealthCheck& msg, const Node& node, Errors& errors);
PassiveHealthConfig check_passive_health(const pb::PassiveHealth& msg, const Node& node, Errors& errors);

}  // namespace lbd::config_check
