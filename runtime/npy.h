// NumPy .npy files (format versions 1.0–3.0, C order, little-endian) for `atrous run`.
#pragma once

#include <string>

#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

// Reads float32, float64 (converted to float32), int32, int64 and uint8 arrays.
Status npy_read(const std::string& path, Tensor* tensor);
Status npy_write(const std::string& path, const TensorView& tensor);

}  // namespace atrous
