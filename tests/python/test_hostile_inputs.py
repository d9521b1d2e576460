"""Images are what they claim (issue 14, defect 6), and only regular files are read.

Every hostile file is generated here: headers of uncompressed formats (TGA, BMP, PNM, PSD) that
claim 16384x16384 pixels in a few bytes, and real photos from tests/assets re-encoded and cut
short. stb_image fills missing pixels with zeros and reports success, so before the fix an
18-byte TGA ran for half a minute at several GB and was labelled as a black image. Each must
now be refused with a one-line error, exit 1, quickly and without output files; valid files of
the same formats still decode exactly as the pixels they hold.
"""
import io
import os
import struct
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(REPO_ROOT, "examples", "deeplabv3", "deeplabv3_257_mv_gpu.atrous")
SIDE = 16384


def segment(atrous_bin, images, outdir, timeout=60):
    return subprocess.run([atrous_bin, "segment", MODEL, *images, "--output-dir", str(outdir)],
                          capture_output=True, text=True, timeout=timeout)


def tga_header(width, height, image_type=2, bits=24):
    return struct.pack("<BBBHHBHHHHBB", 0, 0, image_type, 0, 0, 0, 0, 0, width, height, bits, 0x20)


def bmp_header(width, height, bits=24):
    row = (width * bits + 31) // 32 * 4
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, row * height, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + row * height, 0, 0, 54) + info


def psd_header(width, height, channels=3, compression=0):
    return (b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, 8, 3) +
            struct.pack(">III", 0, 0, 0) + struct.pack(">H", compression))


def lying_files():
    return {
        "tga": tga_header(SIDE, SIDE),
        "tga_rle": tga_header(SIDE, SIDE, image_type=10) + bytes([0xFF, 1, 2, 3]),
        "bmp": bmp_header(SIDE, SIDE) + bytes(64),
        "pnm": b"P6\n%d %d\n255\n" % (SIDE, SIDE) + bytes(64),
        "pgm": b"P5\n%d %d\n255\n" % (SIDE, SIDE),
        "psd": psd_header(SIDE, SIDE) + bytes(64),
        "psd_rle": psd_header(SIDE, SIDE, compression=1) + bytes(64),
    }


@pytest.mark.parametrize("kind", sorted(lying_files()))
def test_headers_claiming_more_pixels_than_the_file_holds_are_refused(atrous_bin, tmp_path, kind):
    path = tmp_path / f"lying.{kind.split('_')[0]}"
    path.write_bytes(lying_files()[kind])
    start = time.monotonic()
    result = segment(atrous_bin, [str(path)], tmp_path / "out")
    assert time.monotonic() - start < 20
    assert result.returncode == 1, result.stderr
    if kind == "bmp":
        assert "16384x16384" in result.stderr and "truncated or corrupt" in result.stderr, result.stderr
    else:  # stb's decoders of these formats are not built (docs/FUZZING.md): refused by name
        assert "is not an image this tool can read (PNG, JPEG, BMP)" in result.stderr, result.stderr
    assert not (tmp_path / "out" / "lying_labels.png").exists()


def photo():
    return Image.open(os.path.join(REPO_ROOT, "tests", "assets", "images", "astronaut.png")).convert("RGB")


def encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt,ext,options", [
    ("PNG", "png", {}), ("JPEG", "jpg", {"quality": 90}), ("JPEG", "jpg", {"progressive": True}),
    ("BMP", "bmp", {})])
def test_truncated_photos_are_refused_and_whole_ones_decode(atrous_bin, tmp_path, fmt, ext, options):
    data = encoded(photo(), fmt, **options)
    whole = tmp_path / f"whole.{ext}"
    whole.write_bytes(data)
    result = segment(atrous_bin, [str(whole)], tmp_path / "out")
    assert result.returncode == 0, result.stderr
    end = len(data)  # the last byte of pixel data matters too
    for keep in (len(data) * 2 // 3, end - 1):
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(data[:keep])
        result = segment(atrous_bin, [str(cut)], tmp_path / "out")
        assert result.returncode == 1, (keep, result.stderr)
        assert "truncated or corrupt" in result.stderr or "cannot decode" in result.stderr, result.stderr
        assert not (tmp_path / "out" / "cut_labels.png").exists()


@pytest.mark.parametrize("fmt,ext,options", [
    ("TGA", "tga", {}), ("TGA", "tga", {"compression": "tga_rle"}), ("PPM", "ppm", {}), ("GIF", "gif", {})])
def test_formats_other_than_png_jpeg_and_bmp_are_refused_by_name(atrous_bin, tmp_path, fmt, ext, options):
    # stb_image 2.27's decoders of these formats had memory and undefined-behaviour defects found by
    # fuzzing (docs/FUZZING.md); they are not built, and a valid file is refused with its reason.
    path = tmp_path / f"whole.{ext}"
    path.write_bytes(encoded(photo().resize((97, 61)), fmt, **options))
    result = segment(atrous_bin, [str(path)], tmp_path / "out")
    assert result.returncode == 1, result.stderr
    assert "is not an image this tool can read (PNG, JPEG, BMP)" in result.stderr, result.stderr
    assert not (tmp_path / "out" / "whole_labels.png").exists()


def test_not_regular_files_are_named_for_what_they_are(atrous_bin, tmp_path):
    (tmp_path / "folder.png").mkdir()
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cases = {
        str(tmp_path / "folder.png"): "is a directory",
        "/dev/zero": "not a regular file",
        str(fifo): "not a regular file",  # refused without waiting for a writer
        str(tmp_path / "missing.png"): "No such file",
    }
    for path, expected in cases.items():
        result = segment(atrous_bin, [path], tmp_path / "out", timeout=30)
        assert result.returncode == 1, result.stderr
        assert expected in result.stderr, (path, result.stderr)
        assert "unknown image type" not in result.stderr


def test_an_oversized_image_is_reported_with_its_size_and_the_limit(atrous_bin, tmp_path):
    big = Image.new("L", (SIDE + 1, 8))
    big.save(tmp_path / "wide.png")
    result = segment(atrous_bin, [str(tmp_path / "wide.png")], tmp_path / "out")
    assert result.returncode == 1
    assert "16385x8" in result.stderr and "16384x16384" in result.stderr, result.stderr


def test_a_model_path_that_is_not_a_regular_file_is_refused_without_blocking(atrous_bin, tmp_path):
    fifo = tmp_path / "model.atrous"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero", str(tmp_path)):
        result = subprocess.run([atrous_bin, "info", path], capture_output=True, text=True, timeout=30)
        assert result.returncode == 1, result.stderr
        assert "not a regular file" in result.stderr, result.stderr
