"""`atrous eval` agrees with the official evaluation tools (pip `panopticapi-lite` for COCO PQ,
`cityscapesscripts` for Cityscapes PQ, pixel-level mIoU and instance-level AP).

Data: the real COCO panoptic ground truth in tests/assets/coco_panoptic and generated
Cityscapes-format scenes (tests/python/eval_data.py), with predictions made from the ground truth
by realistic damage (shifted boundaries, merged/split instances, wrong classes, dropped segments,
void blobs, spurious segments, predictions over crowd and void regions).

Every number agrees to 1e-6 (AP to 1e-4): PQ/SQ/RQ all/things/stuff and per class, per-class
TP/FP/FN, mIoU and per-class IoU, AP and AP50. Error cases are checked at the CLI: a missing
prediction is reported and counted as all-missed; malformed inputs exit non-zero with a one-line
message naming the file.
"""
import json
import math
import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

import eval_data as ed

TOL = 1e-6
AP_TOL = 1e-4


# ----------------------------------------------------------------------------------------------
# helpers


def run_eval(atrous_bin, args, report, check=True):
    cmd = [atrous_bin, "eval", *args, "--json", str(report)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, f"{' '.join(cmd)}\nexit {r.returncode}\nstderr:\n{r.stderr}"
        with open(report) as f:
            return json.load(f), r
    return None, r


def coco_args(gt_json, gt_dir, pred_json, pred_dir):
    return ["--format", "coco", "--gt-json", gt_json, "--gt-dir", gt_dir, "--pred-json", pred_json, "--pred-dir", pred_dir]


def cs_args(gt_root, pred_root):
    return ["--format", "cityscapes", "--gt", str(gt_root), "--pred", str(pred_root)]


def is_missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


class Diffs:
    """Collects every comparison, so one failure lists all disagreements (metric, class, values)."""

    def __init__(self, what):
        self.what, self.rows, self.max = what, [], {}

    def num(self, metric, ours, official, tol=TOL):
        key = metric.split("[")[0]
        if is_missing(official):
            if not is_missing(ours) and ours != 0:
                self.rows.append(f"{metric}: atrous {ours!r}, official undefined (NaN)")
            return
        if is_missing(ours) or not isinstance(ours, (int, float)):
            self.rows.append(f"{metric}: atrous {ours!r}, official {official!r}")
            return
        d = abs(float(ours) - float(official))
        self.max[key] = max(self.max.get(key, 0.0), d)
        if d > tol:
            self.rows.append(f"{metric}: atrous {ours!r}, official {official!r}, |diff| {d:.3g}")

    def check(self):
        assert not self.rows, f"{self.what}: {len(self.rows)} disagreements\n" + "\n".join(self.rows[:60])


def compare_pq(report, official, diffs, categories):
    """PQ/SQ/RQ all/things/stuff, per class, and per-class TP/FP/FN."""
    for m in ("PQ", "SQ", "RQ"):
        assert m in report, f"report has no {m}: keys {sorted(report)}"
        for part in ("all", "things", "stuff"):
            diffs.num(f"{m}.{part}", report[m].get(part), official[m][part])
        ours_pc = report[m].get("per_class", {})
        for cid, v in official[m]["per_class"].items():
            if cid in official["counts"]:
                diffs.num(f"{m}.per_class[{cid} {categories[cid]}]", ours_pc.get(cid), v)
            elif cid in ours_pc and not is_missing(ours_pc[cid]) and ours_pc[cid] != 0:
                diffs.rows.append(f"{m}.per_class[{cid}]: atrous {ours_pc[cid]!r} for a class with no TP/FP/FN")
    per = report.get("per_class", {})
    for cid, counts in official["counts"].items():
        entry = per.get(cid)
        if entry is None:
            diffs.rows.append(f"per_class[{cid} {categories[cid]}] missing (official {counts})")
            continue
        for k, v in counts.items():
            diffs.num(f"per_class[{cid} {categories[cid]}].{k}", entry.get(k), v, tol=0)
        for m in ("PQ", "SQ", "RQ"):
            diffs.num(f"per_class[{cid} {categories[cid]}].{m}", entry.get(m), official[m]["per_class"][cid])


def compare_miou(report, official, diffs):
    diffs.num("mIoU", report.get("mIoU"), official["mIoU"])
    per = report.get("per_class", {})
    for cid, v in official["per_class"].items():
        if is_missing(v):
            continue  # ignored classes / no pixels: official NaN
        ours = per.get(cid, {}).get("IoU")
        diffs.num(f"IoU[{cid}]", ours, v)


def compare_ap(report, official, diffs):
    diffs.num("AP", report.get("AP"), official["AP"], tol=AP_TOL)
    diffs.num("AP50", report.get("AP50"), official["AP50"], tol=AP_TOL)
    per = report.get("per_class", {})
    for cid, v in official["per_class"].items():
        entry = per.get(cid, {})
        if "AP" in entry:  # per-class AP is optional in the report
            diffs.num(f"AP[{cid}]", entry.get("AP"), v["AP"], tol=AP_TOL)
        if "AP50" in entry:
            diffs.num(f"AP50[{cid}]", entry.get("AP50"), v["AP50"], tol=AP_TOL)


def coco_categories(gt_json):
    with open(gt_json) as f:
        return {str(c["id"]): c["name"] for c in json.load(f)["categories"]}


CS_NAMES = {str(v): k for k, v in {**ed.CS_STUFF, **ed.CS_THINGS}.items()}
CS_NAMES.update({"29": "caravan", "30": "trailer", "19": "traffic light", "14": "guard rail",
                 "15": "bridge", "16": "tunnel", "18": "polegroup", "9": "parking", "10": "rail track"})


def one_line_error(result, path):
    assert result.returncode != 0, f"expected a failure, got exit 0; stdout {result.stdout[-400:]}"
    # progress lines may precede it; the error itself is one line
    lines = [ln for ln in result.stderr.strip().splitlines() if "error" in ln.lower()]
    assert lines, f"no error message on stderr: {result.stderr!r}"
    assert len(lines) == 1, f"expected one error line on stderr, got:\n{result.stderr}"
    assert os.path.basename(str(path)) in lines[0], f"message does not name {os.path.basename(str(path))}: {lines[0]}"
    assert "Traceback" not in result.stderr and "terminate called" not in result.stderr


# ----------------------------------------------------------------------------------------------
# COCO panoptic: real ground truth


@pytest.mark.parametrize("seed,strength", [(1, 0.5), (2, 1.0), (3, 2.0), (4, 1.0)])
def test_coco_pq_agrees_with_panopticapi(atrous_bin, test_assets, tmp_path, seed, strength):
    g, gd, pj, pd = ed.write_coco_case(test_assets, str(tmp_path / "case"), seed, strength)
    official = ed.official_coco_pq(g, gd, pj, pd, str(tmp_path / "official"))
    assert official["n"]["things"] > 0 and official["n"]["stuff"] > 0
    report, _ = run_eval(atrous_bin, coco_args(g, gd, pj, pd), tmp_path / "report.json")
    assert report.get("format") == "coco"
    assert report.get("images") == 2
    assert report.get("missing_predictions") in (0, [], None)
    diffs = Diffs(f"COCO seed {seed}")
    compare_pq(report, official, diffs, coco_categories(g))
    diffs.check()


def test_coco_perfect_prediction(atrous_bin, test_assets, tmp_path):
    """The ground truth as its own prediction: PQ = SQ = RQ = 1 (crowd segments predicted as
    themselves are ignored, not false positives)."""
    gt, gd = ed.load_coco_gt(test_assets)
    pd = tmp_path / "pred"
    pd.mkdir()
    anns = []
    for a in gt["annotations"]:
        shutil.copy(os.path.join(gd, a["file_name"]), pd / a["file_name"])
        anns.append({"image_id": a["image_id"], "file_name": a["file_name"],
                     "segments_info": [{"id": s["id"], "category_id": s["category_id"]} for s in a["segments_info"]]})
    pj = tmp_path / "pred.json"
    pj.write_text(json.dumps({"annotations": anns}))
    g = os.path.join(gd, "panoptic_examples.json")
    official = ed.official_coco_pq(g, gd, str(pj), str(pd), str(tmp_path / "official"))
    assert official["PQ"]["all"] == pytest.approx(1.0)
    report, _ = run_eval(atrous_bin, coco_args(g, gd, str(pj), str(pd)), tmp_path / "r.json")
    diffs = Diffs("COCO perfect")
    compare_pq(report, official, diffs, coco_categories(g))
    diffs.check()


def test_coco_thread_count_does_not_change_numbers(atrous_bin, test_assets, tmp_path):
    g, gd, pj, pd = ed.write_coco_case(test_assets, str(tmp_path / "case"), 11)
    one, _ = run_eval(atrous_bin, coco_args(g, gd, pj, pd) + ["--threads", "1"], tmp_path / "a.json")
    two, _ = run_eval(atrous_bin, coco_args(g, gd, pj, pd) + ["--threads", "2"], tmp_path / "b.json")
    for m in ("PQ", "SQ", "RQ"):
        for part in ("all", "things", "stuff"):
            assert one[m][part] == pytest.approx(two[m][part], abs=1e-12)


def test_coco_missing_prediction_counts_as_all_missed(atrous_bin, test_assets, tmp_path):
    g, gd, pj, pd = ed.write_coco_case(test_assets, str(tmp_path / "case"), 5)
    with open(g) as f:
        dropped = json.load(f)["annotations"][1]["image_id"]
    # the official tool refuses a missing image: feed it an empty (all void) prediction instead
    eg, egd, epj, epd = ed.write_coco_case(test_assets, str(tmp_path / "empty"), 5, drop_images={dropped})
    official = ed.official_coco_pq(eg, egd, epj, epd, str(tmp_path / "official"))
    with open(pj) as f:
        pred = json.load(f)
    pred["annotations"] = [a for a in pred["annotations"] if a["image_id"] != dropped]
    with open(pj, "w") as f:
        json.dump(pred, f)
    os.remove(os.path.join(pd, f"{dropped:012d}.png"))
    report, r = run_eval(atrous_bin, coco_args(g, gd, pj, pd), tmp_path / "r.json")
    missing = report.get("missing_predictions")
    assert missing == 1 or (isinstance(missing, list) and len(missing) == 1), missing
    assert str(dropped) in r.stderr or f"{dropped:012d}" in r.stderr, f"missing image not named on stderr: {r.stderr}"
    diffs = Diffs("COCO missing prediction")
    compare_pq(report, official, diffs, coco_categories(g))
    diffs.check()


def _coco_error_case(atrous_bin, test_assets, tmp_path, edit=None, after=None):
    g, gd, pj, pd = ed.write_coco_case(test_assets, str(tmp_path / "case"), 21, edit=edit)
    target = after(pj, pd) if after else None
    _, r = run_eval(atrous_bin, coco_args(g, gd, pj, pd), tmp_path / "r.json", check=False)
    return r, target, pj, pd


def test_coco_error_mismatched_size(atrous_bin, test_assets, tmp_path):
    def after(pj, pd):
        p = os.path.join(pd, "000000439180.png")
        Image.open(p).crop((0, 0, 320, 180)).save(p)
        return p
    r, target, _, _ = _coco_error_case(atrous_bin, test_assets, tmp_path, after=after)
    one_line_error(r, target)


def test_coco_error_unknown_category(atrous_bin, test_assets, tmp_path):
    def edit(image_id, ids, infos):
        if infos:
            infos[0]["category_id"] = 9999
        return ids, infos
    r, _, pj, _ = _coco_error_case(atrous_bin, test_assets, tmp_path, edit=edit)
    one_line_error(r, pj)
    assert "9999" in r.stderr


def test_coco_error_segment_in_png_not_in_json(atrous_bin, test_assets, tmp_path):
    """panopticapi raises KeyError for a PNG segment id the JSON does not list."""
    def edit(image_id, ids, infos):
        return ids, infos[1:]
    r, _, pj, _ = _coco_error_case(atrous_bin, test_assets, tmp_path, edit=edit)
    assert r.returncode != 0
    assert len([ln for ln in r.stderr.strip().splitlines() if "error" in ln.lower()]) == 1, r.stderr


def test_coco_error_corrupt_png(atrous_bin, test_assets, tmp_path):
    def after(pj, pd):
        p = os.path.join(pd, "000000142238.png")
        with open(p, "r+b") as f:
            data = f.read()
            f.seek(0)
            f.write(data[:60] + b"\x00garbage" * 8)
            f.truncate()
        return p
    r, target, _, _ = _coco_error_case(atrous_bin, test_assets, tmp_path, after=after)
    one_line_error(r, target)


def test_coco_error_corrupt_json(atrous_bin, test_assets, tmp_path):
    def after(pj, pd):
        with open(pj) as f:
            text = f.read()
        with open(pj, "w") as f:
            f.write(text[: len(text) // 2])
        return pj
    r, target, _, _ = _coco_error_case(atrous_bin, test_assets, tmp_path, after=after)
    one_line_error(r, target)


# ----------------------------------------------------------------------------------------------
# Cityscapes: generated scenes, official panoptic export


H, W, N = 128, 256, 6


@pytest.fixture(scope="module")
def cs_case(tmp_path_factory):
    """GT (gtFine + official panoptic export) and damaged predictions in all three formats,
    with the official numbers for each metric."""
    root = tmp_path_factory.mktemp("cs")
    gt_root, pred_root, work = root / "gt", root / "pred", str(root / "official")
    names = ed.write_cs_gt(str(gt_root), N, H, W, seed=5)
    preds = ed.write_cs_pred(str(gt_root), str(pred_root), names, seed=7)
    gt_pngs = ed.cs_gt_paths(str(gt_root), names)
    gtj = str(gt_root / "gtFine" / "cityscapes_panoptic_val.json")
    official = {
        "pq": ed.official_cs_pq(gtj, gtj[:-5], *preds["panoptic"], work),
        "miou": ed.official_cs_miou(preds["semantic"], gt_pngs, work),
        "ap": ed.official_cs_ap(preds["instance"], gt_pngs, str(pred_root), work),
    }
    return {"gt": gt_root, "pred": pred_root, "names": names, "official": official}


def test_cityscapes_generator_gives_sensible_official_numbers(cs_case):
    o = cs_case["official"]
    assert o["pq"]["n"]["things"] >= 5 and o["pq"]["n"]["stuff"] >= 5
    assert 0.2 < o["pq"]["PQ"]["all"] < 0.9
    assert 0.3 < o["miou"]["mIoU"] < 0.95
    assert 0.0 < o["ap"]["AP"] < o["ap"]["AP50"] <= 1.0


def test_fast_panoptic_export_matches_official_createPanopticImgs(tmp_path):
    """eval_data.cs_export_panoptic (used by the benchmark) writes what createPanopticImgs writes."""
    a, b = tmp_path / "a", tmp_path / "b"
    names = ed.write_cs_gt(str(a), 3, 64, 128, seed=9, official_export=True)
    ed.write_cs_gt(str(b), 3, 64, 128, seed=9, official_export=False)
    ja = json.loads((a / "gtFine" / "cityscapes_panoptic_val.json").read_text())
    jb = json.loads((b / "gtFine" / "cityscapes_panoptic_val.json").read_text())
    assert ja == jb
    for _, _, stem in names:
        pa = ed.read_id_png(a / "gtFine" / "cityscapes_panoptic_val" / f"{stem}_gtFine_panoptic.png")
        pb = ed.read_id_png(b / "gtFine" / "cityscapes_panoptic_val" / f"{stem}_gtFine_panoptic.png")
        assert np.array_equal(pa, pb)


@pytest.fixture(scope="module")
def cs_report(atrous_bin, cs_case):
    report, _ = run_eval(atrous_bin, cs_args(cs_case["gt"], cs_case["pred"]), cs_case["gt"].parent / "report.json")
    assert report.get("format") == "cityscapes"
    assert report.get("images") == N
    return report


def test_cityscapes_pq_agrees_with_cityscapesscripts(cs_case, cs_report):
    diffs = Diffs("Cityscapes PQ")
    compare_pq(cs_report, cs_case["official"]["pq"], diffs, CS_NAMES)
    diffs.check()


def test_cityscapes_miou_agrees_with_cityscapesscripts(cs_case, cs_report):
    diffs = Diffs("Cityscapes mIoU")
    compare_miou(cs_report, cs_case["official"]["miou"], diffs)
    diffs.check()


def test_cityscapes_ap_agrees_with_cityscapesscripts(cs_case, cs_report):
    diffs = Diffs("Cityscapes AP")
    compare_ap(cs_report, cs_case["official"]["ap"], diffs)
    diffs.check()


def test_cityscapes_missing_prediction_counts_as_all_missed(atrous_bin, tmp_path):
    gt_root, pred_root, empty_root = tmp_path / "gt", tmp_path / "pred", tmp_path / "empty"
    names = ed.write_cs_gt(str(gt_root), 3, H, W, seed=13)
    dropped = names[1][2]
    ed.write_cs_pred(str(gt_root), str(pred_root), names, seed=17, drop={dropped})
    # what the official tools get instead: the same predictions plus an empty one for `dropped`
    full = ed.write_cs_pred(str(gt_root), str(empty_root), names, seed=17, drop={dropped})
    L = ed.PRED_LAYOUT
    Image.fromarray(np.zeros((H, W), np.uint8)).save(empty_root / L["semantic_dir"] / (dropped + L["semantic_suffix"]))
    (empty_root / L["instance_dir"] / (dropped + L["instance_suffix"])).write_text("")
    ed.write_id_png(empty_root / L["panoptic_dir"] / f"{dropped}_panoptic.png", np.zeros((H, W), np.uint32))
    pj = json.loads((empty_root / L["panoptic_json"]).read_text())
    pj["annotations"].append({"image_id": dropped, "file_name": f"{dropped}_panoptic.png", "segments_info": []})
    (empty_root / L["panoptic_json"]).write_text(json.dumps(pj))
    order = {stem: i for i, (_, _, stem) in enumerate(names)}
    sem = sorted(full["semantic"] + [str(empty_root / L["semantic_dir"] / (dropped + L["semantic_suffix"]))],
                 key=lambda p: order[os.path.basename(p)[: -len(L["semantic_suffix"])]])
    ins = sorted(full["instance"] + [str(empty_root / L["instance_dir"] / (dropped + L["instance_suffix"]))],
                 key=lambda p: order[os.path.basename(p)[: -len(L["instance_suffix"])]])
    gt_pngs = ed.cs_gt_paths(str(gt_root), names)
    work = str(tmp_path / "official")
    gtj = str(gt_root / "gtFine" / "cityscapes_panoptic_val.json")
    off_pq = ed.official_cs_pq(gtj, gtj[:-5], str(empty_root / L["panoptic_json"]), str(empty_root / L["panoptic_dir"]), work)
    off_miou = ed.official_cs_miou(sem, gt_pngs, work)
    off_ap = ed.official_cs_ap(ins, gt_pngs, str(empty_root), work)

    report, r = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "r.json")
    missing = report.get("missing_predictions")
    assert missing == 1 or (isinstance(missing, list) and len(missing) == 1), missing
    assert dropped in r.stderr, f"missing image not named on stderr: {r.stderr}"
    diffs = Diffs("Cityscapes missing prediction")
    compare_pq(report, off_pq, diffs, CS_NAMES)
    compare_miou(report, off_miou, diffs)
    compare_ap(report, off_ap, diffs)
    diffs.check()


@pytest.fixture
def cs_small(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    names = ed.write_cs_gt(str(gt_root), 2, 64, 128, seed=23)
    ed.write_cs_pred(str(gt_root), str(pred_root), names, seed=29)
    return gt_root, pred_root, names


def test_cityscapes_error_semantic_size_mismatch(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    L = ed.PRED_LAYOUT
    p = pred_root / L["semantic_dir"] / (names[0][2] + L["semantic_suffix"])
    Image.fromarray(np.full((32, 128), 7, np.uint8)).save(p)
    _, r = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "r.json", check=False)
    one_line_error(r, p)


def test_cityscapes_error_corrupt_panoptic_png(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    L = ed.PRED_LAYOUT
    p = pred_root / L["panoptic_dir"] / f"{names[1][2]}_panoptic.png"
    p.write_bytes(p.read_bytes()[:40])
    _, r = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "r.json", check=False)
    one_line_error(r, p)


def test_cityscapes_error_corrupt_panoptic_json(atrous_bin, cs_small, tmp_path):
    gt_root, pred_root, names = cs_small
    p = pred_root / ed.PRED_LAYOUT["panoptic_json"]
    p.write_text("{\"annotations\": [")
    _, r = run_eval(atrous_bin, cs_args(gt_root, pred_root), tmp_path / "r.json", check=False)
    one_line_error(r, p)
