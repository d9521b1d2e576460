"""detectron2 Panoptic-DeepLab checkpoints (`.pkl` / `.pth`) + config YAML → IR, without PyTorch.

The graph is built from the config the way detectron2 builds the module tree, reading
facebookresearch/detectron2 (the truth): `projects/DeepLab/deeplab/resnet.py`
(`build_resnet_deeplab_backbone`, `DeepLabStem`), `detectron2/modeling/backbone/resnet.py`
(`BottleneckBlock`, `BasicStem`), `detectron2/layers/aspp.py`, `detectron2/layers/blocks.py`
(`DepthwiseSeparableConv2d`), `projects/DeepLab/deeplab/semantic_seg.py` (`DeepLabV3PlusHead`) and
`projects/Panoptic-DeepLab/panoptic_deeplab/panoptic_seg.py` (the two heads and the model's
inference path). Every state-dict tensor is mapped by its detectron2 name; a missing one, an unused
one, a shape that disagrees with the config or an unsupported config value is an error.

Outputs, as detectron2's heads return them at inference: `semantic` (logits), `center` (raw
heatmap) and `offset` (Δy, Δx), each bilinearly upsampled ×COMMON_STRIDE with
align_corners=False, the offsets multiplied by COMMON_STRIDE.
"""
from __future__ import annotations

import ast
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import passes
from .checkpoint_reader import read_checkpoint
from .errors import ConversionError
from .shapes import infer
from .writer import (Attr, Model, Tensor, attr_float, attr_floats, attr_int, attr_ints,
                     attr_string, attr_strings)

# The config keys this importer reads, with detectron2's defaults for those the `_BASE_` chain
# does not set: detectron2/config/defaults.py (`_C`), projects/DeepLab/deeplab/config.py
# (`add_deeplab_config`) and projects/Panoptic-DeepLab/panoptic_deeplab/config.py
# (`add_panoptic_deeplab_config`), the latter two applied over the first as the project's
# train_net.py does.
DEFAULTS = {
    "MODEL.META_ARCHITECTURE": "GeneralizedRCNN",
    "MODEL.PIXEL_MEAN": [103.530, 116.280, 123.675],
    "MODEL.PIXEL_STD": [1.0, 1.0, 1.0],
    "MODEL.BACKBONE.NAME": "build_resnet_backbone",
    "MODEL.RESNETS.DEPTH": 50,
    "MODEL.RESNETS.OUT_FEATURES": ["res4"],
    "MODEL.RESNETS.NUM_GROUPS": 1,
    "MODEL.RESNETS.NORM": "FrozenBN",
    "MODEL.RESNETS.WIDTH_PER_GROUP": 64,
    "MODEL.RESNETS.STRIDE_IN_1X1": True,
    "MODEL.RESNETS.RES5_DILATION": 1,
    "MODEL.RESNETS.RES2_OUT_CHANNELS": 256,
    "MODEL.RESNETS.STEM_OUT_CHANNELS": 64,
    "MODEL.RESNETS.DEFORM_ON_PER_STAGE": [False, False, False, False],
    "MODEL.RESNETS.RES4_DILATION": 1,  # DeepLab
    "MODEL.RESNETS.RES5_MULTI_GRID": [1, 2, 4],  # DeepLab
    "MODEL.RESNETS.STEM_TYPE": "deeplab",  # DeepLab
    "MODEL.SEM_SEG_HEAD.NAME": "SemSegFPNHead",
    "MODEL.SEM_SEG_HEAD.IN_FEATURES": ["p2", "p3", "p4", "p5"],
    "MODEL.SEM_SEG_HEAD.NUM_CLASSES": 54,
    "MODEL.SEM_SEG_HEAD.CONVS_DIM": 128,
    "MODEL.SEM_SEG_HEAD.COMMON_STRIDE": 4,
    "MODEL.SEM_SEG_HEAD.NORM": "GN",
    "MODEL.SEM_SEG_HEAD.PROJECT_CHANNELS": [48],  # DeepLab
    "MODEL.SEM_SEG_HEAD.ASPP_CHANNELS": 256,  # DeepLab
    "MODEL.SEM_SEG_HEAD.ASPP_DILATIONS": [6, 12, 18],  # DeepLab
    "MODEL.SEM_SEG_HEAD.USE_DEPTHWISE_SEPARABLE_CONV": False,  # DeepLab
    "MODEL.SEM_SEG_HEAD.HEAD_CHANNELS": 256,  # Panoptic-DeepLab
    "MODEL.INS_EMBED_HEAD.NAME": "PanopticDeepLabInsEmbedHead",  # Panoptic-DeepLab, below too
    "MODEL.INS_EMBED_HEAD.IN_FEATURES": ["res2", "res3", "res5"],
    "MODEL.INS_EMBED_HEAD.PROJECT_CHANNELS": [32, 64],
    "MODEL.INS_EMBED_HEAD.ASPP_CHANNELS": 256,
    "MODEL.INS_EMBED_HEAD.ASPP_DILATIONS": [6, 12, 18],
    "MODEL.INS_EMBED_HEAD.HEAD_CHANNELS": 32,
    "MODEL.INS_EMBED_HEAD.CONVS_DIM": 128,
    "MODEL.INS_EMBED_HEAD.COMMON_STRIDE": 4,
    "MODEL.INS_EMBED_HEAD.NORM": "SyncBN",
    "MODEL.PANOPTIC_DEEPLAB.STUFF_AREA": 2048,
    "MODEL.PANOPTIC_DEEPLAB.CENTER_THRESHOLD": 0.1,
    "MODEL.PANOPTIC_DEEPLAB.NMS_KERNEL": 7,
    "MODEL.PANOPTIC_DEEPLAB.TOP_K_INSTANCE": 200,
    "MODEL.PANOPTIC_DEEPLAB.USE_DEPTHWISE_SEPARABLE_CONV": False,
    "MODEL.PANOPTIC_DEEPLAB.SIZE_DIVISIBILITY": -1,
    "INPUT.FORMAT": "BGR",
    "INPUT.MIN_SIZE_TEST": 800,
    "INPUT.MAX_SIZE_TEST": 1333,
    "INPUT.CROP.ENABLED": False,
    "INPUT.CROP.TYPE": "relative_range",
    "INPUT.CROP.SIZE": [0.9, 0.9],
    "DATASETS.TRAIN": [],
}

