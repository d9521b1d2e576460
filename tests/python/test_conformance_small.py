"""The conformance check of tests/conformance/run_conformance.py on small sizes, for CI.

All five torchvision models (random weights, randomized BatchNorm, BN kept in the ONNX graph so
the converter folds it), opset 17: relative L2 ≤ 1e-5 against PyTorch and an identical argmax
except at near-ties. 97×129 is not a multiple of 32, so every stride-2 stage rounds up and the
final bilinear resize maps a non-integer ratio. The full-size run is documented in
tests/conformance/README.md.
"""
import pytest

from run_conformance import REL_L2_TOLERANCE, Runner

CASES = [
    ("mobilenet_v3_large", (224, 224)), ("mobilenet_v3_large", (97, 129)),
    ("mobilenet_v3_small", (224, 224)), ("mobilenet_v3_small", (97, 129)),
    ("lraspp_mobilenet_v3_large", (97, 129)),
    ("deeplabv3_mobilenet_v3_large", (97, 129)),
    ("deeplabv3_resnet50", (97, 129)),
]


@pytest.fixture(scope="module")
def runner(atrous_bin, tmp_path_factory):
    return Runner(atrous_bin, str(tmp_path_factory.mktemp("conformance")), opset=17)


@pytest.mark.parametrize("name, size", CASES, ids=[f"{n}-{h}x{w}" for n, (h, w) in CASES])
def test_model_matches_pytorch(runner, name, size):
    result = runner.run_case(name, size)
    print(result.line())
    assert result.rel_l2 <= REL_L2_TOLERANCE, result.line()
    assert result.passed, result.line()
