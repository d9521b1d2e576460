"""Hostile inputs to `atrous eval` (issue 14), every file generated here: instance label ids
beyond int, names that lead outside the given folders (../, absolute, symlinks, NUL bytes),
files that are not regular files (directories, FIFOs, devices), numbers that do not fit their
JSON field, names that are not UTF-8, and PNG bombs against the memory budget. Each failure is
one line on stderr with exit 1 (2 for usage), never a crash, a hang or a read outside the folders.
"""
import json
import os
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import eval_data as ed
from test_eval_agreement import cs_args, one_line_error

L = ed.PRED_LAYOUT


def run(atrous_bin, args, timeout=120):
    r = subprocess.run([atrous_bin, "eval", "--quiet", *args], capture_output=True, text=True,
                       errors="replace", timeout=timeout)
    assert "terminate called" not in r.stderr and "Traceback" not in r.stderr
    assert r.returncode in (0, 1, 2), f"exit {r.returncode}: {r.stderr}"
    return r


def failing(atrous_bin, args, path, timeout=120):
    r = run(atrous_bin, args, timeout)
    assert r.returncode == 1, r.stderr
    one_line_error(r, path)
    return r


# ----------------------------------------------------------------------------------------------
# Cityscapes instance .txt: label ids that do not fit an int (once a SIGSEGV)


