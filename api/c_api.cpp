// The C API of include/atrous.h over the C++ Model/Session. No exception crosses the boundary:
// every entry point that can allocate runs inside guarded(), and enum-typed arguments are read as
// integers (enum_value) before they are compared, since a C caller may pass any int and loading
// an out-of-range value through the C++ enum type is undefined.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>

#include "atrous.h"
#include "graph/thread_pool.h"
#include "models/panoptic_merger.h"
#include "models/panoptic_pipeline.h"
#include "models/semantic.h"
#include "runtime/image.h"
#include "runtime/session.h"

struct atrous_status {
  atrous_code code;
  std::string message;
};

struct atrous_model {
  std::shared_ptr<const atrous::Model> model;
  std::map<std::string, std::string> metadata_strings;
  std::vector<std::string> labels;
};

struct atrous_session {
  std::unique_ptr<atrous::Session> session;
  std::map<std::string, atrous::Tensor> inputs;
  std::vector<atrous::Tensor> outputs;
};

namespace {

// Returned when memory runs out, so that reporting it allocates nothing; never freed
// (atrous_status_release recognises it by address). Its message fits std::string's inline buffer.
atrous_status out_of_memory_status{ATROUS_CODE_RUNTIME, "out of memory"};

atrous_status* make_status(atrous_code code, const std::string& message) {
  try {
    return new atrous_status{code, message};
  } catch (...) {
    return &out_of_memory_status;
  }
}

// The integer a C caller stored in an enum-typed object (any int is legal in C).
template <typename Enum>
int32_t enum_value(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int32_t), "C enums are int-sized on supported ABIs");
  int32_t raw = 0;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

atrous_status* invalid(const std::string& message) {
  return make_status(ATROUS_CODE_INVALID_ARGUMENT, message);
}

// Runs an entry point's body; any exception becomes a status (allocation failure: the
// preallocated one).
template <typename F>
atrous_status* guarded(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return &out_of_memory_status;
  } catch (const std::exception& e) {
    return make_status(ATROUS_CODE_RUNTIME, e.what());
  } catch (...) {
    return make_status(ATROUS_CODE_RUNTIME, "unknown error");
  }
}

atrous_status* tensor_info(const atrous::Graph& graph, int32_t tensor, atrous_tensor_info* info) {
  const atrous::GraphTensor& t = graph.tensors[size_t(tensor)];
  info->name = t.name.c_str();
  info->dtype = atrous_dtype(t.dtype);
  info->rank = int32_t(t.shape.size());
  for (size_t d = 0; d < t.shape.size() && d < ATROUS_MAX_RANK; ++d) info->shape[d] = t.shape[d];
  return nullptr;
}

atrous_status* load_result(const atrous::Status& status,
                           std::shared_ptr<const atrous::Model> loaded, atrous_model** model) {
  if (!status.ok()) return make_status(ATROUS_CODE_INVALID_MODEL, status.message());
  std::unique_ptr<atrous_model> handle(new atrous_model{std::move(loaded), {}, {}});
  handle->labels = handle->model->graph().metadata.get_strings("labels", {});
  for (const atrous::Attribute& a : handle->model->graph().metadata.items())
    if (a.type == atrous::AttributeType::attribute_string) handle->metadata_strings[a.name] = a.s;
  *model = handle.release();
  return nullptr;
}

}  // namespace

// Copies a merger result into the C struct (malloc'ed arrays; throws std::bad_alloc).
static void copy_panoptic_result(const atrous::PanopticResult& merged,
                                 atrous_panoptic_result* result) {
  const size_t pixels = merged.panoptic.size();
  result->height = merged.height;
  result->width = merged.width;
  result->num_centers = int32_t(merged.centers.size());
  result->panoptic = static_cast<int32_t*>(std::malloc(pixels * sizeof(int32_t)));
  result->instance = static_cast<int32_t*>(std::malloc(pixels * sizeof(int32_t)));
  result->segments = static_cast<atrous_panoptic_segment*>(
      std::malloc(std::max<size_t>(1, merged.segments.size()) * sizeof(atrous_panoptic_segment)));
  if (!result->panoptic || !result->instance || !result->segments) {
    atrous_panoptic_result_release(result);
    throw std::bad_alloc();
  }
  std::memcpy(result->panoptic, merged.panoptic.data(), pixels * sizeof(int32_t));
  std::memcpy(result->instance, merged.instance.data(), pixels * sizeof(int32_t));
  result->num_segments = int32_t(merged.segments.size());
  for (size_t i = 0; i < merged.segments.size(); ++i) {
    const atrous::PanopticSegmentInfo& from = merged.segments[i];
    atrous_panoptic_segment& to = result->segments[i];
    to.id = from.id;
    to.category_id = from.category_id;
    to.area = from.area;
    for (int k = 0; k < 4; ++k) to.bbox[k] = from.bbox[k];
    to.iscrowd = from.iscrowd;
    to.isthing = from.isthing ? 1 : 0;
    to.score = from.score;
  }
}

