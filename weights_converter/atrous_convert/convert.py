"""Library entry points: ONNX file/ModelProto → IR Model with metadata → `.atrous` file."""
from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Union

import onnx

from . import __version__, metadata as meta
from .errors import ConversionError
from .onnx_import import convert_model, load_onnx
from .writer import Attr, Model, attr_string, write_model


def source_description(model: onnx.ModelProto, path: Optional[str]) -> str:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    name = os.path.basename(path) if path else (model.graph.name or "model")
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    return f"{name} (ONNX opset {opset}" + (f", exported by {producer})" if producer else ")")


def convert_to_model(model: Union[str, onnx.ModelProto],
                     input_shapes: Optional[Dict[str, Sequence[int]]] = None,
                     fold_batch_norm: bool = True,
                     metadata: Optional[Dict[str, Attr]] = None) -> Model:
    """Converts and attaches metadata (`producer` and `source` are always recorded)."""
    path = model if isinstance(model, str) else None
    proto = load_onnx(model) if isinstance(model, str) else model
    ir = convert_model(proto, input_shapes, fold_batch_norm)
    entries = {"producer": attr_string(f"atrous-convert {__version__}"),
               "source": attr_string(source_description(proto, path))}
    for key, attr in (metadata or {}).items():
        if key == "producer":
            raise ConversionError("metadata 'producer' is set by the converter")
        entries[key] = meta.check_known(key, attr)
    ir.metadata = entries
    return ir


def convert(model: Union[str, onnx.ModelProto], output_path: str,
            input_shapes: Optional[Dict[str, Sequence[int]]] = None, fold_batch_norm: bool = True,
            metadata: Optional[Dict[str, Attr]] = None) -> Model:
    """Converts `model` and writes `output_path` atomically; returns the written IR."""
    ir = convert_to_model(model, input_shapes, fold_batch_norm, metadata)
    write_model(ir, output_path)
    return ir
