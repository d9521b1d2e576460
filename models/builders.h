// Panoptic-DeepLab architectures built in C++ with seeded random weights: the graphs that
// `atrous-convert` makes from models/pytorch/export_panoptic.py, without a file.
//
// The builder emits the graph in the converter's stored form: every convolution carries its bias
// with BatchNorm already folded in, activations are separate nodes (relu, hard_swish, sigmoid),
// node order is PyTorch's execution order. graph_optimize (run by every Session and by
// `atrous info` for its "after optimization" counts) then fuses the activations exactly as it
// does for the converted file, so both the stored and the optimized forms match the file's
// op sequence, attributes, shapes and multiply-adds (tests/python/test_builders.py).
//
// The ASPP pooling window is the one export_panoptic.py uses by default (training crop = input
// size): (n−1)//OS + 1 per axis, i.e. the whole stride-OS feature map.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

// Parses "HxW" (positive decimal integers of at most 9 digits); false on anything else.
bool parse_image_size(const std::string& text, int64_t* height, int64_t* width);

// "panoptic-deeplab-mnv3l-os16", "-mnv3l-os32", "-mnv3s-os16", "-mnv3s-os32", "-resnet50-os32".
std::vector<std::string> architecture_names();

// Builds architecture `name` for a [1,3,height,width] input named "image" (outputs "semantic",
// "center", "offset") with random weights from `seed`: He-normal weights (std √(2/fan_in)) and
// N(0, 0.1²) biases, so activations stay O(1) through the network. Shapes are inferred.
// Errors: an unknown name (the message lists the valid ones), a size below 1 or one too large.
Status build_architecture(const std::string& name, int64_t height, int64_t width, uint64_t seed,
                          Graph* graph);

}  // namespace atrous
