// Checks a route's static_files (lbd.v1.StaticFiles). Part of the config
// loader: every problem is reported at the line of the field it is about.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {

HttpStaticFiles check_static_files(const pb::StaticFiles& msg, const Node& node, Errors& errors) {
    using F = pb::StaticFiles;
    HttpStaticFiles out;
    out.root = msg.root();
    out.index = msg.index();
    out.expires_s = msg.expires_s();
    // Checked at load so a typo is a config error, not a 404 per request;
    // requests open it again each time (a root replaced by a deploy is
    // followed, as nginx does).
    struct stat st {};
    if (out.root.empty()) {
        errors.add(node.self(), "static_files needs a root directory");
    } else if (out.root.front() != '/') {
        errors.add(node.at(F::kRootFieldNumber), "static_files root " + quote(out.root) + " must be an absolute path");
    } else if (stat(out.root.c_str(), &st) != 0) {
        errors.add(node.at(F::kRootFieldNumber),
                   "static_files root " + quote(out.root) + ": " + std::string(strerror(errno)));
    } else if (!S_ISDIR(st.st_mode)) {
        errors.add(node.at(F::kRootFieldNumber), "static_files root " + quote(out.root) + " is not a directory");
    }
    // A name in the requested directory, never a path (it would leave it).
    if (!out.index.empty() &&
        (out.index.find('/') != std::string::npos || out.index == "." || out.index == ".." ||
         out.index.find('\0') != std::string::npos))
        errors.add(node.at(F::kIndexFieldNumber), "static_files index " + quote(out.index) + " must be a file name");
    return out;
}

}  // namespace lbd::config_check
