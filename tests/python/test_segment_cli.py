"""`atrous segment` end to end on real trained models and real photos.

* The bundled default (examples/deeplabv3, DeepLabv3-MobileNetV2 PASCAL VOC converted from the
  TFLite file) is exactly what the converter makes from the bundled TFLite file (tests/assets/models) today.
* Quality on real data: on bird_segmentation.bmp the predicted bird region has IoU ≥ 0.85 with
  bird_segmentation_mask.bmp (a reference model's output, VOC ids, 3 = bird); on astronaut.png
  and grace_hopper.bmp the person class covers the person (face and torso points are person,
  background corners are not, person holds a large share of the image).
* Foreground models (MediaPipe selfie segmentation) write a mask and an alpha cut-out.
* Errors a user meets: not an image, a model without task metadata, an image too large;
  grayscale and RGBA images are converted, not refused.
"""
import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from atrous_convert.cli import main as convert_main

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_MODEL = os.path.join(REPO_ROOT, "examples", "deeplabv3", "deeplabv3_257_mv_gpu.atrous")
VOC_PERSON, VOC_BIRD = 15, 3


def convert_file(source, destination, metadata_args):
    assert convert_main([source, "-o", destination, *metadata_args]) == 0


def segment(atrous_bin, model, images, outdir, check=True):
    result = subprocess.run([atrous_bin, "segment", model, *images, "--output-dir", outdir],
                            capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def labels_of(outdir, stem):
    return np.array(Image.open(os.path.join(outdir, f"{stem}_labels.png")))


def test_bundled_default_is_the_converted_tflite_model(test_assets, tmp_path):
    fresh = str(tmp_path / "deeplab.atrous")
    convert_file(os.path.join(test_assets, "models", "deeplabv3_257_mv_gpu.tflite"), fresh,
                 metadata_args=["--task", "semantic",
                                "--labels-file", os.path.join(test_assets, "models", "pascal_voc_segmentation_labels.txt"),
                                "--input-mean", "127.5,127.5,127.5", "--input-std", "127.5,127.5,127.5"])
    with open(fresh, "rb") as a, open(DEFAULT_MODEL, "rb") as b:
        assert a.read() == b.read(), "examples/deeplabv3 is stale: re-run the conversion in examples/NOTICE.md"


def test_bird_iou_against_reference_mask(atrous_bin, test_assets, tmp_path):
    out = str(tmp_path)
    segment(atrous_bin, DEFAULT_MODEL, [os.path.join(test_assets, "images", "bird_segmentation.bmp")], out)
    predicted = labels_of(out, "bird_segmentation") == VOC_BIRD
    mask = np.array(Image.open(os.path.join(test_assets, "images", "bird_segmentation_mask.bmp")))
    if mask.ndim == 3:
        mask = mask[..., 0]
    reference = mask == VOC_BIRD
    assert predicted.shape == reference.shape
    iou = (predicted & reference).sum() / (predicted | reference).sum()
    print(f"bird IoU {iou:.4f}")
    assert iou >= 0.85


@pytest.mark.parametrize("image,person_points,background_points,min_share", [
    # (row, column) points: face and torso; corners with flag/sky/wall.
    ("astronaut.png", [(100, 200), (60, 230), (300, 100), (400, 200)], [(120, 300), (20, 450), (60, 20)], 0.35),
    ("grace_hopper.bmp", [(150, 250), (200, 260), (400, 250), (550, 300)], [(30, 30), (100, 480), (300, 480)], 0.50),
])
def test_person_covers_the_person(atrous_bin, test_assets, tmp_path, image, person_points,
                                  background_points, min_share):
    out = str(tmp_path)
    segment(atrous_bin, DEFAULT_MODEL, [os.path.join(test_assets, "images", image)], out)
    stem = os.path.splitext(image)[0]
    labels = labels_of(out, stem)
    for point in person_points:
        assert labels[point] == VOC_PERSON, point
    for point in background_points:
        assert labels[point] == 0, point
    summary = json.load(open(os.path.join(out, f"{stem}.json")))
    shares = {c["name"]: c["share"] for c in summary["classes"]}
    print(image, shares)
    assert shares["person"] >= min_share
    assert max(shares, key=lambda k: shares[k] if k != "background" else -1) == "person"
    assert set(summary["timing"]) == {"decode_ms", "preprocess_ms", "inference_ms", "postprocess_ms"}
    assert os.path.getsize(os.path.join(out, f"{stem}_overlay.png")) > 10000


def test_gray_and_rgba_images_are_converted(atrous_bin, test_assets, tmp_path):
    rgb = Image.open(os.path.join(test_assets, "images", "astronaut.png")).convert("RGB")
    rgb.convert("L").save(tmp_path / "gray.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(tmp_path / "rgba.png")
    out = str(tmp_path / "out")
    segment(atrous_bin, DEFAULT_MODEL, [str(tmp_path / "gray.png"), str(tmp_path / "rgba.png")], out)
    assert json.load(open(os.path.join(out, "gray.json")))["source_channels"] == 1
    assert json.load(open(os.path.join(out, "rgba.json")))["source_channels"] == 4
    # RGBA with alpha dropped is the RGB image: the face is still a person.
    assert labels_of(out, "rgba")[100, 200] == VOC_PERSON


def test_errors_are_clear(atrous_bin, test_assets, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    result = segment(atrous_bin, DEFAULT_MODEL, [str(text)], str(tmp_path / "o1"), check=False)
    assert result.returncode == 1
    assert "is not an image" in result.stderr

    # One bad image among good ones: the good ones are still written.
    good = os.path.join(test_assets, "images", "cat.bmp")
    result = segment(atrous_bin, DEFAULT_MODEL, [str(text), good], str(tmp_path / "o2"), check=False)
    assert result.returncode == 1
    assert "1 of 2 images failed" in result.stderr
    assert os.path.exists(tmp_path / "o2" / "cat_overlay.png")

    # Larger than 16k x 16k: refused from the header.
    huge = tmp_path / "huge.png"
    huge.write_bytes(bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]) + b"IHDR" +
                     (17000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0, 0, 0, 0, 0]))
    result = segment(atrous_bin, DEFAULT_MODEL, [str(huge)], str(tmp_path / "o3"), check=False)
    assert "17000x17000" in result.stderr and "16384" in result.stderr

    # A model converted without task metadata: the message says how to add it.
    bare = str(tmp_path / "bare.atrous")
    convert_file(os.path.join(test_assets, "models", "deeplabv3_257_mv_gpu.tflite"), bare, metadata_args=[])
    result = segment(atrous_bin, bare, [good], str(tmp_path / "o4"), check=False)
    assert result.returncode == 1
    assert "no 'task' metadata" in result.stderr and "atrous-convert" in result.stderr


def test_foreground_model_writes_mask_and_cutout(atrous_bin, test_assets, tmp_path):
    model = str(tmp_path / "selfie.atrous")
    convert_file(os.path.join(test_assets, "models", "selfie_segmentation.tflite"), model,
                 metadata_args=["--task", "foreground", "--input-mean", "0,0,0", "--input-std", "255,255,255"])
    out = str(tmp_path / "out")
    segment(atrous_bin, model, [os.path.join(test_assets, "images", "grace_hopper.bmp")], out)
    mask = np.array(Image.open(os.path.join(out, "grace_hopper_mask.png")))
    cutout = np.array(Image.open(os.path.join(out, "grace_hopper_cutout.png")))
    assert mask.shape == (600, 512)
    assert cutout.shape == (600, 512, 4)
    assert (cutout[..., 3] == mask).all()
    assert mask[200, 260] > 200 and mask[30, 30] < 50  # face vs flag corner
    share = json.load(open(os.path.join(out, "grace_hopper.json")))["foreground_share"]
    print("foreground share", share)
    assert 0.4 < share < 0.8
