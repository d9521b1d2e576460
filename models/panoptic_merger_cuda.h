// The panoptic merger (models/panoptic_merger.h) on a CUDA device: the merger's host side, with
// the rules it shares with the CPU merger (models/panoptic_merger_rules.h), around the kernels of
// cuda/panoptic_merge_kernels.h. Built only with ATROUS_HAVE_CUDA; see docs/CUDA.md.
#pragma once

#include <cstdint>
#include <memory>

#include "cuda/cuda_backend.h"
#include "graph/status.h"
#include "models/panoptic_merger.h"

namespace atrous {

// The merger's inputs in device memory: float32 logits [C,H,W] or int32 labels [H,W] (exactly one
// of the two), the center heatmap [H,W] and the offsets [2,H,W] (Δy plane, then Δx).
struct CudaPanopticInputs {
  const float* logits = nullptr;
  int64_t classes = 0;  // C of the logits
  const int32_t* labels = nullptr;
  const float* center = nullptr;
  const float* offset = nullptr;
  int height = 0, width = 0;
};

// The executor outputs semantic (float32 logits [1,C,H,W] or [C,H,W], or int32 labels [1,H,W]
// or [H,W]), center ([1,1,H,W], [1,H,W] or [H,W]) and offset ([1,2,H,W] or [2,H,W]) as merger
// inputs; an error when the dtypes or shapes do not fit.
Status cuda_panoptic_inputs(const CudaDeviceTensor& semantic, const CudaDeviceTensor& center,
                            const CudaDeviceTensor& offset, CudaPanopticInputs* inputs);

// The panoptic merger on one device, with the CPU merger's exact results (panoptic, semantic and
// instance maps, centers, segments with ids, areas and boxes). Segment scores from logits use the
// device's double exp, which may differ from the host's in the last bit: a score can then differ
// from the CPU's by about 1e-12 relative (docs/CUDA.md). Device buffers are kept between calls and
// grow as needed; one merger is not safe to use from two threads at once.
class CudaPanopticMerger {
 public:
  virtual ~CudaPanopticMerger() = default;
  static Status create(int device, std::unique_ptr<CudaPanopticMerger>* merger);
  // Inputs already on the device (this device): only the candidate centers, the per-instance
  // summaries and the outputs come back to the host.
  virtual Status merge(const CudaPanopticInputs& inputs, const PanopticParams& params,
                       PanopticResult* result) = 0;
  // Host inputs in the forms panoptic_merge accepts, uploaded once, then merge().
  virtual Status merge_host(const PanopticInputs& inputs, const PanopticParams& params,
                            PanopticResult* result) = 0;
};

// One-shot host form: a merger on device 0 for one call.
Status cuda_panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params,
                           PanopticResult* result);

}  // namespace atrous
