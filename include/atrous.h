/* atrous C API.
 *
 * Every fallible call returns an atrous_status*: NULL on success, otherwise an object holding
 * a code and a one-line message, which the caller frees with atrous_status_release(). Running out
 * of memory gives ATROUS_CODE_RUNTIME "out of memory" (a status that needs no allocation; releasing
 * it is harmless, like releasing NULL). No C++ exception leaves any function of this API, and a
 * failed call leaves the objects it was given usable.
 *
 * Enum-typed arguments and fields may hold any int (as C allows); values outside the listed
 * enumerators are refused with ATROUS_CODE_INVALID_ARGUMENT ("unknown backend 7",
 * "unknown dtype 99", "... unknown convention 5").
 *
 * A model is immutable once loaded and may be shared by any number of sessions in any number
 * of threads. A session is used by one thread at a time.
 */
#ifndef ATROUS_H
#define ATROUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATROUS_VERSION_MAJOR 0
#define ATROUS_VERSION_MINOR 1
#define ATROUS_VERSION_PATCH 0

typedef enum atrous_code {
  ATROUS_CODE_OK = 0,
  ATROUS_CODE_INVALID_ARGUMENT = 1, /* a bad parameter: null pointer, unknown name, wrong shape */
  ATROUS_CODE_INVALID_MODEL = 2,    /* the model file is missing, unreadable or malformed */
  ATROUS_CODE_UNSUPPORTED = 3,      /* valid request this build cannot serve (e.g. a backend) */
  ATROUS_CODE_RUNTIME = 4           /* failure while running */
} atrous_code;

typedef enum atrous_dtype {
  ATROUS_DTYPE_FLOAT32 = 1,
  ATROUS_DTYPE_INT32 = 2,
  ATROUS_DTYPE_INT64 = 3,
  ATROUS_DTYPE_UINT8 = 4
} atrous_dtype;

typedef enum atrous_backend {
  ATROUS_BACKEND_REFERENCE = 0,
  ATROUS_BACKEND_CPU = 1,
  ATROUS_BACKEND_CUDA = 2
} atrous_backend;

typedef struct atrous_status atrous_status;
typedef struct atrous_model atrous_model;
typedef struct atrous_session atrous_session;

#define ATROUS_MAX_RANK 8

typedef struct atrous_tensor_info {
  const char* name; /* owned by the model; valid while the model lives */
  atrous_dtype dtype;
  int32_t rank;
  int64_t shape[ATROUS_MAX_RANK];
} atrous_tensor_info;

typedef struct atrous_session_options {
  int32_t threads; /* >= 1 */
  atrous_backend backend;
  int32_t optimize; /* non-zero: fold constants/BatchNorm and fuse activations at creation */
  /* Host memory the session may allocate (arena, scratch, folded constants), checked before
   * allocating: a model that needs more fails atrous_session_create. 0: the default, 16 GiB. */
  int64_t max_memory_bytes;
} atrous_session_options;

/* Status */
atrous_code atrous_status_code(const atrous_status* status);
const char* atrous_status_message(const atrous_status* status);
void atrous_status_release(atrous_status* status);

/* Version string, e.g. "0.1.0". */
const char* atrous_version(void);

/* Models */
atrous_status* atrous_model_load_file(const char* path, atrous_model** model);
/* The bytes are copied; the buffer may be freed after the call. */
atrous_status* atrous_model_load_memory(const void* data, size_t size, atrous_model** model);
void atrous_model_release(atrous_model* model);
int32_t atrous_model_input_count(const atrous_model* model);
int32_t atrous_model_output_count(const atrous_model* model);
atrous_status* atrous_model_input_info(const atrous_model* model, int32_t index,
                                       atrous_tensor_info* info);
atrous_status* atrous_model_output_info(const atrous_model* model, int32_t index,
                                        atrous_tensor_info* info);
/* Metadata string value for `key` (see docs/FORMAT.md); *value is owned by the model. */
atrous_status* atrous_model_metadata_string(const atrous_model* model, const char* key,
                                            const char** value);

/* Sessions */
atrous_session_options atrous_session_options_default(void);
atrous_status* atrous_session_create(const atrous_model* model,
                                     const atrous_session_options* options,
                                     atrous_session** session);
void atrous_session_release(atrous_session* session);
/* Copies the input data into the session. `name` must be one of the model's inputs: an unknown
 * name is refused ("unknown input 'x' (the model's inputs: 'image')") and nothing is kept, so a
 * later call with the right name works. dtype and shape are checked by atrous_session_run. */
atrous_status* atrous_session_set_input(atrous_session* session, const char* name,
                                        atrous_dtype dtype, const int64_t* shape, int32_t rank,
                                        const void* data);
/* After a failed run the session has no outputs until the next successful one. */
atrous_status* atrous_session_run(atrous_session* session);
/* *data stays valid until the next run or the session's release. */
atrous_status* atrous_session_output(const atrous_session* session, int32_t index,
                                     atrous_tensor_info* info, const void** data);

