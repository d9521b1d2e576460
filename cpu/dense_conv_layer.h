// What the dense convolution paths that add their bias after the sums keep of a layer (the
// Winograd and tap-GEMM plans derive from it): its channels, window geometry, bias and
// activation, and the ISA whose kernels run it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/isa.h"
#include "ops/activation.h"
#include "ops/op_helpers.h"

namespace atrous {

struct DenseConvLayer {
  int64_t channels = 0, outputs = 0;  // C, M
  WindowAxis axes[2];                 // 0 = H, 1 = W
  std::vector<float> bias;            // M floats (zeros when there is none)
  Activation activation;
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
  std::string name;  // the path and its microkernel, for labels

  // bias: M floats or nullptr.
  void set_layer(const float* layer_bias, int64_t out_channels, int64_t in_channels,
                 const WindowAxis layer_axes[2], const Activation& layer_activation,
                 CpuIsa layer_isa) {
    channels = in_channels;
    outputs = out_channels;
    axes[0] = layer_axes[0];
    axes[1] = layer_axes[1];
    activation = layer_activation;
    isa = layer_isa;
    bias.assign(size_t(out_channels), 0.f);
    if (layer_bias) std::copy(layer_bias, layer_bias + out_channels, bias.begin());
  }
};

}  // namespace atrous
