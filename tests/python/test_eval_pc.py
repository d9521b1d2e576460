"""Parsing Covering from `atrous eval`, on tiny cases computed by hand from the definition
(docs/EVAL.md, "Metrics"; tensorflow/models research/deeplab/evaluation/parsing_covering.py):

  For each GT region R of class c: maxIoU(R) = max over pred regions R' of class c of
  |R ∩ R'| / (|R| + |R'| - |R ∩ R'|), 0 when none overlaps. Pixels whose GT is void are skipped
  entirely (they count in neither |R| nor |R'|). Cov_c = Σ|R|·maxIoU(R) / Σ|R| over the dataset,
  each image's areas divided by its pixel count first (normalize_by_image_size). PC = mean of
  Cov_c over classes with GT area > 0. No matching threshold.

The cases are written as COCO panoptic data (PNG ids + JSON), each PNG row below is one image row.
Categories: 1 person (thing), 2 car (thing), 10 sky (stuff), 11 road (stuff).
"""
import json
import math
import subprocess

import numpy as np
import pytest

import eval_data as ed

CATEGORIES = [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "car", "isthing": 1},
              {"id": 10, "name": "sky", "isthing": 0}, {"id": 11, "name": "road", "isthing": 0}]
ISTHING = {c["id"]: bool(c["isthing"]) for c in CATEGORIES}


