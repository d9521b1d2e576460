#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (docs/FUZZING.md) into fuzz/corpus_<target>/.

    python3 fuzz/make_corpus.py            # all generated corpora
    python3 fuzz/make_corpus.py npy image  # some of them

Deterministic and small (a few KB per target). Standard library only, except the JPEG and GIF
seeds of the image target, which need Pillow (the project's virtual environment has it; without
it they are left out with a warning). The PNG corpus is make_png_corpus.py's; the loader's
(corpus_loader/test_graph.atrous) is written by `atrous_tests "[.fuzz-seed]"`.
"""
import io
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_png_corpus  # noqa: E402


def npy(descr, shape, payload, version=(1, 0), fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False",
        "".join(f"{d}, " for d in shape) if len(shape) == 1 else ", ".join(map(str, shape)))
    size_format = "<H" if version[0] == 1 else "<I"
    prefix = 10 if version[0] == 1 else 12
    pad = (64 - (prefix + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    return (b"\x93NUMPY" + bytes(version) + struct.pack(size_format, len(header)) +
            header.encode("latin-1" if version[0] < 3 else "utf-8") + payload)


def npy_seeds(rng):
    def values(fmt, count, make):
        return struct.pack("<%d%s" % (count, fmt), *[make() for _ in range(count)])
    return {
        "f4_2x3.npy": npy("<f4", (2, 3), values("f", 6, lambda: rng.uniform(-4, 4))),
        "f8_1x2x3x1.npy": npy("<f8", (1, 2, 3, 1), values("d", 6, lambda: rng.uniform(-1e3, 1e3))),
        "i4_5.npy": npy("<i4", (5,), values("i", 5, lambda: rng.randrange(-2**31, 2**31))),
        "i8_2x2.npy": npy("<i8", (2, 2), values("q", 4, lambda: rng.randrange(-2**40, 2**40))),
        "u1_3x4.npy": npy("|u1", (3, 4), bytes(rng.randrange(256) for _ in range(12))),
        "f4_scalar.npy": npy("<f4", (), struct.pack("<f", 1.5)),
        "f4_empty.npy": npy("<f4", (0, 3), b""),
        "f4_v2.npy": npy("<f4", (1, 1, 2, 2), values("f", 4, lambda: rng.uniform(-1, 1)), (2, 0)),
        "i4_v3.npy": npy("<i4", (3,), values("i", 3, lambda: rng.randrange(100)), (3, 0)),
        "f4_big_endian.npy": npy(">f4", (2,), struct.pack(">2f", 1.0, -2.0)),
        "f4_fortran.npy": npy("<f4", (2, 2), values("f", 4, lambda: 0.5), fortran=True),
    }


def bmp(width, height, bits, rng):
    palette = b""
    if bits == 8:
        palette = b"".join(bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 0))
                           for _ in range(16))
    row = (width * bits // 8 + 3) & ~3
    pixels = b"".join(bytes(rng.randrange(16 if bits == 8 else 256) for _ in range(width * bits // 8))
                      + bytes(row - width * bits // 8) for _ in range(height))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, len(pixels), 2835, 2835,
                       16 if bits == 8 else 0, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def tga(width, height, rng, rle=False):
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 10 if rle else 2, 0, 0, 0, 0, 0, width, height,
                         24, 0x20)
    pixels = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(width * height)]
    if not rle:
        return header + b"".join(pixels)
    body = b""
    for i in range(0, len(pixels), 4):  # alternate a run packet and a raw packet
        group = pixels[i:i + 4]
        if i // 4 % 2 == 0:
            body += bytes([0x80 | (len(group) - 1)]) + group[0]
        else:
            body += bytes([len(group) - 1]) + b"".join(group)
    return header + body


def pnm(kind, width, height, rng, maxval=255):
    channels = 3 if kind == b"P6" else 1
    sample = 2 if maxval > 255 else 1
    header = b"%s\n# atrous fuzz seed\n%d %d\n%d\n" % (kind, width, height, maxval)
    return header + bytes(rng.randrange(256) for _ in range(width * height * channels * sample))


def psd(width, height, rng, channels=3):
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers: empty
    data = struct.pack(">H", 0) + bytes(rng.randrange(256) for _ in range(width * height * channels))
    return header + sections + data


def hdr(width, height, rng):
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (height, width)
    return header + bytes(rng.randrange(256) for _ in range(width * height * 4))


def gif(width, height, rng):
    """A 4-colour GIF whose LZW stream restarts (clear code) every two pixels: 3-bit codes."""
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x81, 0, 0)
    out += bytes(rng.randrange(256) for _ in range(12))  # global palette, 4 entries
    out += b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    codes = []
    pixels = [rng.randrange(4) for _ in range(width * height)]
    for i in range(0, len(pixels), 2):
        codes += [4] + pixels[i:i + 2]
    codes.append(5)
    bits, count = 0, 0
    stream = bytearray()
    for code in codes:
        bits |= code << count
        count += 3
        while count >= 8:
            stream.append(bits & 0xFF)
            bits >>= 8
            count -= 8
    if count:
        stream.append(bits & 0xFF)
    out += bytes([2])
    for i in range(0, len(stream), 255):
        block = stream[i:i + 255]
        out += bytes([len(block)]) + bytes(block)
    return out + b"\0;"


def pillow_seeds(rng):
    try:
        from PIL import Image
    except ImportError:
        print("warning: Pillow is missing: no JPEG seeds", file=sys.stderr)
        return {}
    image = Image.frombytes("RGB", (12, 9), bytes(rng.randrange(256) for _ in range(12 * 9 * 3)))
    seeds = {}
    for name, kwargs in {"baseline.jpg": dict(quality=80),
                         "progressive.jpg": dict(quality=60, progressive=True),
                         "gray.jpg": dict(quality=70)}.items():
        buffer = io.BytesIO()
        (image.convert("L") if name == "gray.jpg" else image).save(buffer, "JPEG", **kwargs)
        seeds[name] = buffer.getvalue()
    return seeds


def image_seeds(rng):
    seeds = {
        "rgb.png": make_png_corpus.png(6, 5, 8, 2, rng),
        "gray_alpha.png": make_png_corpus.png(3, 4, 8, 4, rng),
        "rgb24.bmp": bmp(5, 3, 24, rng),
        "palette8.bmp": bmp(6, 4, 8, rng),
        "rgb.tga": tga(4, 3, rng),
        "rle.tga": tga(5, 4, rng, rle=True),
        "gray.pgm": pnm(b"P5", 5, 4, rng),
        "rgb.ppm": pnm(b"P6", 4, 3, rng),
        "rgb16.ppm": pnm(b"P6", 2, 2, rng, maxval=65535),
        "rgb.psd": psd(4, 3, rng),
        "flat.hdr": hdr(3, 2, rng),
        "palette.gif": gif(5, 4, rng),
    }
    seeds.update(pillow_seeds(rng))
    return seeds


def panoptic_pair():
    """The ground truth and prediction of fuzz_eval_json's two scratch PNGs (a.png, b.png), whose
    segment ids are 1, 2, 256 and 65536."""
    categories = [{"id": 1, "name": "person", "isthing": 1},
                  {"id": 7, "name": "road", "isthing": 0},
                  {"id": 9, "name": "sky", "isthing": 0, "supercategory": "nature"}]

    def ann(image_id, file_name, segments):
        return {"image_id": image_id, "file_name": file_name,
                "segments_info": [dict(zip(("id", "category_id", "iscrowd", "area"), s))
                                  for s in segments]}
    gt = {"info": {"description": "atrous fuzz seed"}, "categories": categories,
          "annotations": [ann(1, "a.png", [(1, 1, 0, 4), (2, 7, 0, 3), (256, 9, 0, 3),
                                           (65536, 1, 1, 1)]),
                          ann("img2", "b.png", [(1, 1, 0, 3), (2, 7, 0, 3), (256, 9, 0, 2),
                                                (65536, 1, 0, 2)])]}
    pred = {"annotations": [{k: v for k, v in a.items()} for a in gt["annotations"]]}
    for a in pred["annotations"]:
        a["file_name"] = "b.png" if a["file_name"] == "a.png" else "a.png"
        for s in a["segments_info"]:
            s.pop("area", None)
    return gt, pred, categories


def eval_json_seeds():
    gt, pred, categories = panoptic_pair()
    def text(value, indent=None):
        return json.dumps(value, indent=indent).encode()
    only_first = {"annotations": pred["annotations"][:1]}
    return {
        "pair.json": text(gt) + b"\0" + text(pred),
        "pair_indented.json": text(gt, 1) + b"\0" + text(pred, 2),
        "missing_prediction.json": text(gt) + b"\0" + text(only_first),
        "same_text.json": text(gt),  # no NUL: the file is its own prediction
        "float_ids.json": (text(gt).replace(b'"id": 7', b'"id": 7.0') + b"\0" +
                           text(pred).replace(b'"image_id": 1', b'"image_id": 1.0')),
        "escapes.json": text(dict(gt, categories=categories + [
            {"id": 12, "name": "caf\u00e9 \ud83d\ude00 \"q\"", "isthing": 0}])) + b"\0" + text(pred),
    }


def params_seeds():
    def text(value):
        return json.dumps(value).encode()
    return {
        "minimal.json": text({"thing_classes": [1, 3]}),
        "deeplab2.json": text({"convention": "deeplab2", "thing_classes": [2, 3],
                               "label_divisor": 256, "void_label": 0, "center_threshold": 0.3,
                               "nms_kernel": 5, "top_k": 2, "stuff_area_limit": 4}),
        "detectron2.json": text({"convention": "detectron2", "thing_classes": [0, 1, 2, 3],
                                 "label_divisor": 1000, "nms_kernel": 7, "top_k": 200,
                                 "stuff_area_limit": 2048, "center_threshold": 0.1}),
        "no_top_k.json": text({"thing_classes": [1], "top_k": 0, "nms_kernel": 1,
                               "center_threshold": 0}),
        "many.json": text({"thing_classes": list(range(0, 40, 3)), "label_divisor": 65536,
                           "void_label": 19, "top_k": -1}),
    }


def main():
    corpora = {"npy": lambda: npy_seeds(random.Random(14)),
               "image": lambda: image_seeds(random.Random(14)),
               "eval_json": eval_json_seeds, "params": params_seeds}
    chosen = sys.argv[1:] or list(corpora) + ["png"]
    for target in chosen:
        if target == "png":
            make_png_corpus.main([os.path.join(HERE, "corpus_png")])
            continue
        out_dir = os.path.join(HERE, "corpus_" + target)
        os.makedirs(out_dir, exist_ok=True)
        seeds = corpora[target]()
        for name, data in seeds.items():
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(data)
        print(f"{len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes in {out_dir}")


if __name__ == "__main__":
    main()
