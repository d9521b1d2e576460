// libFuzzer target for .npy reading (runtime/npy.h; docs/FUZZING.md), the way `atrous run` and
// `atrous merge` read their inputs: from a file. A file that reads must hold exactly its
// tensor's bytes, and writing it back and reading that again must give the same tensor.
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz_file.h"
#include "runtime/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static atrous_fuzz::ScratchFile input, output;
  atrous::Tensor tensor;
  if (!atrous::npy_read(input.write(data, size), &tensor).ok()) return 0;
  atrous::Tensor back;
  if (!atrous::npy_write(output.write(nullptr, 0), tensor.view()).ok()) __builtin_trap();
  if (!atrous::npy_read(output.path(), &back).ok()) __builtin_trap();
  if (back.view().dtype != tensor.view().dtype || back.view().shape != tensor.view().shape ||
      back.byte_size() != tensor.byte_size() ||
      (tensor.byte_size() && std::memcmp(back.data(), tensor.data(), tensor.byte_size()) != 0))
    __builtin_trap();
  return 0;
}