def write_case(root, images):
    """images: [(gt rows, {gt id: category}, pred rows, {pred id: category})]; id 0 is void."""
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    gt = {"images": [], "annotations": [], "categories": CATEGORIES}
    pred = {"annotations": []}
    for k, (g, gcat, p, pcat) in enumerate(images):
        g, p = np.array(g, np.uint32), np.array(p, np.uint32)
        name = f"img{k}.png"
        ed.write_id_png(gt_dir / name, g)
        ed.write_id_png(pred_dir / name, p)
        segs = []
        for sid, cat in gcat.items():
            ys, xs = np.nonzero(g == sid)
            segs.append({"id": sid, "category_id": cat, "iscrowd": 0, "area": int(len(ys)),
                         "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]})
        gt["images"].append({"id": k, "file_name": f"img{k}.jpg", "width": int(g.shape[1]), "height": int(g.shape[0])})
        gt["annotations"].append({"image_id": k, "file_name": name, "segments_info": segs})
        pred["annotations"].append({"image_id": k, "file_name": name,
                                    "segments_info": [{"id": s, "category_id": c} for s, c in pcat.items()]})
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.json").write_text(json.dumps(pred))
    return ["--format", "coco", "--gt-json", str(root / "gt.json"), "--gt-dir", str(gt_dir),
            "--pred-json", str(root / "pred.json"), "--pred-dir", str(pred_dir)]


def pc_of(atrous_bin, root, images):
    args = write_case(root, images)
    report_path = root / "report.json"
    r = subprocess.run([atrous_bin, "eval", *args, "--json", str(report_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    report = json.loads(report_path.read_text())
    assert "PC" in report, f"no PC in the report: keys {sorted(report)}"
    pc = report["PC"]
    if isinstance(pc, dict):  # {"all", "things", "stuff", "per_class"?}
        return pc
    return {"all": pc}


def check(pc, all_, things=None, stuff=None, per_class=None):
    assert pc["all"] == pytest.approx(all_, abs=1e-9), pc
    if "things" in pc and things is not None:
        assert pc["things"] == pytest.approx(things, abs=1e-9), pc
    if "stuff" in pc and stuff is not None:
        if math.isnan(stuff):
            assert pc["stuff"] is None or pc["stuff"] == 0 or math.isnan(pc["stuff"]), pc
        else:
            assert pc["stuff"] == pytest.approx(stuff, abs=1e-9), pc
    if per_class and isinstance(pc.get("per_class"), dict):
        for cid, v in per_class.items():
            assert pc["per_class"][str(cid)] == pytest.approx(v, abs=1e-9), (cid, pc)


def test_pc_one_instance_one_stuff(atrous_bin, tmp_path):
    # 4x4 image. GT: columns 0-1 person A (8 px), columns 2-3 sky (8 px).
    # Pred: columns 0-2 person (12 px), column 3 sky (4 px).
    # person: IoU(A, pred person) = 8 / (8 + 12 - 8) = 2/3      -> Cov_person = 2/3
    # sky:    IoU = 4 / (8 + 4 - 4) = 1/2                       -> Cov_sky = 1/2
    # PC = (2/3 + 1/2) / 2 = 7/12 = 0.583333...; things 2/3, stuff 1/2
    g = [[1, 1, 2, 2]] * 4
    p = [[5, 5, 5, 6]] * 4
    pc = pc_of(atrous_bin, tmp_path, [(g, {1: 1, 2: 10}, p, {5: 1, 6: 10})])
    check(pc, 7 / 12, things=2 / 3, stuff=1 / 2, per_class={1: 2 / 3, 10: 1 / 2})


def test_pc_area_weighting_max_iou_and_uncovered_class(atrous_bin, tmp_path):
    # 2x8 image, both rows alike (areas = 2 x columns).
    # GT:   cols 0-4 person A (10 px), cols 5-6 person B (4 px), col 7 road (2 px).
    # Pred: cols 0-2 person P1 (6 px), cols 3-7 person P2 (10 px).  No road predicted.
    # A: P1 ∩ 6 -> 6 / (10 + 6 - 6) = 0.6 ; P2 ∩ 4 -> 4 / (10 + 10 - 4) = 0.25 ; max 0.6
    # B: P2 ∩ 4 -> 4 / (4 + 10 - 4) = 0.4
    # Cov_person = (10·0.6 + 4·0.4) / 14 = 7.6 / 14 = 0.5428571428571...
    # Cov_road = 0 (P2 covers it but is person: other classes never match)
    # PC = (7.6/14 + 0) / 2 = 0.2714285714285...
    g = [[1, 1, 1, 1, 1, 2, 2, 3]] * 2
    p = [[7, 7, 7, 8, 8, 8, 8, 8]] * 2
    pc = pc_of(atrous_bin, tmp_path, [(g, {1: 1, 2: 1, 3: 11}, p, {7: 1, 8: 1})])
    check(pc, (7.6 / 14) / 2, things=7.6 / 14, stuff=0.0, per_class={1: 7.6 / 14, 11: 0.0})


def test_pc_void_gt_pixels_are_skipped(atrous_bin, tmp_path):
    # 1x8 image. GT: cols 0-3 car C (4 px), cols 4-5 void (0), cols 6-7 sky (2 px).
    # Pred: cols 0-5 car P (6 px, 2 of them over GT void), cols 6-7 person (wrong class).
    # |P| counts only non-void GT pixels: 4 -> IoU(C, P) = 4 / (4 + 4 - 4) = 1 (not 4/6)
    # sky: no sky predicted -> 0. person has no GT area -> not a class of the mean.
    # PC = (1 + 0) / 2 = 0.5; things 1, stuff 0
    g = [[1, 1, 1, 1, 0, 0, 2, 2]]
    p = [[4, 4, 4, 4, 4, 4, 9, 9]]
    pc = pc_of(atrous_bin, tmp_path, [(g, {1: 2, 2: 10}, p, {4: 2, 9: 1})])
    check(pc, 0.5, things=1.0, stuff=0.0, per_class={2: 1.0, 10: 0.0})


def test_pc_normalizes_each_image_by_its_size(atrous_bin, tmp_path):
    # image 0, 1x4: GT all sky (4 px); pred sky cols 0-1 (2 px), road cols 2-3
    #   sky IoU = 2 / (4 + 2 - 2) = 0.5 ; normalized area 4/4 = 1 -> weighted 0.5
    # image 1, 2x8: GT all sky (16 px); pred all sky -> IoU 1 ; normalized area 16/16 = 1
    # Cov_sky = (0.5 + 1) / (1 + 1) = 0.75   (without normalization: (2 + 16) / 20 = 0.9)
    # road has no GT area. PC = 0.75 (stuff only; no thing class has GT area)
    img0 = ([[1, 1, 1, 1]], {1: 10}, [[3, 3, 4, 4]], {3: 10, 4: 11})
    img1 = ([[1] * 8] * 2, {1: 10}, [[6] * 8] * 2, {6: 10})
    pc = pc_of(atrous_bin, tmp_path, [img0, img1])
    check(pc, 0.75, stuff=0.75, per_class={10: 0.75})


def test_pc_perfect_and_split_instance(atrous_bin, tmp_path):
    # 2x4 image. GT: cols 0-3 one car (8 px). Pred: the car split in two halves (4 px each).
    # max IoU = 4 / (8 + 4 - 4) = 0.5 (no threshold: PQ would count 0 TP here)
    # plus a second image where the prediction is perfect (IoU 1), same size:
    # Cov_car = (1·0.5 + 1·1) / 2 = 0.75
    img0 = ([[1, 1, 1, 1]] * 2, {1: 2}, [[5, 5, 6, 6]] * 2, {5: 2, 6: 2})
    img1 = ([[1, 1, 1, 1]] * 2, {1: 2}, [[7, 7, 7, 7]] * 2, {7: 2})
    pc = pc_of(atrous_bin, tmp_path, [img0, img1])
    check(pc, 0.75, things=0.75, per_class={2: 0.75})
