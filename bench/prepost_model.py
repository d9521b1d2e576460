#!/usr/bin/env python3
"""A panoptic model with Panoptic-DeepLab's inputs, outputs and metadata but almost no network, for
timing the pre- and post-processing of `atrous segment` (bench/RESULTS.md "segment pre/post").

    .venv/bin/python bench/prepost_model.py --size 1025x2049 --out DIR

Writes DIR/prepost.atrous: input `image` [1,3,H,W]; outputs `semantic` [1,19,H,W], `center`
[1,1,H,W], `offset` [1,2,H,W], each one 1x1 convolution of the image (random weights from
--seed), with the Cityscapes panoptic metadata of export_panoptic.py. Inference then costs a few
tens of milliseconds, while decoding, resizing, softmax, merging and the label maps do exactly
the work they do for a real network of that input size.
"""
import argparse
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "models", "pytorch"))
import export_panoptic as ep  # noqa: E402


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.semantic = nn.Conv2d(3, 19, 1)
        self.center = nn.Conv2d(3, 1, 1)
        self.offset = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return self.semantic(x), torch.sigmoid(self.center(x)), 8 * self.offset(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1025x2049", help="HxW of the input")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    size = ep.parse_size(args.size)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "prepost.onnx")
    atrous_path = os.path.join(args.out, "prepost.atrous")
    ep.export_onnx(Heads().eval(), onnx_path, size)
    ep.convert(onnx_path, atrous_path, "mnv3s_os32", size)
    print(atrous_path)


if __name__ == "__main__":
    main()
