#!/usr/bin/env python3
"""Speed of `atrous eval` (PQ + mIoU) next to the official Python tools on the same data.

Generates N Cityscapes-size ground-truth scenes (gtFine labelIds/instanceIds + panoptic export in
createPanopticImgs layout) and damaged panoptic + semantic predictions (tests/python/eval_data.py),
cached under --data; then times, on the same files:

  * atrous eval --format cityscapes --gt GT --pred PRED --threads T
  * cityscapesScripts evalPanopticSemanticLabeling.evaluatePanoptic (its process pool limited to
    --official-procs processes) + evalPixelLevelSemanticLabeling.evaluateImgLists (one process; the
    pip wheel has no Cython extension, so the NumPy path runs, as it does for pip users)

and prints images/s for each, the speed ratio, and whether the headline numbers agree. On a busy
machine the wall-clock ratio is noisy; the CPU seconds (user + sys of this process and its
children, measured around each side) are printed too.

    .venv/bin/python bench/compare_eval.py                # 500 images of 1024x2048, 2 threads
    .venv/bin/python bench/compare_eval.py --images 50    # quick run
"""
import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
import eval_data as ed  # noqa: E402

SPLIT = "val"


def _gen_chunk(job):
    gt_root, pred_root, names, h, w, seed = job
    for i, name in enumerate(names):
        ed.write_cs_gt_image(gt_root, name, h, w, np.random.default_rng([seed, int(name[2].split("_")[1])]))
    entries = [ed.cs_panoptic_entry(gt_root, SPLIT, n) for n in names]
    out = ed.write_cs_pred(gt_root, pred_root, names, seed=seed + 1 + int(names[0][2].split("_")[1]),
                           formats=("semantic", "panoptic"), write_json=False)
    return entries, out["panoptic_annotations"]


def generate(data, n, h, w, seed, procs):
    gt_root, pred_root = os.path.join(data, "gt"), os.path.join(data, "pred")
    stamp = os.path.join(data, "params.json")
    params = {"images": n, "height": h, "width": w, "seed": seed, "version": 1}
    if os.path.exists(stamp) and json.load(open(stamp)) == params:
        print(f"data: cached in {data}")
        return gt_root, pred_root, ed.cs_names(n, SPLIT)
    if os.path.exists(stamp):
        os.remove(stamp)
    names = ed.cs_names(n, SPLIT)
    chunks = [names[i::procs * 4] for i in range(procs * 4)]
    chunks = [c for c in chunks if c]
    t0 = time.time()
    print(f"data: generating {n} pairs of {h}x{w} in {data} ({procs} processes) ...", flush=True)
    with multiprocessing.Pool(procs) as pool:
        results = pool.map(_gen_chunk, [(gt_root, pred_root, c, h, w, seed) for c in chunks])
    ed.cs_write_panoptic_json(gt_root, SPLIT, [e for r in results for e in r[0]])
    anns = sorted((a for r in results for a in r[1]), key=lambda a: a["image_id"])
    with open(os.path.join(pred_root, ed.PRED_LAYOUT["panoptic_json"]), "w") as f:
        json.dump({"annotations": anns}, f)
    with open(stamp, "w") as f:
        json.dump(params, f)
    print(f"data: done in {time.time() - t0:.0f} s", flush=True)
    return gt_root, pred_root, names


