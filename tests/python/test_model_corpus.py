"""A fast sample of bench/model_corpus.py for CI: a few architectures of different kinds from timm
and torchvision (random weights, randomized BatchNorm, opset 17) at a small input, exported,
converted, run by `atrous run` on the CPU backend and compared with ONNX Runtime (relative L2
≤ 1e-5). The full corpus and its results: bench/RESULTS.md."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "bench"))
import model_corpus  # noqa: E402

SIZE = (64, 64)
SAMPLE = [
    ("timm", "ecaresnet26t"),            # 1-D conv (ECA attention), deep-stem ResNet
    ("timm", "nf_resnet26"),             # scaled weight standardization: training-mode BN on constants
    ("timm", "tf_mixnet_s"),             # TF "same" padding, mixed kernel sizes, Split
    ("timm", "convnext_atto"),           # LayerNorm over channels, 7x7 depthwise, GELU
    ("timm", "dla46x_c"),                # aggregation trees, grouped convs
    ("torchvision", "shufflenet_v2_x0_5"),  # channel shuffle (reshape/transpose), chunk
    ("torchvision", "squeezenet1_1"),   # ceil-mode pooling, concat
    ("torchvision", "lraspp_mobilenet_v3_large"),  # segmentation head, resize
]


@pytest.mark.parametrize("source, name", SAMPLE, ids=[f"{s}-{n}" for s, n in SAMPLE])
def test_matches_onnxruntime(source, name, atrous_bin, workdir):
    if source == "timm":
        pytest.importorskip("timm", reason="timm is not installed (scripts/setup.sh installs it)")
    result = model_corpus.run_model(source, name, workdir, atrous_bin, size=SIZE)
    assert result["status"] == "matched", result
    assert result["rel_l2"] <= model_corpus.TOLERANCE
