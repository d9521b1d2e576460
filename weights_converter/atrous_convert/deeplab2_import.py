"""DeepLab2 Panoptic-DeepLab checkpoints → atrous IR, without TensorFlow.

`convert_checkpoint(prefix, config_path)` reads the experiment config (text-format
`ExperimentOptions` of DeepLab2, github.com/google-research/deeplab2, `config.proto`), builds the
network it describes node by node, and fills every weight from the TF2 checkpoint written by
`tf.train.Checkpoint(**model.checkpoint_items)` (DeepLab2's trainer and exporter). Each variable
is looked up by its object-graph path, e.g.
`encoder/_blocks/3/_conv2_bn_act/_depthwise_conv/depthwise_kernel/.ATTRIBUTES/VARIABLE_VALUE`;
its shape is checked against the one the config implies. A variable the network needs and the
checkpoint lacks, a model variable the network does not use, a wrong shape, and a config value
this importer does not implement are errors (docs/CHECKPOINTS.md lists the mapping rules).

Graph (docs/PANOPTIC_DEEPLAB.md): NCHW float input, normalized by the metadata (x/127.5 − 1 as
DeepLab2's `DeepLab.call`); conv → batch_norm → activation nodes (the shared `fold_batch_norm`
pass folds the BatchNorms afterwards); align-corners bilinear resizes; outputs `semantic`,
`center`, `offset` at the input size, the offsets rescaled per axis first as DeepLab2's
`resize_and_rescale_offsets` does.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import passes, textproto
from .errors import ConversionError
from .textproto import Message
from .tf_checkpoint import Checkpoint
from .writer import Attr, Model, Tensor, attr_float, attr_int, attr_ints, attr_string, \
    attr_strings, attr_floats

VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Checkpoint entries that are not network weights: the object graph, the step counters and the
# optimizer state a training checkpoint carries (its own variables and the slots it attaches).
NON_MODEL_PREFIXES = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/", "global_step/",
                      "optimizer/", "backbone_optimizer/")

# Dataset facts DeepLab2 keeps in code (`data/dataset.py`), not in the config.
CITYSCAPES_LABELS = ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                     "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
                     "truck", "bus", "train", "motorcycle", "bicycle"]
DATASETS = {
    "cityscapes_panoptic": {"labels": CITYSCAPES_LABELS, "thing_classes": list(range(11, 19)),
                            "label_divisor": 1000, "ignore_label": 255},
}

# MobileNetV3 block tables of DeepLab2's `model/encoder/mobilenet.py`, restated as
# (block, kernel, stride, filters, activation, se_ratio, expand_ratio, is_endpoint).
MNV3_SMALL = [
    ("conv_bn", 3, 2, 16, "hard_swish", None, None, True),
    ("ib", 3, 2, 16, "relu", 0.25, 1.0, True),
    ("ib", 3, 2, 24, "relu", None, 72.0 / 16, False),
    ("ib", 3, 1, 24, "relu", None, 88.0 / 24, True),
    ("ib", 5, 2, 40, "hard_swish", 0.25, 4.0, False),
    ("ib", 5, 1, 40, "hard_swish", 0.25, 6.0, False),
    ("ib", 5, 1, 40, "hard_swish", 0.25, 6.0, False),
    ("ib", 5, 1, 48, "hard_swish", 0.25, 3.0, False),
    ("ib", 5, 1, 48, "hard_swish", 0.25, 3.0, True),
    ("ib", 5, 2, 96, "hard_swish", 0.25, 6.0, False),
    ("ib", 5, 1, 96, "hard_swish", 0.25, 6.0, False),
    ("ib", 5, 1, 96, "hard_swish", 0.25, 6.0, False),
    ("conv_bn", 1, 1, 576, "hard_swish", None, None, True),
]
MNV3_LARGE = [
    ("conv_bn", 3, 2, 16, "hard_swish", None, None, False),
    ("ib", 3, 1, 16, "relu", None, 1.0, True),
    ("ib", 3, 2, 24, "relu", None, 4.0, False),
    ("ib", 3, 1, 24, "relu", None, 3.0, True),
    ("ib", 5, 2, 40, "relu", 0.25, 3.0, False),
    ("ib", 5, 1, 40, "relu", 0.25, 3.0, False),
    ("ib", 5, 1, 40, "relu", 0.25, 3.0, True),
    ("ib", 3, 2, 80, "hard_swish", None, 6.0, False),
    ("ib", 3, 1, 80, "hard_swish", None, 2.5, False),
    ("ib", 3, 1, 80, "hard_swish", None, 2.3, False),
    ("ib", 3, 1, 80, "hard_swish", None, 2.3, False),
    ("ib", 3, 1, 112, "hard_swish", 0.25, 6.0, False),
    ("ib", 3, 1, 112, "hard_swish", 0.25, 6.0, True),
    ("ib", 5, 2, 160, "hard_swish", 0.25, 6.0, False),
    ("ib", 5, 1, 160, "hard_swish", 0.25, 6.0, False),
    ("ib", 5, 1, 160, "hard_swish", 0.25, 6.0, False),
    ("conv_bn", 1, 1, 960, "hard_swish", None, None, True),
]
RESNET50_BLOCKS = (3, 4, 6, 3)


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Rounds channels to the nearest multiple of `divisor` (not below min_value, nor 10 % below
    `value`): DeepLab2's `model/utils.py` rule."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# ---------------------------------------------------------------------------------------------
# Config


class _Config:
    """Typed access to a text-format message with DeepLab2's proto defaults and field checks."""

    def __init__(self, message: Message, path: str, known: Dict[str, tuple]):
        self.message, self.path = message, path
        for name in message:
            if name not in known:
                raise ConversionError(f"config field '{path}.{name}' is not supported by the "
                                      "DeepLab2 importer")
        self.known = known

    def get(self, name: str):
        kind, default = self.known[name][:2]
        values = self.message.all(name)
        if kind == "repeated":
            return values
        if not values:
            return default
        value = values[-1]
        if kind == "any":
            return value
        if kind == "msg":
            if not isinstance(value, Message):
                raise ConversionError(f"config field '{self.path}.{name}' must be a message")
            return value
        ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "str": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool)}[kind]
        if not ok(value):
            raise ConversionError(f"config field '{self.path}.{name}' = {value!r} is not a {kind}")
        return float(value) if kind == "float" else value

    def has(self, name: str) -> bool:
        return bool(self.message.all(name))

    def sub(self, name: str, known: Dict[str, tuple]) -> "_Config":
        value = self.get(name)
        return _Config(value if value is not None else Message(), f"{self.path}.{name}", known)

    def require(self, name: str, allowed, what: str = "") -> None:
        value = self.get(name)
        if value not in allowed:
            raise ConversionError(f"config field '{self.path}.{name}' = {value!r} is not supported"
                                  f"{what}")


