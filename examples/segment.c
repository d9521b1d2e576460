/* Segments an image with the atrous C API: a plain C program linked against the installed
 * library (find_package(atrous) or pkg-config atrous).
 *
 *   segment MODEL.atrous IMAGE LABELS.png
 *
 * Prints the classes present with their share of the image and writes the label map as an
 * 8-bit PNG (semantic models) or the foreground probability as a grayscale PNG. */
#include <atrous.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(atrous_status* status) {
  fprintf(stderr, "segment: error: %s\n", atrous_status_message(status));
  atrous_status_release(status);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL.atrous IMAGE OUTPUT.png\n", argv[0]);
    return 2;
  }
  atrous_model* model = NULL;
  atrous_status* status = atrous_model_load_file(argv[1], &model);
  if (status) return fail(status);

  atrous_session_options options = atrous_session_options_default();
  atrous_session* session = NULL;
  status = atrous_session_create(model, &options, &session);
  if (status) return fail(status);

  atrous_image image;
  status = atrous_image_load(argv[2], &image);
  if (status) return fail(status);

  atrous_segmentation result;
  status = atrous_session_segment(session, &image, &result);
  if (status) return fail(status);

  size_t pixels = (size_t)result.width * (size_t)result.height;
  atrous_image out = {result.width, result.height, 1, (uint8_t*)malloc(pixels)};
  if (!out.pixels) return 1;
  if (result.labels) {
    long* counts = (long*)calloc((size_t)result.num_classes, sizeof(long));
    for (size_t i = 0; i < pixels; ++i) {
      counts[result.labels[i]]++;
      out.pixels[i] = (uint8_t)result.labels[i];
    }
    for (int32_t c = 0; c < result.num_classes; ++c) {
      if (!counts[c]) continue;
      const char* name = "?";
      atrous_status* no_label = atrous_model_label(model, c, &name);
      atrous_status_release(no_label);
      printf("class %d (%s): %.1f%%\n", c, name, 100.0 * (double)counts[c] / (double)pixels);
    }
    free(counts);
  } else {
    double foreground = 0;
    for (size_t i = 0; i < pixels; ++i) {
      out.pixels[i] = (uint8_t)(result.probability[i] * 255.0f + 0.5f);
      foreground += result.probability[i] >= 0.5f;
    }
    printf("foreground: %.1f%%\n", 100.0 * foreground / (double)pixels);
  }
  status = atrous_image_write_png(argv[3], &out);
  if (status) return fail(status);
  printf("wrote %s (%dx%d)\n", argv[3], result.width, result.height);

  free(out.pixels);
  atrous_segmentation_release(&result);
  atrous_image_release(&image);
  atrous_session_release(session);
  atrous_model_release(model);
  return 0;
}
