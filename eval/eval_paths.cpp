// Containment is decided on resolved paths (std::filesystem::weakly_canonical: symlinks of the
// part that exists, `..` lexically after that), compared component by component.
#include "eval/eval_paths.h"

#include <filesystem>

#include "graph/file_io.h"

namespace fs = std::filesystem;

namespace atrous {

namespace {

bool inside(const fs::path& resolved, const fs::path& root) {
  auto r = root.begin();
  auto p = resolved.begin();
  for (; r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // the trailing "" of a root that ends in '/'
    if (p == resolved.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

Status eval_root_make(const std::string& dir, bool allow_outside, EvalRoot* root) {
  root->dir = dir;
  root->allow_outside = allow_outside;
  if (has_nul_byte(dir)) return Status::error("a folder name contains a NUL byte");
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(fs::absolute(dir.empty() ? "." : dir, ec), ec);
  if (ec) return Status::error(dir + ": cannot resolve (" + ec.message() + ")");
  root->resolved = resolved.string();
  return Status::success();
}

Status eval_root_check(const EvalRoot& root, const std::string& path) {
  if (has_nul_byte(path)) return Status::error("a file name contains a NUL byte");
  if (root.allow_outside) return Status::success();
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec || !inside(resolved, fs::path(root.resolved)))
    return Status::error(path + ": not a file inside " + (root.dir.empty() ? "." : root.dir) +
                         " (--allow-outside-paths lets eval read files elsewhere)");
  return Status::success();
}

Status eval_root_join(const EvalRoot& root, const std::string& name, std::string* path) {
  if (has_nul_byte(name)) return Status::error("a file name contains a NUL byte");
  if (name.empty()) return Status::error("an empty file name");
  if (root.dir.empty() || name[0] == '/')
    *path = name;
  else
    *path = root.dir.back() == '/' ? root.dir + name : root.dir + "/" + name;
  return eval_root_check(root, *path);
}

}  // namespace atrous
