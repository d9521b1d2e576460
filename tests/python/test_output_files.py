"""No silent data loss (issue 14, defect 4).

* `segment`: images whose outputs would share a file name (`a/pic.png`, `b/pic.png`,
  `b/pic.jpg`) are refused (exit 2) before anything is written, for every task; each image's
  files appear together or not at all, and a failing image leaves none of its files.
* `run`: outputs whose names map to the same file name (`out/a`, `out_a`) get distinct files
  (`out_a.npy`, `out_a+2.npy`), and a failing run leaves no outputs.
* No temporary file is ever left behind.
"""
import io
import os
import shutil
import subprocess

import numpy as np
from PIL import Image

from atrous_convert.writer import Model, Tensor, write_model

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(REPO_ROOT, "examples", "deeplabv3", "deeplabv3_257_mv_gpu.atrous")
IMAGES = os.path.join(REPO_ROOT, "tests", "assets", "images")


def atrous(atrous_bin, *args):
    return subprocess.run([atrous_bin, *map(str, args)], capture_output=True, text=True, timeout=300)


def listing(folder):
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, f), folder) for f in files]
    return sorted(found)


def test_images_with_the_same_stem_are_refused_before_anything_is_written(atrous_bin, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    shutil.copy(os.path.join(IMAGES, "astronaut.png"), tmp_path / "a" / "pic.png")
    shutil.copy(os.path.join(IMAGES, "chelsea.png"), tmp_path / "b" / "pic.png")
    Image.open(os.path.join(IMAGES, "cat.bmp")).convert("RGB").save(tmp_path / "b" / "pic.jpg")
    out = tmp_path / "out"
    result = atrous(atrous_bin, "segment", MODEL, tmp_path / "a" / "pic.png", tmp_path / "b" / "pic.png",
                    tmp_path / "b" / "pic.jpg", "--output-dir", out)
    assert result.returncode == 2, result.stderr
    assert "would both write" in result.stderr and "pic" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    # The same image twice is the same collision.
    result = atrous(atrous_bin, "segment", MODEL, tmp_path / "a" / "pic.png", tmp_path / "a" / "pic.png",
                    "--output-dir", out)
    assert result.returncode == 2 and "given twice" in result.stderr
    assert not out.exists()


def test_a_failing_image_leaves_none_of_its_files_and_the_others_all_of_theirs(atrous_bin, tmp_path):
    good = os.path.join(IMAGES, "cat.bmp")
    second = tmp_path / "second.png"
    shutil.copy(os.path.join(IMAGES, "chelsea.png"), second)
    data = io.BytesIO()
    Image.open(os.path.join(IMAGES, "astronaut.png")).save(data, format="PNG")
    corrupt = tmp_path / "third.png"
    corrupt.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    out = tmp_path / "out"
    result = atrous(atrous_bin, "segment", MODEL, good, second, corrupt, "--output-dir", out)
    assert result.returncode == 1
    assert "1 of 3 images failed" in result.stderr
    assert listing(out) == sorted(["cat.json", "cat_labels.png", "cat_overlay.png",
                                   "second.json", "second_labels.png", "second_overlay.png"])


def test_an_image_whose_last_file_cannot_be_placed_leaves_none_of_its_files(atrous_bin, tmp_path):
    out = tmp_path / "out"
    (out / "cat.json").mkdir(parents=True)  # in the way of the JSON, written last
    result = atrous(atrous_bin, "segment", MODEL, os.path.join(IMAGES, "cat.bmp"), "--output-dir", out)
    assert result.returncode == 1
    assert "cat.json" in result.stderr
    assert listing(out) == []  # no labels or overlay PNG of cat, no temporaries


def test_an_image_named_like_a_panoptic_summary_is_fine_for_a_semantic_model(atrous_bin, tmp_path):
    # Panoptic runs refuse an image whose JSON would be their panoptic.json
    # (test_segment_panoptic.py); a semantic run writes no summary, so nothing collides.
    (tmp_path / "x").mkdir()
    shutil.copy(os.path.join(IMAGES, "cat.bmp"), tmp_path / "x" / "panoptic.bmp")
    out = tmp_path / "out"
    result = atrous(atrous_bin, "segment", MODEL, tmp_path / "x" / "panoptic.bmp", "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert listing(out) == ["panoptic.json", "panoptic_labels.png", "panoptic_overlay.png"]


def two_output_model(path):
    model = Model()
    x = model.add_tensor(Tensor("x", "float32", (1, 2, 3, 4)))
    outputs = []
    for op, name in (("relu", "out/a"), ("sigmoid", "out_a"), ("tanh", "OUT_A")):
        y = model.add_tensor(Tensor(name, "float32", (1, 2, 3, 4)))
        model.add_node(op, name, [x], [y], {})
        outputs.append(y)
    model.inputs = [x]
    model.outputs = outputs
    write_model(model, str(path))


def test_run_gives_colliding_output_names_distinct_files(atrous_bin, tmp_path):
    two_output_model(tmp_path / "m.atrous")
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(1, 2, 3, 4)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    result = atrous(atrous_bin, "run", tmp_path / "m.atrous", "--input", f"x={tmp_path / 'x.npy'}",
                    "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert listing(out) == ["OUT_A+3.npy", "out_a+2.npy", "out_a.npy"]  # names compared ignoring case
    np.testing.assert_array_equal(np.load(out / "out_a.npy"), np.maximum(x, 0))
    np.testing.assert_allclose(np.load(out / "out_a+2.npy"), 1 / (1 + np.exp(-x)), rtol=1e-5)
    np.testing.assert_allclose(np.load(out / "OUT_A+3.npy"), np.tanh(x), rtol=1e-5, atol=1e-6)
    assert "out/a: float32 [1,2,3,4] -> " in result.stdout and "out_a+2.npy" in result.stdout


def test_a_failing_run_leaves_no_outputs(atrous_bin, tmp_path):
    two_output_model(tmp_path / "m.atrous")
    np.save(tmp_path / "x.npy", np.zeros((1, 2, 3, 4), np.float32))
    out = tmp_path / "out"
    (out / "OUT_A+3.npy").mkdir(parents=True)  # the third output cannot be placed
    result = atrous(atrous_bin, "run", tmp_path / "m.atrous", "--input", f"x={tmp_path / 'x.npy'}",
                    "--output-dir", out)
    assert result.returncode == 1
    assert "OUT_A+3.npy" in result.stderr
    assert listing(out) == []
