#include "ops/op_helpers.h"

#include <algorithm>
#include <cstdint>

namespace atrous {

Status op_error(const char* op, const std::string& message) {
  return Status::error(std::string(op) + ": " + message);
}

std::string ints_to_string(const std::vector<int64_t>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? "," : "") + std::to_string(values[i]);
  return text + "]";
}

// ---- AttributeReader ---------------------------------------------------------------------------

void AttributeReader::note(const std::string& message) {
  if (status_.ok()) status_ = op_error(op_, message);
}

void AttributeReader::check_type(const char* name, bool type_ok, const char* expected) {
  if (type_ok) return;
  const Attribute* attribute = attributes_.find(name);
  note(std::string("attribute '") + name + "' must be " + expected + ", got " +
       (attribute ? attribute_type_name(attribute->type) : "nothing"));
}

int64_t AttributeReader::get_int(const char* name, int64_t fallback) {
  bool ok = true;
  int64_t value = attributes_.get_int(name, fallback, &ok);
  check_type(name, ok, "int");
  return value;
}

double AttributeReader::get_float(const char* name, double fallback) {
  bool ok = true;
  double value = attributes_.get_float(name, fallback, &ok);
  check_type(name, ok, "float");
  return value;
}

std::string AttributeReader::get_string(const char* name, const std::string& fallback) {
  bool ok = true;
  std::string value = attributes_.get_string(name, fallback, &ok);
  check_type(name, ok, "string");
  return value;
}

std::vector<int64_t> AttributeReader::get_ints(const char* name,
                                               const std::vector<int64_t>& fallback) {
  bool ok = true;
  std::vector<int64_t> value = attributes_.get_ints(name, fallback, &ok);
  check_type(name, ok, "ints");
  return value;
}

std::vector<double> AttributeReader::get_floats(const char* name,
                                                const std::vector<double>& fallback) {
  bool ok = true;
  std::vector<double> value = attributes_.get_floats(name, fallback, &ok);
  check_type(name, ok, "floats");
  return value;
}

int64_t AttributeReader::require_int(const char* name) {
  if (!attributes_.has(name)) note(std::string("attribute '") + name + "' is required");
  return get_int(name, 0);
}

std::vector<int64_t> AttributeReader::require_ints(const char* name) {
  if (!attributes_.has(name)) note(std::string("attribute '") + name + "' is required");
  return get_ints(name, {});
}

// ---- checks ------------------------------------------------------------------------------------

Status check_ints(const char* op, const char* name, const std::vector<int64_t>& values,
                  int64_t count, int64_t min, int64_t max) {
  if (count >= 0 && int64_t(values.size()) != count)
    return op_error(op, std::string(name) + " must have " + std::to_string(count) +
                            " values, got " + ints_to_string(values));
  for (int64_t value : values) {
    if (value < min)
      return op_error(op, std::string(name) + " must be >= " + std::to_string(min) + ", got " +
                              ints_to_string(values));
    if (value > max)
      return op_error(op, std::string(name) + " must be <= " + std::to_string(max) + ", got " +
                              ints_to_string(values));
  }
  return Status::success();
}

Status check_flag(const char* op, const char* name, int64_t value) {
  if (value == 0 || value == 1) return Status::success();
  return op_error(op, std::string(name) + " must be 0 or 1, got " + std::to_string(value));
}

Status check_dtype(const char* op, const char* what, const TensorDesc& desc, DType dtype) {
  if (desc.dtype == dtype) return Status::success();
  return op_error(
      op, std::string(what) + " must be " + dtype_name(dtype) + ", got " + dtype_name(desc.dtype));
}

Status check_rank(const char* op, const char* what, const TensorDesc& desc, size_t rank) {
  if (desc.shape.size() == rank) return Status::success();
  return op_error(op, std::string(what) + " must have rank " + std::to_string(rank) +
                          ", got shape " + shape_to_string(desc.shape));
}

