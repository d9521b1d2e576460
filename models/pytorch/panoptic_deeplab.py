"""Panoptic-DeepLab in PyTorch, built to the DeepLab2 Cityscapes configurations as
docs/PANOPTIC_DEEPLAB.md restates them (its section names are cited below).

Inference graph only (no losses, no training-time options): an encoder (MobileNetV3-Large/-Small
or ResNet-50, "Backbones") feeds two branches, each an ASPP on the last feature map followed by
a two-stage decoder that fuses the stride-8 and stride-4 features ("ASPP", "Decoder and heads"):

  semantic branch: ASPP → decoder (res3 → 64, res2 → 32; 256 ch) → head (256) → 19 logits
  instance branch: ASPP → decoder (res3 → 32, res2 → 16; 128 ch) → center head (32) → 1
                                                                 → offset head (32) → 2 (Δy, Δx)

All three outputs are resized to the (padded) input size with bilinear align_corners=True; the
offsets are first scaled per axis by (H_out−1)/(H_in−1) and (W_out−1)/(W_in−1)
("Input geometry and outputs").

Conventions ("Padding, BatchNorm, resize"): the input is already normalized to [−1, 1]
(x/127.5 − 1); every
convolution pads symmetrically by dilation·(k−1)/2 (DeepLab2's explicit padding for stride 2,
'same' for stride 1, odd kernels only); BatchNorm ε is 1e-5 for the MobileNetV3 OS16 configs and
1e-3 otherwise, everywhere in the network; the SE gate is the logistic sigmoid; every resize uses
align_corners=True; the ASPP image-pooling branch averages over a fixed window (the training crop
scaled by 1/OS with (n−1)//OS + 1: 65×129 at OS16 and 33×65 at OS32 for 1025×2049), stride 1, no
padding, then resizes back.

`build_model(config)` returns the network for one of CONFIGS.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 19
CITYSCAPES_LABELS = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)
THING_CLASSES = tuple(range(11, 19))
DEFAULT_CROP = (1025, 2049)


# ------------------------------------------------------------------------------------------------
# Configurations

@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    backbone: str            # 'mnv3l', 'mnv3s' or 'resnet50'
    output_stride: int       # 16 or 32
    aspp_rates: Tuple[int, int, int]
    bn_eps: float
    nms_kernel: int          # post-processing (metadata only)


CONFIGS: Dict[str, Config] = {
    "mnv3l_os16": Config("mnv3l_os16", "mnv3l", 16, (6, 12, 18), 1e-5, 7),
    "mnv3l_os32": Config("mnv3l_os32", "mnv3l", 32, (3, 6, 9), 1e-3, 13),
    "mnv3s_os16": Config("mnv3s_os16", "mnv3s", 16, (6, 12, 18), 1e-5, 7),
    "mnv3s_os32": Config("mnv3s_os32", "mnv3s", 32, (3, 6, 9), 1e-3, 13),
    "resnet50_os32": Config("resnet50_os32", "resnet50", 32, (3, 6, 9), 1e-3, 13),
}

# Post-processing parameters of the Cityscapes configs (docs/PANOPTIC.md, "Parameters"), recorded
# as metadata.
POSTPROCESS = {"label_divisor": 1000, "void_label": 255, "center_threshold": 0.1,
               "top_k": 400, "stuff_area_limit": 2048}


def pool_window(crop: Tuple[int, int], output_stride: int) -> Tuple[int, int]:
    """ASPP pooling window for a training crop: (n − 1)//OS + 1 per axis ("ASPP")."""
    return tuple((n - 1) // output_stride + 1 for n in crop)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Nearest multiple of `divisor` (at least `divisor`), plus one more step if that loses >10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


# MobileNetV3 layer tables (docs/PANOPTIC_DEEPLAB.md, "MobileNetV3 in DeepLab2"). Inverted-bottleneck rows:
# (kernel, expanded channels, output channels, SE, activation, stride, endpoint name or None).
# The endpoint of a block is its depthwise output after BN + activation (before SE).
MNV3_LARGE = [
    (3, 16, 16, False, "relu", 1, None),
    (3, 64, 24, False, "relu", 2, None),
    (3, 72, 24, False, "relu", 1, "res2"),
    (5, 72, 40, True, "relu", 2, None),
    (5, 120, 40, True, "relu", 1, None),
    (5, 120, 40, True, "relu", 1, "res3"),
    (3, 240, 80, False, "hswish", 2, None),
    (3, 200, 80, False, "hswish", 1, None),
    (3, 184, 80, False, "hswish", 1, None),
    (3, 184, 80, False, "hswish", 1, None),
    (3, 480, 112, True, "hswish", 1, None),
    (3, 672, 112, True, "hswish", 1, "res4"),
    (5, 672, 160, True, "hswish", 2, None),
    (5, 960, 160, True, "hswish", 1, None),
    (5, 960, 160, True, "hswish", 1, None),
]
MNV3_LARGE_LAST = 960

MNV3_SMALL = [
    (3, 16, 16, True, "relu", 2, "res2"),
    (3, 72, 24, False, "relu", 2, None),
    (3, 88, 24, False, "relu", 1, "res3"),
    (5, 96, 40, True, "hswish", 2, None),
    (5, 240, 40, True, "hswish", 1, None),
    (5, 240, 40, True, "hswish", 1, None),
    (5, 120, 48, True, "hswish", 1, None),
    (5, 144, 48, True, "hswish", 1, "res4"),
    (5, 288, 96, True, "hswish", 2, None),
    (5, 576, 96, True, "hswish", 1, None),
    (5, 576, 96, True, "hswish", 1, None),
]
MNV3_SMALL_LAST = 576

# ResNet-50 stages: (blocks, bottleneck width, output channels, stride, endpoint)
RESNET50_STAGES = [
    (3, 64, 256, 2, "res2"),
    (4, 128, 512, 2, "res3"),
    (6, 256, 1024, 2, "res4"),
    (3, 512, 2048, 2, "res5"),
]


class DilationTracker:
    """DeepLab2's output-stride rule ("MobileNetV3 in DeepLab2"): once the running stride equals
    the target, each
    later strided layer runs with stride 1 at the current rate, and the rate grows by its stride
    for the layers after it."""

    def __init__(self, output_stride: int, stride: int = 1):
        self.output_stride, self.stride, self.rate = output_stride, stride, 1

    def next(self, stride: int) -> Tuple[int, int]:
        """(stride, dilation) for a layer that nominally has `stride`."""
        if stride > 1 and self.stride >= self.output_stride:
            rate = self.rate
            self.rate *= stride
            return 1, rate
        self.stride *= stride
        return stride, self.rate


# ------------------------------------------------------------------------------------------------
# Layers

def activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "hswish":
        return nn.Hardswish()  # x·relu6(x+3)/6
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation '{name}'")


class ConvBN(nn.Sequential):
    """k×k convolution (no bias, symmetric padding dilation·(k−1)/2) → BatchNorm → activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1, act: str = "relu", eps: float = 1e-3):
        assert kernel % 2 == 1, "only odd kernels are symmetric"
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, dilation * (kernel - 1) // 2, dilation, groups,
                      bias=False),
            nn.BatchNorm2d(cout, eps=eps),
            activation(act))


class SeparableConv(nn.Sequential):
    """Depthwise k×k → BN → ReLU, then pointwise 1×1 → BN → ReLU (both halves activated)."""

    def __init__(self, cin: int, cout: int, kernel: int = 5, eps: float = 1e-3):
        super().__init__(ConvBN(cin, cin, kernel, groups=cin, eps=eps),
                         ConvBN(cin, cout, 1, eps=eps))


class SqueezeExcite(nn.Module):
    """Global mean → 1×1 (bias) → ReLU → 1×1 (bias) → sigmoid → scale the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.squeeze_channels = make_divisible(int(channels * 0.25), 8)
        self.reduce = nn.Conv2d(channels, self.squeeze_channels, 1)
        self.expand = nn.Conv2d(self.squeeze_channels, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        s = torch.sigmoid(self.expand(F.relu(self.reduce(s))))
        return x * s


class InvertedBottleneck(nn.Module):
    """[1×1 expand] → depthwise k×k → [SE] → 1×1 project (linear) → [+ input]."""

    def __init__(self, cin: int, expanded: int, cout: int, kernel: int, stride: int,
                 dilation: int, se: bool, act: str, eps: float):
        super().__init__()
        self.expand = ConvBN(cin, expanded, 1, act=act, eps=eps) if expanded != cin else None
        self.depthwise = ConvBN(expanded, expanded, kernel, stride, dilation, groups=expanded,
                                act=act, eps=eps)
        self.se = SqueezeExcite(expanded) if se else None
        self.project = ConvBN(expanded, cout, 1, act="none", eps=eps)
        self.residual = stride == 1 and cin == cout

    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        """(block output, depthwise output)."""
        y = self.expand(x) if self.expand is not None else x
        depthwise = self.depthwise(y)
        y = self.se(depthwise) if self.se is not None else depthwise
        y = self.project(y)
        if self.residual:
            y = y + x
        return y, depthwise


class MobileNetV3(nn.Module):
    """DeepLab2's MobileNetV3 encoder: returns {'res2', 'res3', 'res5'} (docs/PANOPTIC_DEEPLAB.md)."""

    def __init__(self, table, last_channels: int, output_stride: int, eps: float):
        super().__init__()
        tracker = DilationTracker(output_stride)
        stride, dilation = tracker.next(2)
        self.stem = ConvBN(3, 16, 3, stride, dilation, act="hswish", eps=eps)
        blocks, self.endpoints = [], {}
        cin = 16
        for index, (kernel, expanded, cout, se, act, nominal, endpoint) in enumerate(table):
            stride, dilation = tracker.next(nominal)
            blocks.append(InvertedBottleneck(cin, expanded, cout, kernel, stride, dilation, se,
                                             act, eps))
            if endpoint:
                self.endpoints[index] = endpoint
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.last = ConvBN(cin, last_channels, 1, act="hswish", eps=eps)
        self.channels = {"res5": last_channels}
        for index, name in self.endpoints.items():
            self.channels[name] = table[index][1]

    def forward(self, x) -> Dict[str, torch.Tensor]:
        features = {}
        x = self.stem(x)
        for index, block in enumerate(self.blocks):
            x, depthwise = block(x)
            if index in self.endpoints:
                features[self.endpoints[index]] = depthwise
        features["res5"] = self.last(x)
        return features


class Bottleneck(nn.Module):
    """ResNet bottleneck: 1×1 → 3×3 (carries the stride) → 1×1, projection shortcut on a change
    of shape, ReLU after the sum."""

    def __init__(self, cin: int, width: int, cout: int, stride: int, dilation: int, eps: float):
        super().__init__()
        self.conv1 = ConvBN(cin, width, 1, eps=eps)
        self.conv2 = ConvBN(width, width, 3, stride, dilation, eps=eps)
        self.conv3 = ConvBN(width, cout, 1, act="none", eps=eps)
        self.shortcut = (ConvBN(cin, cout, 1, stride, act="none", eps=eps)
                         if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = self.conv3(self.conv2(self.conv1(x)))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet50(nn.Module):
    """DeepLab2-style ResNet-50: 7×7/2 stem (64), no max-pool, stride in the first block's 3×3."""

    def __init__(self, output_stride: int, eps: float):
        super().__init__()
        tracker = DilationTracker(output_stride)
        stride, dilation = tracker.next(2)
        self.stem = ConvBN(3, 64, 7, stride, dilation, eps=eps)
        stages, self.names, cin = [], [], 64
        for count, width, cout, nominal, name in RESNET50_STAGES:
            blocks = []
            for b in range(count):
                stride, dilation = tracker.next(nominal if b == 0 else 1)
                blocks.append(Bottleneck(cin, width, cout, stride, dilation, eps))
                cin = cout
            stages.append(nn.Sequential(*blocks))
            self.names.append(name)
        self.stages = nn.ModuleList(stages)
        self.channels = {name: cout for _, _, cout, _, name in RESNET50_STAGES}

    def forward(self, x) -> Dict[str, torch.Tensor]:
        features = {}
        x = self.stem(x)
        for name, stage in zip(self.names, self.stages):
            x = stage(x)
            features[name] = x
        return features


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    return F.interpolate(x, size=tuple(int(s) for s in size), mode="bilinear", align_corners=True)


class ASPPPooling(nn.Module):
    """avg-pool over a fixed window (stride 1, VALID) → 1×1 (no bias) → BN → ReLU → resize back."""

    def __init__(self, cin: int, cout: int, window: Tuple[int, int], eps: float):
        super().__init__()
        self.window = tuple(window)
        self.conv = ConvBN(cin, cout, 1, eps=eps)

    def forward(self, x):
        h, w = x.shape[-2:]
        if h < self.window[0] or w < self.window[1]:
            raise ValueError(f"ASPP pooling window {self.window[0]}x{self.window[1]} is larger "
                             f"than the feature map {h}x{w}: build the model for this crop")
        y = F.avg_pool2d(x, self.window, stride=1, padding=0)
        return resize(self.conv(y), (h, w))


class ASPP(nn.Module):
    """[1×1, 3×3 rate r1, r2, r3, pooling] → concat (5·256) → 1×1 → BN → ReLU (dropout: no-op)."""

    def __init__(self, cin: int, rates: Sequence[int], window: Tuple[int, int], eps: float,
                 channels: int = 256):
        super().__init__()
        self.conv1x1 = ConvBN(cin, channels, 1, eps=eps)
        self.atrous = nn.ModuleList(ConvBN(cin, channels, 3, dilation=r, eps=eps) for r in rates)
        self.pool = ASPPPooling(cin, channels, window, eps)
        self.project = ConvBN(channels * (2 + len(rates)), channels, 1, eps=eps)

    def forward(self, x):
        branches = [self.conv1x1(x)] + [conv(x) for conv in self.atrous] + [self.pool(x)]
        return self.project(torch.cat(branches, 1))


class Decoder(nn.Module):
    """Two fusion stages: resize to the low-level size, concat [upsampled, projected low-level],
    5×5 separable conv. Stage 1 uses res3 (stride 8), stage 2 res2 (stride 4)."""

    def __init__(self, high_channels: int, low_channels: Tuple[int, int],
                 projections: Tuple[int, int], channels: int, eps: float):
        super().__init__()
        self.project_s8 = ConvBN(low_channels[0], projections[0], 1, eps=eps)
        self.fuse_s8 = SeparableConv(high_channels + projections[0], channels, 5, eps)
        self.project_s4 = ConvBN(low_channels[1], projections[1], 1, eps=eps)
        self.fuse_s4 = SeparableConv(channels + projections[1], channels, 5, eps)

    def forward(self, x, res3, res2):
        x = self.fuse_s8(torch.cat([resize(x, res3.shape[-2:]), self.project_s8(res3)], 1))
        return self.fuse_s4(torch.cat([resize(x, res2.shape[-2:]), self.project_s4(res2)], 1))


class Head(nn.Sequential):
    """5×5 separable conv → 1×1 conv with bias."""

    def __init__(self, cin: int, channels: int, outputs: int, eps: float):
        super().__init__(SeparableConv(cin, channels, 5, eps), nn.Conv2d(channels, outputs, 1))


@dataclasses.dataclass(frozen=True)
class Widths:
    """Channel widths of the ASPPs, decoders and heads. The defaults are the DeepLab2 configs'
    ("ASPP", "Decoder and heads" in docs/PANOPTIC_DEEPLAB.md); smaller ones make reduced-width
    variants (e.g. the synthetic demo model in
    models/pytorch/demo/)."""
    semantic_aspp: int = 256
    semantic_projections: Tuple[int, int] = (64, 32)
    semantic_decoder: int = 256
    semantic_head: int = 256
    instance_aspp: int = 256
    instance_projections: Tuple[int, int] = (32, 16)
    instance_decoder: int = 128
    instance_head: int = 32


class PanopticDeepLab(nn.Module):
    """image [N,3,H,W] in [−1,1] → (semantic [N,19,H,W], center [N,1,H,W], offset [N,2,H,W])."""

    def __init__(self, config: Config, crop: Tuple[int, int] = DEFAULT_CROP,
                 num_classes: int = NUM_CLASSES, widths: Optional[Widths] = None):
        super().__init__()
        w = widths or Widths()
        self.config, eps = config, config.bn_eps
        if config.backbone == "mnv3l":
            self.backbone = MobileNetV3(MNV3_LARGE, MNV3_LARGE_LAST, config.output_stride, eps)
        elif config.backbone == "mnv3s":
            self.backbone = MobileNetV3(MNV3_SMALL, MNV3_SMALL_LAST, config.output_stride, eps)
        elif config.backbone == "resnet50":
            self.backbone = ResNet50(config.output_stride, eps)
        else:
            raise ValueError(f"unknown backbone '{config.backbone}'")
        channels = self.backbone.channels
        self.pool_window = pool_window(crop, config.output_stride)
        low = (channels["res3"], channels["res2"])
        self.semantic_aspp = ASPP(channels["res5"], config.aspp_rates, self.pool_window, eps,
                                  w.semantic_aspp)
        self.semantic_decoder = Decoder(w.semantic_aspp, low, w.semantic_projections,
                                        w.semantic_decoder, eps)
        self.semantic_head = Head(w.semantic_decoder, w.semantic_head, num_classes, eps)
        self.instance_aspp = ASPP(channels["res5"], config.aspp_rates, self.pool_window, eps,
                                  w.instance_aspp)
        self.instance_decoder = Decoder(w.instance_aspp, low, w.instance_projections,
                                        w.instance_decoder, eps)
        self.center_head = Head(w.instance_decoder, w.instance_head, 1, eps)
        self.offset_head = Head(w.instance_decoder, w.instance_head, 2, eps)

    def forward(self, image):
        size = image.shape[-2:]
        features = self.backbone(image)
        res2, res3, res5 = features["res2"], features["res3"], features["res5"]
        semantic = self.semantic_head(self.semantic_decoder(self.semantic_aspp(res5), res3, res2))
        instance = self.instance_decoder(self.instance_aspp(res5), res3, res2)
        center = self.center_head(instance)
        offset = self.offset_head(instance)
        # Offsets are in stride-4 pixels: scale each axis to input pixels, then resize.
        (h_in, w_in), (h_out, w_out) = offset.shape[-2:], size
        scale = torch.tensor([(int(h_out) - 1) / max(int(h_in) - 1, 1),
                              (int(w_out) - 1) / max(int(w_in) - 1, 1)],
                             dtype=offset.dtype, device=offset.device).reshape(1, 2, 1, 1)
        return resize(semantic, size), resize(center, size), resize(offset * scale, size)


# ------------------------------------------------------------------------------------------------
# Building, random weights, counting

def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights from `seed`: He-normal convolutions, biases N(0, 0.1²), and BatchNorm
    statistics and affine parameters that make folding non-trivial (as the conformance models):
    running_mean ~ N(0, 0.1²), running_var ~ U[0.5, 2], weight ~ U[0.5, 1.5], bias ~ N(0, 0.1²).
    Returns the model in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
    return model.eval()


def build_model(config: str, crop: Tuple[int, int] = DEFAULT_CROP, seed: Optional[int] = 0
                ) -> PanopticDeepLab:
    """The network of CONFIGS[config], with the ASPP pool window of `crop`; random weights from
    `seed` (None: PyTorch's default initialization), in eval mode."""
    if config not in CONFIGS:
        raise ValueError(f"unknown config '{config}' (one of {', '.join(CONFIGS)})")
    model = PanopticDeepLab(CONFIGS[config], crop)
    return randomize(model, seed) if seed is not None else model.eval()


def count_parameters(model: nn.Module) -> Dict[str, int]:
    """PyTorch parameters (conv weights and biases, BN γ and β) and BN channels: after folding
    BN into the convolutions, the count is parameters − batch_norm_channels."""
    bn = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    return {"parameters": sum(p.numel() for p in model.parameters()), "batch_norm_channels": bn}


class MultiplyAddCounter:
    """Counts the multiply-adds of every Conv2d/Linear by forward hooks while active:
    output elements × (input channels / groups) × kH × kW (Linear: output elements × in).
    Each module's count is overwritten, not summed, on every call, so a forward that runs twice
    (e.g. inside torch.onnx.export) counts once; no module of PanopticDeepLab runs twice per pass.

        with MultiplyAddCounter(model) as counter:
            model(x)                      # or torch.onnx.export(model, x, ...)
        counter.total(), counter.by_prefix(depth=1)
    """

    def __init__(self, model: nn.Module):
        self.model, self.per_module, self._handles = model, {}, []

    def __enter__(self):
        for name, module in self.model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name):
        def hook(module, inputs, output):
            if isinstance(module, nn.Conv2d):
                per_output = (module.in_channels // module.groups) * module.kernel_size[0] * \
                    module.kernel_size[1]
            else:
                per_output = module.in_features
            self.per_module[name] = int(output.numel()) * per_output
        return hook

    def total(self) -> int:
        return sum(self.per_module.values())

    def by_prefix(self, depth: int = 1) -> Dict[str, int]:
        """Sums over module-name prefixes of `depth` components (e.g. 'semantic_aspp')."""
        out: Dict[str, int] = {}
        for name, value in self.per_module.items():
            key = ".".join(name.split(".")[:depth])
            out[key] = out.get(key, 0) + value
        return out


def count_multiply_adds(model: nn.Module, size: Tuple[int, int]) -> MultiplyAddCounter:
    """Runs one [1,3,H,W] forward with a MultiplyAddCounter and returns the counter."""
    with torch.no_grad(), MultiplyAddCounter(model) as counter:
        model(torch.zeros(1, 3, *size))
    return counter