ANY = ("any", None)
DECODER_FIELDS = {"feature_key": ("str", None), "decoder_channels": ("int", 256),
                  "decoder_conv_type": ("str", "depthwise_separable_conv"),
                  "aspp_channels": ("int", 256), "atrous_rates": ("repeated", None),
                  "aspp_use_only_1x1_proj_conv": ("bool", False)}
LOW_LEVEL_FIELDS = {"feature_key": ("str", None), "channels_project": ("int", None)}
HEAD_FIELDS = {"output_channels": ("int", None), "head_channels": ("int", None),
               "head_conv_type": ("str", "depthwise_separable_conv"),
               "max_value_after_activation": ("float", 0.0),
               "min_value_after_activation": ("float", 0.0)}
BACKBONE_FIELDS = {"name": ("str", "resnet50"), "output_stride": ("int", 32),
                   "pretrained_weights": ("str", ""), "use_squeeze_and_excite": ("bool", False),
                   "drop_path_keep_prob": ("float", 1.0), "drop_path_schedule": ("str", "constant"),
                   "stem_width_multiplier": ("float", 1.0),
                   "backbone_width_multiplier": ("float", 1.0),
                   "backbone_layer_multiplier": ("float", 1.0),
                   "use_sac_beyond_stride": ("int", -1)}