extern "C" {

atrous_code atrous_status_code(const atrous_status* status) {
  return status ? status->code : ATROUS_CODE_OK;
}
const char* atrous_status_message(const atrous_status* status) {
  return status ? status->message.c_str() : "";
}
void atrous_status_release(atrous_status* status) {
  if (status != &out_of_memory_status) delete status;
}

const char* atrous_version(void) { return "0.1.0"; }

atrous_status* atrous_model_load_file(const char* path, atrous_model** model) {
  return guarded([&]() -> atrous_status* {
    if (!path || !model) return invalid("atrous_model_load_file: null argument");
    *model = nullptr;
    std::shared_ptr<const atrous::Model> loaded;
    atrous::Status status = atrous::Model::load_file(path, &loaded);
    return load_result(status, loaded, model);
  });
}

atrous_status* atrous_model_load_memory(const void* data, size_t size, atrous_model** model) {
  return guarded([&]() -> atrous_status* {
    if (!data || !model) return invalid("atrous_model_load_memory: null argument");
    *model = nullptr;
    std::shared_ptr<const atrous::Model> loaded;
    atrous::Status status = atrous::Model::load_memory(data, size, &loaded);
    return load_result(status, loaded, model);
  });
}

void atrous_model_release(atrous_model* model) { delete model; }

int32_t atrous_model_input_count(const atrous_model* model) {
  return model ? int32_t(model->model->graph().inputs.size()) : 0;
}
int32_t atrous_model_output_count(const atrous_model* model) {
  return model ? int32_t(model->model->graph().outputs.size()) : 0;
}

atrous_status* atrous_model_input_info(const atrous_model* model, int32_t index,
                                       atrous_tensor_info* info) {
  return guarded([&]() -> atrous_status* {
    if (!model || !info) return invalid("atrous_model_input_info: null argument");
    const atrous::Graph& graph = model->model->graph();
    if (index < 0 || size_t(index) >= graph.inputs.size())
      return invalid("input index " + std::to_string(index) + " out of range");
    return tensor_info(graph, graph.inputs[size_t(index)], info);
  });
}

atrous_status* atrous_model_output_info(const atrous_model* model, int32_t index,
                                        atrous_tensor_info* info) {
  return guarded([&]() -> atrous_status* {
    if (!model || !info) return invalid("atrous_model_output_info: null argument");
    const atrous::Graph& graph = model->model->graph();
    if (index < 0 || size_t(index) >= graph.outputs.size())
      return invalid("output index " + std::to_string(index) + " out of range");
    return tensor_info(graph, graph.outputs[size_t(index)], info);
  });
}

atrous_status* atrous_model_metadata_string(const atrous_model* model, const char* key,
                                            const char** value) {
  return guarded([&]() -> atrous_status* {
    if (!model || !key || !value) return invalid("atrous_model_metadata_string: null argument");
    auto found = model->metadata_strings.find(key);
    if (found == model->metadata_strings.end())
      return invalid(std::string("no string metadata '") + key + "'");
    *value = found->second.c_str();
    return nullptr;
  });
}

atrous_session_options atrous_session_options_default(void) {
  return atrous_session_options{1, ATROUS_BACKEND_REFERENCE, 1, 0};
}

atrous_status* atrous_session_create(const atrous_model* model,
                                     const atrous_session_options* options,
                                     atrous_session** session) {
  return guarded([&]() -> atrous_status* {
    if (!model || !session) return invalid("atrous_session_create: null argument");
    *session = nullptr;
    atrous_session_options chosen = options ? *options : atrous_session_options_default();
    const int32_t backend = enum_value(chosen.backend);
    if (backend < ATROUS_BACKEND_REFERENCE || backend > ATROUS_BACKEND_CUDA)
      return invalid("unknown backend " + std::to_string(backend));
    if (chosen.max_memory_bytes < 0)
      return invalid("max_memory_bytes must be >= 0 (0: the default)");
    atrous::SessionOptions cpp;
    cpp.threads = chosen.threads;
    cpp.backend = atrous::Backend(backend);
    cpp.optimize = chosen.optimize != 0;
    if (chosen.max_memory_bytes > 0) cpp.max_memory_bytes = chosen.max_memory_bytes;
    std::unique_ptr<atrous::Session> created;
    atrous::Status status = atrous::Session::create(model->model, cpp, &created);
    if (!status.ok())
      return make_status(backend == ATROUS_BACKEND_REFERENCE ? ATROUS_CODE_INVALID_ARGUMENT
                                                             : ATROUS_CODE_UNSUPPORTED,
                         status.message());
    *session = new atrous_session{std::move(created), {}, {}};
    return nullptr;
  });
}

void atrous_session_release(atrous_session* session) { delete session; }

atrous_status* atrous_session_set_input(atrous_session* session, const char* name,
                                        atrous_dtype dtype, const int64_t* shape, int32_t rank,
                                        const void* data) {
  return guarded([&]() -> atrous_status* {
    if (!session || !name || (!shape && rank > 0))
      return invalid("atrous_session_set_input: null argument");
    if (rank < 0 || rank > ATROUS_MAX_RANK) return invalid("rank must be in [0, 8]");
    const int32_t code = enum_value(dtype);
    if (code < 0 || code > 255 || !atrous::dtype_is_valid(uint8_t(code)))
      return invalid("unknown dtype " + std::to_string(code));
    // An unknown name is refused here rather than kept: kept, it would make every later run
    // fail even after the right input is set.
    const atrous::Graph& graph = session->session->graph();
    bool known = false;
    std::string names;
    for (int32_t index : graph.inputs) {
      known = known || graph.tensors[size_t(index)].name == name;
      names += (names.empty() ? "'" : ", '") + graph.tensors[size_t(index)].name + "'";
    }
    if (!known)
      return invalid("unknown input '" + std::string(name) + "' (the model's inputs: " + names +
                     ")");
    atrous::Shape dims(shape, shape + rank);
    int64_t count = 0;
    if (!atrous::shape_element_count(dims, &count))
      return invalid("input '" + std::string(name) + "': invalid shape " +
                     atrous::shape_to_string(dims));
    if (!data && count) return invalid("atrous_session_set_input: null data");
    atrous::Tensor tensor(atrous::DType(code), dims);
    if (tensor.byte_size()) std::memcpy(tensor.data(), data, tensor.byte_size());
    session->inputs[name] = std::move(tensor);
    return nullptr;
  });
}

atrous_status* atrous_session_run(atrous_session* session) {
  return guarded([&]() -> atrous_status* {
    if (!session) return invalid("atrous_session_run: null session");
    std::vector<atrous::NamedInput> inputs;
    for (auto& entry : session->inputs) inputs.push_back({entry.first, &entry.second.view()});
    atrous::Status status = session->session->run(inputs, &session->outputs);
    if (!status.ok()) {
      session->outputs.clear();  // no stale outputs from an earlier run after a failed one
      return invalid(status.message());
    }
    return nullptr;
  });
}

atrous_status* atrous_session_output(const atrous_session* session, int32_t index,
                                     atrous_tensor_info* info, const void** data) {
  return guarded([&]() -> atrous_status* {
    if (!session || !info || !data) return invalid("atrous_session_output: null argument");
    const atrous::Graph& graph = session->session->graph();
    if (index < 0 || size_t(index) >= graph.outputs.size())
      return invalid("output index " + std::to_string(index) + " out of range");
    if (session->outputs.size() != graph.outputs.size())
      return invalid("no outputs yet: call atrous_session_run first");
    tensor_info(graph, graph.outputs[size_t(index)], info);
    *data = session->outputs[size_t(index)].data();
    return nullptr;
  });
}

atrous_status* atrous_model_label(const atrous_model* model, int32_t class_id, const char** name) {
  return guarded([&]() -> atrous_status* {
    if (!model || !name) return invalid("atrous_model_label: null argument");
    if (class_id < 0 || size_t(class_id) >= model->labels.size())
      return invalid("class " + std::to_string(class_id) + " has no label (the model has " +
                     std::to_string(model->labels.size()) + ")");
    *name = model->labels[size_t(class_id)].c_str();
    return nullptr;
  });
}

static void copy_image_out(const atrous::Image& in, atrous_image* out) {
  out->width = in.width;
  out->height = in.height;
  out->channels = in.channels;
  out->pixels = static_cast<uint8_t*>(std::malloc(in.pixels.empty() ? 1 : in.pixels.size()));
  if (!out->pixels) throw std::bad_alloc();
  std::memcpy(out->pixels, in.pixels.data(), in.pixels.size());
}

static atrous_status* copy_image_in(const atrous_image* in, atrous::Image* out) {
  if (!in || !in->pixels || in->width < 1 || in->height < 1 || in->width > atrous::kMaxImageSide ||
      in->height > atrous::kMaxImageSide ||
      (in->channels != 1 && in->channels != 3 && in->channels != 4))
    return invalid("image must have pixels, 1..16384 pixels per side and 1, 3 or 4 channels");
  out->width = in->width;
  out->height = in->height;
  out->channels = in->channels;
  out->pixels.assign(in->pixels,
                     in->pixels + size_t(in->width) * size_t(in->height) * size_t(in->channels));
  return nullptr;
}

// As copy_image_in, then gray (replicated) or RGBA (alpha dropped) converted to RGB.
static atrous_status* copy_image_in_rgb(const atrous_image* in, atrous::Image* out) {
  if (atrous_status* s = copy_image_in(in, out)) return s;
  if (out->channels == 3) return nullptr;
  atrous::Image converted;
  converted.width = out->width;
  converted.height = out->height;
  converted.channels = 3;
  converted.pixels.resize(size_t(out->width) * size_t(out->height) * 3);
  for (size_t i = 0; i < size_t(out->width) * size_t(out->height); ++i)
    for (size_t k = 0; k < 3; ++k)
      converted.pixels[i * 3 + k] =
          out->pixels[i * size_t(out->channels) + (out->channels == 1 ? 0 : k)];
  *out = std::move(converted);
  return nullptr;
}

atrous_status* atrous_image_load(const char* path, atrous_image* image) {
  return guarded([&]() -> atrous_status* {
    if (!path || !image) return invalid("atrous_image_load: null argument");
    *image = atrous_image{0, 0, 0, nullptr};
    atrous::Image loaded;
    atrous::Status status = atrous::image_load_rgb(path, &loaded);
    if (!status.ok()) return invalid(status.message());
    copy_image_out(loaded, image);
    return nullptr;
  });
}

atrous_status* atrous_image_write_png(const char* path, const atrous_image* image) {
  return guarded([&]() -> atrous_status* {
    if (!path) return invalid("atrous_image_write_png: null path");
    atrous::Image copy;
    if (atrous_status* s = copy_image_in(image, &copy)) return s;
    atrous::Status status = atrous::image_write_png(path, copy);
    return status.ok() ? nullptr : make_status(ATROUS_CODE_RUNTIME, status.message());
  });
}

void atrous_image_release(atrous_image* image) {
  if (!image) return;
  std::free(image->pixels);
  image->pixels = nullptr;
}

atrous_status* atrous_session_segment(atrous_session* session, const atrous_image* image,
                                      atrous_segmentation* result) {
  return guarded([&]() -> atrous_status* {
    if (!session || !result) return invalid("atrous_session_segment: null argument");
    *result = atrous_segmentation{0, 0, 0, nullptr, nullptr};
    atrous::Image rgb;
    if (atrous_status* s = copy_image_in_rgb(image, &rgb)) return s;
    atrous::ImageModelInfo info;
    atrous::Status status = atrous::image_model_info(session->session->graph(), &info);
    if (!status.ok()) return invalid(status.message());
    atrous::SegmentationResult segmentation;
    status = atrous::segment_image(*session->session, info, rgb, &segmentation);
    if (!status.ok()) return make_status(ATROUS_CODE_RUNTIME, status.message());
    result->width = segmentation.width;
    result->height = segmentation.height;
    result->num_classes = segmentation.num_classes;
    if (!segmentation.labels.empty()) {
      result->labels =
          static_cast<int32_t*>(std::malloc(segmentation.labels.size() * sizeof(int32_t)));
      if (!result->labels) throw std::bad_alloc();
      std::memcpy(result->labels, segmentation.labels.data(),
                  segmentation.labels.size() * sizeof(int32_t));
    }
    if (!segmentation.probability.empty()) {
      result->probability =
          static_cast<float*>(std::malloc(segmentation.probability.size() * sizeof(float)));
      if (!result->probability) {
        atrous_segmentation_release(result);
        throw std::bad_alloc();
      }
      std::memcpy(result->probability, segmentation.probability.data(),
                  segmentation.probability.size() * sizeof(float));
    }
    return nullptr;
  });
}

void atrous_segmentation_release(atrous_segmentation* result) {
  if (!result) return;
  std::free(result->labels);
  std::free(result->probability);
  result->labels = nullptr;
  result->probability = nullptr;
}

atrous_panoptic_params atrous_panoptic_params_default(atrous_panoptic_convention convention) {
  // Any value other than DETECTRON2 means DeepLab2 (the function cannot report an error).
  const bool detectron2 = enum_value(convention) == ATROUS_PANOPTIC_CONVENTION_DETECTRON2;
  const atrous::PanopticParams p = atrous::panoptic_params_default(
      detectron2 ? atrous::panoptic_convention_detectron2 : atrous::panoptic_convention_deeplab2);
  atrous_panoptic_params out;
  out.convention =
      detectron2 ? ATROUS_PANOPTIC_CONVENTION_DETECTRON2 : ATROUS_PANOPTIC_CONVENTION_DEEPLAB2;
  out.thing_classes = nullptr;
  out.num_thing_classes = 0;
  out.label_divisor = p.label_divisor;
  out.void_label = p.void_label;
  out.center_threshold = p.center_threshold;
  out.nms_kernel = p.nms_kernel;
  out.top_k = p.top_k;
  out.stuff_area_limit = p.stuff_area_limit;
  out.compute_scores = 1;
  out.threads = 1;
  return out;
}

atrous_status* atrous_panoptic_merge(const atrous_panoptic_params* params,
                                     atrous_dtype semantic_dtype, const int64_t* semantic_shape,
                                     int32_t semantic_rank, const void* semantic,
                                     const float* center, const float* offset,
                                     atrous_panoptic_result* result) {
  return guarded([&]() -> atrous_status* {
    if (!params || !semantic_shape || !semantic || !center || !offset || !result)
      return invalid("atrous_panoptic_merge: null argument");
    if (params->num_thing_classes < 0 || (params->num_thing_classes > 0 && !params->thing_classes))
      return invalid("atrous_panoptic_merge: thing_classes is null");
    if (semantic_rank < 2 || semantic_rank > 4)
      return invalid("atrous_panoptic_merge: bad semantic rank");
    const int32_t convention = enum_value(params->convention);
    if (convention != ATROUS_PANOPTIC_CONVENTION_DEEPLAB2 &&
        convention != ATROUS_PANOPTIC_CONVENTION_DETECTRON2)
      return invalid("atrous_panoptic_merge: unknown convention " + std::to_string(convention));
    *result = atrous_panoptic_result{};
    atrous::PanopticParams p;
    p.convention = convention == ATROUS_PANOPTIC_CONVENTION_DETECTRON2
                       ? atrous::panoptic_convention_detectron2
                       : atrous::panoptic_convention_deeplab2;
    p.thing_classes.assign(params->thing_classes,
                           params->thing_classes + params->num_thing_classes);
    p.label_divisor = params->label_divisor;
    p.void_label = params->void_label;
    p.center_threshold = params->center_threshold;
    p.nms_kernel = params->nms_kernel;
    p.top_k = params->top_k;
    p.stuff_area_limit = params->stuff_area_limit;
    p.compute_scores = params->compute_scores != 0;
    const int32_t semantic_code = enum_value(semantic_dtype);
    if (semantic_code != ATROUS_DTYPE_FLOAT32 && semantic_code != ATROUS_DTYPE_INT32)
      return invalid("atrous_panoptic_merge: semantic must be FLOAT32 logits or INT32 labels");
    atrous::TensorView s;
    s.dtype = atrous::DType(semantic_code);
    s.shape.assign(semantic_shape, semantic_shape + semantic_rank);
    for (int64_t d : s.shape)
      if (d < 1 || d > (int64_t(1) << 20))
        return invalid("atrous_panoptic_merge: bad semantic shape");
    s.data = const_cast<void*>(semantic);
    const int64_t h = s.shape[size_t(semantic_rank - 2)], w = s.shape[size_t(semantic_rank - 1)];
    atrous::TensorView c{atrous::DType::dtype_f32, {1, h, w}, const_cast<float*>(center)};
    atrous::TensorView o{atrous::DType::dtype_f32, {2, h, w}, const_cast<float*>(offset)};
    atrous::PanopticResult merged;
    atrous::Status status = atrous::panoptic_merge({s, c, o}, p, params->threads, &merged);
    if (!status.ok()) return invalid(status.message());
    copy_panoptic_result(merged, result);
    return nullptr;
  });
}

atrous_panoptic_segment_options atrous_panoptic_segment_options_default(void) {
  return atrous_panoptic_segment_options{ATROUS_PANOPTIC_CONVENTION_DEEPLAB2, 0, nullptr, 0, 1};
}

atrous_status* atrous_session_segment_panoptic(atrous_session* session, const atrous_image* image,
                                               const atrous_panoptic_segment_options* options,
                                               atrous_panoptic_result* result) {
  return guarded([&]() -> atrous_status* {
    if (!session || !image || !options || !result)
      return invalid("atrous_session_segment_panoptic: null argument");
    *result = atrous_panoptic_result{};
    const int32_t convention = enum_value(options->convention);
    if (convention != ATROUS_PANOPTIC_CONVENTION_DEEPLAB2 &&
        convention != ATROUS_PANOPTIC_CONVENTION_DETECTRON2)
      return invalid("atrous_session_segment_panoptic: unknown convention " +
                     std::to_string(convention));
    if (options->num_scales < 0 || (options->num_scales > 0 && !options->scales))
      return invalid("atrous_session_segment_panoptic: scales is null");
    if (options->threads < 1)
      return invalid("atrous_session_segment_panoptic: threads must be >= 1");
    atrous::Image rgb;
    if (atrous_status* s = copy_image_in_rgb(image, &rgb)) return s;
    atrous::PanopticModelInfo info;
    atrous::Status status = atrous::panoptic_model_info(
        session->session->graph(),
        convention == ATROUS_PANOPTIC_CONVENTION_DETECTRON2 ? atrous::panoptic_convention_detectron2
                                                            : atrous::panoptic_convention_deeplab2,
        &info);
    if (!status.ok()) return invalid(status.message());
    atrous::PanopticPipelineOptions pipeline;
    pipeline.flip = options->flip != 0;
    if (options->num_scales > 0)
      pipeline.scales.assign(options->scales, options->scales + options->num_scales);
    // The merger runs on the session's pool, or on one of its own when asked for another
    // thread count.
    std::unique_ptr<atrous::ThreadPool> merge_pool;
    if (options->threads != session->session->options().threads) {
      merge_pool.reset(new atrous::ThreadPool(options->threads));
      pipeline.merge_pool = merge_pool.get();
    }
    atrous::PanopticPipelineResult run;
    status = atrous::segment_panoptic(*session->session, info, rgb, pipeline, &run);
    if (!status.ok()) return invalid(status.message());
    copy_panoptic_result(run.panoptic, result);
    return nullptr;
  });
}

void atrous_panoptic_result_release(atrous_panoptic_result* result) {
  if (!result) return;
  std::free(result->panoptic);
  std::free(result->instance);
  std::free(result->segments);
  *result = atrous_panoptic_result{};
}

}  // extern "C"
