#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (docs/FUZZING.md) into fuzz/corpus_<target>/.

    python3 fuzz/make_corpus.py            # all generated corpora
    python3 fuzz/make_corpus.py npy image  # some of them

Deterministic and small (a few KB per target). Standard library only, except the JPEG seeds of
the image target (Pillow) and the loader's ONNX graphs (numpy, onnx and the converter): run it
with the project's virtual environment; without those modules these seeds are left out with a
warning. The PNG corpus is make_png_corpus.py's; corpus_loader/test_graph.atrous (the graph of
tests/graph_fixtures.h) is written by `atrous_tests "[.fuzz-seed]"`.
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


def loader_seeds():
    """Small ONNX graphs converted to .atrous: the op families the converter takes (conv, depthwise
    dilated conv, pools, resize, concat, softmax, argmax, shape ops, batch norm, clip, reduce,
    gemm, element-wise), every tensor small enough for fuzz_loader to run the graph."""
    try:
        import numpy as np
        from onnx import TensorProto, helper, numpy_helper
        from atrous_convert import convert
    except ImportError:
        print("warning: numpy, onnx or the converter is missing: no loader seeds", file=sys.stderr)
        return {}
    import tempfile
    rng = np.random.default_rng(14)
    node = helper.make_node

    def weights(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def ints(*values):
        return np.array(values, np.int64)

    def model(nodes, inputs, outputs, initializers):
        graph = helper.make_graph(
            nodes, "seed",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
            [numpy_helper.from_array(np.asarray(a), n) for n, a in initializers.items()])
        result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                   producer_name="atrous-fuzz")
        result.ir_version = 7
        return result

    graphs = {
        "conv_pool.atrous": model(
            [node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             node("Relu", ["c"], ["r"]),
             node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             node("GlobalAveragePool", ["p"], ["y"])],
            {"x": (1, 3, 8, 8)}, ["y"], {"w": weights(4, 3, 3, 3), "b": weights(4)}),
        "depthwise_resize.atrous": model(
            [node("Conv", ["x", "w"], ["d"], group=4, dilations=[2, 2], pads=[2, 2, 2, 2]),
             node("Sigmoid", ["d"], ["s"]),
             node("Resize", ["s", "", "scales"], ["u"], mode="linear"),
             node("Concat", ["u", "u"], ["k"], axis=1),
             node("Softmax", ["k"], ["y"], axis=1),
             node("ArgMax", ["y"], ["a"], axis=1, keepdims=0)],
            {"x": (1, 4, 5, 6)}, ["a"],
            {"w": weights(4, 1, 3, 3), "scales": np.array([1, 1, 2, 2], np.float32)}),
        "shape_ops.atrous": model(
            [node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             node("Reshape", ["t", "shape"], ["r"]),
             node("Pad", ["x", "pads"], ["p"], mode="constant"),
             node("Slice", ["p", "starts", "ends", "axes"], ["s"]),
             node("DepthToSpace", ["s"], ["d"], blocksize=2),
             node("SpaceToDepth", ["d"], ["y"], blocksize=2),
             node("Flatten", ["y"], ["z"])],
            {"x": (1, 4, 4, 6)}, ["r", "z"],
            {"shape": ints(1, -1, 4), "pads": ints(0, 0, 1, 1, 0, 0, 1, 1), "starts": ints(1, 1),
             "ends": ints(5, 7), "axes": ints(2, 3)}),
        "norm_gemm.atrous": model(
            [node("Conv", ["x", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
             node("BatchNormalization", ["c", "g", "bb", "m", "v"], ["n"]),
             node("Clip", ["n", "lo", "hi"], ["k"]),
             node("AveragePool", ["k"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("ReduceMean", ["a"], ["rm"], axes=[2, 3], keepdims=0),
             node("Gemm", ["rm", "gw", "gb"], ["g2"], transB=1),
             node("Mul", ["g2", "g2"], ["m2"]),
             node("Add", ["m2", "gb"], ["y"])],
            {"x": (1, 3, 4, 5)}, ["y"],
            {"w": weights(2, 3, 3, 3), "g": weights(2), "bb": weights(2), "m": weights(2),
             "v": np.abs(weights(2)) + 0.5, "lo": np.array(0, np.float32),
             "hi": np.array(6, np.float32), "gw": weights(5, 2), "gb": weights(5)}),
        "vision_ops.atrous": model(
            [node("ConvTranspose", ["x", "tw", "tb"], ["t"], strides=[2, 2], pads=[1, 1, 0, 0],
                  output_padding=[1, 0]),
             node("Split", ["t", "split"], ["s1", "s2"], axis=1),
             node("LeakyRelu", ["s1"], ["l"], alpha=0.2),
             node("PRelu", ["s2", "slope"], ["p"]),
             node("Max", ["l", "p"], ["mx"]),
             node("Pow", ["mx", "two"], ["pw"]),
             node("Expand", ["pw", "shape"], ["e"]),
             node("InstanceNormalization", ["e", "g", "bb"], ["n"]),
             node("Elu", ["n"], ["el"]),
             node("ReduceMax", ["el"], ["y"], axes=[3], keepdims=1)],
            {"x": (1, 2, 3, 4)}, ["y"],
            {"tw": weights(2, 4, 3, 3), "tb": weights(4), "split": ints(2, 2),
             "slope": weights(2, 1, 1), "two": np.array(2, np.float32), "shape": ints(2, 1, 1, 1),
             "g": weights(2), "bb": weights(2)}),
    }
    seeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, graph in graphs.items():
            convert(graph, os.path.join(tmp, name))
            with open(os.path.join(tmp, name), "rb") as f:
                seeds[name] = f.read()
    return seeds


def main():
    corpora = {"npy": lambda: npy_seeds(random.Random(14)),
               "image": lambda: image_seeds(random.Random(14)),
               "eval_json": eval_json_seeds, "params": params_seeds, "loader": loader_seeds}
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