# Class names and thing ids of the datasets detectron2 registers for Panoptic-DeepLab
# (detectron2/data/datasets/builtin_meta.py, cityscapes_panoptic.py, coco_panoptic.py): the
# contiguous ids are the Cityscapes train ids and the index into the 133 COCO panoptic
# categories (80 things first); both set label_divisor = 1000.
CITYSCAPES_LABELS = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle")
COCO_PANOPTIC_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush", "banner", "blanket",
    "bridge", "cardboard", "counter", "curtain", "door-stuff", "floor-wood", "flower", "fruit",
    "gravel", "house", "light", "mirror-stuff", "net", "pillow", "platform", "playingfield",
    "railroad", "river", "road", "roof", "sand", "sea", "shelf", "snow", "stairs", "tent",
    "towel", "wall-brick", "wall-stone", "wall-tile", "wall-wood", "water-other",
    "window-blind", "window-other", "tree-merged", "fence-merged", "ceiling-merged",
    "sky-other-merged", "cabinet-merged", "table-merged", "floor-other-merged",
    "pavement-merged", "mountain-merged", "grass-merged", "dirt-merged", "paper-merged",
    "food-other-merged", "building-other-merged", "rock-merged", "wall-other-merged",
    "rug-merged")
DATASETS = {
    "cityscapes_fine_panoptic_train": (CITYSCAPES_LABELS, list(range(11, 19))),
    "coco_2017_train_panoptic": (COCO_PANOPTIC_LABELS, list(range(80))),
}
LABEL_DIVISOR = 1000
# detectron2's get_norm: every BatchNorm flavour is y = (x − mean)/sqrt(var + 1e-5)·γ + β at
# inference (FrozenBatchNorm2d uses the same epsilon).
BATCH_NORMS = ("BN", "SyncBN", "naiveSyncBN", "nnSyncBN", "FrozenBN")
BN_EPSILON = 1e-5
STAGE_BLOCKS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
IGNORED_TENSORS = ("num_batches_tracked", "pixel_mean", "pixel_std")


# ---------------------------------------------------------------------------------------------
# Config


class _Unevaluated:
    """A `!!python/object/apply:eval` value: detectron2 evaluates it as Python; we do not."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"<python expression {self.text!r}, not evaluated>"


def _yaml_loader():
    try:
        import yaml
    except ImportError:
        raise ConversionError("reading a detectron2 config needs PyYAML (pip install pyyaml)") from None

    class Loader(yaml.SafeLoader):
        pass

    def unevaluated(loader, suffix, node):
        return _Unevaluated(loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
                            else loader.construct_scalar(node))

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", unevaluated)
    return yaml, Loader


def _decode(value):
    """yacs' `_decode_cfg_value`: strings that are Python literals become values."""
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return value


