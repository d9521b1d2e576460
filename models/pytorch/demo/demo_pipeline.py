#!/usr/bin/env python3
"""Export, evaluation and whole-pipeline parity for the synthetic Panoptic-DeepLab demo model.

    python models/pytorch/demo/demo_pipeline.py export --state-dict S.pt --out DIR
        → DIR/panoptic_demo.onnx, DIR/panoptic_demo.atrous (panoptic metadata)
    python models/pytorch/demo/demo_pipeline.py evaluate --model M.atrous --state-dict S.pt \\
        --work DIR [--count 100] [--backend reference|cpu]
        → held-out set (COCO panoptic) in DIR/gt, predictions of both pipelines in
          DIR/pred_atrous and DIR/pred_torch, `atrous eval --format coco` reports of each,
          and the parity numbers (fraction of equal panoptic pixels, PQ difference)
    python models/pytorch/demo/demo_pipeline.py overlay --model M.atrous --seed N --out O.png \
        --work DIR
        → the image of held-out seed N next to its atrous panoptic segmentation

The two pipelines compared (issue #5 item 7):
  atrous:  `atrous run` of the .atrous → `atrous merge --model` (metadata parameters, deeplab2)
  PyTorch: the float32 PyTorch network (the committed state_dict) → the NumPy reference merger of
           tests/python/test_panoptic_merger.py (`oracle`), with the same parameters.
Both read the same normalized input (x/127.5 − 1 of the uint8 image). The atrous binary is
$ATROUS_BIN or <repo>/build/atrous.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "python"))
import export_panoptic  # noqa: E402
import synthetic_panoptic as sp  # noqa: E402
import train_panoptic as tp  # noqa: E402

MODEL_NAME = "panoptic_demo"


def default_binary() -> str:
    return os.environ.get("ATROUS_BIN") or os.path.join(REPO_ROOT, "build", "atrous")


def load_model(state_dict_path: str) -> torch.nn.Module:
    model = tp.build_demo_model()
    model.load_state_dict(torch.load(state_dict_path, map_location="cpu"))
    return model.eval()


def merge_params() -> Dict:
    return dict(tp.POSTPROCESS, thing_classes=list(sp.THING_CLASSES))


def converter_arguments() -> List[str]:
    h, w = sp.SIZE
    args = ["--task", "panoptic", "--labels", ",".join(sp.LABELS),
            "--thing-classes", ",".join(str(c) for c in sp.THING_CLASSES),
            "--input-mean", "127.5,127.5,127.5", "--input-std", "127.5,127.5,127.5",
            "--input-size", f"{h}x{w}"]
    for key, value in tp.POSTPROCESS.items():
        args += ["--meta", f"{key}={value}"]
    args += ["--meta", "architecture=panoptic_deeplab_mnv3s_os32_demo",
             "--meta", "dataset=synthetic_panoptic"]
    return args


def export(state_dict_path: str, out_dir: str) -> str:
    """ONNX (export_panoptic.export_onnx: static shape, BN kept for the converter) → .atrous."""
    os.makedirs(out_dir, exist_ok=True)
    model = load_model(state_dict_path)
    onnx_path = os.path.join(out_dir, MODEL_NAME + ".onnx")
    atrous_path = os.path.join(out_dir, MODEL_NAME + ".atrous")
    export_panoptic.export_onnx(model, onnx_path, sp.SIZE)
    command = [sys.executable, "-m", "atrous_convert", onnx_path, "-o", atrous_path]
    result = subprocess.run(command + converter_arguments(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous-convert failed: {result.stderr.strip() or result.stdout}")
    return atrous_path


def normalized_input(image: np.ndarray) -> np.ndarray:
    return tp.normalize(image[None]).numpy()


def torch_pipeline(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """PyTorch float32 network + the NumPy reference merger → panoptic int64 [H,W]."""
    from test_panoptic_merger import oracle
    with torch.no_grad():
        semantic, center, offset = (t[0].numpy() for t in model(torch.from_numpy(
            normalized_input(image))))
    panoptic, _, _ = oracle(semantic, center, offset, merge_params(), "deeplab2")
    return panoptic


def atrous_pipeline(binary: str, model_path: str, image: np.ndarray, work: str,
                    backend: Optional[str] = None) -> np.ndarray:
    """`atrous run` + `atrous merge --model` → panoptic int32 [H,W]."""
    os.makedirs(work, exist_ok=True)
    np.save(os.path.join(work, "image.npy"), normalized_input(image))
    command = [binary, "run", model_path, "--input", f"image={os.path.join(work, 'image.npy')}",
               "--output-dir", work]
    if backend:
        command += ["--backend", backend]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous run failed: {result.stderr.strip()}")
    merged = os.path.join(work, "merged")
    result = subprocess.run(
        [binary, "merge", "--semantic", os.path.join(work, "semantic.npy"),
         "--center", os.path.join(work, "center.npy"), "--offset", os.path.join(work, "offset.npy"),
         "--model", model_path, "--no-scores", "--output-dir", merged],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous merge failed: {result.stderr.strip()}")
    return np.load(os.path.join(merged, "panoptic.npy"))


def write_predictions(out: str, names: List[str], panoptics: List[np.ndarray]) -> str:
    """COCO panoptic predictions (PNG + JSON) from panoptic maps."""
    os.makedirs(os.path.join(out, "panoptic"), exist_ok=True)
    annotations = []
    for name, pan in zip(names, panoptics):
        png, segments = sp.to_coco(np.asarray(pan, np.int64))
        sp.write_png(os.path.join(out, "panoptic", name + ".png"), png)
        annotations.append({"image_id": name, "file_name": name + ".png",
                            "segments_info": segments})
    path = os.path.join(out, "panoptic.json")
    with open(path, "w") as f:
        json.dump({"annotations": annotations, "categories": sp.categories()}, f)
    return path


def atrous_eval(binary: str, gt_dir: str, pred_dir: str) -> Dict:
    report = os.path.join(pred_dir, "report.json")
    result = subprocess.run(
        [binary, "eval", "--format", "coco", "--gt-json", os.path.join(gt_dir, "panoptic.json"),
         "--gt-dir", os.path.join(gt_dir, "panoptic"),
         "--pred-json", os.path.join(pred_dir, "panoptic.json"),
         "--pred-dir", os.path.join(pred_dir, "panoptic"), "--json", report, "--quiet"],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous eval failed: {result.stderr.strip()}")
    with open(report) as f:
        return json.load(f)


def evaluate(binary: str, model_path: str, state_dict_path: str, work: str, seeds: List[int],
             backend: Optional[str] = None) -> Dict:
    """Both pipelines on the held-out `seeds`; returns parity and both eval reports."""
    gt_dir = os.path.join(work, "gt")
    sp.write_coco(gt_dir, seeds)
    model = load_model(state_dict_path)
    names, ours, theirs = [], [], []
    equal = total = 0
    worst = (2.0, "")
    for seed in seeds:
        image, _, _ = sp.generate(seed)
        a = atrous_pipeline(binary, model_path, image, os.path.join(work, "run"), backend)
        t = torch_pipeline(model, image)
        same = int((a.astype(np.int64) == t).sum())
        equal, total = equal + same, total + t.size
        worst = min(worst, (same / t.size, sp.image_name(seed)))
        names.append(sp.image_name(seed)), ours.append(a), theirs.append(t)
    write_predictions(os.path.join(work, "pred_atrous"), names, ours)
    write_predictions(os.path.join(work, "pred_torch"), names, theirs)
    report_a = atrous_eval(binary, gt_dir, os.path.join(work, "pred_atrous"))
    report_t = atrous_eval(binary, gt_dir, os.path.join(work, "pred_torch"))
    return {"images": len(seeds), "equal_fraction": equal / total, "worst_image": worst,
            "pq_difference": abs(report_a["PQ"]["all"] - report_t["PQ"]["all"]),
            "atrous": report_a, "torch": report_t}


def overlay(image: np.ndarray, panoptic: np.ndarray) -> np.ndarray:
    """Image | image blended with one colour per panoptic segment (void black), side by side."""
    colors = np.zeros(panoptic.shape + (3,), np.float64)
    for value in np.unique(panoptic):
        if value == sp.VOID_LABEL * sp.LABEL_DIVISOR:
            continue
        rng = np.random.default_rng(int(value))
        colors[panoptic == value] = rng.uniform(40, 255, 3)
    blend = 0.35 * image + 0.65 * colors
    # segment boundaries in white
    edge = np.zeros(panoptic.shape, bool)
    edge[1:] |= panoptic[1:] != panoptic[:-1]
    edge[:, 1:] |= panoptic[:, 1:] != panoptic[:, :-1]
    blend[edge] = 255
    return np.concatenate([image, np.clip(blend, 0, 255).astype(np.uint8)], 1)


def table(report: Dict) -> str:
    lines = ["|        | PQ    | SQ    | RQ    |", "|--------|-------|-------|-------|"]
    for group in ("all", "things", "stuff"):
        lines.append(f"| {group:<6} | " + " | ".join(f"{100 * report[m][group]:.1f}"
                                                   for m in ("PQ", "SQ", "RQ")) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export")
    e.add_argument("--state-dict", required=True)
    e.add_argument("--out", required=True)
    v = sub.add_parser("evaluate")
    v.add_argument("--model", required=True)
    v.add_argument("--state-dict", required=True)
    v.add_argument("--work", required=True)
    v.add_argument("--count", type=int, default=100)
    v.add_argument("--backend", default=None)
    v.add_argument("--atrous", default=default_binary())
    o = sub.add_parser("overlay", help="atrous pipeline on one held-out image → PNG overlay")
    o.add_argument("--model", required=True)
    o.add_argument("--seed", type=int, required=True)
    o.add_argument("--out", required=True, help="PNG path")
    o.add_argument("--work", required=True)
    o.add_argument("--atrous", default=default_binary())
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "export":
        print(export(args.state_dict, args.out))
        return 0
    if args.command == "overlay":
        image, _, _ = sp.generate(args.seed)
        pan = atrous_pipeline(args.atrous, args.model, image, args.work)
        sp.write_png(args.out, overlay(image, pan))
        return 0
    seeds = list(range(sp.HELDOUT_SEED_BASE, sp.HELDOUT_SEED_BASE + args.count))
    result = evaluate(args.atrous, args.model, args.state_dict, args.work, seeds, args.backend)
    print(f"held-out images: {result['images']}")
    print("atrous network + atrous merge (atrous eval --format coco):")
    print(table(result["atrous"]))
    print("PyTorch network + NumPy reference merger:")
    print(table(result["torch"]))
    print(f"equal panoptic pixels: {100 * result['equal_fraction']:.4f} % "
          f"(worst image {result['worst_image'][1]}: {100 * result['worst_image'][0]:.3f} %)")
    print(f"|PQ difference|: {100 * result['pq_difference']:.4f} (PQ points)")
    for side in ("atrous", "torch"):
        per = result[side]["per_class"]
        print(side + " per class PQ: " + ", ".join(
            f"{per[k]['name']} {100 * per[k]['PQ']:.1f}" for k in sorted(per, key=int)))
    try:  # cross-check of the atrous pipeline's PQ with panopticapi, when it is installed
        import contextlib
        import io
        from panopticapi.evaluation import pq_compute
        pred = os.path.join(args.work, "pred_atrous")
        with contextlib.redirect_stdout(io.StringIO()):
            ref = pq_compute(os.path.join(args.work, "gt", "panoptic.json"),
                             os.path.join(pred, "panoptic.json"),
                             os.path.join(args.work, "gt", "panoptic"),
                             os.path.join(pred, "panoptic"))
        print("panopticapi on the atrous predictions: PQ all/things/stuff " + " / ".join(
            f"{100 * ref[g]['pq']:.2f}" for g in ("All", "Things", "Stuff")))
    except ImportError:
        pass
    ok = result["equal_fraction"] >= 0.999 and result["pq_difference"] <= 0.001
    print("PARITY " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
