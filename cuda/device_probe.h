#pragma once

#include <string>

namespace atrous {

// Number of usable CUDA devices; 0 with `reason` set when there is no driver or device.
int cuda_device_count(std::string* reason);

}  // namespace atrous
