"""Proves `atrous-convert --deeplab2-config` against DeepLab2's own code (needs TensorFlow).

Builds a Panoptic-DeepLab network with DeepLab2's model builder from an experiment config,
randomly initialised with non-trivial BatchNorm statistics (gamma, beta, moving mean and
variance all random), saves it the way DeepLab2's trainer and exporter do
(`tf.train.Checkpoint(**model.checkpoint_items)`), runs DeepLab2 (evaluation mode: outputs
resized to the input, offsets rescaled, its pure-TF panoptic post-processing) on a photo at the
config's evaluation crop size, then converts the checkpoint with atrous-convert, runs the model
with `atrous run` and `atrous segment`, and compares:

- relative L2 of the semantic logits, the center heatmap and the offsets (bar: 1e-5);
- the pixels where `atrous segment`'s panoptic map equals DeepLab2's (bar: 99.9 %).

Usage (a Python with tensorflow-cpu, tf-keras, numpy, pillow, immutabledict and pyyaml; DeepLab2's
source from github.com/google-research/deeplab2 with its protos compiled by
`protoc deeplab2/*.proto --python_out=.` in the folder that contains `deeplab2/`):

    python models/deeplab2/prove_deeplab2.py --deeplab2-root DIR_WITH_deeplab2 \\
        --config deeplab2/configs/cityscapes/panoptic_deeplab/mobilenet_v3_large_os32.textproto \\
        --out OUT --atrous build/atrous --convert "PYTHON -m atrous_convert"

`--tf-only` stops after DeepLab2's outputs (used by make_fixture.py). The summary is printed as
one JSON object and written to OUT/summary.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # DeepLab2 is written against Keras 2
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

IMAGES = ("astronaut.png", "grace_hopper.bmp")  # side by side, resized to the crop
# Other photos, for the BatchNorm statistics only (see randomize).
STATISTICS_IMAGES = (("chelsea.png", "cat.bmp"), ("bird_segmentation.bmp", "chelsea.png"))


def relative_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    actual = actual.astype(np.float64)
    expected = expected.astype(np.float64)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


def make_image(image_dir: str, height: int, width: int, path: str = "",
               names=IMAGES) -> np.ndarray:
    """Two photos side by side, each resized to half the crop width: a real photo exactly at the
    crop size, so that neither side pads or resizes it."""
    from PIL import Image
    left = width // 2 + width % 2
    parts = []
    for name, w in zip(names, (left, width - left)):
        image = Image.open(os.path.join(image_dir, name)).convert("RGB")
        parts.append(np.asarray(image.resize((w, height), Image.BILINEAR)))
    array = np.concatenate(parts, axis=1)
    if path:
        Image.fromarray(array).save(path)
    return array


def randomize(model, batch, seed: int) -> None:
    """Non-trivial BatchNorm parameters and statistics: random gamma (U(0.5, 1.5); U(0.1, 0.3)
    where DeepLab2 initialises it to zero), beta and conv biases (N(0, 0.2)); then
    one training-mode pass with BatchNorm momentum 0 sets every moving mean and variance to the
    statistics of its input over a batch of three photo pairs, at half size (so the activations keep a healthy
    scale through the depth, as in a trained network; several images, so that the ASPP pooling
    branch's BatchNorm, which sees one value per image, gets a variance), and those statistics
    are perturbed at random (mean shifted by N(0, 0.2)·σ, variance scaled by U(0.6, 1.6)). Conv
    kernels keep DeepLab2's seeded initializers."""
    rng = np.random.default_rng(seed)
    for variable in model.variables:
        name, shape = variable.name, variable.shape
        if "gamma" in name:
            # DeepLab2 initialises the last BatchNorm of each ResNet residual branch with γ = 0
            # (the branch starts switched off); those get small scales, the others U(0.5, 1.5).
            low, high = (0.1, 0.3) if not np.any(variable.numpy()) else (0.5, 1.5)
            variable.assign(rng.uniform(low, high, shape).astype(np.float32))
        elif "beta" in name or name.endswith("bias:0"):
            variable.assign(rng.normal(0.0, 0.2, shape).astype(np.float32))
    model(batch, training=True)
    means = {v.name.replace("moving_mean", ""): v for v in model.variables if "moving_mean" in v.name}
    for variable in model.variables:
        if "moving_variance" not in variable.name:
            continue
        mean = means[variable.name.replace("moving_variance", "")]
        sigma = np.sqrt(np.maximum(variable.numpy(), 1e-6))
        mean.assign((mean.numpy() + rng.normal(0.0, 0.2, sigma.shape) * sigma).astype(np.float32))
        variable.assign((variable.numpy() * rng.uniform(0.6, 1.6, sigma.shape)).astype(np.float32))


HEADS = {"semantic": ("semantic_last_layer", 3.0), "center": ("instance_center_head_last_layer", 0.3),
         "offset": ("instance_regression_head_last_layer", 4.0)}


def calibrate(tf, model, items, result, keys, nms_kernel: int, centers: int) -> dict:
    """Makes the random network's outputs informative rather than nearly constant (the final
    convs' DeepLab2 initializer, stddev 0.01, gives maps that barely vary): scales each head's
    last kernel so that its output varies across the image with a set spread, and shifts the
    center head's bias so that about `centers` heatmap peaks pass the threshold (0.1), fewer
    than `keep_k_centers`. The outputs are linear in the last kernel and bias, so one forward
    pass sets both; the weights saved and compared are the calibrated ones."""
    applied = {}
    for head, (item, spread) in HEADS.items():
        layer = items[item]
        value = result[keys[head]].numpy().astype(np.float64)
        bias = layer.bias.numpy().astype(np.float64)
        if head == "center":
            value = value[..., None]
        centred = value - bias  # per channel (last axis)
        gain = spread / max(float(centred.std(axis=(0, 1, 2)).mean()), 1e-12)
        layer.kernel.assign((layer.kernel.numpy() * gain).astype(np.float32))
        applied[head + "_gain"] = gain
        if head == "center":
            raw = (centred * gain)[..., 0].astype(np.float32)
            pooled = tf.nn.max_pool2d(raw[..., None], nms_kernel, 1, "SAME").numpy()[..., 0]
            peaks = np.sort(raw[raw == pooled])[::-1]
            # Midway between the n-th and the (n+1)-th peak: no peak lands on the threshold.
            n = max(1, min(centers, len(peaks) - 1))
            cut = 0.5 * (float(peaks[n - 1]) + float(peaks[n]))
            layer.bias.assign(np.full(bias.shape, 0.1 - cut, np.float32))
            applied["center_bias"] = float(0.1 - cut)
    return applied


def float64_outputs(tf, deeplab, config, descriptor, model32, image) -> dict:
    """The same network evaluated in float64 by DeepLab2's code: the reference both float32
    implementations are measured against. DeepLab2 hard-codes float32 in three places, which
    are wrapped here (module attributes replaced while this runs, nothing written to its
    source): the hard-swish constant, and the bilinear resizes (TF's resize returns float32;
    their result is cast back, which costs one float32 rounding at those steps)."""
    from deeplab2.model import utils
    from deeplab2.model.layers import activations
    saved = (activations.hard_swish, utils.resize_align_corners, utils.resize_and_rescale_offsets)
    resize, rescale = saved[1], saved[2]
    activations.hard_swish = lambda x: x * tf.nn.relu6(x + tf.constant(3.0, x.dtype)) / 6.0
    utils.resize_align_corners = lambda x, *a, **k: tf.cast(resize(x, *a, **k), x.dtype)
    utils.resize_and_rescale_offsets = lambda x, size: tf.cast(
        rescale(tf.cast(x, tf.float32), size), x.dtype)
    tf.keras.backend.set_floatx("float64")
    try:
        model = deeplab.DeepLab(config, descriptor)
        x = tf.constant(image[None].astype(np.float64)) / 127.5 - 1.0
        model._decoder(model._encoder(x))  # creates the variables
        # Same construction, same variable order (Keras may suffix the layer names of the
        # second model, so the shapes are compared).
        if [tuple(v.shape) for v in model.variables] != [tuple(v.shape) for v in model32.variables]:
            raise RuntimeError("float64 model's variables differ from the float32 model's")
        for a, b in zip(model.variables, model32.variables):
            a.assign(b.numpy().astype(np.float64))
        result = model._resize_predictions(model._decoder(model._encoder(x)), target_h=image.shape[0],
                                           target_w=image.shape[1])
    finally:
        tf.keras.backend.set_floatx("float32")
        activations.hard_swish, utils.resize_align_corners, utils.resize_and_rescale_offsets = saved
    return {"semantic": np.transpose(result["semantic_logits"].numpy()[0], (2, 0, 1)),
            "center": np.transpose(result["center_heatmap"].numpy()[0], (2, 0, 1)),
            "offset": np.transpose(result["offset_map"].numpy()[0], (2, 0, 1))}


def exact_squeeze_excite_means(tf) -> None:
    """Diagnostic (`--se-mean-float64`): DeepLab2's squeeze-excite layers take their spatial mean
    in float64 (cast back to the layer's dtype) instead of TensorFlow's float32 `reduce_mean`;
    the rest of the layer is unchanged (reduce conv → activation → expand conv → gate → × x)."""
    from deeplab2.model.layers import squeeze_and_excite

    def call(self, inputs):
        mean = tf.reduce_mean(tf.cast(inputs, tf.float64), self._spatial_axis, keepdims=True)
        x = self._activation_fn(self._se_reduce(tf.cast(mean, inputs.dtype)))
        return self._gating_activation_fn(self._se_expand(x)) * inputs

    squeeze_and_excite.SqueezeAndExcite.call = call


def run_deeplab2(args, out: str) -> dict:
    sys.path.insert(0, args.deeplab2_root)
    import tensorflow as tf
    from google.protobuf import text_format
    from deeplab2 import common, config_pb2
    from deeplab2.data import dataset
    from deeplab2.model import deeplab

    if args.se_mean_float64:
        exact_squeeze_excite_means(tf)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(args.seed)
    config = config_pb2.ExperimentOptions()
    with open(args.config) as f:
        text_format.Parse(f.read(), config)
    # Plain BatchNorm instead of the synchronized one (the same variables; one device here).
    config.trainer_options.solver_options.use_sync_batchnorm = False
    # Momentum 0: the one training-mode pass of randomize() sets the moving statistics.
    config.trainer_options.solver_options.batchnorm_momentum = 0.0
    height, width = config.eval_dataset_options.crop_size
    descriptor = dataset.MAP_NAME_TO_DATASET_INFO[config.eval_dataset_options.dataset]
    model = deeplab.DeepLab(config, descriptor)
    image = make_image(args.images, height, width, os.path.join(out, "image.png"))
    batch = tf.constant(image[None].astype(np.float32))
    keys = {"semantic": common.PRED_SEMANTIC_LOGITS_KEY, "center": common.PRED_CENTER_HEATMAP_KEY,
            "offset": common.PRED_OFFSET_MAP_KEY}
    model(batch, training=False)  # creates the variables
    # The statistics pass runs with global ASPP pooling, at half the crop size for large crops
    # (a quarter of the memory: training mode on three 1025x2049 images needs ~9 GB for
    # MobileNetV3).
    small = ((height + 1) // 2, (width + 1) // 2) if height * width > 1 << 18 else (height, width)
    statistics = [make_image(args.images, *small, names=names)
                  for names in (IMAGES,) + STATISTICS_IMAGES]
    pool = model.get_pool_size()
    model.set_pool_size((None, None))
    randomize(model, tf.constant(np.stack(statistics).astype(np.float32)), args.seed)
    model.set_pool_size(tuple(pool))
    del statistics
    calibration = calibrate(tf, model, model.checkpoint_items, model(batch, training=False), keys,
                            config.evaluator_options.nms_kernel, args.centers)
    prefix = tf.train.Checkpoint(**model.checkpoint_items).write(os.path.join(out, "ckpt"))
    start = time.time()
    result = model(batch, training=False)
    seconds = time.time() - start
    outputs = {
        "semantic": np.transpose(result[common.PRED_SEMANTIC_LOGITS_KEY].numpy()[0], (2, 0, 1)),
        "center": result[common.PRED_CENTER_HEATMAP_KEY].numpy(),  # [1, H, W]
        "offset": np.transpose(result[common.PRED_OFFSET_MAP_KEY].numpy()[0], (2, 0, 1)),
        "panoptic": result[common.PRED_PANOPTIC_KEY].numpy()[0].astype(np.int32),
    }
    for key, value in outputs.items():
        np.save(os.path.join(out, f"deeplab2_{key}.npy"), np.ascontiguousarray(value))
    float64_l2 = {}
    if args.float64:
        del result
        for key, value in float64_outputs(tf, deeplab, config, descriptor, model, image).items():
            np.save(os.path.join(out, f"float64_{key}.npy"), np.ascontiguousarray(value))
            float64_l2[f"relative_l2_deeplab2_vs_float64_{key}"] = relative_l2(outputs[key], value)
    variables = [n for n, _ in tf.train.list_variables(prefix) if n.endswith("VARIABLE_VALUE")]
    panoptic = outputs["panoptic"]
    return {"checkpoint": os.path.basename(prefix), "variables": len(variables), "deeplab2_seconds": seconds,
            "image": [height, width], "segments": int(len(np.unique(panoptic))),
            "things": int(len(np.unique(panoptic[panoptic % 1000 > 0]))),
            "tf_version": tf.__version__, "calibration": calibration, **float64_l2}


def run_atrous(args, out: str, summary: dict) -> None:
    """Converts, runs `atrous run` (network outputs) and `atrous segment` (panoptic map)."""
    from PIL import Image
    model = os.path.join(out, "model.atrous")
    command = shlex.split(args.convert) + [os.path.join(out, summary["checkpoint"]),
                                           "--deeplab2-config", args.config, "-o", model]
    start = time.time()
    subprocess.run(command, check=True)
    summary["convert_seconds"] = time.time() - start
    image = np.asarray(Image.open(os.path.join(out, "image.png")).convert("RGB"))
    # The graph input is normalized outside the graph; do it in DeepLab2's float32 arithmetic
    # (x / 127.5 − 1), so that `atrous run` sees exactly DeepLab2's network input.
    x = (image.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).transpose(2, 0, 1)
    np.save(os.path.join(out, "input.npy"), np.ascontiguousarray(x[None]))
    start = time.time()
    subprocess.run([args.atrous, "run", model, "--input", os.path.join(out, "input.npy"),
                    "--output-dir", os.path.join(out, "run"), "--backend", args.backend,
                    "--threads", str(args.threads)], check=True, stdout=subprocess.DEVNULL)
    summary["atrous_run_seconds"] = time.time() - start
    for key in ("semantic", "center", "offset"):
        actual = np.load(os.path.join(out, "run", f"{key}.npy"))[0]
        expected = np.load(os.path.join(out, f"deeplab2_{key}.npy"))
        summary[f"relative_l2_{key}"] = relative_l2(actual, expected)
        if args.float64:
            exact = np.load(os.path.join(out, f"float64_{key}.npy"))
            summary[f"relative_l2_atrous_vs_float64_{key}"] = relative_l2(actual, exact)
    subprocess.run([args.atrous, "segment", model, os.path.join(out, "image.png"), "--output-dir",
                    os.path.join(out, "segment"), "--backend", args.backend, "--threads",
                    str(args.threads)], check=True, stdout=subprocess.DEVNULL)
    rgb = np.asarray(Image.open(os.path.join(out, "segment", "panoptic", "image.png")))
    rgb = rgb.astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    void = 255 * 1000
    panoptic = np.where(ids == 0, void, ids - 1)
    expected = np.load(os.path.join(out, "deeplab2_panoptic.npy"))
    summary["panoptic_agreement"] = float(np.mean(panoptic == expected))
    summary["passed"] = bool(max(summary[f"relative_l2_{k}"] for k in ("semantic", "center", "offset"))
                             <= 1e-5 and summary["panoptic_agreement"] >= 0.999)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deeplab2-root", required=True,
                        help="folder containing the deeplab2 package (protos compiled)")
    parser.add_argument("--config", required=True, help="DeepLab2 experiment config (.textproto)")
    parser.add_argument("--images", default="shared/assets/images",
                        help="folder with astronaut.png and grace_hopper.bmp")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--centers", type=int, default=60,
                        help="heatmap peaks above the threshold after calibration")
    parser.add_argument("--atrous", default="build/atrous")
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--convert", default=f"{sys.executable} -m atrous_convert",
                        help="atrous-convert command line (a Python with the converter)")
    parser.add_argument("--float64", action="store_true",
                        help="also run DeepLab2's network in float64 and measure both float32 "
                             "results against it")
    parser.add_argument("--se-mean-float64", action="store_true",
                        help="diagnostic: DeepLab2's squeeze-excite means in float64")
    parser.add_argument("--tf-only", action="store_true", help="stop after DeepLab2's outputs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    summary = {"config": os.path.basename(args.config), "seed": args.seed}
    summary.update(run_deeplab2(args, args.out))
    if not args.tf_only:
        run_atrous(args, args.out, summary)
    text = json.dumps(summary, indent=1)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        f.write(text + "\n")
    print(text)
    return 0 if summary.get("passed", True) else 1


if __name__ == "__main__":
    sys.exit(main())
