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


def _random(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# Made outside the traced functions (the tracer refuses a Generator argument).
_FIXED = {key: _random(*shape, seed=seed) for key, shape, seed in [
    ("wt_grouped", (6, 2, 3, 3), 0), ("bt", (4,), 1), ("wt_dilated", (6, 3, 4, 4), 2), ("ln_w", (9,), 3),
    ("ln_b", (9,), 4), ("ch_w", (6,), 5), ("ch_b", (6,), 6)]}


# The constructs of the issue #16 models (background removal, low-light enhancement, depth).
BODIES.update({
    "conv_transpose_output_padding": lambda y, x: F.conv_transpose2d(
        y, _FIXED["wt_grouped"] * 0.3, _FIXED["bt"], stride=2, padding=1, output_padding=1, groups=2),
    "conv_transpose_dilated_4x4": lambda y, x: F.conv_transpose2d(y, _FIXED["wt_dilated"] * 0.3, stride=2,
                                                                  padding=2, dilation=2),
    "prelu_leaky_relu": lambda y, x: F.leaky_relu(F.prelu(y, torch.linspace(0.1, 0.6, 6)), 0.1),
    "chunk_split_multiply": lambda y, x: torch.mul(*torch.chunk(y, 2, dim=1)),
    "split_sizes": lambda y, x: torch.cat(torch.split(y, [2, 4], dim=1)[::-1], dim=1),
    "gelu_elu_selu": lambda y, x: F.selu(F.elu(F.gelu(y * 2))),
    "pow_sqrt_exp_log": lambda y, x: torch.sqrt(y.pow(2) + 1) + torch.log(torch.exp(-y.abs()) + 0.5),
    "neg_reciprocal": lambda y, x: torch.reciprocal(y.abs() + 0.5) - y.neg(),
    "min_max_clamp": lambda y, x: torch.minimum(torch.maximum(y, y * 0.5), y.clamp(min=-0.3) + 0.1),
    "expand_as": lambda y, x: y.mean(dim=1, keepdim=True).expand_as(y) * y,
    "repeat_tile": lambda y, x: y.repeat(1, 2, 1, 3)[:, :, :, ::3],
    "where_greater": lambda y, x: torch.where(y > 0.1, y, y * 0.25),
    "layer_norm_last_axis": lambda y, x: F.layer_norm(y, y.shape[-1:], _FIXED["ln_w"], _FIXED["ln_b"]),
    "instance_norm": lambda y, x: F.instance_norm(y, weight=_FIXED["ch_w"], bias=_FIXED["ch_b"]),
    "group_norm": lambda y, x: F.group_norm(y, 3, _FIXED["ch_w"], _FIXED["ch_b"]),
    "adaptive_max_pool_sum": lambda y, x: F.adaptive_max_pool2d(y, 1) + y.sum(dim=1, keepdim=True),
    "mish_softplus_softsign": lambda y, x: F.mish(y * 3) + F.softplus(y, beta=2) + F.softsign(y * 2),
    "index_channel_and_list": lambda y, x: y[:, 2].unsqueeze(1) * y[:, [0, 3, 1, 5, 5, 4]],
    "amax_amin_norm": lambda y, x: y.amax(dim=(2, 3), keepdim=True) - y.amin(dim=1, keepdim=True)
    + torch.linalg.vector_norm(y, dim=1, keepdim=True),
})


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
