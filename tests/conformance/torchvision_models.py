"""The torchvision models of the conformance check, built reproducibly with random weights.

Every model is built with `weights=None` after `torch.manual_seed(seed)`. Untrained BatchNorm
layers have mean 0 / var 1 / weight 1 / bias 0, which would make BN folding a no-op and hide a
wrong formula, so every BatchNorm's running statistics and affine parameters are randomized:
running_mean ~ N(0, 0.1²), running_var ~ U[0.5, 2], weight ~ U[0.5, 1.5], bias ~ N(0, 0.1²).
The models are returned in eval mode; segmentation models are wrapped to return the 'out' tensor.
"""
from __future__ import annotations

import torch
import torchvision
from torch import nn

CLASSIFIERS = ("mobilenet_v3_large", "mobilenet_v3_small")
SEGMENTERS = ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50")
MODEL_NAMES = CLASSIFIERS + SEGMENTERS


class SegmentationOutput(nn.Module):
    """torchvision segmentation models return a dict; export and compare its 'out' entry."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def randomize_batch_norm(model: nn.Module, generator: torch.Generator) -> int:
    """Gives every BatchNorm non-trivial statistics; returns how many layers were changed."""
    count = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                if module.affine:
                    module.weight.uniform_(0.5, 1.5, generator=generator)
                    module.bias.normal_(0.0, 0.1, generator=generator)
                count += 1
    return count


def build_model(name: str, seed: int = 0) -> nn.Module:
    """One of MODEL_NAMES with random weights and randomized BatchNorm, in eval mode."""
    torch.manual_seed(seed)
    if name in CLASSIFIERS:
        model = getattr(torchvision.models, name)(weights=None)
    elif name in SEGMENTERS:
        builder = getattr(torchvision.models.segmentation, name)
        model = SegmentationOutput(builder(weights=None, weights_backbone=None))
    else:
        raise ValueError(f"unknown model '{name}' (one of {', '.join(MODEL_NAMES)})")
    generator = torch.Generator().manual_seed(seed + 1)
    if randomize_batch_norm(model, generator) == 0:
        raise RuntimeError(f"{name} has no BatchNorm layer to randomize")
    return model.eval()


def task_of(name: str) -> str:
    return "classification" if name in CLASSIFIERS else "semantic"
