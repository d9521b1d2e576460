#!/usr/bin/env python3
"""Proof that `atrous-convert --detectron2-config` reproduces detectron2's Panoptic-DeepLab.

Runs detectron2's own model code (a source checkout of facebookresearch/detectron2 given with
`--detectron2`; its compiled `_C` extension is not needed by Panoptic-DeepLab) on PyTorch:

1. builds the model from a config (its `_BASE_` chain included) with detectron2's random init,
   then gives every BatchNorm non-trivial statistics: random running means and variances on the
   scale of the layer's input on the proof image (a pre-forward hook per BatchNorm, in eval
   mode), random γ and β; the three predictors are rescaled so the outputs have useful ranges
   (logits of a few units, a center heatmap with a few dozen peaks above the threshold, offsets
   of tens of pixels) — detectron2 initialises them with std 0.001, which would leave no center;
2. saves the weights in both of detectron2's checkpoint formats: `model.pkl` (a pickle of
   {"model": {name: numpy array}, "__author__": ...}, the model-zoo format) and `model.pth`
   (`torch.save({"model": state_dict})`, what its trainer writes);
3. runs detectron2's inference on the image — `model([{"image", "height", "width"}])`, i.e. its
   normalization, heads and `get_panoptic_segmentation` with the dataset's thing ids and label
   divisor — and keeps the heads' upsampled outputs (semantic logits, center heatmap, offsets,
   captured with forward hooks) and the panoptic map;
4. converts both checkpoints with `atrous-convert MODEL --detectron2-config CONFIG`, runs
   `atrous run` on the same normalized image and `atrous segment --convention detectron2` on
   the image file, and compares: relative L2 per head and the share of pixels
   whose panoptic id agrees.

Full size (bench/RESULTS.md, "detectron2 checkpoints"):

    python models/detectron2/prove_detectron2.py --detectron2 D2_SRC \\
        --config D2_SRC/projects/Panoptic-DeepLab/configs/Cityscapes-PanopticSegmentation/panoptic_deeplab_R_52_os16_mg124_poly_90k_bs32_crop_512_1024_dsconv.yaml \\
        --image examples/images/astronaut.jpg --atrous build/atrous --out proof_d2

The image is resized (PIL, bilinear) to the config's input size first, so both sides run on the
same pixels without any further resize; the resized image is written as `image.png`.

`--fixture DIR` instead writes the reduced-width CI fixture (tests/python/test_detectron2_import.py):
a small config (two files, a `_BASE_` chain), both checkpoints, the image and detectron2's outputs
(`expected_{semantic,center,offset,panoptic}.npy`), all in DIR. Requires PyTorch, detectron2's Python dependencies (fvcore,
iopath, pycocotools, omegaconf, yacs, PyYAML) and Pillow; no detectron2 build.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import types

import numpy as np

FIXTURE_BASE = """\
# Reduced widths of detectron2's Panoptic-DeepLab R-52 Cityscapes dsconv config, for CI.
MODEL:
  META_ARCHITECTURE: "PanopticDeepLab"
  BACKBONE:
    NAME: "build_resnet_deeplab_backbone"
    FREEZE_AT: 0
  PIXEL_MEAN: [123.675, 116.280, 103.530]
  PIXEL_STD: [58.395, 57.120, 57.375]
  RESNETS:
    DEPTH: 50
    NORM: "SyncBN"
    OUT_FEATURES: ["res2", "res3", "res5"]
    RES5_DILATION: 2
    RES5_MULTI_GRID: [1, 2, 4]
    STEM_TYPE: "deeplab"
    STEM_OUT_CHANNELS: 4
    RES2_OUT_CHANNELS: 4
    WIDTH_PER_GROUP: 1
    STRIDE_IN_1X1: False
  SEM_SEG_HEAD:
    NAME: "PanopticDeepLabSemSegHead"
    IN_FEATURES: ["res2", "res3", "res5"]
    PROJECT_FEATURES: ["res2", "res3"]
    PROJECT_CHANNELS: [4, 8]
    ASPP_CHANNELS: 8
    ASPP_DILATIONS: [6, 12, 18]
    HEAD_CHANNELS: 8
    CONVS_DIM: 8
    COMMON_STRIDE: 4
    NUM_CLASSES: 19
    NORM: "SyncBN"
  INS_EMBED_HEAD:
    NAME: "PanopticDeepLabInsEmbedHead"
    IN_FEATURES: ["res2", "res3", "res5"]
    PROJECT_FEATURES: ["res2", "res3"]
    PROJECT_CHANNELS: [4, 4]
    ASPP_CHANNELS: 8
    ASPP_DILATIONS: [6, 12, 18]
    HEAD_CHANNELS: 4
    CONVS_DIM: 8
    COMMON_STRIDE: 4
    NORM: "SyncBN"
  PANOPTIC_DEEPLAB:
    STUFF_AREA: 16
    CENTER_THRESHOLD: 0.1
    NMS_KERNEL: 7
    TOP_K_INSTANCE: 200
