// Data movement as an "axis gather", shared by transpose, slice, pad, depth_to_space and
// space_to_depth: each of these maps every output axis independently to a term of the input
// element offset, so one loop copies any of them for any dtype (by element size).
#pragma once

#include <cstdint>
#include <vector>

#include "graph/tensor.h"

namespace atrous {

// For an output of shape `output_shape`, element (o_0, ..., o_{r-1}) becomes the input element
// at offset Σ_d offsets[d][o_d], or `*fill` (one element of `dtype`) when any offsets[d][o_d] is
// negative (padding). offsets[d] has output_shape[d] entries; callers guarantee that every
// sum of non-negative terms is a valid input offset.
void axis_gather(const void* input, DType dtype, const Shape& output_shape,
                 const std::vector<std::vector<int64_t>>& offsets, const void* fill, void* output);

}  // namespace atrous
