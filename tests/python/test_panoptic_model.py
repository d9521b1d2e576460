"""Panoptic-DeepLab (models/pytorch): layer structure against docs/PANOPTIC_DEEPLAB.md, and
export → convert →
`atrous run` against PyTorch at CI sizes (relative L2 ≤ 1e-5 per output), metadata round-trip,
multiply-adds equal between PyTorch hooks and `atrous info`.

Full-size counts (1025×2049) are checked on PyTorch's meta device (shapes only, no arithmetic).
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "models", "pytorch"))
import export_panoptic  # noqa: E402
import panoptic_deeplab as pdl  # noqa: E402

REL_L2_TOLERANCE = 1e-5


def meta_counter(config, size, crop=pdl.DEFAULT_CROP):
    model = pdl.build_model(config, crop, seed=None).to("meta")
    with torch.no_grad(), pdl.MultiplyAddCounter(model) as counter:
        outputs = model(torch.zeros(1, 3, *size, device="meta"))
    return model, counter, outputs


# ---------------------------------------------------------------------------------------------
# Structure (docs/PANOPTIC_DEEPLAB.md: "ASPP", "Backbones", "MobileNetV3 in DeepLab2")

def test_make_divisible():
    assert [pdl.make_divisible(v) for v in (18, 30, 120, 168, 240, 4, 36, 60, 72, 144, 184.0)] == \
        [24, 32, 120, 168, 240, 8, 40, 64, 72, 144, 184]


@pytest.mark.parametrize("config,expected", [
    ("mnv3l_os32", {"res2": (72, 4), "res3": (120, 8), "res5": (960, 32)}),
    ("mnv3l_os16", {"res2": (72, 4), "res3": (120, 8), "res5": (960, 16)}),
    ("mnv3s_os32", {"res2": (16, 4), "res3": (88, 8), "res5": (576, 32)}),
    ("mnv3s_os16", {"res2": (16, 4), "res3": (88, 8), "res5": (576, 16)}),
    ("resnet50_os32", {"res2": (256, 4), "res3": (512, 8), "res5": (2048, 32)}),
])
def test_endpoints(config, expected):
    model = pdl.build_model(config, seed=None).to("meta")
    features = model.backbone(torch.zeros(1, 3, 1025, 2049, device="meta"))
    for name, (channels, stride) in expected.items():
        n = (1024 // stride) + 1, (2048 // stride) + 1  # k·OS+1 geometry: 257×513, 129×257, ...
        assert tuple(features[name].shape) == (1, channels, *n), name
        assert model.backbone.channels[name] == channels


def test_mobilenet_endpoints_are_depthwise_outputs():
    model = pdl.build_model("mnv3l_os32", seed=None)
    captured = {}
    for index in (2, 5):
        model.backbone.blocks[index].depthwise.register_forward_hook(
            lambda m, i, o, index=index: captured.__setitem__(index, o))
    with torch.no_grad():
        features = model.backbone(torch.randn(1, 3, 65, 129))
    assert torch.equal(features["res2"], captured[2])
    assert torch.equal(features["res3"], captured[5])


@pytest.mark.parametrize("config,squeeze", [
    ("mnv3l_os32", [None] * 3 + [24, 32, 32] + [None] * 4 + [120, 168, 168, 240, 240]),
    ("mnv3s_os32", [8, None, None, 24, 64, 64, 32, 40, 72, 144, 144]),
])
def test_squeeze_excite(config, squeeze):
    model = pdl.build_model(config, seed=None)
    got = [b.se.squeeze_channels if b.se is not None else None for b in model.backbone.blocks]
    assert got == squeeze
    # sigmoid gate (not hard-sigmoid): a zero-weight SE scales by sigmoid(bias)
    se = next(b.se for b in model.backbone.blocks if b.se is not None)
    with torch.no_grad():
        for conv in (se.reduce, se.expand):
            conv.weight.zero_()
            conv.bias.fill_(1.0)
        x = torch.ones(1, se.reduce.in_channels, 3, 3)
        assert torch.allclose(se(x), torch.full_like(x, float(torch.sigmoid(torch.tensor(1.0)))))


def test_expanded_channels_and_activations():
    large = pdl.build_model("mnv3l_os32", seed=None).backbone
    assert [b.depthwise[0].in_channels for b in large.blocks] == \
        [16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, 672, 960, 960]
    assert large.blocks[0].expand is None and large.blocks[0].residual
    assert isinstance(large.stem[2], torch.nn.Hardswish)
    assert [type(b.depthwise[2]).__name__ for b in large.blocks] == ["ReLU"] * 6 + ["Hardswish"] * 9
    small = pdl.build_model("mnv3s_os32", seed=None).backbone
    assert [b.depthwise[0].in_channels for b in small.blocks] == \
        [16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576]
    assert [type(b.depthwise[2]).__name__ for b in small.blocks] == ["ReLU"] * 3 + ["Hardswish"] * 8


@pytest.mark.parametrize("config,first", [("mnv3l_os16", 12), ("mnv3s_os16", 8)])
def test_dilation_at_os16(config, first):
    blocks = pdl.build_model(config, seed=None).backbone.blocks
    geometry = [(b.depthwise[0].stride[0], b.depthwise[0].dilation[0], b.depthwise[0].padding[0])
                for b in blocks]
    # the first block of the last stage keeps rate 1 at stride 1, the blocks after it get rate 2
    assert geometry[first] == (1, 1, 2)
    assert geometry[first + 1:] == [(1, 2, 4)] * (len(blocks) - first - 1)
    assert all(d == 1 for _, d, _ in geometry[:first])
    os32 = pdl.build_model(config.replace("16", "32"), seed=None).backbone.blocks
    assert (os32[first].depthwise[0].stride[0], os32[first].depthwise[0].dilation[0]) == (2, 1)
    assert all(b.depthwise[0].dilation[0] == 1 for b in os32)


def test_resnet50_layout():
    backbone = pdl.build_model("resnet50_os32", seed=None).backbone
    assert backbone.stem[0].kernel_size == (7, 7) and backbone.stem[0].stride == (2, 2)
    assert [len(s) for s in backbone.stages] == [3, 4, 6, 3]
    for stage in backbone.stages:
        first = stage[0]
        assert first.conv1[0].stride == (1, 1) and first.conv2[0].stride == (2, 2)
        assert first.shortcut is not None and first.shortcut[0].stride == (2, 2)
        assert all(b.shortcut is None for b in stage[1:])
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in backbone.modules())


@pytest.mark.parametrize("config", sorted(pdl.CONFIGS))
def test_aspp_decoder_heads(config):
    cfg = pdl.CONFIGS[config]
    model = pdl.build_model(config, seed=None)
    assert model.pool_window == {16: (65, 129), 32: (33, 65)}[cfg.output_stride]
    eps = {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == {1e-5 if cfg.output_stride == 16 and config.startswith("mnv3") else 1e-3}
    for aspp in (model.semantic_aspp, model.instance_aspp):
        assert [c[0].dilation[0] for c in aspp.atrous] == list(cfg.aspp_rates)
        assert [c[0].padding[0] for c in aspp.atrous] == list(cfg.aspp_rates)
        assert all(c[0].groups == 1 and c[0].out_channels == 256 for c in aspp.atrous)
        assert aspp.project[0].in_channels == 1280 and aspp.project[0].out_channels == 256
        assert aspp.pool.conv[0].bias is None and isinstance(aspp.pool.conv[1], torch.nn.BatchNorm2d)
    for decoder, (p8, p4, ch) in ((model.semantic_decoder, (64, 32, 256)),
                                  (model.instance_decoder, (32, 16, 128))):
        assert decoder.project_s8[0].out_channels == p8 and decoder.project_s4[0].out_channels == p4
        assert decoder.fuse_s8[0][0].in_channels == 256 + p8 and decoder.fuse_s8[0][0].kernel_size == (5, 5)
        assert decoder.fuse_s4[0][0].in_channels == ch + p4 and decoder.fuse_s4[1][0].out_channels == ch
    for head, (cin, mid, out) in ((model.semantic_head, (256, 256, 19)),
                                  (model.center_head, (128, 32, 1)), (model.offset_head, (128, 32, 2))):
        assert head[0][0][0].groups == cin and head[0][1][0].out_channels == mid
        assert head[1].out_channels == out and head[1].bias is not None


def test_full_size_counts():
    """MNV3-L OS32 at 1025×2049: 18.2 M parameters, 70.9 G multiply-adds (ANCHORS.md)."""
    model, counter, outputs = meta_counter("mnv3l_os32", (1025, 2049))
    assert [tuple(o.shape) for o in outputs] == [(1, 19, 1025, 2049), (1, 1, 1025, 2049),
                                                 (1, 2, 1025, 2049)]
    assert pdl.count_parameters(model)["parameters"] == 18_236_534
    assert counter.total() == 70_930_295_160
    parts = counter.by_prefix(1)
    share = lambda *names: sum(parts[n] for n in names) / counter.total()  # noqa: E731
    assert abs(share("semantic_aspp", "instance_aspp") - 0.436) < 0.001
    assert abs(share("backbone") - 0.128) < 0.001
    assert abs(share("semantic_decoder", "semantic_head") - 0.343) < 0.001
    expected = {"mnv3l_os16": 166_765_712_760, "mnv3s_os16": 109_650_747_256,
                "mnv3s_os32": 51_911_877_496, "resnet50_os32": 273_699_968_944}
    for config, total in expected.items():
        assert meta_counter(config, (1025, 2049))[1].total() == total, config


def test_pool_window_larger_than_map_is_an_error():
    model = pdl.build_model("mnv3s_os32", seed=None)  # window 33×65 for the 1025×2049 crop
    with pytest.raises(ValueError, match="pooling window"):
        model(torch.zeros(1, 3, 129, 257))


def test_aspp_pool_is_sliding_window_on_larger_inputs():
    """With a 129×257 crop (window 5×9 at OS32) a 193×321 input pools 7×11 → 3×3 positions."""
    aspp = pdl.build_model("mnv3s_os32", (129, 257), seed=0).semantic_aspp
    x = torch.randn(1, 576, 7, 11)
    seen = {}
    aspp.pool.conv.register_forward_hook(lambda m, i, o: seen.__setitem__("pooled", i[0]))
    with torch.no_grad():
        aspp(x)
    assert tuple(seen["pooled"].shape) == (1, 576, 3, 3)
    assert torch.allclose(seen["pooled"][..., 1, 2], x[..., 1:6, 2:11].mean((-2, -1)), atol=1e-6)


def test_offset_rescale():
    """offset = resize(stride-4 offsets × ((H_out−1)/(H_in−1), (W_out−1)/(W_in−1)))."""
    model = pdl.build_model("mnv3s_os32", (129, 257), seed=1)
    captured = {}
    model.offset_head.register_forward_hook(lambda m, i, o: captured.__setitem__("raw", o))
    with torch.no_grad():
        _, _, offset = model(torch.rand(1, 3, 129, 257) * 2 - 1)
    raw = captured["raw"]
    assert tuple(raw.shape[-2:]) == (33, 65)
    # align_corners=True with k·4+1 sizes: every 4th output pixel is a stride-4 sample, × 4
    assert torch.allclose(offset[..., ::4, ::4], raw * 4, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Export → convert → run

CASES = [("mnv3s_os32", (129, 257)), ("mnv3l_os32", (65, 129)), ("mnv3s_os16", (65, 129))]


@pytest.mark.parametrize("config,size", CASES)
def test_export_convert_run(config, size, atrous_bin, atrous, tmp_path):
    result = export_panoptic.export(config, size, str(tmp_path), seed=0)
    graph = onnx.load(result["onnx"], load_external_data=False).graph
    assert [i.name for i in graph.input] == ["image"]
    assert [o.name for o in graph.output] == ["semantic", "center", "offset"]
    assert sum(n.op_type == "BatchNormalization" for n in graph.node) > 0  # folded by the converter

    info = json.loads(subprocess.run([atrous_bin, "info", result["atrous"], "--json"], check=True,
                                     capture_output=True, text=True).stdout)
    assert "batch_norm" not in info["op_counts"]
    assert [(t["name"], t["shape"]) for t in info["inputs"]] == [("image", [1, 3, *size])]
    assert [(t["name"], t["shape"]) for t in info["outputs"]] == [
        ("semantic", [1, 19, *size]), ("center", [1, 1, *size]), ("offset", [1, 2, *size])]
    assert info["multiply_adds"] == result["counter"].total()
    # folded: γ, β of each BN channel become one bias; +2 for the offset-rescale constant
    assert info["parameters"] == result["parameters"] - result["batch_norm_channels"] + 2

    meta = info["metadata"]
    cfg = pdl.CONFIGS[config]
    assert meta["task"] == "panoptic"
    assert meta["labels"] == list(pdl.CITYSCAPES_LABELS) and len(meta["labels"]) == 19
    assert meta["thing_classes"] == list(range(11, 19))
    assert meta["input_mean"] == [127.5] * 3 and meta["input_std"] == [127.5] * 3
    assert meta["input_size"] == list(size)
    assert meta["label_divisor"] == 1000 and meta["void_label"] == 255
    assert meta["center_threshold"] == pytest.approx(0.1)
    assert meta["nms_kernel"] == cfg.nms_kernel == (7 if cfg.output_stride == 16 else 13)
    assert meta["top_k"] == 400 and meta["stuff_area_limit"] == 2048
    assert meta["architecture"] == f"panoptic_deeplab_{config}"

    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, *size)).astype(np.float32)
    with torch.no_grad():
        expected = [t.numpy() for t in result["model"](torch.from_numpy(x))]
    actual = atrous(result["atrous"], {"image": x})
    for name, e in zip(export_panoptic.OUTPUT_NAMES, expected):
        a = actual[name]
        assert a.shape == e.shape, name
        assert float(np.std(e)) > 1e-3, f"{name}: output does not depend on the input"
        error = export_panoptic.relative_l2(a, e)
        assert error <= REL_L2_TOLERANCE, f"{name}: relative L2 {error:.2e}"
