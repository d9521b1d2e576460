"""Library entry points: ONNX file/ModelProto or TFLite file/flatbuffer → IR Model with metadata →
`.atrous` file. A TFLite model is recognised by its `.tflite` name or its "TFL3" flatbuffer
identifier; anything else is read as ONNX."""
from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Union

import onnx

from . import __version__, deeplab2_import, detectron2_import, metadata as meta, tflite_import
from .errors import ConversionError, UsageError
from .onnx_import import convert_model, load_onnx
from .writer import Attr, Model, attr_ints, attr_string, write_model


def source_description(model: onnx.ModelProto, path: Optional[str]) -> str:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    name = os.path.basename(path) if path else (model.graph.name or "model")
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    return f"{name} (ONNX opset {opset}" + (f", exported by {producer})" if producer else ")")


def is_tflite(model) -> bool:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model[4:8]) == tflite_import.IDENTIFIER
    return isinstance(model, str) and tflite_import.is_tflite_file(model)


def _convert_tflite(model: Union[str, bytes], input_shapes) -> tuple:
    path = model if isinstance(model, str) else None
    buffer = tflite_import.load_tflite(model) if path else bytes(model)
    ir = tflite_import.convert_model(buffer, input_shapes, path)
    implied = {"input_layout": attr_string("nhwc")}
    images = [ir.tensors[i].shape for i in ir.inputs if len(ir.tensors[i].shape) == 4]
    if len(images) == 1:  # the flatbuffer fixes the image size: [1, H, W, C]
        implied["input_size"] = attr_ints(images[0][1:3])
    return ir, tflite_import.source_description(buffer, path), implied


def convert_to_model(model: Union[str, bytes, onnx.ModelProto],
                     input_shapes: Optional[Dict[str, Sequence[int]]] = None,
                     fold_batch_norm: bool = True,
                     metadata: Optional[Dict[str, Attr]] = None,
                     deeplab2_config: Optional[str] = None,
                     detectron2_config: Optional[str] = None) -> Model:
    """Converts and attaches metadata (`producer`, `source` and `input_layout` are always
    recorded; for TFLite also `input_size`, from the model's image input). `metadata` entries
    replace the implied ones. With `deeplab2_config`, `model` is a DeepLab2 checkpoint prefix
    and the config implies the panoptic metadata (deeplab2_import.py); with
    `detectron2_config`, a detectron2 checkpoint (.pkl / .pth) and its config
    (detectron2_import.py)."""
    if deeplab2_config is not None and detectron2_config is not None:
        raise UsageError("--deeplab2-config and --detectron2-config exclude each other")
    if deeplab2_config is not None:
        if input_shapes:
            raise UsageError("--input-shape does not apply to a DeepLab2 checkpoint (the config's "
                             "evaluation crop sets the input size)")
        ir, source, implied = deeplab2_import.convert_checkpoint(model, deeplab2_config,
                                                                   fold_batch_norm)
    elif detectron2_config is not None:
        size = (metadata or {}).get("input_size")
        ir, source, implied = detectron2_import.convert_checkpoint(
            model, detectron2_config, size.value if size is not None else None, fold_batch_norm)
    elif is_tflite(model):
        ir, source, implied = _convert_tflite(model, input_shapes)
    else:
        path = model if isinstance(model, str) else None
        proto = load_onnx(model) if isinstance(model, str) else model
        if isinstance(proto, (bytes, bytearray, memoryview)):
            try:
                proto = onnx.load_model_from_string(bytes(proto))
            except Exception as error:  # protobuf's DecodeError and friends
                raise ConversionError(f"the bytes are neither a TFLite flatbuffer nor an ONNX model: "
                                      f"{error}") from None
        ir = convert_model(proto, input_shapes, fold_batch_norm)
        source, implied = source_description(proto, path), {"input_layout": attr_string("nchw")}
    entries = {"producer": attr_string(f"atrous-convert {__version__}"),
               "source": attr_string(source)}
    entries.update(implied)
    # The entries come from the caller (the command line's flags): a bad one is a usage error.
    for key, attr in (metadata or {}).items():
        if key == "producer":
            raise UsageError("metadata 'producer' is set by the converter")
        try:
            entries[key] = meta.check_known(key, attr)
        except UsageError:
            raise
        except ConversionError as error:
            raise UsageError(str(error)) from None
    ir.metadata = entries
    return ir


def convert(model: Union[str, bytes, onnx.ModelProto], output_path: str,
            input_shapes: Optional[Dict[str, Sequence[int]]] = None, fold_batch_norm: bool = True,
            metadata: Optional[Dict[str, Attr]] = None,
            deeplab2_config: Optional[str] = None,
            detectron2_config: Optional[str] = None) -> Model:
    """Converts `model` and writes `output_path` atomically; returns the written IR."""
    ir = convert_to_model(model, input_shapes, fold_batch_norm, metadata, deeplab2_config,
                          detectron2_config)
    write_model(ir, output_path)
    return ir