@pytest.fixture
def cs_instance(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    names = ed.write_cs_gt(str(gt_root), 1, 32, 64, seed=5, official_export=False)
    out = ed.write_cs_pred(str(gt_root), str(pred_root), names, seed=7, formats=("instance",))
    return gt_root, pred_root, out["instance"][0]


@pytest.mark.parametrize("label", ["4294967322", "-4294967270", "99999999999999999999999", "-1",
                                   "34", "2147483648"])
def test_instance_label_id_out_of_range(atrous_bin, cs_instance, label):
    gt_root, pred_root, txt = cs_instance
    with open(txt, "a") as f:
        f.write(f"masks/m0.png {label} 0.9\n")
    r = failing(atrous_bin, cs_args(gt_root, pred_root), txt)
    assert f"unknown label id {label}" in r.stderr


@pytest.mark.parametrize("confidence", ["nan", "inf", "0.5x", ""])
def test_instance_bad_confidence(atrous_bin, cs_instance, confidence):
    gt_root, pred_root, txt = cs_instance
    with open(txt, "a") as f:
        f.write(f"masks/m0.png 26 {confidence}\n")
    failing(atrous_bin, cs_args(gt_root, pred_root), txt)


def test_instance_mask_name_with_nul(atrous_bin, cs_instance):
    gt_root, pred_root, txt = cs_instance
    with open(txt, "ab") as f:
        f.write(b"masks/m0.png\0../../../etc/passwd 26 0.9\n")
    r = failing(atrous_bin, cs_args(gt_root, pred_root), txt)
    assert "NUL" in r.stderr


def test_instance_mask_outside_pred_root(atrous_bin, cs_instance, tmp_path):
    gt_root, pred_root, txt = cs_instance
    outside = tmp_path / "outside.png"
    Image.fromarray(np.full((32, 64), 255, np.uint8)).save(outside)
    base = open(txt).read()
    messages = []
    for name in ["../../outside.png", str(outside), "../../does_not_exist.png"]:
        with open(txt, "w") as f:
            f.write(base + f"{name} 26 0.9\n")
        r = failing(atrous_bin, cs_args(gt_root, pred_root), txt)
        assert "not a file inside" in r.stderr and "--allow-outside-paths" in r.stderr
        messages.append(r.stderr.replace(name, "NAME"))
    # the same words whether or not the file outside exists
    assert messages[0] == messages[2]
    with open(txt, "w") as f:
        f.write(base + "../../outside.png 26 0.9\n")
    r = run(atrous_bin, cs_args(gt_root, pred_root) + ["--allow-outside-paths"])
    assert r.returncode == 0, r.stderr


def test_symlinked_prediction_leading_outside(atrous_bin, cs_instance, tmp_path):
    gt_root, pred_root, txt = cs_instance
    target = tmp_path / "elsewhere.txt"
    os.replace(txt, target)
    os.symlink(target, txt)
    failing(atrous_bin, cs_args(gt_root, pred_root), txt)
    r = run(atrous_bin, cs_args(gt_root, pred_root) + ["--allow-outside-paths"])
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------------------------
# COCO layout: file_name values, numbers that do not fit, non-regular files


def write_coco(tmp_path, pred_file_name="img1.png", segment_id=1, category_id=1):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir(exist_ok=True)
    pred_dir.mkdir(exist_ok=True)
    ids = np.zeros((8, 8), np.uint32)
    ids[2:6, 2:6] = 1
    ed.write_id_png(gt_dir / "img1.png", ids)
    ed.write_id_png(pred_dir / "img1.png", ids)
    gt = {"categories": [{"id": 1, "name": "thing", "isthing": 1}],
          "annotations": [{"image_id": 1, "file_name": "img1.png",
                           "segments_info": [{"id": 1, "category_id": 1, "iscrowd": 0}]}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    pred = '{"annotations": [{"image_id": 1, "file_name": %s, "segments_info": [{"id": %s, ' \
           '"category_id": %s}]}]}' % (json.dumps(pred_file_name), segment_id, category_id)
    (tmp_path / "pred.json").write_text(pred)
    return ["--format", "coco", "--gt-json", str(tmp_path / "gt.json"), "--gt-dir", str(gt_dir),
            "--pred-json", str(tmp_path / "pred.json"), "--pred-dir", str(pred_dir)]


def test_coco_baseline_scores(atrous_bin, tmp_path):
    r = run(atrous_bin, write_coco(tmp_path) + ["--json", str(tmp_path / "r.json")])
    assert r.returncode == 0, r.stderr
    assert json.load(open(tmp_path / "r.json"))["PQ"]["all"] == 1.0


@pytest.mark.parametrize("name", ["../gt/img1.png", "../nothing.png", "/etc/passwd", "/nonexistent/x.png",
                                  "img1.png\u0000../../etc/passwd"])
def test_coco_file_name_outside_pred_dir(atrous_bin, tmp_path, name):
    args = write_coco(tmp_path, pred_file_name=name)
    r = failing(atrous_bin, args, tmp_path / "pred.json")
    if "\u0000" in name:
        assert "NUL" in r.stderr
    else:
        assert "not a file inside" in r.stderr
        # nothing about the outside file itself: neither "does not exist" nor "corrupt"
        rest = r.stderr.replace(name, "NAME").replace("--allow-outside-paths", "")
        assert "exist" not in rest
        assert "corrupt" not in rest and "PNG" not in rest


def test_coco_symlink_out_of_pred_dir(atrous_bin, tmp_path):
    args = write_coco(tmp_path, pred_file_name="link.png")
    os.symlink(tmp_path / "gt" / "img1.png", tmp_path / "pred" / "link.png")
    failing(atrous_bin, args, tmp_path / "pred.json")
    r = run(atrous_bin, args + ["--allow-outside-paths"])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("segment_id,category_id,words", [
    ("1e300", "1", '"id" must be an integer'),
    ("1", "4294967297", "out of range"),
    ("1", "1.5", '"category_id" must be an integer'),
    ("18446744073709551616", "1", '"id" must be an integer'),
])
def test_coco_numbers_that_do_not_fit(atrous_bin, tmp_path, segment_id, category_id, words):
    args = write_coco(tmp_path, segment_id=segment_id, category_id=category_id)
    r = failing(atrous_bin, args, tmp_path / "pred.json")
    assert words in r.stderr


def test_coco_prediction_is_a_directory(atrous_bin, tmp_path):
    args = write_coco(tmp_path, pred_file_name="dir.png")
    (tmp_path / "pred" / "dir.png").mkdir()
    r = failing(atrous_bin, args, "dir.png")
    assert "is a directory" in r.stderr and "does not exist" not in r.stderr


def test_coco_device_with_outside_paths_allowed(atrous_bin, tmp_path):
    args = write_coco(tmp_path, pred_file_name="/dev/zero")
    r = failing(atrous_bin, args + ["--allow-outside-paths"], "/dev/zero")
    assert "is a character device" in r.stderr


@pytest.mark.parametrize("which", ["png", "json"])
def test_fifo_is_refused_without_blocking(atrous_bin, tmp_path, which):
    args = write_coco(tmp_path)
    path = tmp_path / "gt" / "img1.png" if which == "png" else tmp_path / "gt.json"
    path.unlink()
    os.mkfifo(path)
    start = time.monotonic()
    r = failing(atrous_bin, args, path, timeout=20)
    assert "FIFO" in r.stderr
    assert time.monotonic() - start < 10


def test_not_utf8_names_in_the_report(atrous_bin, tmp_path):
    """A Cityscapes file name with bytes that are not UTF-8 reaches the report's "missing" list:
    the report stays valid UTF-8 JSON (U+FFFD in their place)."""
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    names = ed.write_cs_gt(str(gt_root), 2, 32, 64, seed=3, official_export=False)
    ed.write_cs_pred(str(gt_root), str(pred_root), names[:1], seed=4, formats=("semantic",))
    split, city, stem = names[1]
    d = os.path.join(str(gt_root), "gtFine", split, city)
    for suffix in ("_gtFine_labelIds.png", "_gtFine_instanceIds.png"):
        os.rename(os.path.join(d, stem + suffix), os.fsencode(d) + b"/\xff\xfe" + stem.encode() + suffix.encode())
    report = tmp_path / "r.json"
    r = run(atrous_bin, cs_args(gt_root, pred_root) + ["--json", str(report)])
    assert r.returncode == 0, r.stderr
    raw = report.read_bytes()
    text = raw.decode("utf-8")  # strict: raises on invalid UTF-8
    missing = json.loads(text)["missing"]
    assert any("\ufffd" in m for m in missing), missing


def test_usage_errors_exit_2(atrous_bin, tmp_path):
    args = write_coco(tmp_path)
    for bad in ["12Q", "0", "-5", "1K", ""]:
        r = run(atrous_bin, args + ["--memory-budget", bad])
        assert r.returncode == 2, (bad, r.stderr)
        assert "--memory-budget" in r.stderr


# ----------------------------------------------------------------------------------------------
# PNG bombs: small files that decode to hundreds of MB


def write_zero_png(path, w, h):
    """An 8-bit RGB PNG of w x h black pixels: rows of zeros compress about 1000-fold, so
    8192x8192 (201 MB decoded) is a file of about 200 KB. Compressed row by row, so the
    generator itself never holds the image."""
    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))

    z = zlib.compressobj(9)
    row = bytes(1 + 3 * w)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# Runs a command and prints its exit code and peak RSS (KiB) on stdout's last line. The measuring
# process is this small launcher, not pytest: Linux carries the RSS high-water mark of the
# process that forks across exec, so a child forked straight from a large pytest would report
# pytest's size.
_LAUNCHER = """
import os, subprocess, sys
with open(sys.argv[1], "w") as err:
    p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err)
    _, status, usage = os.wait4(p.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_mb(atrous_bin, args, tmp_path):
    """Runs eval and returns (exit code, stderr, its own peak RSS in MB)."""
    err = tmp_path / "err"
    r = subprocess.run([sys.executable, "-c", _LAUNCHER, str(err), atrous_bin, "eval", "--quiet", *args],
                       capture_output=True, text=True, timeout=300, check=True)
    code, kib = r.stdout.split()[-2:]
    return int(code), err.read_text(), int(kib) / 1024


@pytest.fixture(scope="module")
def baseline_rss_mb(atrous_bin, tmp_path_factory):
    """Peak RSS of the same binary evaluating a tiny valid dataset: what the process costs before
    any image memory (a CUDA build maps cuBLAS, about 200 MB). Limits below are above this."""
    root = tmp_path_factory.mktemp("baseline")
    code, err, peak = peak_rss_mb(atrous_bin, write_coco(root) + ["--threads", "4"], root)
    assert code == 0, err
    return peak


@pytest.fixture(scope="module")
def bomb_dataset(tmp_path_factory):
    """4 images whose gt and prediction are 8192x8192 black bombs (about 200 KB each)."""
    root = tmp_path_factory.mktemp("bombs")
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    write_zero_png(gt_dir / "b0.png", 8192, 8192)
    bomb = (gt_dir / "b0.png").read_bytes()
    assert len(bomb) < 400_000
    anns = []
    for i in range(4):
        for d in (gt_dir, pred_dir):
            (d / f"b{i}.png").write_bytes(bomb)
        anns.append({"image_id": i, "file_name": f"b{i}.png", "segments_info": []})
    (root / "gt.json").write_text(json.dumps({"categories": [{"id": 1, "isthing": 1}], "annotations": anns}))
    (root / "pred.json").write_text(json.dumps({"annotations": anns}))
    return ["--format", "coco", "--gt-json", str(root / "gt.json"), "--gt-dir", str(gt_dir),
            "--pred-json", str(root / "pred.json"), "--pred-dir", str(pred_dir)]


def test_png_bomb_beyond_the_budget_is_refused_before_decoding(atrous_bin, bomb_dataset, tmp_path,
                                                                baseline_rss_mb):
    code, err, peak = peak_rss_mb(atrous_bin, bomb_dataset + ["--memory-budget", "64M", "--threads", "4"],
                                  tmp_path)
    assert code == 1, err
    assert "more than the memory budget of 64 MiB" in err and "b0.png" not in err or "image 0" in err
    # One decoded 8192x8192 map alone is 256 MB.
    assert peak < baseline_rss_mb + 100, \
        f"peak RSS {peak:.0f} MB (baseline {baseline_rss_mb:.0f}) although nothing should have been decoded"


def test_png_bombs_stay_within_the_budget_at_any_thread_count(atrous_bin, bomb_dataset, tmp_path,
                                                               baseline_rss_mb):
    # one pair needs about 410 MB: a 600 MB budget lets one in at a time, whatever the threads
    for threads in (1, 4):
        code, err, peak = peak_rss_mb(
            atrous_bin, bomb_dataset + ["--memory-budget", "600M", "--threads", str(threads)], tmp_path)
        assert code == 0, err
        assert peak < baseline_rss_mb + 600 + 40, \
            f"{threads} threads: peak RSS {peak:.0f} MB (baseline {baseline_rss_mb:.0f}) over a 600 MB budget"


def test_large_coordinates_header_only_bomb(atrous_bin, tmp_path, baseline_rss_mb):
    """A 57-byte PNG declaring 16384x16384 RGB with almost no image data: refused from its
    header and data size, nothing allocated."""
    args = write_coco(tmp_path)
    p = tmp_path / "pred" / "img1.png"
    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16384, 16384, 8, 2, 0, 0, 0))
                  + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    code, err, peak = peak_rss_mb(atrous_bin, args, tmp_path)
    assert code == 1, err
    assert "img1.png" in err
    assert peak < baseline_rss_mb + 1200


def test_json_that_is_a_directory(atrous_bin, tmp_path):
    args = write_coco(tmp_path)
    (tmp_path / "gt.json").unlink()
    (tmp_path / "gt.json").mkdir()
    r = failing(atrous_bin, args, tmp_path / "gt.json")
    assert "is a directory" in r.stderr


def test_oversized_png_is_named_as_such(atrous_bin, tmp_path):
    """Not "unknown image type": the size is read from the header and refused before decoding."""
    args = write_coco(tmp_path)
    p = tmp_path / "pred" / "img1.png"
    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 8, 8, 2, 0, 0, 0))
                  + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    r = failing(atrous_bin, args, p)
    assert "image size 100000x8 out of range" in r.stderr
