// Checks access control and authentication: the named prefix lists
// (global.acl_lists), the allow/deny rules of listeners and routes that
// name them, and a route's basic_auth with its htpasswd file. Files are
// read here, once, the way the tier will use them: a list's prefixes are
// built into their lookup table (core/net/prefix_set.h) and an htpasswd
// file's hashes are checked for a scheme libxcrypt supports and that is not
// weak. A mistake inside a file is reported at the config line naming the
// file, with the file's own line:col in the message.
#include <crypt.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

// The word a rule uses for every address; no list may take it.
constexpr const char* kAll = "all";

std::shared_ptr<const PrefixSet> check_list_prefixes(const pb::AclList& msg, const Node& node, const std::string& what,
                                                     Errors& errors) {
    using F = pb::AclList;
    std::vector<IpPrefix> prefixes;
    for (int i = 0; i < msg.prefixes_size(); ++i) {
        std::string why;
        if (auto prefix = IpPrefix::parse(msg.prefixes(i), &why))
            prefixes.push_back(*prefix);
        else
            errors.add(node.at(F::kPrefixesFieldNumber, i), what + ": bad prefix " + quote(msg.prefixes(i)) + ": " + why);
    }
    if (!msg.file().empty()) {
        std::string why;
        if (!read_prefix_file(msg.file(), prefixes, &why)) errors.add(node.at(F::kFileFieldNumber), what + ": " + why);
    }
    return std::make_shared<const PrefixSet>(std::move(prefixes));
}

// "$2y$..." and the like: the schemes issue 15 accepts (whatever libxcrypt
// thinks of sha256-crypt), then the ones htpasswd makes that are weak.
// Returns an empty string when `hash` is acceptable, else why not.
std::string hash_problem(const std::string& hash) {
    static constexpr const char* kStrong[] = {"$2y$", "$2b$", "$2a$", "$5$", "$6$", "$y$"};
    for (const char* prefix : kStrong) {
        if (hash.rfind(prefix, 0) != 0) continue;
        const int verdict = crypt_checksalt(hash.c_str());
        // Debian's libxcrypt calls sha256-crypt ($5$) a legacy method: it
        // still verifies it, and mkpasswd -m sha-256 still makes it.
        if (verdict == CRYPT_SALT_OK || verdict == CRYPT_SALT_TOO_CHEAP || verdict == CRYPT_SALT_METHOD_LEGACY)
            return {};
        return "a malformed or disabled hash";
    }
    if (hash.rfind("{SHA}", 0) == 0) return "a weak {SHA} hash (one unsalted SHA-1)";
    if (hash.rfind("$apr1$", 0) == 0 || hash.rfind("$1$", 0) == 0) return "a weak MD5-crypt hash ($apr1$/$1$)";
    if (hash.size() == 13 && hash.find('$') == std::string::npos) return "a weak DES crypt hash (8 characters at most)";
    return "no supported hash (a plain-text password, or an unknown scheme)";
}

// An htpasswd file: "user:hash" per line, `#` comments, blank lines.
void read_htpasswd(const std::string& path, Loc at, const std::string& what, HttpBasicAuthConfig& out, Errors& errors) {
    std::ifstream in(path);
    if (!in) {
        errors.add(at, what + ": cannot read " + path + ": " + std::strerror(errno));
        return;
    }
    std::string line;
    NameSet users;
    bool bad = false;
    for (int number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const std::string where = what + ": " + path + ":" + std::to_string(number) + ":";
        const size_t colon = line.find(':');
        if (colon == std::string::npos || colon == 0) {
            errors.add(at, where + "1: expected user:hash");
            bad = true;
            continue;
        }
        std::string user = line.substr(0, colon);
        std::string hash = line.substr(colon + 1);
        if (std::string why = hash_problem(hash); !why.empty()) {
            errors.add(at, where + std::to_string(colon + 2) + ": user " + quote(user) + " has " + why +
                               "; rehash it with `htpasswd -B` or `mkpasswd -m yescrypt`");
            bad = true;
        } else if (users.add(user, number)) {
            errors.add(at, where + "1: user " + quote(user) + " listed twice");
            bad = true;
        } else {
            out.users.emplace_back(std::move(user), std::move(hash));
        }
    }
    if (out.users.empty() && !bad) errors.add(at, what + ": " + path + " lists no user");
}

