"""Builds the small bundled demo model: a DeepLab-style network in miniature (MobileNetV3-like
stem and inverted-bottleneck blocks with squeeze-excite, an ASPP with dilated and image-pooling
branches, bilinear upsampling with align_corners), random weights from a fixed seed, exported
to ONNX and converted with atrous-convert. It exercises the converter and the runtime end to
end; it has not been trained, so its "segmentation" is meaningless.

Writes examples/demo/tiny_deeplab.atrous, examples/demo/input.npy and
examples/demo/expected_logits.npy (PyTorch's output for that input).

    .venv/bin/python scripts/make_demo_model.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "examples", "demo")
SIZE = (97, 129)
CLASSES = 7


def conv_bn(cin, cout, k, stride=1, dilation=1, groups=1, act=nn.ReLU):
    pad = dilation * (k - 1) // 2
    layers = [nn.Conv2d(cin, cout, k, stride, pad, dilation, groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.expand(F.relu(self.reduce(s))))


class InvertedBottleneck(nn.Module):
    def __init__(self, cin, expand, cout, k, stride, dilation, act):
        super().__init__()
        self.block = nn.Sequential(
            conv_bn(cin, expand, 1, act=act),
            conv_bn(expand, expand, k, stride, dilation, groups=expand, act=act),
            SqueezeExcite(expand, max(8, expand // 4)),
            conv_bn(expand, cout, 1, act=None))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class TinyDeepLab(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 2, act=nn.Hardswish)
        self.blocks = nn.Sequential(
            InvertedBottleneck(16, 48, 24, 3, 2, 1, nn.ReLU),
            InvertedBottleneck(24, 72, 24, 3, 1, 1, nn.ReLU),
            InvertedBottleneck(24, 96, 40, 5, 1, 2, nn.Hardswish))
        self.aspp_1x1 = conv_bn(40, 32, 1)
        self.aspp_d2 = conv_bn(40, 32, 3, dilation=2)
        self.aspp_d3 = conv_bn(40, 32, 3, dilation=3)
        self.aspp_pool = nn.Sequential(nn.Conv2d(40, 32, 1, bias=False), nn.ReLU())
        self.project = conv_bn(128, 32, 1)
        self.classifier = nn.Conv2d(32, CLASSES, 1)

    def forward(self, x):
        size = x.shape[-2:]
        f = self.blocks(self.stem(x))
        pooled = self.aspp_pool(F.adaptive_avg_pool2d(f, 1))
        pooled = F.interpolate(pooled, size=f.shape[-2:], mode="bilinear", align_corners=True)
        y = torch.cat([self.aspp_1x1(f), self.aspp_d2(f), self.aspp_d3(f), pooled], dim=1)
        y = self.classifier(self.project(y))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=True)


def main():
    torch.manual_seed(0)
    model = TinyDeepLab()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    model.eval()
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(x).numpy()
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "tiny_deeplab.onnx")
        torch.onnx.export(model, x, onnx_path, input_names=["image"], output_names=["logits"],
                          opset_version=17, do_constant_folding=True)
        labels = ",".join(f"class_{i}" for i in range(CLASSES))
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "atrous-convert"), onnx_path,
                        "-o", os.path.join(OUT, "tiny_deeplab.atrous"), "--task", "semantic",
                        "--labels", labels, "--input-size", f"{SIZE[0]}x{SIZE[1]}",
                        "--meta", "description=untrained demo network (random weights, seed 0)"],
                       check=True)
    np.save(os.path.join(OUT, "input.npy"), x.numpy())
    np.save(os.path.join(OUT, "expected_logits.npy"), expected)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
