"""ONNX's own backend test cases, run through atrous-convert and `atrous run`.

The `onnx` package carries them: the node tests are built in memory by
`onnx.backend.test.case.node.collect_testcases()` (what `python -m onnx.backend.test.cmd_tools
generate-data` writes to disk, without the disk), and the model tests `simple`,
`pytorch-operator`, `pytorch-converted` and `light` ship under `onnx/backend/test/data/`.

A case is *claimed* when every node of its graph is one the converter maps (onnx_ops.HANDLERS),
folds on constants, or reads from static shapes, and at least one is a mapped op. Each claimed case
is converted, run on a backend and compared with the stored outputs the way ONNX's backend runner
does (onnx/backend/test/runner: same shape, np.testing.assert_allclose with the case's rtol and
atol, 1e-3 and 1e-7 for every case the package carries). The outcome is one of
  passed       every output matched on that backend;
  failed       the run errored or an output differed (a defect in an op atrous claims);
  unsupported  the converter refused the model with a ConversionError; its message is the reason;
  differs      a listed case (KNOWN_DIFFERENCES) where the stored outputs follow ONNX's Python
               reference against ONNX Runtime, and atrous follows ONNX Runtime.
ONNX's node tests pass an op's parameters (Clip bounds, Resize scales, Slice starts, Reshape
shape, axes...) as graph inputs; atrous-convert requires them constant (the IR's shapes are
static). When the only refusal is such an input, the case is converted again with that input
turned into an initializer holding the test's own value, and the outcome notes it in `constants`:
the op's semantics are still checked against the stored outputs.
The IR has no bool: bool tensors are uint8 (docs/OPS.md), so a bool input is fed as uint8 and a
bool output is compared as `!= 0`. Integer outputs compare by value when the IR's integer type
is narrower than ONNX's (argmax is int32 where ONNX says int64). No other dtype difference passes.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import re
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

from atrous_cli import AtrousError, run_atrous
from atrous_convert import convert
from atrous_convert.errors import ConversionError
from atrous_convert.folding import EVALUATORS
from atrous_convert.onnx_ops import HANDLERS
from atrous_convert.reader import read_model

KINDS = ("node", "simple", "pytorch-operator", "pytorch-converted", "light")
BACKENDS = ("reference", "cpu")
DATA_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


# Cases whose stored outputs follow ONNX's Python reference where ONNX Runtime (and PyTorch)
# compute something else and atrous follows ONNX Runtime. Reported as `differs`, never as passed.
KNOWN_DIFFERENCES = {
    "node/test_resize_downsample_scales_linear_align_corners":
        "align_corners with scales: ONNX's reference divides by in·scale − 1 (2.4 − 1), ONNX Runtime "
        "by the integer output size − 1; atrous gives ONNX Runtime's [1, 4], the case stores [1, 3.142857]",
    "node/test_resize_downsample_scales_cubic_align_corners":
        "align_corners with scales, as above (cubic): atrous equals ONNX Runtime's "
        "[1, 2.5, 4, 7, ...], the case stores [1, 2.395, 3.790, 6.581, ...]",
}


@dataclasses.dataclass
class BackendCase:
    name: str
    kind: str
    load: Callable[[], Tuple[onnx.ModelProto, List[Tuple[list, list]]]]  # model, [(inputs, outputs)]
    rtol: float = 1e-3
    atol: float = 1e-7


@dataclasses.dataclass
class Outcome:
    status: str  # passed | failed | unsupported
    detail: str = ""
    constants: Tuple[str, ...] = ()  # graph inputs made initializers (see the module comment)


def operators(model: onnx.ModelProto) -> List[str]:
    return sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                   for n in model.graph.node})


def is_claimed(ops: Sequence[str]) -> bool:
    known = set(HANDLERS) | set(EVALUATORS) | {"Shape", "Size"}
    return bool(ops) and set(ops) <= known and any(op in HANDLERS for op in ops)


def _read_tensor(path: str) -> np.ndarray:
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def _load_directory(case_dir: str):
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    data_sets = []
    for data_dir in sorted(glob.glob(os.path.join(case_dir, "test_data_set_*"))):
        count = lambda prefix: len(glob.glob(os.path.join(data_dir, f"{prefix}_*.pb")))  # noqa: E731
        inputs = [_read_tensor(os.path.join(data_dir, f"input_{i}.pb")) for i in range(count("input"))]
        outputs = [_read_tensor(os.path.join(data_dir, f"output_{i}.pb")) for i in range(count("output"))]
        data_sets.append((inputs, outputs))
    return model, data_sets


def _load_light(model_path: str):
    """The runner's `light` convention: each float input is arange(n)/n in its shape (dynamic dims
    as 1), the outputs are stored beside the model as <model>_output_<i>.pb."""
    model = onnx.load(model_path)
    initializers = {t.name for t in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in value.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        inputs.append((np.arange(n).reshape(shape) / n).astype(np.float32))
    prefix = os.path.splitext(model_path)[0]
    outputs = [_read_tensor(f"{prefix}_output_{i}.pb") for i in range(len(model.graph.output))]
    return model, [(inputs, outputs)]


def collect(kinds: Sequence[str] = KINDS) -> List[BackendCase]:
    """Every case of the given kinds, sorted by (kind, name)."""
    cases = []
    if "node" in kinds:
        from onnx.backend.test.case.node import collect_testcases
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the case scripts overflow casts on purpose
            for test in collect_testcases():
                cases.append(BackendCase(test.name, "node", (lambda t=test: (t.model, t.data_sets)),
                                         test.rtol, test.atol))
    for kind in kinds:
        if kind in ("node", "light"):
            continue
        for case_dir in sorted(glob.glob(os.path.join(DATA_DIR, kind, "*", "model.onnx"))):
            case_dir = os.path.dirname(case_dir)
            cases.append(BackendCase(os.path.basename(case_dir), kind,
                                     (lambda d=case_dir: _load_directory(d))))
    if "light" in kinds:
        for path in sorted(glob.glob(os.path.join(DATA_DIR, "light", "light_*.onnx"))):
            name = "test_" + os.path.splitext(os.path.basename(path))[0][len("light_"):]
            cases.append(BackendCase(name, "light", (lambda p=path: _load_light(p))))
    return sorted(cases, key=lambda c: (KINDS.index(c.kind), c.name))


def sample(cases: Sequence[BackendCase], fraction: float) -> List[BackendCase]:
    """A fixed subset: a case is in when the hash of its name falls below `fraction`, so the
    choice does not change when cases are added or removed."""
    def key(case):
        return int.from_bytes(hashlib.sha256(f"{case.kind}/{case.name}".encode()).digest()[:8], "big")
    return [c for c in cases if key(c) < fraction * 2 ** 64]


def _as_feed(array, dtype: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.bool_ and dtype == "uint8":
        return array.astype(np.uint8)
    return array


def compare(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, name: str) -> Optional[str]:
    """None when `actual` matches `expected` as ONNX's runner requires, else what differs."""
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        return f"{name}: shape {list(actual.shape)} != expected {list(expected.shape)}"
    if expected.dtype == np.bool_:
        if actual.dtype != np.uint8:
            return f"{name}: dtype {actual.dtype} for a bool output (uint8 expected)"
        actual = actual != 0
    elif expected.dtype.kind in "iu" and actual.dtype.kind in "iu" and actual.dtype != expected.dtype:
        if actual.dtype.itemsize > expected.dtype.itemsize:
            return f"{name}: dtype {actual.dtype} != expected {expected.dtype}"
        actual = actual.astype(expected.dtype)
    elif actual.dtype != expected.dtype:
        return f"{name}: dtype {actual.dtype} != expected {expected.dtype}"
    try:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    except AssertionError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return f"{name}: " + "; ".join(lines[1:4])
    return None


