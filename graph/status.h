// Errors are values: every fallible function returns a Status (ok, or a one-line message).
#pragma once

#include <string>
#include <utility>

namespace atrous {

class Status {
 public:
  Status() = default;
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

#define ATROUS_RETURN_IF_ERROR(expr)   \
  do {                                 \
    ::atrous::Status status_ = (expr); \
    if (!status_.ok()) return status_; \
  } while (0)

}  // namespace atrous