def cpu_seconds():
    """User + sys CPU seconds of this process and its finished children so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_atrous(binary, gt_root, pred_root, threads, work):
    report = os.path.join(work, "atrous_report.json")
    cmd = [binary, "eval", "--format", "cityscapes", "--gt", gt_root, "--pred", pred_root,
           "--threads", str(threads), "--json", report]
    c0, t0 = cpu_seconds(), time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if r.returncode != 0:
        sys.exit(f"atrous eval failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    with open(report) as f:
        return dt, cpu, json.load(f), " ".join(cmd)


def time_official(gt_root, pred_root, names, procs, work):
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as px
    L = ed.PRED_LAYOUT
    gtj = os.path.join(gt_root, "gtFine", f"cityscapes_panoptic_{SPLIT}.json")
    c0, t0 = cpu_seconds(), time.perf_counter()
    pq = ed.official_cs_pq(gtj, gtj[:-5], os.path.join(pred_root, L["panoptic_json"]),
                           os.path.join(pred_root, L["panoptic_dir"]), work, processes=procs)
    t1 = time.perf_counter()
    sem = [os.path.join(pred_root, L["semantic_dir"], stem + L["semantic_suffix"]) for _, _, stem in names]
    miou = ed.official_cs_miou(sem, ed.cs_gt_paths(gt_root, names), work)
    t2 = time.perf_counter()
    return {"pq_s": t1 - t0, "miou_s": t2 - t1, "cpu_s": cpu_seconds() - c0, "pq": pq, "miou": miou,
            "cython": bool(px.CSUPPORT)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--size", default="1024x2048", help="HxW")
    ap.add_argument("--threads", type=int, default=2, help="atrous eval --threads")
    ap.add_argument("--official-procs", type=int, default=2, help="process pool size of the official panoptic eval")
    ap.add_argument("--data", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "atrous_eval_bench"))
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--atrous", default=os.environ.get("ATROUS_BIN") or os.path.join(REPO, "build", "atrous"))
    ap.add_argument("--skip-official", action="store_true")
    ap.add_argument("--skip-atrous", action="store_true")
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    data = os.path.join(a.data, f"{a.images}_{h}x{w}_{a.seed}")
    os.makedirs(data, exist_ok=True)
    gt_root, pred_root, names = generate(data, a.images, h, w, a.seed, max(1, os.cpu_count() or 1))
    work = os.path.join(data, "work")
    os.makedirs(work, exist_ok=True)
    n = a.images
    result = {"images": n, "size": [h, w], "threads": a.threads, "official_procs": a.official_procs,
              "cpu_count": os.cpu_count()}

    if not a.skip_atrous:
        dt, cpu, report, cmd = time_atrous(a.atrous, gt_root, pred_root, a.threads, work)
        result.update(atrous_s=dt, atrous_images_per_s=n / dt, atrous_cpu_s=cpu, atrous_cmd=cmd)
        print(f"atrous eval (--threads {a.threads}):            {dt:8.2f} s  {n / dt:8.2f} images/s  "
              f"({cpu:.2f} CPU s)")
    if not a.skip_official:
        off = time_official(gt_root, pred_root, names, a.official_procs, work)
        total = off["pq_s"] + off["miou_s"]
        result.update(official_pq_s=off["pq_s"], official_miou_s=off["miou_s"], official_s=total,
                      official_images_per_s=n / total, official_cpu_s=off["cpu_s"], official_cython=off["cython"])
        print(f"official panoptic ({a.official_procs} processes):         {off['pq_s']:8.2f} s")
        print(f"official pixel-level (1 process{', Cython' if off['cython'] else ', NumPy path'}): {off['miou_s']:8.2f} s")
        print(f"official total:                         {total:8.2f} s  {n / total:8.2f} images/s  "
              f"({off['cpu_s']:.2f} CPU s)")
    if not a.skip_atrous and not a.skip_official:
        ratio = result["official_s"] / result["atrous_s"]
        result["speedup"] = ratio
        result["cpu_ratio"] = result["official_cpu_s"] / result["atrous_cpu_s"]
        print(f"speed ratio atrous / official:          {ratio:8.1f}x  (target >= 50x); "
              f"CPU-time ratio {result['cpu_ratio']:.1f}x")
        agree = {
            "PQ": (report.get("PQ", {}).get("all"), off["pq"]["PQ"]["all"]),
            "SQ": (report.get("SQ", {}).get("all"), off["pq"]["SQ"]["all"]),
            "RQ": (report.get("RQ", {}).get("all"), off["pq"]["RQ"]["all"]),
            "mIoU": (report.get("mIoU"), off["miou"]["mIoU"]),
        }
        for k, (ours, theirs) in agree.items():
            d = abs(ours - theirs) if isinstance(ours, (int, float)) else float("nan")
            print(f"  {k:5s} atrous {ours!s:>22}  official {theirs:.12f}  |diff| {d:.2e}")
        result["agreement"] = {k: {"atrous": v[0], "official": v[1]} for k, v in agree.items()}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