class Settings:
    """What the importer takes from the config."""

    def __init__(self, path: str):
        self.path = path
        root = textproto.parse_file(path)
        name = os.path.basename(path)
        top = _Config(root, name, {"experiment_name": ANY, "model_options": ("msg", None),
                                   "trainer_options": ("msg", None),
                                   "train_dataset_options": ("msg", None),
                                   "eval_dataset_options": ("msg", None),
                                   "evaluator_options": ("msg", None)})
        model = top.sub("model_options", {
            "backbone": ("msg", None), "decoder": ("msg", None), "panoptic_deeplab": ("msg", None),
            "initial_checkpoint": ANY, "restore_semantic_last_layer_from_initial_checkpoint": ANY,
            "restore_instance_last_layer_from_initial_checkpoint": ANY})
        if not model.has("panoptic_deeplab"):
            raise ConversionError(f"config '{name}': model_options has no panoptic_deeplab (only "
                                  "Panoptic-DeepLab configs are supported)")
        backbone = model.sub("backbone", BACKBONE_FIELDS)
        backbone.require("name", ("mobilenet_v3_large", "mobilenet_v3_small", "resnet50"),
                         " (mobilenet_v3_large, mobilenet_v3_small, resnet50)")
        self.backbone = backbone.get("name")
        self.output_stride = backbone.get("output_stride")
        if self.backbone.startswith("mobilenet"):
            backbone.require("use_squeeze_and_excite", (True,), " (DeepLab2 requires true for "
                             "MobileNetV3)")
            if self.output_stride < 4 or self.output_stride % 4:
                raise ConversionError(f"config field '{backbone.path}.output_stride' = "
                                      f"{self.output_stride} is not a multiple of 4")
        else:
            backbone.require("use_squeeze_and_excite", (False,))
            backbone.require("output_stride", (32,), " for resnet50 (only 32)")
            backbone.require("stem_width_multiplier", (1.0,), " for resnet50")
        if self.backbone == "resnet50":
            backbone.require("backbone_width_multiplier", (1.0,), " for resnet50")
        if backbone.get("backbone_width_multiplier") <= 0:
            raise ConversionError(f"config field '{backbone.path}.backbone_width_multiplier' "
                                  "must be positive")
        self.width_multiplier = backbone.get("backbone_width_multiplier")
        backbone.require("backbone_layer_multiplier", (1.0,))
        backbone.require("use_sac_beyond_stride", (-1,))

        self.decoder = self._decoder(model.sub("decoder", DECODER_FIELDS))
        pdl = model.sub("panoptic_deeplab", {"low_level": ("repeated", None),
                                             "instance": ("msg", None),
                                             "semantic_head": ("msg", None)})
        self.low_level = self._low_levels(pdl, "low_level")
        self.semantic_head = self._head(pdl.sub("semantic_head", HEAD_FIELDS))
        instance = pdl.sub("instance", {"enable": ("bool", True),
                                        "low_level_override": ("repeated", None),
                                        "instance_decoder_override": ("msg", None),
                                        "center_head": ("msg", None),
                                        "regression_head": ("msg", None)})
        instance.require("enable", (True,), " (a panoptic model needs the instance branch)")
        self.instance_low_level = (self._low_levels(instance, "low_level_override")
                                   if instance.has("low_level_override") else self.low_level)
        self.instance_decoder = (self._decoder(instance.sub("instance_decoder_override",
                                                            DECODER_FIELDS))
                                 if instance.has("instance_decoder_override") else self.decoder)
        self.center_head = self._head(instance.sub("center_head", HEAD_FIELDS))
        self.regression_head = self._head(instance.sub("regression_head", HEAD_FIELDS))
        if self.center_head["output_channels"] != 1 or self.regression_head["output_channels"] != 2:
            raise ConversionError(f"config '{name}': center head must have 1 output channel and "
                                  "the regression head 2")

        solver = top.sub("trainer_options", {k: ANY for k in ("save_checkpoints_steps",
                         "save_summaries_steps", "steps_per_loop", "loss_options", "solver_options",
                         "num_mask_slots")}).sub("solver_options", _SOLVER_FIELDS)
        self.epsilon = solver.get("batchnorm_epsilon")
        train = top.sub("train_dataset_options", _DATASET_FIELDS)
        evaluation = top.sub("eval_dataset_options", _DATASET_FIELDS)
        self.dataset = evaluation.get("dataset") or train.get("dataset")
        if self.dataset not in DATASETS:
            raise ConversionError(f"config '{name}': dataset {self.dataset!r} is not supported "
                                  f"(labels and thing classes are known for: "
                                  f"{', '.join(DATASETS)})")
        self.train_crop = self._crop(train)
        self.eval_crop = self._crop(evaluation) if evaluation.has("crop_size") else self.train_crop
        evaluator = top.sub("evaluator_options", _EVALUATOR_FIELDS)
        if evaluator.get("thing_area_limit") != 0:
            raise ConversionError(f"config field '{evaluator.path}.thing_area_limit' = "
                                  f"{evaluator.get('thing_area_limit')} is not supported (0 only)")
        self.merge = {"center_threshold": evaluator.get("center_score_threshold"),
                      "nms_kernel": evaluator.get("nms_kernel"),
                      "top_k": evaluator.get("keep_k_centers"),
                      "stuff_area_limit": evaluator.get("stuff_area_limit")}

    @staticmethod
    def _crop(options: _Config) -> Tuple[int, int]:
        crop = options.get("crop_size")
        if len(crop) != 2 or any(not isinstance(c, int) or c < 1 for c in crop):
            raise ConversionError(f"config field '{options.path}.crop_size' must be two positive "
                                  f"integers (height, width), not {crop}")
        return int(crop[0]), int(crop[1])

    @staticmethod
    def _decoder(options: _Config) -> dict:
        options.require("decoder_conv_type", ("depthwise_separable_conv",))
        options.require("aspp_use_only_1x1_proj_conv", (False,))
        rates = options.get("atrous_rates")
        if len(rates) != 3 or any(not isinstance(r, int) or r < 1 for r in rates):
            raise ConversionError(f"config field '{options.path}.atrous_rates' must hold three "
                                  f"positive rates, not {rates}")
        return {"feature_key": options.get("feature_key"),
                "decoder_channels": options.get("decoder_channels"),
                "aspp_channels": options.get("aspp_channels"), "atrous_rates": list(rates)}

    @staticmethod
    def _low_levels(options: _Config, field: str) -> List[Tuple[str, int]]:
        out = []
        for k, item in enumerate(options.get(field)):
            if not isinstance(item, Message):
                raise ConversionError(f"config field '{options.path}.{field}' must be a message")
            low = _Config(item, f"{options.path}.{field}[{k}]", LOW_LEVEL_FIELDS)
            out.append((low.get("feature_key"), low.get("channels_project")))
        return out

    @staticmethod
    def _head(options: _Config) -> dict:
        options.require("head_conv_type", ("depthwise_separable_conv",))
        options.require("max_value_after_activation", (0.0,))
        options.require("min_value_after_activation", (0.0,))
        for key in ("output_channels", "head_channels"):
            if not isinstance(options.get(key), int) or options.get(key) < 1:
                raise ConversionError(f"config field '{options.path}.{key}' must be set to a "
                                      "positive integer")
        return {"output_channels": options.get("output_channels"),
                "head_channels": options.get("head_channels")}