DATASETS:
  TRAIN: ("cityscapes_fine_panoptic_train",)
  TEST: ("cityscapes_fine_panoptic_val",)
INPUT:
  MIN_SIZE_TRAIN: !!python/object/apply:eval ["[int(x * 0.1 * 32) for x in range(5, 16)]"]
  MIN_SIZE_TEST: 32
  MAX_SIZE_TEST: 64
  CROP:
    ENABLED: True
    TYPE: "absolute"
    SIZE: (16, 32)
"""
FIXTURE_CONFIG = """\
_BASE_: base.yaml
MODEL:
  PANOPTIC_DEEPLAB:
    USE_DEPTHWISE_SEPARABLE_CONV: True
  SEM_SEG_HEAD:
    USE_DEPTHWISE_SEPARABLE_CONV: True
INPUT:
  FORMAT: "RGB"
"""
HEADS = ("semantic", "center", "offset")


def relative_l2(actual, expected) -> float:
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300))


def import_detectron2(source: str):
    """Puts the checkout's package and the project on sys.path; the Panoptic-DeepLab package
    imports panopticapi for its training data mapper only, so an empty stand-in is given when
    panopticapi is not installed."""
    sys.path.insert(0, os.path.join(source, "projects", "Panoptic-DeepLab"))
    sys.path.insert(0, source)
    try:
        import panopticapi.utils  # noqa: F401
    except ImportError:
        stub = types.ModuleType("panopticapi")
        stub.utils = types.ModuleType("panopticapi.utils")
        stub.utils.rgb2id = None
        sys.modules["panopticapi"], sys.modules["panopticapi.utils"] = stub, stub.utils
    import torch
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model
    from panoptic_deeplab import add_panoptic_deeplab_config
    return torch, get_cfg, build_model, add_panoptic_deeplab_config


def build(source: str, config: str, seed: int):
    torch, get_cfg, build_model, add_panoptic_deeplab_config = import_detectron2(source)
    torch.manual_seed(seed)
    cfg = get_cfg()
    add_panoptic_deeplab_config(cfg)
    cfg.merge_from_file(config)
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg).eval()
    replace_sync_batch_norm(torch, model)
    return torch, cfg, model


def replace_sync_batch_norm(torch, module) -> None:
    """PyTorch refuses SyncBatchNorm on CPU even in eval mode, where it computes exactly what
    BatchNorm2d does: each one is swapped for a BatchNorm2d of the same parameters, buffers and
    epsilon (the state dict keeps its names)."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.SyncBatchNorm):
            bn = torch.nn.BatchNorm2d(child.num_features, eps=child.eps, momentum=child.momentum,
                                      affine=child.affine, track_running_stats=child.track_running_stats)
            bn.load_state_dict(child.state_dict())
            setattr(module, name, bn.eval())
        else:
            replace_sync_batch_norm(torch, child)


def calibrate(torch, model, image_chw, seed: int) -> dict:
    """Non-trivial BatchNorm statistics and useful predictor ranges (module docstring)."""
    rng = np.random.default_rng(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]

    def measure(module, inputs):
        x = inputs[0]
        n = x.shape[1]
        module.weight.data = torch.from_numpy(rng.uniform(0.5, 1.5, n).astype(np.float32))
        module.bias.data = torch.from_numpy(rng.normal(0, 0.2, n).astype(np.float32))
        # Random per-channel statistics on the scale of the layer's input (its RMS on the image):
        # statistics measured per channel on one image would centre every channel exactly and
        # make the tiny fixture net amplify rounding a thousandfold, unlike a trained net.
        rms = float(x.double().pow(2).mean().sqrt()) + 1e-6
        mean = rng.normal(0, 0.2, n) * rms
        var = rng.uniform(0.5, 2.0, n) * rms * rms
        module.running_mean.data = torch.from_numpy(mean.astype(np.float32))
        module.running_var.data = torch.from_numpy(var.astype(np.float32))

    hooks = [m.register_forward_pre_hook(measure) for m in norms]
    # Calibration runs stop after the heads (detectron2's benchmark switch): the post-processing
    # of uncalibrated heatmaps can hold thousands of centers.
    model.benchmark_network_speed = True
    outputs = run_heads(torch, model, image_chw)
    for h in hooks:
        h.remove()
    sem, ins = model.sem_seg_head, model.ins_embed_head
    # Output = W·h + b is linear in (W, b): rescale W to the wanted spread, then pick b.
    logits, center, offset = outputs
    with torch.no_grad():
        sem.predictor.weight *= 3.0 / max(float(logits.std()), 1e-12)
        sem.predictor.bias.copy_(torch.from_numpy(rng.normal(0, 1.0, sem.predictor.bias.shape[0])
                                                  .astype(np.float32)))
        ins.center_predictor.weight *= 0.5 / max(float(center.std()), 1e-12)
        ins.offset_predictor.weight *= 4.0 / max(float(offset.std()), 1e-12)
    # The center bias leaves about 3 pixels in 10,000 above the threshold.
    _, center, _ = run_heads(torch, model, image_chw)
    with torch.no_grad():
        c = center.numpy().reshape(-1)
        cut = np.quantile(c, 1 - 3e-4)
        ins.center_predictor.bias += float(model.threshold - cut + 0.02)
    model.benchmark_network_speed = False
    return {"batch_norms": len(norms)}