_RUNTIME_PARAMETER = re.compile(r"input \d+ \([^)]*'(?P<name>[^']+)'\) must be a constant")


def _with_constant_inputs(model: onnx.ModelProto, data_sets, names: Sequence[str]):
    """The model with graph inputs `names` as initializers of the first data set's values, and
    the data sets without those inputs (None when the data sets disagree on a value)."""
    graph_inputs = [i.name for i in model.graph.input
                    if i.name not in {t.name for t in model.graph.initializer}]
    positions = [graph_inputs.index(n) for n in names]
    for inputs, _ in data_sets[1:]:
        if any(not np.array_equal(inputs[p], data_sets[0][0][p]) for p in positions):
            return None, None
    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    for name, p in zip(names, positions):
        frozen.graph.initializer.append(numpy_helper.from_array(np.asarray(data_sets[0][0][p]), name))
    kept = [k for k in range(len(graph_inputs)) if k not in positions]
    inputs_proto = [i for i in frozen.graph.input if i.name not in names]
    del frozen.graph.input[:]
    frozen.graph.input.extend(inputs_proto)
    return frozen, [([inputs[k] for k in kept], outputs) for inputs, outputs in data_sets]


def run_case(case: BackendCase, binary: str, work_dir: str,
             backends: Sequence[str] = BACKENDS) -> Dict[str, Outcome]:
    """Converts the case's model once and runs every data set on each backend."""
    model, data_sets = case.load()
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, "model.atrous")
    constants: List[str] = []
    graph_inputs = {i.name for i in model.graph.input}
    while True:
        try:
            convert(model, path)
            break
        except ConversionError as error:
            match = _RUNTIME_PARAMETER.search(str(error))
            name = match.group("name") if match else None
            if name not in graph_inputs or name in constants:
                reason = str(error)
                if constants:
                    reason += f" (with {', '.join(constants)} made constant)"
                return {b: Outcome("unsupported", reason) for b in backends}
            original = case.load()
            frozen, frozen_sets = _with_constant_inputs(original[0], original[1], constants + [name])
            if frozen is None or not frozen_sets[0][0]:  # a graph without inputs does not run
                return {b: Outcome("unsupported", str(error)) for b in backends}
            constants.append(name)
            model, data_sets = frozen, frozen_sets
    ir = read_model(path)
    inputs = [ir.tensors[i] for i in ir.inputs]
    output_names = [o.name for o in model.graph.output]
    results = {}
    for backend in backends:
        problems = []
        for k, (feeds, expected) in enumerate(data_sets):
            if len(feeds) != len(inputs):
                problems.append(f"data set {k}: {len(feeds)} inputs for {len(inputs)} graph inputs")
                continue
            named = {t.name: _as_feed(array, t.dtype) for t, array in zip(inputs, feeds)}
            try:
                actual = run_atrous(binary, path, named, output_names,
                                    os.path.join(work_dir, f"{backend}{k}"), backend=backend)
            except AtrousError as error:
                problems.append(str(error).splitlines()[-1])
                continue
            for name, want in zip(output_names, expected):
                problem = compare(actual[name], want, case.rtol, case.atol, name)
                if problem:
                    problems.append(problem)
        status = "failed" if problems else "passed"
        known = KNOWN_DIFFERENCES.get(f"{case.kind}/{case.name}")
        if known and problems:
            status, problems = "differs", [known] + problems
        results[backend] = Outcome(status, " | ".join(problems), tuple(constants))
    return results