_SOLVER_FIELDS = {"batchnorm_epsilon": ("float", 0.001), **{k: ANY for k in (
    "use_sync_batchnorm", "batchnorm_momentum", "base_learning_rate", "training_number_of_steps",
    "weight_decay", "optimizer", "learning_policy", "warmup_steps", "poly_learning_power",
    "poly_end_learning_rate", "adam_beta1", "adam_epsilon", "use_gradient_clipping",
    "clip_gradient_norm", "backbone_learning_rate_multiplier", "warmup_method",
    "apply_layer_wise_learning_rate_decay", "layer_wise_learning_rate_decay",
    "adamw_beta1", "adamw_beta2", "adamw_epsilon")}}
_DATASET_FIELDS = {"dataset": ("str", None), "crop_size": ("repeated", None), **{k: ANY for k in (
    "file_pattern", "batch_size", "min_resize_value", "max_resize_value", "resize_factor",
    "augmentations", "sigma", "increase_small_instance_weights", "small_instance_threshold",
    "small_instance_weight", "use_two_frames", "decode_groundtruth_label",
    "thing_id_mask_annotations", "max_thing_id", "use_next_frame", "sequence_length",
    "is_training", "add_instance_bbox", "use_frame_mask")}}
_EVALUATOR_FIELDS = {"stuff_area_limit": ("int", 0), "thing_area_limit": ("int", 0),
                     "center_score_threshold": ("float", 0.1), "nms_kernel": ("int", 3),
                     "keep_k_centers": ("int", 400), **{k: ANY for k in (
    "eval_steps", "eval_interval", "continuous_eval_timeout", "use_tf_function",
    "save_predictions", "override_save_dir", "num_vis_samples", "save_raw_predictions",
    "raw_panoptic_format", "convert_raw_to_eval_ids", "add_flipped_images", "eval_scales",
    "merge_semantic_and_instance_with_tf_op", "detailed_ap_metrics",
    "transformer_class_confidence_threshold", "pixel_confidence_threshold",
    "transformer_post_processing", "maskwise_postprocessing")}}


# ---------------------------------------------------------------------------------------------
# Graph building


class _Value:
    __slots__ = ("tensor", "channels", "height", "width")

    def __init__(self, tensor: int, channels: int, height: int, width: int):
        self.tensor, self.channels, self.height, self.width = tensor, channels, height, width


