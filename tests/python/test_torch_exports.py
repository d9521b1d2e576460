"""Small PyTorch modules exported by torch.onnx.export at opsets 11, 13 and 17, converted, run by
`atrous run` and compared with PyTorch itself. They cover the export patterns of the conformance
models one at a time (interpolate by size or scale factor, pooling, softmax/argmax, ...), so a
failure points at one construct."""
import os
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atrous_cli import relative_l2
from atrous_convert import convert

INPUT = (1, 3, 13, 17)  # odd sizes: stride-2 stages round up, resizes have non-integer ratios


class Net(nn.Module):
    def __init__(self, body):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(6)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.2, 0.2)
            self.bn.running_var.uniform_(0.5, 2.0)
        self.body = body

    def forward(self, x):
        return self.body(self.bn(self.conv(x)), x)


BODIES = {
    "interpolate_size_like_input": lambda y, x: F.interpolate(y, size=x.shape[-2:], mode="bilinear",
                                                              align_corners=False),
    "interpolate_align_corners": lambda y, x: F.interpolate(y, size=x.shape[-2:], mode="bilinear",
                                                            align_corners=True),
    "interpolate_scale2_nearest": lambda y, x: F.interpolate(y, scale_factor=2, mode="nearest"),
    "interpolate_scale1.5_bilinear": lambda y, x: F.interpolate(y, scale_factor=1.5, mode="bilinear",
                                                                align_corners=False),
    "softmax_channels": lambda y, x: F.softmax(y, dim=1),
    "max_pool_ceil": lambda y, x: F.max_pool2d(y, 3, 2, 1, ceil_mode=True),
    "avg_pool_ceil": lambda y, x: F.avg_pool2d(y, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "adaptive_avg_pool_se": lambda y, x: y * F.hardsigmoid(F.adaptive_avg_pool2d(y, 1)),
    "hardswish_relu6": lambda y, x: F.relu6(F.hardswish(y) * 3),
    "pad_reflect": lambda y, x: F.pad(y, (1, 2, 0, 1), mode="reflect"),
    "pixel_shuffle": lambda y, x: F.pixel_shuffle(torch.cat([y, y * 2], dim=1)[:, :8], 2),
    "flatten_linear": lambda y, x: F.linear(torch.flatten(y, 1), torch.ones(3, 6 * 7 * 9) / 100),
    "mean_keepdim": lambda y, x: y.mean(dim=(2, 3), keepdim=True) + y,
}


def export(module, path, opset):
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.zeros(INPUT), path, opset_version=opset, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.PRESERVE, input_names=["input"],
                          output_names=["out"])


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("body", sorted(BODIES))
def test_export_matches_pytorch(body, opset, atrous, workdir):
    module = Net(BODIES[body]).eval()
    onnx_path, atrous_path = os.path.join(workdir, "m.onnx"), os.path.join(workdir, "m.atrous")
    export(module, onnx_path, opset)
    ir = convert(onnx_path, atrous_path)
    assert "batch_norm" not in [n.op for n in ir.nodes]
    x = np.random.default_rng(0).standard_normal(INPUT).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    actual = atrous(atrous_path, {"input": x})["out"]
    assert actual.shape == expected.shape
    assert relative_l2(actual, expected) <= 1e-5


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_argmax_export(opset, atrous, workdir):
    module = Net(lambda y, x: F.softmax(y, dim=1).argmax(dim=1)).eval()
    onnx_path, atrous_path = os.path.join(workdir, "m.onnx"), os.path.join(workdir, "m.atrous")
    export(module, onnx_path, opset)
    convert(onnx_path, atrous_path)
    x = np.random.default_rng(1).standard_normal(INPUT).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    actual = atrous(atrous_path, {"input": x})["out"]
    assert actual.dtype == np.int32
    np.testing.assert_array_equal(actual, expected)