def run_heads(torch, model, image_chw):
    """The heads' inference outputs (upsampled ×4, offsets ×4) for one image, via hooks."""
    captured = {}
    h1 = model.sem_seg_head.register_forward_hook(lambda m, i, o: captured.__setitem__("sem", o))
    h2 = model.ins_embed_head.register_forward_hook(lambda m, i, o: captured.__setitem__("ins", o))
    with torch.no_grad():
        result = model([{"image": torch.from_numpy(image_chw), "height": image_chw.shape[1],
                         "width": image_chw.shape[2]}])
    h1.remove()
    h2.remove()
    if result:
        run_heads.last_panoptic = result[0]["panoptic_seg"][0].numpy()
    return captured["sem"][0], captured["ins"][0], captured["ins"][1]


def save_checkpoints(torch, model, out: str) -> dict:
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"model": state}, os.path.join(out, "model.pth"))
    arrays = {k: v.numpy() for k, v in state.items()}
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump({"model": arrays, "__author__": "atrous prove_detectron2.py (random weights)"}, f)
    return {"tensors": len(state),
            "parameters": int(sum(v.numel() for k, v in state.items()
                                  if not k.endswith("num_batches_tracked")))}


def load_image(path: str, size):
    from PIL import Image
    image = Image.open(path).convert("RGB")
    if image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(image, np.uint8)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def convert(checkpoint: str, config: str, output: str) -> None:
    """This checkout's converter, on the Python of `--converter-python` (it needs numpy, onnx,
    PyYAML; not PyTorch)."""
    command = [convert.python, "-m", "atrous_convert", checkpoint, "--detectron2-config", config,
               "-o", output, "--meta", "source=detectron2 proof"]
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "weights_converter"))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"atrous-convert failed: {result.stderr.strip()}")


def run_atrous(binary: str, args) -> None:
    result = subprocess.run([binary] + args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous {args[0]} failed: {result.stderr.strip()}")


def compare(binary: str, work: str, config: str, expected: dict, threads: int) -> dict:
    """Converts both checkpoints, checks they give the same file, runs atrous, compares."""
    paths = {k: os.path.join(work, f"model_{k}.atrous") for k in ("pkl", "pth")}
    for k, p in paths.items():
        convert(os.path.join(work, f"model.{k}"), config, p)
    with open(paths["pkl"], "rb") as a, open(paths["pth"], "rb") as b:
        same = a.read() == b.read()
    run_atrous(binary, ["run", paths["pkl"], "--input", f"image={os.path.join(work, 'input.npy')}",
                        "--output-dir", os.path.join(work, "run"), "--threads", str(threads),
                        "--backend", compare.backend])
    result = {"pkl_and_pth_identical": same}
    for name in HEADS:
        actual = np.load(os.path.join(work, "run", f"{name}.npy"))
        result[f"{name}_rel_l2"] = relative_l2(actual[0], expected[name])
    run_atrous(binary, ["segment", paths["pkl"], os.path.join(work, "image.png"), "--output-dir",
                        os.path.join(work, "segment"), "--convention", "detectron2",
                        "--threads", str(threads), "--backend", compare.backend])
    from PIL import Image
    rgb = np.asarray(Image.open(os.path.join(work, "segment", "panoptic", "image.png")), np.int64)
    # segment's COCO PNG: id = R + 256·G + 256²·B = panoptic value + 1, 0 = void (−1)
    panoptic = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2] - 1
    result["panoptic_agreement"] = float(np.mean(panoptic == expected["panoptic"]))
    # Where they differ: a different semantic argmax (logits within rounding of a tie) or the
    # same class with another instance (a center or a nearest-center distance within rounding).
    labels = np.asarray(Image.open(os.path.join(work, "segment", "image_labels.png")), np.int64)
    semantic = expected["semantic"][0].argmax(0)
    differ = panoptic != expected["panoptic"]
    result["semantic_agreement"] = float(np.mean(labels == semantic))
    result["panoptic_differences"] = {"pixels": int(differ.sum()),
                                      "with_other_semantic": int((differ & (labels != semantic)).sum())}
    np.save(os.path.join(work, "detectron2_panoptic.npy"), expected["panoptic"])
    with open(os.path.join(work, "segment", "image.json")) as f:
        result["centers_atrous"] = json.load(f).get("centers")
    result["instances_detectron2"] = int(len({int(v) for v in np.unique(expected["panoptic"])
                                              if v >= 0 and v % 1000 != 0}))
    return result