class _Builder:
    def __init__(self, checkpoint: Checkpoint, epsilon: float):
        self.checkpoint = checkpoint
        self.epsilon = epsilon
        self.model = Model()
        self.used: set = set()
        self.variables = {}
        for name in checkpoint.entries:
            if name.startswith(NON_MODEL_PREFIXES) or "/.OPTIMIZER_SLOT/" in name:
                continue
            key = name[:-len(VARIABLE_SUFFIX)] if name.endswith(VARIABLE_SUFFIX) else name
            self.variables[key] = name
        self.count = 0

    # -- weights
    def weight(self, key: str, shape: Sequence[int]) -> np.ndarray:
        name = self.variables.get(key)
        if name is None:
            raise ConversionError(f"checkpoint '{self.checkpoint.prefix}' has no variable '{key}' "
                                  "(the config's network needs it; wrong config for this "
                                  "checkpoint?)")
        entry = self.checkpoint.entries[name]
        if tuple(entry.shape) != tuple(shape):
            raise ConversionError(f"checkpoint variable '{key}' has shape {list(entry.shape)}, the "
                                  f"config's network needs {list(shape)}")
        if entry.dtype != 1:
            raise ConversionError(f"checkpoint variable '{key}' is {entry.dtype_name}, not float32")
        self.used.add(key)
        return self.checkpoint.read(name)

    def constant(self, name: str, array: np.ndarray) -> int:
        return self.model.add_constant(name, np.asarray(array, dtype=np.float32))

    def tensor(self, name: str, channels: int, height: int, width: int) -> _Value:
        self.count += 1
        index = self.model.add_tensor(Tensor(f"{name}:{self.count}", "float32",
                                             (1, channels, height, width)))
        return _Value(index, channels, height, width)

    # -- layers
    def conv_bn(self, prefix: str, x: _Value, out: int, kernel: int, stride: int = 1,
                rate: int = 1, activation: Optional[str] = "relu", depthwise: bool = False,
                batch_norm: bool = True) -> _Value:
        """DeepLab2's Conv2DSame / DepthwiseConv2DSame (+ BN + activation) at `prefix`. Stride 1:
        Keras 'same'; otherwise symmetric explicit padding; both are ⌊(k_eff − 1)/2⌋ before and
        the rest after."""
        if depthwise:
            kernel_value = self.weight(f"{prefix}/_depthwise_conv/depthwise_kernel",
                                       (kernel, kernel, x.channels, 1))
            weight = np.transpose(kernel_value, (2, 3, 0, 1))
            out, group = x.channels, x.channels
        else:
            kernel_value = self.weight(f"{prefix}/_conv/kernel" if batch_norm else f"{prefix}/kernel",
                                       (kernel, kernel, x.channels, out))
            weight = np.transpose(kernel_value, (3, 2, 0, 1))
            group = 1
        effective = rate * (kernel - 1) + 1
        before = (effective - 1) // 2
        after = effective - 1 - before
        if stride == 1:
            height, width = x.height, x.width
        else:
            height = (x.height + before + after - effective) // stride + 1
            width = (x.width + before + after - effective) // stride + 1
        inputs = [x.tensor, self.constant(prefix + "/kernel", weight)]
        if not batch_norm:
            inputs.append(self.constant(prefix + "/bias", self.weight(f"{prefix}/bias", (out,))))
        y = self.tensor(prefix + "/conv", out, height, width)
        self.model.add_node("conv", prefix + "/conv", inputs, [y.tensor], {
            "strides": attr_ints([stride, stride]), "auto_pad": attr_string("explicit"),
            "pads": attr_ints([before, before, after, after]),
            "dilations": attr_ints([rate, rate]), "group": attr_int(group)})
        if batch_norm:
            bn = prefix + "/_batch_norm"
            params = [self.constant(f"{bn}/{p}", self.weight(f"{bn}/{p}", (out,)))
                      for p in ("gamma", "beta", "moving_mean", "moving_variance")]
            z = self.tensor(bn, out, height, width)
            self.model.add_node("batch_norm", bn, [y.tensor] + params, [z.tensor],
                                {"epsilon": attr_float(self.epsilon)})
            y = z
        return self.activation(y, activation, prefix)

    def activation(self, x: _Value, activation: Optional[str], prefix: str) -> _Value:
        if activation in (None, "none"):
            return x
        op = {"relu": "relu", "hard_swish": "hard_swish", "sigmoid": "sigmoid"}[activation]
        y = self.tensor(f"{prefix}/{op}", x.channels, x.height, x.width)
        self.model.add_node(op, f"{prefix}/{op}", [x.tensor], [y.tensor])
        return y

    def binary(self, op: str, a: _Value, b: int, name: str) -> _Value:
        y = self.tensor(name, a.channels, a.height, a.width)
        self.model.add_node(op, name, [a.tensor, b], [y.tensor])
        return y

    def resize(self, x: _Value, height: int, width: int, name: str) -> _Value:
        y = self.tensor(name, x.channels, height, width)
        self.model.add_node("resize", name, [x.tensor], [y.tensor], {
            "mode": attr_string("linear"), "coordinate_mode": attr_string("align_corners"),
            "sizes": attr_ints([height, width])})
        return y

    def concat(self, parts: List[_Value], name: str) -> _Value:
        y = self.tensor(name, sum(p.channels for p in parts), parts[0].height, parts[0].width)
        self.model.add_node("concat", name, [p.tensor for p in parts], [y.tensor],
                            {"axis": attr_int(1)})
        return y

    def separable(self, prefix: str, x: _Value, out: int, kernel: int = 5) -> _Value:
        x = self.conv_bn(prefix + "/_depthwise", x, x.channels, kernel, depthwise=True)
        return self.conv_bn(prefix + "/_pointwise", x, out, 1)

    # -- backbones
    def mobilenet_v3(self, x: _Value, table, multiplier: float, output_stride: int
                     ) -> Dict[str, _Value]:
        endpoints: Dict[str, _Value] = {}
        current_stride, rate, level, in_filters = 1, 1, 1, 3
        for i, (block, kernel, stride, filters, act, se_ratio, expand, endpoint) in enumerate(table):
            if level > 5:
                break
            filters = make_divisible(filters * multiplier, 8, 8)
            if current_stride == output_stride:  # DeepLab2's atrous rule: keep the resolution
                layer_stride, layer_rate, rate = 1, rate, rate * stride
            else:
                layer_stride, layer_rate, current_stride = stride, 1, current_stride * stride
            prefix = f"encoder/_blocks/{i}"
            if block == "conv_bn":
                x = out = self.conv_bn(prefix, x, filters, kernel, layer_stride, layer_rate, act)
            else:
                dilation = layer_rate if layer_rate > 1 and kernel != 1 else 1
                y = x
                expanded = x.channels
                if expand > 1:
                    expanded = make_divisible(x.channels * expand, 8)
                    y = self.conv_bn(prefix + "/_conv1_bn_act", y, expanded, 1, activation=act)
                y = out = self.conv_bn(prefix + "/_conv2_bn_act", y, expanded, kernel,
                                       layer_stride, dilation, act, depthwise=True)
                if se_ratio:
                    y = self.squeeze_excite(prefix + "/_squeeze_excitation", y, se_ratio)
                y = self.conv_bn(prefix + "/_conv3_bn", y, filters, 1, activation=None)
                if stride == 1 and in_filters == filters:
                    y = self.binary("add", y, x.tensor, prefix + "/add")
                x = y
            in_filters = filters
            if endpoint:
                endpoints[f"res{level}"] = out  # the depthwise output for bottleneck blocks
                level += 1
        return endpoints

    def squeeze_excite(self, prefix: str, x: _Value, ratio: float) -> _Value:
        squeezed = make_divisible(max(1, int(x.channels * ratio)), 8)
        s = self.tensor(prefix + "/mean", x.channels, 1, 1)
        self.model.add_node("reduce_mean", prefix + "/mean", [x.tensor], [s.tensor],
                            {"axes": attr_ints([2, 3]), "keepdims": attr_int(1)})
        s = self.conv_bn(prefix + "/_se_reduce", s, squeezed, 1, activation="relu",
                         batch_norm=False)
        s = self.conv_bn(prefix + "/_se_expand", s, x.channels, 1, activation="sigmoid",
                         batch_norm=False)
        return self.binary("mul", x, s.tensor, prefix + "/mul")

    def resnet50(self, x: _Value) -> Dict[str, _Value]:
        """DeepLab2's `resnet50` (axial_resnet_instances): 7×7/2 stem, no max-pool, bottleneck
        stages whose first block strides (in its 3×3 conv and its 1×1 projection shortcut);
        each block's output is activated by the next block (the endpoints are the activated
        outputs)."""
        endpoints: Dict[str, _Value] = {}
        x = self.conv_bn("encoder/_stem", x, 64, 7, 2, activation="relu")
        endpoints["res1"] = x
        for stage, blocks in enumerate(RESNET50_BLOCKS):
            width = 64 * 2 ** stage
            for b in range(blocks):
                prefix = f"encoder/_stage{stage + 2}/_block{b + 1}"
                stride = 2 if b == 0 else 1
                y = self.conv_bn(prefix + "/_conv1_bn_act", x, width, 1)
                y = self.conv_bn(prefix + "/_conv2_bn_act", y, width, 3, stride)
                y = self.conv_bn(prefix + "/_conv3_bn", y, 4 * width, 1, activation=None)
                shortcut = x
                if x.channels != 4 * width:
                    shortcut = self.conv_bn(prefix + "/_shortcut", x, 4 * width, 1, stride,
                                            activation=None)
                elif stride != 1:
                    raise ConversionError("internal: strided identity shortcut")
                y = self.binary("add", y, shortcut.tensor, prefix + "/add")
                x = self.activation(y, "relu", prefix)
            endpoints[f"res{stage + 2}"] = x
        return endpoints

    # -- decoder and heads
    def aspp(self, prefix: str, x: _Value, channels: int, rates: List[int],
             pool: Tuple[int, int]) -> _Value:
        branches = [self.conv_bn(prefix + "/_conv_bn_act", x, channels, 1)]
        for k, rate in enumerate(rates):
            branches.append(self.conv_bn(f"{prefix}/_aspp_conv{k + 1}/_conv_bn_act", x, channels,
                                         3, rate=rate))
        name = prefix + "/_aspp_pool/pool"
        if tuple(pool) == (x.height, x.width):
            pooled = self.tensor(name, x.channels, 1, 1)
            self.model.add_node("global_average_pool", name, [x.tensor], [pooled.tensor])
        else:
            if pool[0] > x.height or pool[1] > x.width:
                raise ConversionError(f"the ASPP pooling window {pool[0]}x{pool[1]} (training crop "
                                      f"/ output stride) exceeds the {x.height}x{x.width} feature "
                                      "map at the evaluation crop")
            pooled = self.tensor(name, x.channels, x.height - pool[0] + 1, x.width - pool[1] + 1)
            self.model.add_node("average_pool", name, [x.tensor], [pooled.tensor], {
                "kernel_shape": attr_ints(pool), "strides": attr_ints([1, 1]),
                "pads": attr_ints([0, 0, 0, 0]), "auto_pad": attr_string("explicit"),
                "count_include_pad": attr_int(0), "ceil_mode": attr_int(0)})
        pooled = self.conv_bn(prefix + "/_aspp_pool/_conv_bn_act", pooled, channels, 1)
        branches.append(self.resize(pooled, x.height, x.width, prefix + "/_aspp_pool/resize"))
        return self.conv_bn(prefix + "/_proj_conv_bn_act", self.concat(branches, prefix + "/concat"),
                            channels, 1)

    def decoder(self, prefix: str, features: Dict[str, _Value], options: dict,
                low_levels: List[Tuple[str, int]], pool: Tuple[int, int]) -> _Value:
        x = self.aspp(prefix + "/_aspp", _feature(features, options["feature_key"]),
                      options["aspp_channels"], options["atrous_rates"], pool)
        for k, (key, project) in enumerate(low_levels):
            low = self.conv_bn(f"{prefix}/_low_level_conv{k + 1}", _feature(features, key), project, 1)
            if x.height - 1 >= low.height or x.width - 1 >= low.width:
                raise ConversionError(f"decoder low-level feature '{key}' ({low.height}x{low.width})"
                                      " is coarser than its input")
            up = self.resize(x, low.height, low.width, f"{prefix}/resize{k + 1}")
            x = self.separable(f"{prefix}/_fusion_conv{k + 1}/_conv1_bn_act",
                               self.concat([up, low], f"{prefix}/concat{k + 1}"),
                               options["decoder_channels"])
        return x

    def head(self, without_last: str, last: str, x: _Value, options: dict) -> _Value:
        x = self.separable(without_last + "/_conv1_bn_act", x, options["head_channels"])
        return self.conv_bn(last, x, options["output_channels"], 1, activation=None,
                            batch_norm=False)