/* Images: 8-bit, row-major, interleaved channels. */
typedef struct atrous_image {
  int32_t width;
  int32_t height;
  int32_t channels; /* 1 (gray), 3 (RGB) or 4 (RGBA) */
  uint8_t* pixels;  /* owned: free with atrous_image_release when atrous allocated it */
} atrous_image;

/* Decodes PNG, JPEG or BMP to RGB (gray is replicated, alpha dropped).
 * Images above 16384 pixels on a side are refused. */
atrous_status* atrous_image_load(const char* path, atrous_image* image);
atrous_status* atrous_image_write_png(const char* path, const atrous_image* image);
void atrous_image_release(atrous_image* image);

/* Segmentation of one RGB image with a model whose metadata says task "semantic" or
 * "foreground" (docs/FORMAT.md): the image is resized and normalized as the model's metadata
 * says, the model runs, and the result comes back at the image's own size. */
typedef struct atrous_segmentation {
  int32_t width;
  int32_t height;
  int32_t num_classes;
  int32_t* labels;    /* semantic models: width*height class ids, else NULL */
  float* probability; /* foreground models: width*height values in [0,1], else NULL */
} atrous_segmentation;

atrous_status* atrous_session_segment(atrous_session* session, const atrous_image* image,
                                      atrous_segmentation* result);
void atrous_segmentation_release(atrous_segmentation* result);
/* Name of a class from the model's "labels" metadata; *name is owned by the model. */
atrous_status* atrous_model_label(const atrous_model* model, int32_t class_id, const char** name);

/* Panoptic merger (docs/PANOPTIC.md): semantic logits or labels + center heatmap + offsets →
 * panoptic map class*label_divisor + instance id, for networks run anywhere. */
typedef enum atrous_panoptic_convention {
  ATROUS_PANOPTIC_CONVENTION_DEEPLAB2 = 0,  /* DeepLab2 post-processor + fallback merge */
  ATROUS_PANOPTIC_CONVENTION_DETECTRON2 = 1 /* detectron2 / bowenc0221 */
} atrous_panoptic_convention;

typedef struct atrous_panoptic_params {
  atrous_panoptic_convention convention;
  const int32_t* thing_classes; /* borrowed for the call */
  int32_t num_thing_classes;
  int32_t label_divisor;
  int32_t void_label; /* deeplab2: void = void_label*label_divisor; detectron2: -1 */
  float center_threshold;
  int32_t nms_kernel;
  int32_t top_k; /* <= 0: no top-k */
  int32_t stuff_area_limit;
  int32_t compute_scores; /* non-zero: per-instance scores from the logits */
  int32_t threads;        /* >= 1 */
} atrous_panoptic_params;

typedef struct atrous_panoptic_segment {
  int32_t id; /* panoptic value */
  int32_t category_id;
  int64_t area;
  int32_t bbox[4]; /* x, y, width, height */
  int32_t iscrowd;
  int32_t isthing;
  double score;
} atrous_panoptic_segment;

typedef struct atrous_panoptic_result {
  int32_t height;
  int32_t width;
  int32_t* panoptic; /* height*width */
  int32_t* instance; /* height*width: center index + 1 on thing pixels, else 0 */
  int32_t num_segments;
  atrous_panoptic_segment* segments;
  int32_t num_centers;
} atrous_panoptic_result;

/* The convention's defaults (no thing classes: set them). */
atrous_panoptic_params atrous_panoptic_params_default(atrous_panoptic_convention convention);
/* semantic: FLOAT32 logits [C,H,W] or INT32 labels [H,W]; center: float [H*W]; offset: float
 * [2*H*W] (dy plane, then dx plane). */
atrous_status* atrous_panoptic_merge(const atrous_panoptic_params* params,
                                     atrous_dtype semantic_dtype, const int64_t* semantic_shape,
                                     int32_t semantic_rank, const void* semantic,
                                     const float* center, const float* offset,
                                     atrous_panoptic_result* result);
void atrous_panoptic_result_release(atrous_panoptic_result* result);

/* The whole panoptic task on one image with a model whose metadata says task "panoptic"
 * (docs/PANOPTIC.md "atrous segment on panoptic models"): normalization and bottom/right
 * padding into the model input, the run, test-time augmentation (flip and scales, averaged as
 * DeepLab2 does, docs/PANOPTIC_DEEPLAB.md), the merger with the model's metadata parameters, and
 * the result at the image's own size (release it with atrous_panoptic_result_release). */
typedef struct atrous_panoptic_segment_options {
  atrous_panoptic_convention convention;
  int32_t flip;         /* non-zero: also run the mirrored image */
  const double* scales; /* borrowed for the call; NULL or num_scales 0: {1.0} */
  int32_t num_scales;
  int32_t threads; /* merger threads, >= 1 */
} atrous_panoptic_segment_options;

atrous_panoptic_segment_options atrous_panoptic_segment_options_default(void);
atrous_status* atrous_session_segment_panoptic(atrous_session* session, const atrous_image* image,
                                               const atrous_panoptic_segment_options* options,
                                               atrous_panoptic_result* result);

#ifdef __cplusplus
}
#endif

#endif /* ATROUS_H */
