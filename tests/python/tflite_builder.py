"""Writes small TFLite flatbuffers for the converter tests, with the `flatbuffers` builder and the
schema bindings of the `tflite` package (no TensorFlow needed).

    m = TFLiteModel()
    x = m.input("x", [1, 9, 11, 3])
    w = m.constant("w", np.ones((4, 3, 3, 3), np.float32))
    y = m.tensor("y", [1, 5, 6, 4])
    m.op("CONV_2D", [x, w, -1], [y], options("Conv2DOptions", Padding=0, StrideH=2, StrideW=2))
    data = m.finish([y])          # bytes: a model LiteRT and atrous-convert both read
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import flatbuffers
import numpy as np
import tflite

TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2,
         np.dtype(np.uint8): 3, np.dtype(np.int64): 4, np.dtype(np.int8): 9}


def options(name: str, **fields):
    """(BuiltinOptions type code, builder callback) for a builtin options table, e.g.
    options("Conv2DOptions", Padding=0, StrideW=1, StrideH=1, FusedActivationFunction=3)."""
    code = getattr(tflite.BuiltinOptions, name)

    def build(builder):  # the generated modules' functions are exported by the package
        getattr(tflite, f"{name}Start")(builder)
        for field, value in fields.items():
            getattr(tflite, f"{name}Add{field}")(builder, value)
        return getattr(tflite, f"{name}End")(builder)
    return code, build


class TFLiteModel:
    def __init__(self, description: str = "atrous test model"):
        self.description = description
        self.tensors: List[dict] = []
        self.buffers: List[bytes] = [b""]  # buffer 0 is the empty sentinel
        self.operators: List[dict] = []
        self.opcodes: Dict[Tuple[int, Optional[str]], int] = {}
        self.inputs: List[int] = []

    def _tensor(self, name, shape, dtype, buffer=0, quantization=None) -> int:
        self.tensors.append({"name": name, "shape": [int(d) for d in shape], "type": TYPES[np.dtype(dtype)],
                             "buffer": buffer, "quantization": quantization})
        return len(self.tensors) - 1

    def input(self, name: str, shape: Sequence[int], dtype=np.float32, quantization=None) -> int:
        index = self._tensor(name, shape, dtype, quantization=quantization)
        self.inputs.append(index)
        return index

    def tensor(self, name: str, shape: Sequence[int], dtype=np.float32, quantization=None) -> int:
        return self._tensor(name, shape, dtype, quantization=quantization)

    def constant(self, name: str, array: np.ndarray, quantization=None) -> int:
        array = np.ascontiguousarray(array)
        self.buffers.append(array.astype(array.dtype.newbyteorder("<")).tobytes())
        return self._tensor(name, array.shape, array.dtype, len(self.buffers) - 1, quantization)

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int], builtin_options=None,
           custom_options: Optional[bytes] = None) -> None:
        """`name`: a BuiltinOperator name, or "custom:NAME" for a custom op."""
        if name.startswith("custom:"):
            key = (32, name[len("custom:"):])
        else:
            key = (getattr(tflite.BuiltinOperator, name), None)
        if key not in self.opcodes:
            self.opcodes[key] = len(self.opcodes)
        self.operators.append({"opcode": self.opcodes[key], "inputs": list(inputs), "outputs": list(outputs),
                               "options": builtin_options, "custom": custom_options})

    # -- serialization ----------------------------------------------------------------------------

    @staticmethod
    def _int_vector(builder, values, start):
        start(builder, len(values))
        for v in reversed(values):
            builder.PrependInt32(int(v))
        return builder.EndVector()

    @staticmethod
    def _bytes(builder, data: bytes, alignment: int = 16):
        builder.StartVector(1, len(data), alignment)
        builder.head -= len(data)
        builder.Bytes[builder.head:builder.head + len(data)] = data
        return builder.EndVector()

    def finish(self, outputs: Sequence[int]) -> bytes:
        b = flatbuffers.Builder(1024)
        buffers = []
        for data in self.buffers:
            vector = self._bytes(b, data) if data else None
            tflite.BufferStart(b)
            if vector is not None:
                tflite.BufferAddData(b, vector)
            buffers.append(tflite.BufferEnd(b))
        tensors = []
        for t in self.tensors:
            name = b.CreateString(t["name"])
            shape = self._int_vector(b, t["shape"], tflite.TensorStartShapeVector)
            quant = None
            if t["quantization"] is not None:
                scale, zero = t["quantization"]
                tflite.QuantizationParametersStartScaleVector(b, 1)
                b.PrependFloat32(scale)
                scales = b.EndVector()
                tflite.QuantizationParametersStartZeroPointVector(b, 1)
                b.PrependInt64(zero)
                zeros = b.EndVector()
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, scales)
                tflite.QuantizationParametersAddZeroPoint(b, zeros)
                quant = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape)
            tflite.TensorAddType(b, t["type"])
            tflite.TensorAddBuffer(b, t["buffer"])
            tflite.TensorAddName(b, name)
            if quant is not None:
                tflite.TensorAddQuantization(b, quant)
            tensors.append(tflite.TensorEnd(b))
        operators = []
        for op in self.operators:
            ins = self._int_vector(b, op["inputs"], tflite.OperatorStartInputsVector)
            outs = self._int_vector(b, op["outputs"], tflite.OperatorStartOutputsVector)
            opts = op["options"][1](b) if op["options"] is not None else None
            custom = self._bytes(b, op["custom"], 1) if op["custom"] is not None else None
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, op["opcode"])
            tflite.OperatorAddInputs(b, ins)
            tflite.OperatorAddOutputs(b, outs)
            if opts is not None:
                tflite.OperatorAddBuiltinOptionsType(b, op["options"][0])
                tflite.OperatorAddBuiltinOptions(b, opts)
            if custom is not None:
                tflite.OperatorAddCustomOptions(b, custom)
            operators.append(tflite.OperatorEnd(b))
        opcodes = []
        for (code, custom), _ in sorted(self.opcodes.items(), key=lambda item: item[1]):
            custom_name = b.CreateString(custom) if custom is not None else None
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, 1)
            if custom_name is not None:
                tflite.OperatorCodeAddCustomCode(b, custom_name)
            opcodes.append(tflite.OperatorCodeEnd(b))

        def table_vector(start, items):
            start(b, len(items))
            for item in reversed(items):
                b.PrependUOffsetTRelative(item)
            return b.EndVector()

        tensor_vector = table_vector(tflite.SubGraphStartTensorsVector, tensors)
        operator_vector = table_vector(tflite.SubGraphStartOperatorsVector, operators)
        input_vector = self._int_vector(b, self.inputs, tflite.SubGraphStartInputsVector)
        output_vector = self._int_vector(b, list(outputs), tflite.SubGraphStartOutputsVector)
        graph_name = b.CreateString("main")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensor_vector)
        tflite.SubGraphAddOperators(b, operator_vector)
        tflite.SubGraphAddInputs(b, input_vector)
        tflite.SubGraphAddOutputs(b, output_vector)
        tflite.SubGraphAddName(b, graph_name)
        graph = tflite.SubGraphEnd(b)
        graphs = table_vector(tflite.ModelStartSubgraphsVector, [graph])
        codes = table_vector(tflite.ModelStartOperatorCodesVector, opcodes)
        buffer_vector = table_vector(tflite.ModelStartBuffersVector, buffers)
        description = b.CreateString(self.description)
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, codes)
        tflite.ModelAddSubgraphs(b, graphs)
        tflite.ModelAddDescription(b, description)
        tflite.ModelAddBuffers(b, buffer_vector)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def single_op_model(op: str, input_shapes: Sequence[Sequence[int]], output_shape: Sequence[int],
                    constants: Sequence[Tuple[int, np.ndarray]] = (), builtin_options=None,
                    custom_options: Optional[bytes] = None, output_name: str = "y") -> bytes:
    """A model with one operator. Its inputs are run-time inputs x0, x1, ... except the positions
    listed in `constants` ((position, array), -1 arrays meaning an absent optional input)."""
    m = TFLiteModel()
    fixed = dict(constants)
    count = len(input_shapes) + len(fixed)
    inputs, k = [], 0
    for position in range(count):
        if position in fixed:
            array = fixed[position]
            inputs.append(-1 if array is None else m.constant(f"c{position}", array))
        else:
            inputs.append(m.input(f"x{k}", input_shapes[k]))
            k += 1
    y = m.tensor(output_name, output_shape)
    m.op(op, inputs, [y], builtin_options, custom_options)
    return m.finish([y])