def _feature(features: Dict[str, _Value], key: str) -> _Value:
    if key not in features:
        raise ConversionError(f"config names feature '{key}', which the backbone does not have "
                              f"({', '.join(sorted(features))})")
    return features[key]


def build(checkpoint: Checkpoint, settings: Settings, fold_batch_norm: bool = True) -> Model:
    b = _Builder(checkpoint, settings.epsilon)
    height, width = settings.eval_crop
    image = b.tensor("image", 3, height, width)
    b.model.tensors[image.tensor].name = "image"
    b.model.inputs.append(image.tensor)
    if settings.backbone == "resnet50":
        features = b.resnet50(image)
    else:
        table = MNV3_LARGE if settings.backbone == "mobilenet_v3_large" else MNV3_SMALL
        features = b.mobilenet_v3(image, table, settings.width_multiplier, settings.output_stride)
    stride = float(settings.output_stride)
    pool = tuple(int((float(c) - 1.0) / stride + 1.0) for c in settings.train_crop)
    semantic = b.decoder("semantic_decoder", features, settings.decoder, settings.low_level, pool)
    semantic = b.head("semantic_head_without_last_layer", "semantic_last_layer", semantic,
                      settings.semantic_head)
    instance = b.decoder("instance_decoder", features, settings.instance_decoder,
                         settings.instance_low_level, pool)
    center = b.head("instance_center_head_without_last_layer", "instance_center_head_last_layer",
                    instance, settings.center_head)
    offset = b.head("instance_regression_head_without_last_layer",
                    "instance_regression_head_last_layer", instance, settings.regression_head)
    unused = sorted(set(b.variables) - b.used)
    if unused:
        raise ConversionError(f"checkpoint '{checkpoint.prefix}' has {len(unused)} variable(s) the "
                              f"config's network does not use, e.g. '{unused[0]}' (wrong config for "
                              "this checkpoint?)")
    # DeepLab2 scales the offsets (float32 arithmetic) before resizing them to the input.
    scale = np.array([np.float32(height - 1) / np.float32(max(offset.height - 1, 1)),
                      np.float32(width - 1) / np.float32(max(offset.width - 1, 1))],
                     dtype=np.float32).reshape(1, 2, 1, 1)
    offset = b.binary("mul", offset, b.constant("offset_scale", scale), "offset_rescale")
    for value, name in ((semantic, "semantic"), (center, "center"), (offset, "offset")):
        out = b.resize(value, height, width, name + "_resize")
        b.model.tensors[out.tensor].name = name
        b.model.outputs.append(out.tensor)
    model = b.model
    if fold_batch_norm:
        passes.fold_batch_norm(model)
    model = passes.remove_dead_code(model)
    model.mapped_variables = len(b.used)  # named in the source description
    return model


