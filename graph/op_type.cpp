#include "graph/op_type.h"

#include <cstddef>

namespace atrous {
namespace {

#define ATROUS_OP_NAME(name) #name,
constexpr const char* kOpNames[] = {ATROUS_OP_LIST(ATROUS_OP_NAME)};
#undef ATROUS_OP_NAME

static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == size_t(OpType::op_count),
              "one name per OpType");

}  // namespace

const char* op_type_name(OpType type) {
  if (size_t(type) >= size_t(OpType::op_count)) return "unknown";
  return kOpNames[size_t(type)];
}

bool op_type_from_name(const std::string& name, OpType* type) {
  for (size_t i = 0; i < size_t(OpType::op_count); ++i) {
    if (name == kOpNames[i]) {
      *type = OpType(i);
      return true;
    }
  }
  return false;
}

}  // namespace atrous
