// Naming the running configuration for operators: its absolute path and the
// SHA-256 of the bytes that were loaded (`lbctl status`, `lbctl reload`).
#pragma once

#include <string>

namespace lbd {

std::string absolute_path(const std::string& path);
// Hex SHA-256 of a file's bytes; empty if it cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace lbd
