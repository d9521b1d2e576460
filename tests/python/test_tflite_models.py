"""Exactness of TFLite conversions on real trained models and real photos (tests/assets).

- DeepLabv3 (MobileNetV2, PASCAL VOC, float32): `atrous run` against LiteRT on the same input
  tensor, with LiteRT's reference kernels and with its default (XNNPACK) path: relative L2 of the
  logits ≤ 1e-5, per-pixel argmax identical except where LiteRT's two best logits are within 1e-4.
- MediaPipe selfie segmentation (portrait and landscape; fp16 weights, custom
  `Convolution2DTransposeBias`, which stock LiteRT cannot run): against the independent float64
  interpreter of tflite_reference.py (itself checked against LiteRT on DeepLab here).

The models and images are bundled in tests/assets; the tests fail, never skip, without them.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from PIL import Image

from atrous_cli import relative_l2, run_atrous
from atrous_convert import convert
from atrous_convert.reader import read_model
from atrous_convert.writer import FLOATS, INTS, STRING, STRINGS
from tflite_reference import Reference

TOLERANCE = 1e-5
NEAR_TIE = 1e-4
BACKEND = os.environ.get("ATROUS_BACKEND") or None  # as the `atrous` fixture of conftest.py
CONVERTER_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "weights_converter")
DEEPLAB = "deeplabv3_257_mv_gpu.tflite"
# image → the class DeepLab must find most (besides background)
DEEPLAB_IMAGES = {"astronaut.png": "person", "grace_hopper.bmp": "person", "bird_segmentation.bmp": "bird",
                  "cat.bmp": "cat"}
SELFIE = {"portrait": ("selfie_segmentation.tflite", "input_1", "activation_10", (256, 256)),
          "landscape": ("selfie_segmentation_landscape.tflite", "input_1", "segment_back", (144, 256))}
SELFIE_IMAGES = ["astronaut.png", "grace_hopper.bmp", "cat.bmp"]


def load_image(path: str, height: int, width: int) -> np.ndarray:
    """RGB photo resized (bilinear) to height × width, float32 pixel values 0..255, [H, W, 3]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((width, height), Image.BILINEAR), np.float32)


def litert(model_path: str, x: np.ndarray, resolver) -> np.ndarray:
    interpreter = Interpreter(model_path=model_path, experimental_op_resolver_type=resolver, num_threads=2)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def interface(ir, indices):
    return [(ir.tensors[i].name, ir.tensors[i].shape) for i in indices]


def argmax_disagreements(actual: np.ndarray, expected: np.ndarray) -> int:
    """Pixels whose class differs; fails when one of them is not a near-tie in `expected`."""
    differ = actual.argmax(-1) != expected.argmax(-1)
    top2 = np.sort(expected[differ], axis=-1)[:, -2:]
    gaps = top2[:, 1] - top2[:, 0]
    assert np.all(gaps < NEAR_TIE), \
        f"{int(np.sum(gaps >= NEAR_TIE))} pixels change class with a margin ≥ {NEAR_TIE}"
    return int(differ.sum())


