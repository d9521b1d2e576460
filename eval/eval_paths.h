// Where evaluation may read. Every file a dataset names (a JSON `file_name`, a mask path in an
// instance .txt, a file found by walking a folder) must lie, once `..` and symlinks are resolved,
// inside the folder it belongs to, unless the user passed --allow-outside-paths. A name that
// leads elsewhere gets one message whether or not something exists there, so eval's errors
// reveal nothing about files outside its folders.
//
// The check resolves the path when the dataset is read; a folder changed by someone else while
// eval runs is out of scope (the files are opened by the same path later).
#pragma once

#include <string>

#include "graph/status.h"

namespace atrous {

struct EvalRoot {
  std::string dir;       // as the user gave it (for messages and joining); "" = the working folder
  std::string resolved;  // `dir` with symlinks and `..` resolved
  bool allow_outside = false;
};

// Errors: `dir` cannot be resolved (it need not be checked for being a folder here).
Status eval_root_make(const std::string& dir, bool allow_outside, EvalRoot* root);
// `name` joined to root.dir (an absolute name is taken as it is) into `*path`. Errors: a NUL byte
// in `name`, or a result that resolves outside the root (unless allowed).
Status eval_root_join(const EvalRoot& root, const std::string& name, std::string* path);
// The same check on a path already formed (a file found under the root, or joined elsewhere).
Status eval_root_check(const EvalRoot& root, const std::string& path);

}  // namespace atrous