def metadata(settings: Settings) -> Dict[str, Attr]:
    dataset = DATASETS[settings.dataset]
    classes = settings.semantic_head["output_channels"]
    if classes != len(dataset["labels"]):
        raise ConversionError(f"semantic head has {classes} classes, dataset {settings.dataset} "
                              f"{len(dataset['labels'])}")
    merge = settings.merge
    return {"task": attr_string("panoptic"), "labels": attr_strings(dataset["labels"]),
            "thing_classes": attr_ints(dataset["thing_classes"]),
            "input_mean": attr_floats([127.5] * 3), "input_std": attr_floats([127.5] * 3),
            "input_size": attr_ints(settings.eval_crop),
            "label_divisor": attr_int(dataset["label_divisor"]),
            "void_label": attr_int(dataset["ignore_label"]),
            "center_threshold": attr_float(merge["center_threshold"]),
            "nms_kernel": attr_int(merge["nms_kernel"]), "top_k": attr_int(merge["top_k"]),
            "stuff_area_limit": attr_int(merge["stuff_area_limit"]),
            "architecture": attr_string(f"panoptic_deeplab_deeplab2_{settings.backbone}_os"
                                        f"{settings.output_stride}")}


def convert_checkpoint(prefix: str, config_path: str, fold_batch_norm: bool = True
                       ) -> Tuple[Model, str, Dict[str, Attr]]:
    """Returns (IR model, source description, metadata implied by the config)."""
    settings = Settings(config_path)
    checkpoint = Checkpoint(prefix)
    model = build(checkpoint, settings, fold_batch_norm)
    source = (f"{os.path.basename(checkpoint.prefix)} (DeepLab2 checkpoint, "
              f"{model.mapped_variables} variables, config {os.path.basename(config_path)})")
    implied = metadata(settings)
    implied["input_layout"] = attr_string("nchw")
    return model, source, implied