bool is_realm(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

// Every rule's list, at the line of its allow/deny.
void check_rule_lists(const pb::AccessControl& msg, const Node& node, const NameSet& lists, Errors& errors) {
    using R = pb::AccessRule;
    for (int i = 0; i < msg.rules_size(); ++i) {
        const pb::AccessRule& rule = msg.rules(i);
        const Node at = node.child(pb::AccessControl::kRulesFieldNumber, i);
        const int field = rule.verdict_case() == R::kAllow ? R::kAllowFieldNumber : R::kDenyFieldNumber;
        const std::string& name = rule.verdict_case() == R::kAllow ? rule.allow() : rule.deny();
        if (rule.verdict_case() != R::VERDICT_NOT_SET && name != kAll && !lists.contains(name))
            errors.add(at.at(field), "unknown acl list " + quote(name) + " (define it in global.acl_lists, or write \"all\")");
    }
}

}  // namespace

void check_acl_lists(const pb::Global& msg, const Node& node, GlobalConfig& out, Errors& errors) {
    NameSet names;
    for (int i = 0; i < msg.acl_lists_size(); ++i) {
        const pb::AclList& list = msg.acl_lists(i);
        const Node at = node.child(pb::Global::kAclListsFieldNumber, i);
        check_name("acl list", list.name(), at.at(pb::AclList::kNameFieldNumber), names, "", errors);
        if (list.name() == kAll)
            errors.add(at.at(pb::AclList::kNameFieldNumber), "acl list name \"all\" is reserved for every address");
        const std::string what = label("acl list", list.name(), i);
        out.acl_lists.push_back({list.name(), list.file(), check_list_prefixes(list, at, what, errors)});
    }
}

std::optional<HttpAccessConfig> check_access(const pb::AccessControl& msg, const Node& node, Errors& errors) {
    HttpAccessConfig out;
    if (msg.rules_size() == 0) errors.add(node.self(), "access has no rules (write `rules { deny: \"all\" }` or remove it)");
    for (int i = 0; i < msg.rules_size(); ++i) {
        const pb::AccessRule& rule = msg.rules(i);
        const Node at = node.child(pb::AccessControl::kRulesFieldNumber, i);
        if (rule.verdict_case() == pb::AccessRule::VERDICT_NOT_SET) {
            errors.add(at.self(), "access rule needs allow or deny");
            continue;
        }
        const bool allow = rule.verdict_case() == pb::AccessRule::kAllow;
        out.rules.push_back({allow, allow ? rule.allow() : rule.deny()});
    }
    return out;
}

std::optional<HttpBasicAuthConfig> check_basic_auth(const pb::BasicAuth& msg, const Node& node,
                                                    const std::string& what, Errors& errors) {
    using F = pb::BasicAuth;
    HttpBasicAuthConfig out;
    const std::string where = what + " basic_auth";
    out.realm = msg.realm();
    if (!is_realm(out.realm))
        errors.add(node.at(F::kRealmFieldNumber), where + ": realm must be printable ASCII without '\"' or '\\', not empty");
    out.htpasswd_file = msg.htpasswd_file();
    if (out.htpasswd_file.empty())
        errors.add(node.self(), where + " has no htpasswd_file");
    else
        read_htpasswd(out.htpasswd_file, node.at(F::kHtpasswdFileFieldNumber), where, out, errors);
    out.forward_authorization = msg.forward_authorization();
    out.cache_ms = or_default(msg.cache_ms(), out.cache_ms);
    out.max_failures = or_default(msg.max_failures(), out.max_failures);
    return out;
}

void check_access_lists_known(const pb::Config& msg, const Node& root, const Config& config, Errors& errors) {
    NameSet lists;
    for (const AclListConfig& list : config.global.acl_lists) lists.add(list.name, 0);
    for (int l = 0; l < msg.listeners_size(); ++l) {
        const pb::Http& http = msg.listeners(l).http();
        const Node node = root.child(pb::Config::kListenersFieldNumber, l).child(pb::Listener::kHttpFieldNumber);
        if (http.has_access()) check_rule_lists(http.access(), node.child(pb::Http::kAccessFieldNumber), lists, errors);
        for (int r = 0; r < http.routes_size(); ++r)
            if (http.routes(r).has_access())
                check_rule_lists(http.routes(r).access(),
                                 node.child(pb::Http::kRoutesFieldNumber, r).child(pb::Route::kAccessFieldNumber),
                                 lists, errors);
    }
}

}  // namespace lbd::config_check