# -- DeepLabv3 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deeplab(test_assets, tmp_path_factory):
    """The DeepLab model converted by the command line, with its metadata flags."""
    out = str(tmp_path_factory.mktemp("deeplab") / "deeplab.atrous")
    env = dict(os.environ)
    env["PYTHONPATH"] = CONVERTER_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    models = os.path.join(test_assets, "models")
    result = subprocess.run(
        [sys.executable, "-m", "atrous_convert", os.path.join(models, DEEPLAB), "-o", out,
         "--task", "semantic", "--labels-file", os.path.join(models, "pascal_voc_segmentation_labels.txt"),
         "--input-mean", "127.5,127.5,127.5", "--input-std", "127.5,127.5,127.5"],
        capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return out


def test_deeplab_interface_and_metadata(deeplab):
    ir = read_model(deeplab)
    assert interface(ir, ir.inputs) == [("sub_7", (1, 257, 257, 3))]
    assert interface(ir, ir.outputs) == [("ResizeBilinear_3", (1, 257, 257, 21))]
    m = ir.metadata
    assert tuple(m["input_layout"]) == (STRING, "nhwc")
    assert tuple(m["input_size"]) == (INTS, [257, 257])
    assert tuple(m["input_mean"]) == (FLOATS, [127.5] * 3) and tuple(m["input_std"]) == (FLOATS, [127.5] * 3)
    assert tuple(m["task"]) == (STRING, "semantic")
    # 21 classes: the note after the blank line that closes the labels file is not a label.
    assert m["labels"].kind == STRINGS and len(m["labels"].value) == 21
    assert m["labels"].value[15] == "person" and m["labels"].value[0] == "background"
    assert m["source"].value.startswith(DEEPLAB + " (TFLite")
    ops = [n.op for n in ir.nodes]
    assert ops.count("conv") == 38 + 17 and ops.count("transpose") == 2
    # The model's dilated depthwise convolutions (output stride 8) keep their rates.
    assert sorted({tuple(n.attributes["dilations"].value) for n in ir.nodes if n.op == "conv"}) == \
        [(1, 1), (2, 2), (4, 4)]
    assert {n.attributes["coordinate_mode"].value for n in ir.nodes if n.op == "resize"} == {"align_corners"}


@pytest.mark.parametrize("image", sorted(DEEPLAB_IMAGES))
def test_deeplab_matches_litert(image, deeplab, atrous_bin, test_assets, tmp_path):
    metadata = read_model(deeplab).metadata
    mean, std = (np.array(metadata[k].value, np.float32) for k in ("input_mean", "input_std"))
    pixels = load_image(os.path.join(test_assets, "images", image), 257, 257)
    x = ((pixels - mean) / std)[None].astype(np.float32)
    ours = run_atrous(atrous_bin, deeplab, {"sub_7": x}, ["ResizeBilinear_3"], str(tmp_path),
                      backend=BACKEND)["ResizeBilinear_3"]
    model = os.path.join(test_assets, "models", DEEPLAB)
    for resolver in (OpResolverType.BUILTIN_REF, OpResolverType.AUTO):
        expected = litert(model, x, resolver)
        assert ours.shape == expected.shape == (1, 257, 257, 21)
        error = relative_l2(ours, expected)
        differ = argmax_disagreements(ours[0], expected[0])
        print(f"deeplabv3 {image} vs LiteRT {resolver.name}: relative L2 {error:.3g}, {differ} argmax differences")
        assert error <= TOLERANCE, f"{resolver.name}: relative L2 {error:.3g}"
        assert differ <= 20, resolver.name
    # The logits mean something: the expected object is the main class found.
    classes = ours[0].argmax(-1)
    counts = np.bincount(classes.reshape(-1), minlength=21)
    counts[0] = 0
    labels = metadata["labels"].value
    assert labels[int(counts.argmax())] == DEEPLAB_IMAGES[image]
    if image == "bird_segmentation.bmp":  # against the mask shipped with the photo (VOC ids, 3 = bird)
        with Image.open(os.path.join(test_assets, "images", "bird_segmentation_mask.bmp")) as mask_image:
            mask = np.asarray(mask_image.resize((257, 257), Image.NEAREST))
        mask = mask[..., 0] if mask.ndim == 3 else mask
        bird = labels.index("bird")
        iou = np.sum((classes == bird) & (mask == bird)) / np.sum((classes == bird) | (mask == bird))
        assert iou > 0.8, iou


def test_reference_interpreter_matches_litert_on_deeplab(test_assets):
    """The float64 interpreter the selfie tests rely on agrees with LiteRT on a real model."""
    model = os.path.join(test_assets, "models", DEEPLAB)
    pixels = load_image(os.path.join(test_assets, "images", "grace_hopper.bmp"), 257, 257)
    x = ((pixels - 127.5) / 127.5)[None].astype(np.float32)
    ours = Reference(model).run({"sub_7": x})["ResizeBilinear_3"]
    assert relative_l2(ours, litert(model, x, OpResolverType.BUILTIN_REF)) <= TOLERANCE


# -- MediaPipe selfie segmentation ----------------------------------------------------------------


@pytest.fixture(scope="module")
def selfie_models(test_assets, tmp_path_factory):
    folder = tmp_path_factory.mktemp("selfie")
    paths = {}
    for key, (name, _, _, _) in SELFIE.items():
        paths[key] = str(folder / f"{key}.atrous")
        convert(os.path.join(test_assets, "models", name), paths[key])
    return paths


@pytest.mark.parametrize("key", sorted(SELFIE))
def test_selfie_conversion(key, selfie_models):
    ir = read_model(selfie_models[key])
    name, input_name, output_name, (height, width) = SELFIE[key]
    assert interface(ir, ir.inputs) == [(input_name, (1, height, width, 3))]
    assert interface(ir, ir.outputs) == [(output_name, (1, height, width, 1))]
    transposed = [n for n in ir.nodes if n.op == "conv_transpose"]
    assert len(transposed) == 1
    attributes = transposed[0].attributes
    assert attributes["strides"].value == [2, 2] and attributes["pads"].value == [0, 0, 0, 0]
    assert ir.tensors[transposed[0].inputs[1]].shape == (16, 1, 2, 2)  # [C_in, C_out, kH, kW]
    assert all(t.dtype != "float16" for t in ir.tensors)
    assert {n.attributes["coordinate_mode"].value for n in ir.nodes if n.op == "resize"} == {"half_pixel"}
    assert tuple(ir.metadata["input_layout"]) == (STRING, "nhwc")
    assert tuple(ir.metadata["input_size"]) == (INTS, [height, width])


@pytest.mark.parametrize("image", SELFIE_IMAGES)
@pytest.mark.parametrize("key", sorted(SELFIE))
def test_selfie_matches_independent_execution(key, image, selfie_models, atrous_bin, test_assets, tmp_path):
    name, input_name, output_name, (height, width) = SELFIE[key]
    pixels = load_image(os.path.join(test_assets, "images", image), height, width)
    x = (pixels / 255.0)[None].astype(np.float32)
    ours = run_atrous(atrous_bin, selfie_models[key], {input_name: x}, [output_name], str(tmp_path),
                      backend=BACKEND)[output_name]
    expected = Reference(os.path.join(test_assets, "models", name)).run({input_name: x})[output_name]
    assert ours.shape == expected.shape == (1, height, width, 1)
    error = relative_l2(ours, expected)
    print(f"{key} {image} vs float64 interpreter: relative L2 {error:.3g}, max abs {np.max(np.abs(ours - expected)):.3g}")
    assert error <= TOLERANCE, f"relative L2 {error:.3g}"
    # Per pixel: float32 rounding through ~140 layers moves a logit by up to ~1e-4 where its terms cancel.
    assert np.max(np.abs(ours - expected)) <= 1e-4
    if image != "cat.bmp":  # portraits: a person covers a good part of the frame
        assert 0.15 < float(np.mean(ours > 0.5)) < 0.95