def _flatten(tree: dict, prefix: str, out: Dict[str, object]) -> None:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        else:
            out[name] = value


def load_config(path: str, _chain: Tuple[str, ...] = ()) -> Dict[str, object]:
    """The YAML file with its `_BASE_` chain merged under it (yacs' rule: the derived file's keys
    win), flattened to dotted keys; the defaults are not included."""
    yaml, Loader = _yaml_loader()
    real = os.path.realpath(path)
    if real in _chain:
        raise ConversionError(f"config '{path}': its _BASE_ chain includes itself")
    try:
        with open(path, encoding="utf-8") as f:
            tree = yaml.load(f, Loader=Loader)
    except OSError as error:
        raise ConversionError(f"cannot read config '{path}': {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConversionError(f"config '{path}' is not valid YAML: "
                              f"{' '.join(str(error).split())[:200]}") from None
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConversionError(f"config '{path}' is not a YAML mapping")
    merged: Dict[str, object] = {}
    base = tree.pop("_BASE_", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConversionError(f"config '{path}': _BASE_ must be a file name")
        if not (base.startswith("/") or "://" in base):
            base = os.path.join(os.path.dirname(path), base)
        if "://" in base:
            raise ConversionError(f"config '{path}': _BASE_ '{base}' is a URL; download it and "
                                  f"give a local path")
        merged.update(load_config(base, _chain + (real,)))
    flat: Dict[str, object] = {}
    _flatten(_decode(tree), "", flat)
    merged.update(flat)
    return merged


class Config:
    """Dotted-key access with the DEFAULTS table beneath the file's values."""

    def __init__(self, values: Dict[str, object], path: str):
        self.values = values
        self.path = path

    def __getitem__(self, key: str):
        value = self.values[key] if key in self.values else DEFAULTS[key]
        if isinstance(value, _Unevaluated):
            raise ConversionError(f"config key {key} is a Python expression ({value.text}); "
                                  f"give its value instead")
        return value

    def unsupported(self, key: str, why: str = "") -> ConversionError:
        return ConversionError(f"config {key} = {self[key]!r} is not supported"
                               + (f" ({why})" if why else ""))

    def int(self, key: str) -> int:
        value = self[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConversionError(f"config {key} = {value!r} must be an integer")
        return value

    def ints(self, key: str) -> List[int]:
        value = self[key]
        if (not isinstance(value, (list, tuple)) or
                any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
            raise ConversionError(f"config {key} = {value!r} must be a list of integers")
        return list(value)

    def floats(self, key: str, n: int) -> List[float]:
        value = self[key]
        if (not isinstance(value, (list, tuple)) or len(value) != n or
                any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
            raise ConversionError(f"config {key} = {value!r} must be {n} numbers")
        return [float(v) for v in value]

    def number(self, key: str) -> float:
        value = self[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConversionError(f"config {key} = {value!r} must be a number")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self[key]
        if not isinstance(value, bool):
            raise ConversionError(f"config {key} = {value!r} must be true or false")
        return value

    def strings(self, key: str) -> List[str]:
        value = self[key]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConversionError(f"config {key} = {value!r} must be a list of names")
        return list(value)


# ---------------------------------------------------------------------------------------------
# Graph building


class _Builder:
    def __init__(self, weights: Dict[str, np.ndarray], path: str):
        self.model = Model()
        self.weights = weights
        self.path = path
        self.used: set = set()
        self.names: set = set()

    def shape(self, index: int) -> tuple:
        return tuple(self.model.tensors[index].shape)

    def unique(self, name: str) -> str:
        base, n = name, 1
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def weight(self, name: str, shape: Sequence[int]) -> int:
        if name not in self.weights:
            raise ConversionError(f"the checkpoint lacks '{name}' (expected shape {list(shape)}): "
                                  f"the config and the checkpoint do not describe the same model")
        array = self.weights[name]
        if tuple(array.shape) != tuple(shape):
            raise ConversionError(f"'{name}' has shape {list(array.shape)}, the config implies "
                                  f"{list(shape)}")
        if array.dtype.kind != "f":
            raise ConversionError(f"'{name}' is {array.dtype}, not a floating-point tensor")
        self.used.add(name)
        data = np.ascontiguousarray(array.astype(np.float32))
        if not np.all(np.isfinite(data)):
            raise ConversionError(f"'{name}' holds NaN or infinite values")
        return self.model.add_tensor(Tensor(self.unique(name), "float32", data.shape, data))

    def constant(self, name: str, array: np.ndarray) -> int:
        data = np.ascontiguousarray(array, np.float32)
        return self.model.add_tensor(Tensor(self.unique(name), "float32", data.shape, data))

    def emit(self, op: str, name: str, inputs: List[Optional[int]], attributes: Dict[str, Attr],
             output_name: Optional[str] = None) -> int:
        shapes = [None if i is None else self.shape(i) for i in inputs]
        (dtype, shape), = infer(op, attributes, shapes)
        out = self.model.add_tensor(Tensor(self.unique(output_name or name), dtype, shape))
        self.model.add_node(op, self.unique(name + ":" + op), inputs, [out], attributes)
        return out

    def conv(self, prefix: str, x: int, out_channels: int, kernel: int, *, stride: int = 1,
             padding: int = 0, dilation: int = 1, groups: int = 1, norm: str = "",
             relu: bool = False, bias: Optional[bool] = None) -> int:
        """detectron2's `layers.Conv2d` (conv, then its `norm` child, then the activation); with no
        norm the conv has a bias unless `bias` says otherwise."""
        in_channels = self.shape(x)[1]
        w = self.weight(f"{prefix}.weight", (out_channels, in_channels // groups, kernel, kernel))
        has_bias = (norm == "") if bias is None else bias
        b = self.weight(f"{prefix}.bias", (out_channels,)) if has_bias else None
        attributes = {"strides": attr_ints([stride, stride]), "dilations": attr_ints([dilation, dilation]),
                      "pads": attr_ints([padding] * 4), "group": attr_int(groups)}
        y = self.emit("conv", prefix, [x, w] + ([b] if b is not None else []), attributes)
        if norm:
            params = [self.weight(f"{prefix}.norm.{p}", (out_channels,))
                      for p in ("weight", "bias", "running_mean", "running_var")]
            if np.any(self.model.tensors[params[3]].data < 0):
                raise ConversionError(f"'{prefix}.norm.running_var' has negative values")
            y = self.emit("batch_norm", prefix + ".norm", [y] + params,
                          {"epsilon": attr_float(BN_EPSILON)})
        if relu:
            y = self.emit("relu", prefix, [y], {})
        return y

    def separable(self, prefix: str, x: int, out_channels: int, kernel: int, padding: int,
                  dilation: int, norm: str) -> int:
        """`DepthwiseSeparableConv2d`: depthwise k×k → norm → ReLU, pointwise 1×1 → norm → ReLU."""
        channels = self.shape(x)[1]
        y = self.conv(f"{prefix}.depthwise", x, channels, kernel, padding=padding,
                      dilation=dilation, groups=channels, norm=norm, relu=True)
        return self.conv(f"{prefix}.pointwise", y, out_channels, 1, norm=norm, relu=True)

    def resize(self, name: str, x: int, size: Sequence[int], scale: Optional[float] = None) -> int:
        """F.interpolate(bilinear, align_corners=False): ONNX half_pixel; `scale_factor` given
        as a scale, as PyTorch then uses 1/scale in the coordinate map."""
        attributes = {"mode": attr_string("linear"), "coordinate_mode": attr_string("half_pixel"),
                      "sizes": attr_ints(size)}
        if scale is not None:
            attributes["scales"] = attr_floats([scale, scale])
        return self.emit("resize", name, [x], attributes)


def _norm(cfg: Config, key: str) -> str:
    norm = cfg[key]
    if norm == "":
        return ""
    if norm not in BATCH_NORMS:
        raise cfg.unsupported(key, "BatchNorm flavours and '' are; GroupNorm is not")
    return "bn"


def _backbone(b: _Builder, cfg: Config, image: int) -> Tuple[Dict[str, int], Dict[str, int]]:
    """build_resnet_deeplab_backbone: features by name and their strides."""
    r = "MODEL.RESNETS."
    norm = _norm(cfg, r + "NORM")
    depth = cfg.int(r + "DEPTH")
    if depth not in STAGE_BLOCKS:
        raise cfg.unsupported(r + "DEPTH", "50, 101 and 152 are (bottleneck blocks)")
    stem_type, stem_out = cfg[r + "STEM_TYPE"], cfg.int(r + "STEM_OUT_CHANNELS")
    if stem_type == "deeplab":
        x = b.conv("backbone.stem.conv1", image, stem_out // 2, 3, stride=2, padding=1, norm=norm,
                   relu=True, bias=False)
        x = b.conv("backbone.stem.conv2", x, stem_out // 2, 3, padding=1, norm=norm, relu=True,
                   bias=False)
        x = b.conv("backbone.stem.conv3", x, stem_out, 3, padding=1, norm=norm, relu=True, bias=False)
    elif stem_type == "basic":
        x = b.conv("backbone.stem.conv1", image, stem_out, 7, stride=2, padding=3, norm=norm,
                   relu=True, bias=False)
    else:
        raise cfg.unsupported(r + "STEM_TYPE", "'deeplab' and 'basic' are")
    x = b.emit("max_pool", "backbone.stem.max_pool", [x],
               {"kernel_shape": attr_ints([3, 3]), "strides": attr_ints([2, 2]),
                "pads": attr_ints([1, 1, 1, 1])})
    groups, width = cfg.int(r + "NUM_GROUPS"), cfg.int(r + "WIDTH_PER_GROUP")
    if groups < 1 or width < 1:
        raise ConversionError("config RESNETS.NUM_GROUPS and WIDTH_PER_GROUP must be positive")
    stride_in_1x1 = cfg.flag(r + "STRIDE_IN_1X1")
    res4_dilation, res5_dilation = cfg.int(r + "RES4_DILATION"), cfg.int(r + "RES5_DILATION")
    if res4_dilation not in (1, 2):
        raise cfg.unsupported(r + "RES4_DILATION", "detectron2 allows 1 or 2")
    if res5_dilation not in (1, 2, 4) or (res4_dilation == 2 and res5_dilation != 4):
        raise cfg.unsupported(r + "RES5_DILATION", "detectron2 allows 1, 2, 4; 4 when res4 is dilated")
    multi_grid = cfg.ints(r + "RES5_MULTI_GRID")
    if len(multi_grid) != STAGE_BLOCKS[depth][3]:
        raise cfg.unsupported(r + "RES5_MULTI_GRID", f"res5 has {STAGE_BLOCKS[depth][3]} blocks")
    deform = cfg[r + "DEFORM_ON_PER_STAGE"]
    if not isinstance(deform, (list, tuple)) or any(deform):
        raise cfg.unsupported(r + "DEFORM_ON_PER_STAGE", "deformable convolutions are not")
    out_features = cfg.strings(r + "OUT_FEATURES")
    stages = {"res2": 2, "res3": 3, "res4": 4, "res5": 5}
    if not out_features or any(f not in stages for f in out_features):
        raise cfg.unsupported(r + "OUT_FEATURES")
    in_channels, out_channels = stem_out, cfg.int(r + "RES2_OUT_CHANNELS")
    bottleneck = groups * width
    features, strides, stride = {}, {}, 4
    for idx, stage in enumerate(range(2, max(stages[f] for f in out_features) + 1)):
        dilation = {4: res4_dilation, 5: res5_dilation}.get(stage, 1)
        first_stride = 1 if idx == 0 or dilation > 1 else 2
        stride *= first_stride
        for k in range(STAGE_BLOCKS[depth][idx]):
            block_dilation = dilation * multi_grid[k] if stage == 5 else dilation
            s = first_stride if k == 0 else 1
            p = f"backbone.res{stage}.{k}"
            if in_channels != out_channels:
                shortcut = b.conv(f"{p}.shortcut", x, out_channels, 1, stride=s, norm=norm,
                                  bias=False)
            else:
                shortcut = x
            y = b.conv(f"{p}.conv1", x, bottleneck, 1, stride=s if stride_in_1x1 else 1, norm=norm,
                       relu=True, bias=False)
            y = b.conv(f"{p}.conv2", y, bottleneck, 3, stride=1 if stride_in_1x1 else s,
                       padding=block_dilation, dilation=block_dilation, groups=groups, norm=norm,
                       relu=True, bias=False)
            y = b.conv(f"{p}.conv3", y, out_channels, 1, norm=norm, bias=False)
            y = b.emit("add", f"{p}.add", [y, shortcut], {})
            x = b.emit("relu", p, [y], {}, output_name=f"res{stage}" if k == STAGE_BLOCKS[depth][idx] - 1 else None)
            in_channels = out_channels
        features[f"res{stage}"], strides[f"res{stage}"] = x, stride
        out_channels *= 2
        bottleneck *= 2
    return {f: features[f] for f in out_features}, {f: strides[f] for f in out_features}


def _decoder(b: _Builder, cfg: Config, head: str, prefix: str, features: Dict[str, int],
             strides: Dict[str, int], decoder_only_channels: int) -> int:
    """DeepLabV3PlusHead.layers (decoder only): ASPP on the deepest feature, then per shallower
    feature project 1×1 → resize the running map to it → concat [projected, upsampled] → fuse."""
    k = f"MODEL.{head}."
    norm = _norm(cfg, k + "NORM")
    in_features = cfg.strings(k + "IN_FEATURES")
    missing = [f for f in in_features if f not in features]
    if missing or len(set(in_features)) != len(in_features) or len(in_features) < 1:
        raise cfg.unsupported(k + "IN_FEATURES", f"the backbone gives {sorted(features)}")
    in_features = sorted(in_features, key=lambda f: strides[f])
    project = cfg.ints(k + "PROJECT_CHANNELS")
    if len(project) != len(in_features) - 1:
        raise cfg.unsupported(k + "PROJECT_CHANNELS", f"{len(in_features) - 1} values needed")
    decoder = [decoder_only_channels] * (len(in_features) - 1) + [cfg.int(k + "ASPP_CHANNELS")]
    dilations = cfg.ints(k + "ASPP_DILATIONS")
    if len(dilations) != 3:
        raise cfg.unsupported(k + "ASPP_DILATIONS", "ASPP takes 3 dilations")
    separable = cfg.flag("MODEL.SEM_SEG_HEAD.USE_DEPTHWISE_SEPARABLE_CONV")
    # ASPP's pooling window: the training crop over the encoder stride when cropping is on
    # (a sliding average at larger inputs), global average pooling otherwise.
    pool = None
    if cfg.flag("INPUT.CROP.ENABLED"):
        if cfg["INPUT.CROP.TYPE"] != "absolute":
            raise cfg.unsupported("INPUT.CROP.TYPE", "detectron2's Panoptic-DeepLab asserts 'absolute'")
        crop = cfg.ints("INPUT.CROP.SIZE")
        encoder_stride = strides[in_features[-1]]
        if len(crop) != 2 or crop[0] % encoder_stride or crop[1] % encoder_stride:
            raise cfg.unsupported("INPUT.CROP.SIZE", f"must be divisible by the encoder stride "
                                                     f"{encoder_stride}")
        pool = [crop[0] // encoder_stride, crop[1] // encoder_stride]
    y = None
    for idx in reversed(range(len(in_features))):
        f = in_features[idx]
        x = features[f]
        p = f"{prefix}.decoder.{f}"
        if idx == len(in_features) - 1:
            y = _aspp(b, f"{p}.project_conv", x, decoder[idx], dilations, norm, separable, pool)
            continue
        projected = b.conv(f"{p}.project_conv", x, project[idx], 1, norm=norm, relu=True)
        up = b.resize(f"{p}.upsample", y, b.shape(projected)[2:])
        y = b.emit("concat", f"{p}.concat", [projected, up], {"axis": attr_int(1)})
        if separable:
            y = b.separable(f"{p}.fuse_conv", y, decoder[idx], 5, 2, 1, norm)
        else:
            y = b.conv(f"{p}.fuse_conv.0", y, decoder[idx], 3, padding=1, norm=norm, relu=True)
            y = b.conv(f"{p}.fuse_conv.1", y, decoder[idx], 3, padding=1, norm=norm, relu=True)
    return y


def _aspp(b: _Builder, p: str, x: int, channels: int, dilations: List[int], norm: str,
          separable: bool, pool: Optional[List[int]]) -> int:
    branches = [b.conv(f"{p}.convs.0", x, channels, 1, norm=norm, relu=True)]
    for k, d in enumerate(dilations, 1):
        if separable:
            branches.append(b.separable(f"{p}.convs.{k}", x, channels, 3, d, d, norm))
        else:
            branches.append(b.conv(f"{p}.convs.{k}", x, channels, 3, padding=d, dilation=d,
                                   norm=norm, relu=True))
    size = b.shape(x)[2:]
    if pool is None:
        pooled = b.emit("global_average_pool", f"{p}.convs.4.0", [x], {})
    else:
        if size[0] % pool[0] or size[1] % pool[1]:
            raise ConversionError(f"the ASPP input {size[0]}x{size[1]} is not divisible by its "
                                  f"pooling window {pool[0]}x{pool[1]} (the training crop over the "
                                  f"encoder stride): detectron2 refuses this input size too")
        pooled = b.emit("average_pool", f"{p}.convs.4.0", [x],
                        {"kernel_shape": attr_ints(pool), "strides": attr_ints([1, 1])})
    pooled = b.conv(f"{p}.convs.4.1", pooled, channels, 1, relu=True, bias=True)
    branches.append(b.resize(f"{p}.convs.4.upsample", pooled, size))
    y = b.emit("concat", f"{p}.concat", branches, {"axis": attr_int(1)})
    return b.conv(f"{p}.project", y, channels, 1, norm=norm, relu=True)


def _head_pair(b: _Builder, p: str, x: int, mid: int, out: int, norm: str, separable: bool) -> int:
    """The `head`/`offset_head` before a predictor: one 5×5 separable conv, or two 3×3 convs."""
    if separable:
        return b.separable(p, x, out, 5, 2, 1, norm)
    y = b.conv(f"{p}.0", x, mid, 3, padding=1, norm=norm, relu=True)
    return b.conv(f"{p}.1", y, out, 3, padding=1, norm=norm, relu=True)


def _input_size(cfg: Config, requested: Optional[Sequence[int]]) -> List[int]:
    if requested is not None:
        return list(requested)
    # detectron2's test-time resize gives a short side of MIN_SIZE_TEST and a long side of at
    # most MAX_SIZE_TEST; the landscape image with both (Cityscapes: 1024×2048), padded up to
    # SIZE_DIVISIBILITY (COCO: 640×640), is the size the configs are run at.
    h, w = cfg.int("INPUT.MIN_SIZE_TEST"), cfg.int("INPUT.MAX_SIZE_TEST")
    d = cfg.int("MODEL.PANOPTIC_DEEPLAB.SIZE_DIVISIBILITY")
    if d > 0:
        h, w = -(-h // d) * d, -(-w // d) * d
    return [h, w]


def build(cfg: Config, weights: Dict[str, np.ndarray], path: str,
          input_size: Optional[Sequence[int]] = None) -> Tuple[Model, Dict[str, Attr]]:
    """The IR (before BatchNorm folding) and the metadata the config implies."""
    for key, expected in (("MODEL.META_ARCHITECTURE", "PanopticDeepLab"),
                          ("MODEL.BACKBONE.NAME", "build_resnet_deeplab_backbone"),
                          ("MODEL.SEM_SEG_HEAD.NAME", "PanopticDeepLabSemSegHead"),
                          ("MODEL.INS_EMBED_HEAD.NAME", "PanopticDeepLabInsEmbedHead")):
        if cfg[key] != expected:
            raise cfg.unsupported(key, f"this converter reads {expected}")
    separable = cfg.flag("MODEL.SEM_SEG_HEAD.USE_DEPTHWISE_SEPARABLE_CONV")
    if cfg.flag("MODEL.PANOPTIC_DEEPLAB.USE_DEPTHWISE_SEPARABLE_CONV") != separable:
        raise ConversionError("config MODEL.PANOPTIC_DEEPLAB.USE_DEPTHWISE_SEPARABLE_CONV and "
                              "MODEL.SEM_SEG_HEAD.USE_DEPTHWISE_SEPARABLE_CONV differ (detectron2 "
                              "asserts they are equal)")
    input_format = cfg["INPUT.FORMAT"]
    if input_format not in ("RGB", "BGR"):
        raise cfg.unsupported("INPUT.FORMAT", "RGB and BGR are")
    mean, std = cfg.floats("MODEL.PIXEL_MEAN", 3), cfg.floats("MODEL.PIXEL_STD", 3)
    if any(s <= 0 for s in std):
        raise cfg.unsupported("MODEL.PIXEL_STD", "must be positive")
    h, w = _input_size(cfg, input_size)
    strides_common = [cfg.int(f"MODEL.{k}.COMMON_STRIDE") for k in ("SEM_SEG_HEAD", "INS_EMBED_HEAD")]

    b = _Builder(weights, path)
    image = b.model.add_tensor(Tensor("image", "float32", (1, 3, h, w)))
    b.names.add("image")
    b.model.inputs = [image]
    features, strides = _backbone(b, cfg, image)
    if input_format == "BGR":
        # atrous feeds RGB: the channel swap goes into the stem's first conv and the statistics.
        first = next(n for n in b.model.nodes if n.op == "conv")
        wt = b.model.tensors[first.inputs[1]]
        wt.data = np.ascontiguousarray(wt.data[:, ::-1])
        mean, std = mean[::-1], std[::-1]

    sem = "MODEL.SEM_SEG_HEAD."
    y = _decoder(b, cfg, "SEM_SEG_HEAD", "sem_seg_head", features, strides, cfg.int(sem + "CONVS_DIM"))
    norm = _norm(cfg, sem + "NORM")
    classes = cfg.int(sem + "NUM_CLASSES")
    y = _head_pair(b, "sem_seg_head.head", y, cfg.int(sem + "CONVS_DIM"), cfg.int(sem + "HEAD_CHANNELS"),
                   norm, separable)
    logits = b.conv("sem_seg_head.predictor", y, classes, 1, bias=True)

    ins = "MODEL.INS_EMBED_HEAD."
    y = _decoder(b, cfg, "INS_EMBED_HEAD", "ins_embed_head", features, strides,
                 cfg.int(ins + "CONVS_DIM"))
    norm = _norm(cfg, ins + "NORM")
    mid, head = cfg.int(ins + "CONVS_DIM"), cfg.int(ins + "HEAD_CHANNELS")
    c = _head_pair(b, "ins_embed_head.center_head", y, mid, head, norm, False)
    center = b.conv("ins_embed_head.center_predictor", c, 1, 1, bias=True)
    o = _head_pair(b, "ins_embed_head.offset_head", y, mid, head, norm, separable)
    offset = b.conv("ins_embed_head.offset_predictor", o, 2, 1, bias=True)

    outputs = []
    for name, x, s in (("semantic", logits, strides_common[0]), ("center", center, strides_common[1]),
                       ("offset", offset, strides_common[1])):
        size = b.shape(x)[2:]
        up = b.resize(f"{name}.upsample", x, [size[0] * s, size[1] * s], float(s))
        if name == "offset":
            scale = b.constant("offset.scale", np.array([s], np.float32))
            up = b.emit("mul", "offset.scale", [up, scale], {})
        outputs.append(up)
    for name, index in zip(("semantic", "center", "offset"), outputs):
        tensor = b.model.tensors[index]
        b.names.discard(tensor.name)
        tensor.name = b.unique(name)
        if tuple(tensor.shape[2:]) != (h, w):
            raise ConversionError(f"the {name} output is {tensor.shape[2]}x{tensor.shape[3]}, not the "
                                  f"input's {h}x{w}: the input size must be a multiple of the "
                                  f"output stride")
    b.model.outputs = outputs

    unused = sorted(n for n in weights if n not in b.used and n.rsplit(".", 1)[-1] not in IGNORED_TENSORS)
    if unused:
        more = f" and {len(unused) - 5} more" if len(unused) > 5 else ""
        raise ConversionError(f"the checkpoint has {len(unused)} tensor(s) the config's model does "
                              f"not use: {', '.join(unused[:5])}{more}")

    metadata = {"task": attr_string("panoptic"), "input_layout": attr_string("nchw"),
                "input_mean": attr_floats(mean), "input_std": attr_floats(std),
                "input_size": attr_ints([h, w]), "void_label": attr_int(-1),
                "label_divisor": attr_int(LABEL_DIVISOR),
                "center_threshold": attr_float(cfg.number("MODEL.PANOPTIC_DEEPLAB.CENTER_THRESHOLD")),
                "nms_kernel": attr_int(cfg.int("MODEL.PANOPTIC_DEEPLAB.NMS_KERNEL")),
                "top_k": attr_int(cfg.int("MODEL.PANOPTIC_DEEPLAB.TOP_K_INSTANCE")),
                "stuff_area_limit": attr_int(cfg.int("MODEL.PANOPTIC_DEEPLAB.STUFF_AREA"))}
    train = cfg["DATASETS.TRAIN"]
    dataset = train[0] if isinstance(train, (list, tuple)) and train else None
    if dataset in DATASETS:
        labels, things = DATASETS[dataset]
        if len(labels) == classes:
            metadata["labels"] = attr_strings(labels)
            metadata["thing_classes"] = attr_ints(things)
    return b.model, metadata


def convert_checkpoint(checkpoint: str, config_path: str, input_size: Optional[Sequence[int]] = None,
                       fold_batch_norm: bool = True) -> Tuple[Model, str, Dict[str, Attr]]:
    """Returns the IR, its source description and the metadata implied by the config."""
    cfg = Config(load_config(config_path), config_path)
    weights, kind = read_checkpoint(checkpoint)
    ir, metadata = build(cfg, weights, checkpoint, input_size)
    if fold_batch_norm:
        passes.fold_batch_norm(ir)
    ir = passes.remove_dead_code(ir)
    source = (f"{os.path.basename(checkpoint)} (detectron2 {kind}, config "
              f"{os.path.basename(config_path)})")
    return ir, source, metadata