def write_layout_fixture(torch, path: str) -> None:
    """Tensors in layouts a state dict can hold (a transposed view, a view at an offset, an
    nn.Parameter, an empty tensor, bfloat16) next to an optimizer state: `layouts.pth`."""
    t = torch.arange(6.0).reshape(2, 3).t()
    torch.save({"model": {"transposed": t, "offset_view": t[1:], "parameter": torch.nn.Parameter(torch.ones(2, 2)),
                          "empty": torch.zeros(0, 3), "bfloat16": torch.full((3,), 1.5, dtype=torch.bfloat16)},
                "optimizer": {"state": {0: {"m": torch.ones(2)}},
                              "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99)}]},
                "iteration": 5}, path)


def write_fixture(args) -> None:
    out = args.fixture
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "base.yaml"), "w") as f:
        f.write(FIXTURE_BASE)
    config = os.path.join(out, "config.yaml")
    with open(config, "w") as f:
        f.write(FIXTURE_CONFIG)
    torch, cfg, model = build(args.detectron2, config, args.seed)
    size = (cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    pixels = load_image(args.image, size)
    from PIL import Image
    Image.fromarray(pixels).save(os.path.join(out, "image.png"))
    image_chw = np.ascontiguousarray(pixels.transpose(2, 0, 1)).astype(np.float32)
    calibrate(torch, model, image_chw, args.seed)
    info = save_checkpoints(torch, model, out)
    expected = dict(zip(HEADS, (t.numpy() for t in run_heads(torch, model, image_chw))))
    expected["panoptic"] = run_heads.last_panoptic.astype(np.int32)
    write_layout_fixture(torch, os.path.join(out, "layouts.pth"))
    for name, array in expected.items():
        np.save(os.path.join(out, f"expected_{name}.npy"), array)
    print(json.dumps(info))


def prove(args) -> None:
    import time
    work = args.out
    os.makedirs(work, exist_ok=True)
    torch, cfg, model = build(args.detectron2, args.config, args.seed)
    size = (cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    pixels = load_image(args.image, size)
    from PIL import Image
    Image.fromarray(pixels).save(os.path.join(work, "image.png"))
    image_chw = np.ascontiguousarray(pixels.transpose(2, 0, 1)).astype(np.float32)
    info = calibrate(torch, model, image_chw, args.seed)
    info.update(save_checkpoints(torch, model, work))
    start = time.time()
    expected = dict(zip(HEADS, (t.numpy() for t in run_heads(torch, model, image_chw))))
    info["detectron2_seconds"] = round(time.time() - start, 1)
    expected["panoptic"] = run_heads.last_panoptic
    mean = np.array(cfg.MODEL.PIXEL_MEAN, np.float32).reshape(3, 1, 1)
    std = np.array(cfg.MODEL.PIXEL_STD, np.float32).reshape(3, 1, 1)
    np.save(os.path.join(work, "input.npy"), ((image_chw - mean) / std)[None].astype(np.float32))
    del model
    info.update(compare(args.atrous, work, args.config, expected, args.threads))
    info["config"] = os.path.basename(args.config)
    info["size"] = list(size)
    print(json.dumps(info, indent=1))
    with open(os.path.join(work, "result.json"), "w") as f:
        json.dump(info, f, indent=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detectron2", required=True, help="a facebookresearch/detectron2 source checkout")
    p.add_argument("--config", help="a Panoptic-DeepLab config of that checkout")
    p.add_argument("--image", required=True, help="a photo (resized to the config's input size)")
    p.add_argument("--atrous", default="build/atrous", help="the atrous binary")
    p.add_argument("--out", help="work folder of the proof")
    p.add_argument("--fixture", help="write the CI fixture into this folder instead")
    p.add_argument("--converter-python", default=sys.executable,
                   help="the Python that runs atrous-convert (default: this one)")
    p.add_argument("--backend", default="cpu", help="atrous backend (reference, cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    convert.python = args.converter_python
    compare.backend = args.backend
    if args.fixture:
        write_fixture(args)
    elif args.config and args.out:
        prove(args)
    else:
        p.error("give --config and --out, or --fixture")


if __name__ == "__main__":
    main()
