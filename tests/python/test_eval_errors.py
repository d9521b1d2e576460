"""Bad inputs to `atrous eval --format cityscapes` that the agreement tests do not cover: each is a
clear one-line error naming the file (or image), exit status 1, no crash. Also: the PNG variants
that the fast decoder handles differently (palette, RGBA, 16-bit, interlaced via the stb_image
fallback) give the same numbers as plain 8-bit gray files.
"""
import json
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest
from PIL import Image

import eval_data as ed
from test_eval_agreement import cs_args, one_line_error, run_eval

L = ed.PRED_LAYOUT


@pytest.fixture
def cs_small(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    names = ed.write_cs_gt(str(gt_root), 2, 64, 128, seed=31)
    ed.write_cs_pred(str(gt_root), str(pred_root), names, seed=37, formats=("semantic", "panoptic"))
    return gt_root, pred_root, names


def semantic_path(pred_root, names, i):
    return pred_root / L["semantic_dir"] / (names[i][2] + L["semantic_suffix"])


def failing(atrous_bin, gt_root, pred_root, tmp_path):
    _, r = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "r.json", check=False)
    assert r.returncode == 1, r.stderr
    return r


def test_unknown_label_id_in_semantic_prediction(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = semantic_path(pred_root, names, 1)
    labels = np.array(Image.open(p))
    labels[5, 7] = 40  # Cityscapes label ids stop at 33
    Image.fromarray(labels).save(p)
    r = failing(atrous_bin, gt_root, pred_root, tmp_path)
    one_line_error(r, names[1][2])
    assert "label id 40" in r.stderr


def test_corrupt_image_data_in_semantic_prediction(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = semantic_path(pred_root, names, 0)
    data = bytearray(p.read_bytes())
    at = data.index(b"IDAT") + 4 + 20  # inside the zlib stream; the chunk CRC is not checked
    data[at] ^= 0xFF
    p.write_bytes(bytes(data))
    one_line_error(failing(atrous_bin, gt_root, pred_root, tmp_path), p)


@pytest.mark.parametrize("keep", [8, 30, 45, 70])
def test_truncated_ground_truth_label_png(atrous_bin, cs_small, tmp_path, keep):
    gt_root, pred_root, names = cs_small
    p = ed.cs_gt_paths(str(gt_root), names)[1]
    with open(p, "r+b") as f:
        f.truncate(keep)
    one_line_error(failing(atrous_bin, gt_root, pred_root, tmp_path), p)


def test_not_a_png(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = pred_root / L["panoptic_dir"] / f"{names[0][2]}_panoptic.png"
    p.write_bytes(b"this is not an image at all")
    one_line_error(failing(atrous_bin, gt_root, pred_root, tmp_path), p)


def test_panoptic_prediction_size_mismatch(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = pred_root / L["panoptic_dir"] / f"{names[1][2]}_panoptic.png"
    ids = ed.read_id_png(p)
    ed.write_id_png(p, ids[:, :100])
    one_line_error(failing(atrous_bin, gt_root, pred_root, tmp_path), p)


def test_unknown_category_in_panoptic_prediction(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = pred_root / L["panoptic_json"]
    pj = json.loads(p.read_text())
    pj["annotations"][0]["segments_info"][0]["category_id"] = 999
    p.write_text(json.dumps(pj))
    r = failing(atrous_bin, gt_root, pred_root, tmp_path)
    one_line_error(r, p)
    assert "999" in r.stderr


def test_corrupt_ground_truth_json(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = gt_root / "gtFine" / "cityscapes_panoptic_val.json"
    p.write_text(p.read_text()[:-20])
    r = failing(atrous_bin, gt_root, pred_root, tmp_path)
    one_line_error(r, p)
    assert "line" in r.stderr and "column" in r.stderr


def test_missing_semantic_prediction_is_a_warning(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    semantic_path(pred_root, names, 0).unlink()
    report, r = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "r.json")
    assert report["missing_predictions"] == 1
    assert names[0][2] in r.stderr and "missing prediction" in r.stderr


def write_interlaced_gray(path, labels):
    """An Adam7-interlaced 8-bit gray PNG (PIL cannot write one): the fast decoder leaves it to
    stb_image."""
    h, w = labels.shape
    raw = b""
    for y0, x0, dy, dx in [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
                           (1, 0, 2, 1)]:
        sub = labels[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)

    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(png)


@pytest.mark.parametrize("variant", ["palette", "rgb", "rgba", "interlaced"])
def test_png_variants_give_the_same_numbers(atrous_bin, cs_small, tmp_path, variant):
    gt_root, pred_root, names = cs_small
    base, _ = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "base.json")
    other = tmp_path / "variant"
    shutil.copytree(pred_root, other)
    for i in range(len(names)):
        p = semantic_path(other, names, i)
        labels = np.array(Image.open(p))
        if variant == "palette":
            img = Image.fromarray(labels).convert("P")
            img.putpalette([v for g in range(256) for v in (g, g, g)])
            img.putdata(labels.flatten().tolist())
            img.save(p)
            assert Image.open(p).mode == "P"
        elif variant == "rgb":
            Image.fromarray(np.repeat(labels[:, :, None], 3, axis=2)).save(p)
        elif variant == "rgba":
            Image.fromarray(np.dstack([labels, labels, labels, np.full_like(labels, 200)])).save(p)
        else:
            write_interlaced_gray(p, labels)
    report, _ = run_eval(atrous_bin, cs_args(gt_root, other), tmp_path / "v.json")
    assert report["mIoU"] == base["mIoU"]
    assert report["PQ"] == base["PQ"]
