/* Calls into the C API as a C program does, where an enum-typed argument may hold any int: the
 * C API must validate such values without loading them through its C++ enum types. */
#include "tests/c_api_from_c.h"

atrous_status* c_session_create_with_backend(const atrous_model* model, int backend,
                                             atrous_session** session) {
  atrous_session_options options = atrous_session_options_default();
  options.backend = backend;
  return atrous_session_create(model, &options, session);
}

atrous_status* c_set_input_with_dtype(atrous_session* session, const char* name, int dtype,
                                      const int64_t* shape, int32_t rank, const void* data) {
  return atrous_session_set_input(session, name, dtype, shape, rank, data);
}

atrous_status* c_merge_with_convention(int convention, int semantic_dtype) {
  static const int32_t labels[4] = {0, 1, 1, 0};
  static const float center[4] = {0.f, 1.f, 0.f, 0.f};
  static const float offset[8] = {0.f};
  const int64_t shape[2] = {2, 2};
  atrous_panoptic_params params = atrous_panoptic_params_default(convention);
  atrous_panoptic_result result;
  atrous_status* status;
  params.convention = convention;
  status =
      atrous_panoptic_merge(&params, semantic_dtype, shape, 2, labels, center, offset, &result);
  if (!status) atrous_panoptic_result_release(&result);
  return status;
}

atrous_status* c_segment_panoptic_with_convention(atrous_session* session, int convention) {
  const uint8_t pixels[3] = {0, 0, 0};
  atrous_image image = {1, 1, 3, (uint8_t*)pixels};
  atrous_panoptic_segment_options options = atrous_panoptic_segment_options_default();
  atrous_panoptic_result result;
  atrous_status* status;
  options.convention = convention;
  status = atrous_session_segment_panoptic(session, &image, &options, &result);
  if (!status) atrous_panoptic_result_release(&result);
  return status;
}