Status check_output_shape(const char* op, const Shape& shape) {
  int64_t count = 0;
  if (shape.size() > size_t(kMaxRank))
    return op_error(
        op, "output rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(kMaxRank));
  if (!shape_element_count(shape, &count))
    return op_error(op, "output shape " + shape_to_string(shape) + " is invalid or too large");
  return Status::success();
}

Status normalize_axis(const char* op, const char* name, int64_t axis, int64_t rank, bool allow_end,
                      int64_t* normalized) {
  int64_t high = allow_end ? rank : rank - 1;
  if (axis < -rank || axis > high)
    return op_error(op, std::string(name) + " " + std::to_string(axis) + " is out of range [" +
                            std::to_string(-rank) + ", " + std::to_string(high) + "]");
  *normalized = axis < 0 ? axis + rank : axis;
  return Status::success();
}

// ---- broadcasting ------------------------------------------------------------------------------

std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

Status broadcast_shapes(const char* op, const Shape& a, const Shape& b, Shape* result) {
  size_t rank = std::max(a.size(), b.size());
  Shape shape(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return op_error(
          op, "shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
    shape[i] = da == 1 ? db : da;
  }
  *result = shape;
  return check_output_shape(op, shape);
}

std::vector<int64_t> broadcast_strides(const Shape& input, const Shape& output) {
  std::vector<int64_t> dense = row_major_strides(input);
  std::vector<int64_t> strides(output.size(), 0);
  size_t offset = output.size() - input.size();
  for (size_t i = 0; i < input.size(); ++i) strides[offset + i] = input[i] == 1 ? 0 : dense[i];
  return strides;
}

ViewDescs::ViewDescs(const std::vector<const TensorView*>& views)
    : descs_(views.size()), pointers_(views.size(), nullptr) {
  for (size_t i = 0; i < views.size(); ++i) {
    if (!views[i]) continue;
    descs_[i] = TensorDesc{views[i]->dtype, views[i]->shape};
    pointers_[i] = &descs_[i];
  }
}

// ---- window geometry ---------------------------------------------------------------------------

namespace {

Status parse_auto_pad(const char* op, const std::string& text, AutoPad* auto_pad) {
  if (text == "explicit") {
    *auto_pad = AutoPad::auto_pad_explicit;
  } else if (text == "valid") {
    *auto_pad = AutoPad::auto_pad_valid;
  } else if (text == "same_upper") {
    *auto_pad = AutoPad::auto_pad_same_upper;
  } else if (text == "same_lower") {
    *auto_pad = AutoPad::auto_pad_same_lower;
  } else {
    return op_error(
        op, "auto_pad must be explicit, valid, same_upper or same_lower, got '" + text + "'");
  }
  return Status::success();
}

}  // namespace

Status resolve_window_2d(AttributeReader* reader, const int64_t input[2], const int64_t kernel[2],
                         const WindowOptions& options, WindowAxis axes[2]) {
  const char* op = reader->op();
  std::vector<int64_t> strides = reader->get_ints("strides", {1, 1});
  std::vector<int64_t> dilations =
      options.dilations ? reader->get_ints("dilations", {1, 1}) : std::vector<int64_t>{1, 1};
  std::vector<int64_t> pads = reader->get_ints("pads", {0, 0, 0, 0});
  std::string auto_pad_text = reader->get_string("auto_pad", "explicit");
  int64_t ceil_mode = options.ceil_mode ? reader->get_int("ceil_mode", 0) : 0;
  ATROUS_RETURN_IF_ERROR(reader->status());
  ATROUS_RETURN_IF_ERROR(check_ints(op, "strides", strides, 2, 1, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(check_ints(op, "dilations", dilations, 2, 1, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(check_ints(op, "pads", pads, 4, 0, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(check_flag(op, "ceil_mode", ceil_mode));
  AutoPad auto_pad = AutoPad::auto_pad_explicit;
  ATROUS_RETURN_IF_ERROR(parse_auto_pad(op, auto_pad_text, &auto_pad));

  static const char* const kAxisNames[2] = {"height", "width"};
  for (int i = 0; i < 2; ++i) {
    WindowAxis& axis = axes[i];
    axis.input = input[i];
    axis.kernel = kernel[i];
    axis.stride = strides[size_t(i)];
    axis.dilation = dilations[size_t(i)];
    // kernel <= kMaxTensorElements and dilation <= 2^31: the span can exceed int64, so bound it.
    int64_t span = 0;
    if (!checked_mul(axis.dilation, axis.kernel - 1, &span) || span > (int64_t(1) << 40))
      return op_error(op, std::string("dilated kernel ") + kAxisNames[i] + " is too large");
    int64_t extent = span + 1;
    if (auto_pad == AutoPad::auto_pad_same_upper || auto_pad == AutoPad::auto_pad_same_lower) {
      // TF 'SAME': the output covers ceil(input / stride) positions whatever the kernel; the
      // padding that makes this possible is split with the odd cell at the end (same_upper) or
      // at the start (same_lower). ceil_mode has no effect here.
      axis.output = (axis.input + axis.stride - 1) / axis.stride;
      int64_t total = std::max<int64_t>((axis.output - 1) * axis.stride + extent - axis.input, 0);
      axis.pad_begin = auto_pad == AutoPad::auto_pad_same_upper ? total / 2 : (total + 1) / 2;
      axis.pad_end = total - axis.pad_begin;
    } else {
      axis.pad_begin = auto_pad == AutoPad::auto_pad_explicit ? pads[size_t(i)] : 0;
      axis.pad_end = auto_pad == AutoPad::auto_pad_explicit ? pads[size_t(i) + 2] : 0;
      int64_t span_in = axis.input + axis.pad_begin + axis.pad_end - extent;
      if (span_in < 0) {
        axis.output = 0;
      } else if (ceil_mode) {
        axis.output = (span_in + axis.stride - 1) / axis.stride + 1;
        // The last window must start inside the input or the left padding (ONNX, PyTorch).
        if ((axis.output - 1) * axis.stride >= axis.input + axis.pad_begin) --axis.output;
      } else {
        axis.output = span_in / axis.stride + 1;
      }
    }
    if (axis.output < 1)
      return op_error(op, std::string("output ") + kAxisNames[i] + " would be < 1 (input " +
                              std::to_string(axis.input) + ", pads " +
                              std::to_string(axis.pad_begin) + "+" + std::to_string(axis.pad_end) +
                              ", dilated kernel " + std::to_string(extent) + ")");
  }
  return Status::success();
}

}  // namespace atrous
