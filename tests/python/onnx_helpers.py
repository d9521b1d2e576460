"""Building tiny ONNX graphs, running them in ONNX Runtime, and checking a conversion end to end."""
import os
from typing import Dict, List, Optional

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from atrous_cli import relative_l2
from atrous_convert import convert

TOLERANCE = 1e-5  # relative L2: float32 rounding-order differences on these sizes stay below 1e-6


def make_model(nodes, inputs: Dict[str, tuple], outputs: List[str], initializers=None,
               opset: int = 13, output_types: Optional[Dict[str, int]] = None) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, (output_types or {}).get(name, TensorProto.FLOAT), None)
         for name in outputs],
        [numpy_helper.from_array(np.asarray(array), name) for name, array in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="atrous-tests")
    model.ir_version = 7 if opset < 15 else 8
    return model


def random_inputs(inputs: Dict[str, tuple], seed: int = 0, scale: float = 1.0) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * scale).astype(np.float32) for name, shape in inputs.items()}


def run_onnxruntime(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def assert_outputs_match(actual: Dict[str, np.ndarray], expected: Dict[str, np.ndarray],
                         tolerance: float = TOLERANCE) -> None:
    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
        if np.issubdtype(want.dtype, np.integer):
            assert got.dtype == np.int32, f"{name}: dtype {got.dtype}"
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            assert got.dtype == np.float32, f"{name}: dtype {got.dtype}"
            error = relative_l2(got, want)
            assert error <= tolerance, f"{name}: relative L2 error {error:.3g} > {tolerance}"


def check_against_onnxruntime(model: onnx.ModelProto, atrous, workdir: str,
                              feeds: Optional[Dict[str, np.ndarray]] = None, scale: float = 1.0,
                              **convert_options):
    """Converts `model`, runs it with `atrous run`, compares every output with ONNX Runtime."""
    if feeds is None:
        shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input
                  if i.name not in {t.name for t in model.graph.initializer}}
        feeds = random_inputs(shapes, scale=scale)
    path = os.path.join(workdir, "model.atrous")
    ir = convert(model, path, **convert_options)
    expected = run_onnxruntime(model, feeds)
    actual = atrous(path, feeds)
    assert_outputs_match(actual, expected)
    return ir
