/* Helpers compiled as C (tests/c_api_from_c.c) for tests/test_c_api.cpp. */
#ifndef ATROUS_TESTS_C_API_FROM_C_H
#define ATROUS_TESTS_C_API_FROM_C_H

#include "atrous.h"

#ifdef __cplusplus
extern "C" {
#endif

atrous_status* c_session_create_with_backend(const atrous_model* model, int backend,
                                             atrous_session** session);
atrous_status* c_set_input_with_dtype(atrous_session* session, const char* name, int dtype,
                                      const int64_t* shape, int32_t rank, const void* data);
/* A 2x2 merge with the given convention and semantic dtype (labels are int32). */
atrous_status* c_merge_with_convention(int convention, int semantic_dtype);
atrous_status* c_segment_panoptic_with_convention(atrous_session* session, int convention);

#ifdef __cplusplus
}
#endif

#endif
