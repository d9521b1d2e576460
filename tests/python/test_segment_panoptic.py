"""`atrous segment` on a Panoptic-DeepLab model (docs/PANOPTIC.md "atrous segment").

A small random-weight mnv3s_os32 exported at 65×129 (models/pytorch/export_panoptic.py); its
random weights give several bus/bicycle instances and sky stuff on a 100×60 crop of the
astronaut photo. Every check is against an independent computation:

* the network outputs come from `atrous run` on an input built here in NumPy (normalized,
  padded bottom/right with 0 = the mean pixel); the maps handed to the merger (--dump-maps)
  must equal them (one pass) or the NumPy average of the passes (flip: mirror back, Δx negated,
  softmax averaged, log; multi-scale: align_corners resizes and the offset rescale,
  docs/PANOPTIC_DEEPLAB.md "Input geometry and outputs");
* the panoptic PNG, decoded (id = R + 256·G + 256²·B), must equal `atrous merge`'s panoptic.npy
  on those maps (id = value + 1, void → 0);
* JSON areas and boxes are recomputed from the PNG; the Cityscapes files are parsed and checked
  against the PNGs; `atrous eval --format coco` scores the prediction against itself (PQ = 1).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from atrous_cli import run_atrous

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "models", "pytorch"))
import export_panoptic  # noqa: E402

SIZE = (65, 129)
# Cityscapes train id → label id (the public label table).
TRAIN_TO_LABEL = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, atrous_bin):
    root = tmp_path_factory.mktemp("panoptic_segment")
    exported = export_panoptic.export("mnv3s_os32", SIZE, str(root), seed=2)
    image_path = str(root / "crop.png")
    Image.open(os.path.join(REPO_ROOT, "examples", "images", "astronaut.jpg")).convert("RGB") \
        .resize((100, 60), Image.BILINEAR).save(image_path)
    return {"root": root, "model": exported["atrous"], "image": image_path, "bin": atrous_bin}


def segment(setup, out, *options, check=True):
    result = subprocess.run([setup["bin"], "segment", setup["model"], setup["image"], "--output-dir", str(out),
                             "--backend", "reference", *options], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def decode_png(path):
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def network(setup, pixels, work):
    """The three outputs of `atrous run` for an image (H×W×3 uint8) padded into the input."""
    h, w, _ = pixels.shape
    x = np.zeros((1, 3) + SIZE, np.float32)
    x[0, :, :h, :w] = (pixels.astype(np.float32).transpose(2, 0, 1) - np.float32(127.5)) / np.float32(127.5)
    return x, run_atrous(setup["bin"], setup["model"], {"image": x}, ["semantic", "center", "offset"],
                         str(work), backend="reference")


def run_with_planes(setup, planes, work):
    """`atrous run` on normalized planes [3,h,w] placed at the top-left of the input."""
    x = np.zeros((1, 3) + SIZE, np.float32)
    x[0, :, :planes.shape[1], :planes.shape[2]] = planes
    return run_atrous(setup["bin"], setup["model"], {"image": x}, ["semantic", "center", "offset"],
                      str(work), backend="reference")


def merge(setup, out, stem, *options):
    result = subprocess.run([setup["bin"], "merge", "--semantic", str(out / f"{stem}_semantic.npy"),
                             "--center", str(out / f"{stem}_center.npy"), "--offset", str(out / f"{stem}_offset.npy"),
                             "--model", setup["model"], "--output-dir", str(out / "merge"), *options],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return np.load(out / "merge" / "panoptic.npy"), json.load(open(out / "merge" / "segments.json"))


def check_png_equals_merge(png_ids, panoptic, void_value):
    expected = np.where(panoptic == void_value, 0, panoptic.astype(np.int64) + 1)
    np.testing.assert_array_equal(png_ids, expected)


def resize_ac(planes, oh, ow):
    """Bilinear resize with align_corners=True of [C,h,w] (float64)."""
    c, h, w = planes.shape
    ys = np.arange(oh) * ((h - 1) / (oh - 1) if oh > 1 else 0.0)
    xs = np.arange(ow) * ((w - 1) / (ow - 1) if ow > 1 else 0.0)
    y0 = np.minimum(ys.astype(int), h - 1); y1 = np.minimum(y0 + 1, h - 1); fy = (ys - y0)[:, None]
    x0 = np.minimum(xs.astype(int), w - 1); x1 = np.minimum(x0 + 1, w - 1); fx = (xs - x0)[None, :]
    p = planes.astype(np.float64)
    top = p[:, y0][:, :, x0] + (p[:, y0][:, :, x1] - p[:, y0][:, :, x0]) * fx
    bottom = p[:, y1][:, :, x0] + (p[:, y1][:, :, x1] - p[:, y1][:, :, x0]) * fx
    return top + (bottom - top) * fy


def softmax(logits):
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def test_coco_semantic_overlay_and_merge_agree(setup, tmp_path):
    out = tmp_path / "out"
    result = segment(setup, out, "--dump-maps")
    assert "instances" in result.stdout
    pixels = np.asarray(Image.open(setup["image"]).convert("RGB"))
    _, outputs = network(setup, pixels, tmp_path / "run")
    # One pass: the merger gets the cropped network outputs unchanged.
    np.testing.assert_array_equal(np.load(out / "crop_semantic.npy"), outputs["semantic"][0, :, :60, :100])
    np.testing.assert_array_equal(np.load(out / "crop_center.npy"), outputs["center"][0, :, :60, :100])
    np.testing.assert_array_equal(np.load(out / "crop_offset.npy"), outputs["offset"][0, :, :60, :100])

    panoptic, segments = merge(setup, out, "crop")
    png_ids = decode_png(out / "panoptic" / "crop.png")
    check_png_equals_merge(png_ids, panoptic, segments["void_value"])
    assert (png_ids == 0).any() and len(np.unique(png_ids)) > 5  # void, stuff and several things

    coco = json.load(open(out / "panoptic.json"))
    ann, = coco["annotations"]
    assert ann["image_id"] == "crop" and ann["file_name"] == "crop.png"
    assert coco["images"] == [{"id": "crop", "file_name": "crop.png", "width": 100, "height": 60}]
    cats = {c["id"]: c for c in coco["categories"]}
    assert len(cats) == 19 and cats[13]["name"] == "car" and cats[13]["isthing"] == 1 and cats[0]["isthing"] == 0
    listed = {s["id"] for s in ann["segments_info"]}
    assert listed == set(np.unique(png_ids)) - {0}
    things = 0
    for s in ann["segments_info"]:
        ys, xs = np.nonzero(png_ids == s["id"])
        assert s["area"] == len(ys)
        assert s["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        assert s["iscrowd"] == 0
        assert s["category_id"] == (s["id"] - 1) // 1000
        assert s["isthing"] == cats[s["category_id"]]["isthing"]
        things += s["isthing"]
        merged = [m for m in segments["segments_info"] if m["id"] == s["id"] - 1]
        assert len(merged) == 1 and merged[0]["score"] == pytest.approx(s["score"], rel=1e-12)
    assert things >= 2

    labels = np.asarray(Image.open(out / "crop_labels.png"))
    np.testing.assert_array_equal(labels, np.load(out / "crop_semantic.npy").argmax(axis=0))
    overlay = np.asarray(Image.open(out / "crop_overlay.png"))
    assert overlay.shape == (60, 100, 3) and not np.array_equal(overlay, pixels)
    summary = json.load(open(out / "crop.json"))
    assert summary["task"] == "panoptic" and summary["passes"] == 1 and summary["convention"] == "deeplab2"
    assert [s["png_id"] for s in summary["segments"]] == [s["id"] for s in ann["segments_info"]]

    # The prediction scored against itself by `atrous eval`: PQ = 1.
    report = tmp_path / "report.json"
    result = subprocess.run([setup["bin"], "eval", "--format", "coco", "--gt-json", str(out / "panoptic.json"),
                             "--gt-dir", str(out / "panoptic"), "--pred-json", str(out / "panoptic.json"),
                             "--pred-dir", str(out / "panoptic"), "--json", str(report), "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    metrics = json.load(open(report))
    assert metrics["PQ"]["all"] == 1.0 and metrics["PQ"]["things"] == 1.0 and metrics["PQ"]["stuff"] == 1.0
    assert metrics["missing_predictions"] == 0


def test_cityscapes_formats(setup, tmp_path):
    out = tmp_path / "out"
    segment(setup, out, "--format", "all", "--convention", "detectron2", "--dump-maps")
    panoptic, segments = merge(setup, out, "crop", "--convention", "detectron2")
    assert segments["void_value"] == -1
    coco_ids = decode_png(out / "panoptic" / "crop.png")
    check_png_equals_merge(coco_ids, panoptic, -1)
    cs = out / "cityscapes"
    cs_ids = decode_png(cs / "panoptic" / "crop_panoptic.png")
    data = json.load(open(cs / "panoptic.json"))
    ann, = data["annotations"]
    assert ann["image_id"] == "crop" and ann["file_name"] == "crop_panoptic.png"
    assert sorted(c["id"] for c in data["categories"]) == sorted(TRAIN_TO_LABEL)
    assert {c["id"] for c in data["categories"] if c["isthing"]} == set(TRAIN_TO_LABEL[11:])
    assert {s["id"] for s in ann["segments_info"]} == set(np.unique(cs_ids)) - {0}
    for s in ann["segments_info"]:
        mask = cs_ids == s["id"]
        classes = np.unique(panoptic[mask])
        assert len(classes) == 1 and (coco_ids[mask] == classes[0] + 1).all()  # the same segment
        train_id = classes[0] // 1000
        assert s["category_id"] == TRAIN_TO_LABEL[train_id] and s["area"] == mask.sum()
        if s["isthing"]:
            assert s["id"] == TRAIN_TO_LABEL[train_id] * 1000 + classes[0] % 1000
        else:
            assert s["id"] == TRAIN_TO_LABEL[train_id]
    np.testing.assert_array_equal(cs_ids == 0, panoptic == -1)

    semantic = np.asarray(Image.open(cs / "semantic" / "crop_pred_labelIds.png"))
    np.testing.assert_array_equal(semantic, np.array(TRAIN_TO_LABEL)[np.asarray(Image.open(out / "crop_labels.png"))])

    lines = open(cs / "instance" / "crop_pred.txt").read().splitlines()
    things = [s for s in ann["segments_info"] if s["isthing"]]
    assert len(lines) == len(things) >= 2
    for line, s in zip(lines, things):
        name, label, score = line.split()
        mask = np.asarray(Image.open(cs / "instance" / name))
        assert set(np.unique(mask)) == {0, 255}
        np.testing.assert_array_equal(mask == 255, cs_ids == s["id"])
        assert int(label) == s["category_id"] and float(score) == pytest.approx(s["score"], abs=1e-6)
        assert 0 < float(score) <= 1


def test_flip_averages_two_passes(setup, tmp_path):
    out = tmp_path / "out"
    segment(setup, out, "--flip", "--dump-maps")
    pixels = np.asarray(Image.open(setup["image"]).convert("RGB"))
    _, plain = network(setup, pixels, tmp_path / "plain")
    _, mirrored = network(setup, pixels[:, ::-1], tmp_path / "mirrored")
    crop = lambda a: a[0, :, :60, :100].astype(np.float64)  # noqa: E731
    back = lambda a: crop(a)[:, :, ::-1]  # noqa: E731
    prob = (softmax(crop(plain["semantic"])) + softmax(back(mirrored["semantic"]))) / 2
    center = (crop(plain["center"]) + back(mirrored["center"])) / 2
    offset_m = back(mirrored["offset"]) * np.array([1, -1])[:, None, None]
    offset = (crop(plain["offset"]) + offset_m) / 2
    np.testing.assert_allclose(np.exp(np.load(out / "crop_semantic.npy")), prob, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.load(out / "crop_center.npy"), center, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.load(out / "crop_offset.npy"), offset, rtol=0, atol=1e-5)
    assert not np.allclose(offset, crop(plain["offset"]), atol=1e-3)  # the flip changed something
    panoptic, segments = merge(setup, out, "crop")
    check_png_equals_merge(decode_png(out / "panoptic" / "crop.png"), panoptic, segments["void_value"])
    assert json.load(open(out / "crop.json"))["passes"] == 2


def test_multiscale_averages_resized_passes(setup, tmp_path):
    out = tmp_path / "out"
    segment(setup, out, "--scales", "0.5,1", "--dump-maps")
    pixels = np.asarray(Image.open(setup["image"]).convert("RGB"))
    planes = (pixels.astype(np.float32).transpose(2, 0, 1) - np.float32(127.5)) / np.float32(127.5)
    full = run_with_planes(setup, planes, tmp_path / "full")
    half_planes = resize_ac(planes, 30, 50).astype(np.float32)
    half = run_with_planes(setup, half_planes, tmp_path / "half")
    f = {k: v[0, :, :60, :100].astype(np.float64) for k, v in full.items()}
    h = {k: v[0, :, :30, :50].astype(np.float64) for k, v in half.items()}
    h_offset = h["offset"] * np.array([59 / 29, 99 / 49])[:, None, None]
    prob = (softmax(f["semantic"]) + softmax(resize_ac(h["semantic"], 60, 100))) / 2
    center = (f["center"] + resize_ac(h["center"], 60, 100)) / 2
    offset = (f["offset"] + resize_ac(h_offset, 60, 100)) / 2
    np.testing.assert_allclose(np.load(out / "crop_center.npy"), center, rtol=0, atol=1e-4)
    np.testing.assert_allclose(np.load(out / "crop_offset.npy"), offset, rtol=0, atol=1e-4)
    np.testing.assert_allclose(np.exp(np.load(out / "crop_semantic.npy")), prob, rtol=0, atol=1e-4)
    panoptic, segments = merge(setup, out, "crop")
    check_png_equals_merge(decode_png(out / "panoptic" / "crop.png"), panoptic, segments["void_value"])


def test_image_larger_than_the_input_is_fitted_and_resized_back(setup, tmp_path):
    out = tmp_path / "out"
    big = tmp_path / "big.png"
    Image.open(setup["image"]).resize((300, 180), Image.BILINEAR).save(big)
    result = subprocess.run([setup["bin"], "segment", setup["model"], str(big), "--output-dir", str(out),
                             "--backend", "reference"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.load(open(out / "big.json"))
    assert (summary["work_height"], summary["work_width"]) == (65, 108)  # 180×300 fitted into 65×129
    ids = decode_png(out / "panoptic" / "big.png")
    assert ids.shape == (180, 300)
    ann, = json.load(open(out / "panoptic.json"))["annotations"]
    assert {s["id"] for s in ann["segments_info"]} == set(np.unique(ids)) - {0}
    for s in ann["segments_info"]:
        assert s["area"] == (ids == s["id"]).sum()


@pytest.mark.parametrize("options,message", [
    (["--format", "xml"], "--format must be coco, cityscapes or all"),
    (["--scales", "1,,2"], "--scales needs"),
    (["--scales", "0"], "--scales needs"),
    (["--scales", "-1"], "--scales needs"),
    (["--scales"], "--scales needs"),
    (["--convention", "tf"], "--convention must be deeplab2 or detectron2"),
])
def test_bad_options(setup, tmp_path, options, message):
    result = segment(setup, tmp_path / "out", *options, check=False)
    assert result.returncode == 2 and message in result.stderr


def test_scale_too_large_for_the_model(setup, tmp_path):
    result = segment(setup, tmp_path / "out", "--scales", "1,2", check=False)
    assert result.returncode == 1
    assert "larger than the model input 65x129" in result.stderr


def test_cityscapes_output_is_read_by_atrous_eval(setup, tmp_path):
    """The Cityscapes prediction tree, scored by `atrous eval --format cityscapes` against a
    gtFine tree made from the same prediction (labelIds = the predicted label ids, instanceIds =
    the Cityscapes panoptic ids, panoptic export as cityscapesScripts builds it): PQ = mIoU = AP = 1."""
    from eval_data import cs_export_panoptic
    name = ("val", "lindau", "lindau_000000_000019")
    image = tmp_path / f"{name[2]}_leftImg8bit.png"
    Image.open(setup["image"]).save(image)
    out = tmp_path / "out"
    result = subprocess.run([setup["bin"], "segment", setup["model"], str(image), "--output-dir", str(out),
                             "--backend", "reference", "--format", "cityscapes"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (out / "panoptic.json").exists()  # cityscapes only
    pred = out / "cityscapes"
    assert (pred / "panoptic" / f"{name[2]}_panoptic.png").exists()
    gt_dir = tmp_path / "gt" / "gtFine" / "val" / "lindau"
    gt_dir.mkdir(parents=True)
    labels = np.asarray(Image.open(pred / "semantic" / f"{name[2]}_pred_labelIds.png"))
    ids = decode_png(pred / "panoptic" / f"{name[2]}_panoptic.png")
    Image.fromarray(labels).save(gt_dir / f"{name[2]}_gtFine_labelIds.png")
    Image.fromarray(ids.astype(np.uint16)).save(gt_dir / f"{name[2]}_gtFine_instanceIds.png")
    cs_export_panoptic(str(tmp_path / "gt"), "val", [name])
    report = tmp_path / "report.json"
    result = subprocess.run([setup["bin"], "eval", "--format", "cityscapes", "--gt", str(tmp_path / "gt"),
                             "--pred", str(pred), "--json", str(report), "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    metrics = json.load(open(report))
    assert metrics["missing_predictions"] == 0
    assert metrics["PQ"]["all"] == 1.0 and metrics["PQ"]["things"] == 1.0
    assert metrics["mIoU"] == 1.0
    # Instance level: every predicted mask is a gt instance; AP is 1 up to the float rounding of
    # the precision/recall integration.
    assert metrics["AP"] == pytest.approx(1.0, abs=1e-12) and metrics["AP50"] == pytest.approx(1.0, abs=1e-12)


def test_colliding_output_names_are_refused_before_anything_is_written(setup, tmp_path):
    """The rule of semantic models (tests/python/test_output_files.py): images whose files would
    collide, here through the Cityscapes stem or the run's own panoptic.json, are refused."""
    (tmp_path / "in").mkdir()
    for name in ("x_leftImg8bit.png", "x.png", "panoptic.png"):
        shutil.copy(setup["image"], tmp_path / "in" / name)
    out = tmp_path / "out"
    run = [setup["bin"], "segment", setup["model"], "--output-dir", str(out), "--backend", "reference"]
    result = subprocess.run(run + [str(tmp_path / "in" / "x_leftImg8bit.png"), str(tmp_path / "in" / "x.png"),
                                   "--format", "cityscapes"], capture_output=True, text=True)
    assert result.returncode == 2 and "would both write" in result.stderr and "x_panoptic.png" in result.stderr
    result = subprocess.run(run + [str(tmp_path / "in" / "panoptic.png")], capture_output=True, text=True)
    assert result.returncode == 2 and "panoptic.json" in result.stderr
    assert not out.exists()


def test_a_failing_image_leaves_no_files_and_is_not_in_the_json(setup, tmp_path):
    bad = tmp_path / "bad.png"
    data = open(setup["image"], "rb").read()
    bad.write_bytes(data[: len(data) - 20])
    out = tmp_path / "out"
    result = subprocess.run([setup["bin"], "segment", setup["model"], setup["image"], str(bad), "--output-dir",
                             str(out), "--backend", "reference", "--format", "all"], capture_output=True, text=True)
    assert result.returncode == 1 and "1 of 2 images failed" in result.stderr
    names = [os.path.relpath(os.path.join(root, f), out) for root, _, files in os.walk(out) for f in files]
    assert not [n for n in names if "bad" in n or "atrous-tmp" in n], names
    assert [a["image_id"] for a in json.load(open(out / "panoptic.json"))["annotations"]] == ["crop"]
