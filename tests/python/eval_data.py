"""Data for the `atrous eval` tests and benchmark: ground truth, damaged predictions, and the
official evaluation tools driven with explicit arguments.

* COCO: the real panoptic ground truth in tests/assets/coco_panoptic, and predictions made
  from it by realistic damage (`damage_segments`), written in panopticapi layout.
* Cityscapes: synthetic scenes written as the official tools expect
  (gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,instanceIds}.png and the panoptic
  export gtFine/cityscapes_panoptic_<split>.json + folder), plus damaged predictions in the three
  prediction formats (semantic label-id PNG, instance .txt + mask PNGs, panoptic JSON + PNG).
* `official_*`: cityscapesScripts / panopticapi evaluation functions called with explicit inputs
  in a scratch directory, their printing silenced, numbers returned as fractions.

The prediction layout that `atrous eval --format cityscapes --pred ROOT` reads is described in
docs/EVAL.md; the names used here are collected in PRED_LAYOUT so that one place follows it.
"""
import contextlib
import io
import json
import multiprocessing
import os

import numpy as np
from PIL import Image

# Names under a Cityscapes prediction root (see docs/EVAL.md).
PRED_LAYOUT = {
    "semantic_dir": "semantic",          # <city>_<seq>_<frame>_pred_labelIds.png
    "semantic_suffix": "_pred_labelIds.png",
    "instance_dir": "instance",          # <city>_<seq>_<frame>_pred.txt + masks/
    "instance_suffix": "_pred.txt",
    "panoptic_json": "panoptic.json",
    "panoptic_dir": "panoptic",          # <city>_<seq>_<frame>_panoptic.png
}

# ----------------------------------------------------------------------------------------------
# Panoptic PNG encoding (id = R + 256 G + 256^2 B)


def rgb_to_id(rgb):
    rgb = np.asarray(rgb, dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def id_to_rgb(ids):
    ids = np.asarray(ids, dtype=np.uint32)
    out = np.empty(ids.shape + (3,), dtype=np.uint8)
    out[..., 0] = ids % 256
    out[..., 1] = (ids // 256) % 256
    out[..., 2] = (ids // 65536) % 256
    return out


def read_id_png(path):
    return rgb_to_id(np.array(Image.open(path).convert("RGB")))


def write_id_png(path, ids):
    Image.fromarray(id_to_rgb(ids)).save(path, compress_level=1)


# ----------------------------------------------------------------------------------------------
# Mask helpers (no scipy: shifted ORs on a crop)


def _dilate(mask, radius):
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _bbox(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def _ellipse(shape, cy, cx, ry, rx):
    h, w = shape
    y0, y1 = max(0, int(cy - ry)), min(h, int(cy + ry) + 1)
    x0, x1 = max(0, int(cx - rx)), min(w, int(cx + rx) + 1)
    if y0 >= y1 or x0 >= x1:
        return None, None
    yy, xx = np.ogrid[y0:y1, x0:x1]
    m = ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0
    return (slice(y0, y1), slice(x0, x1)), m


# ----------------------------------------------------------------------------------------------
# Damage: the same realistic mistakes for COCO and Cityscapes predictions


def damage_segments(ids, categories, isthing, rng, other_categories=None, strength=1.0,
                    drop_all=False):
    """Damages a segment-id map the way a real model errs.

    ids: HxW int map of ground-truth segment ids (0 = void); categories: {segment id: category};
    isthing: {category: bool}; other_categories: categories that may be predicted by mistake.
    Returns (pred_ids with fresh random ids, {pred id: category}). Damage, each with a chance scaled
    by `strength`: boundaries dilated by 1-4 px into neighbours, two same-class instances merged,
    an instance split in two, a segment relabelled to a wrong category, segments dropped (left
    void), void blobs, and spurious segments (some over crowd/void ground truth).
    """
    h, w = ids.shape
    pred = ids.astype(np.int64).copy()
    cats = dict(categories)
    next_id = int(max(cats) if cats else 0) + 1
    if drop_all:
        return np.zeros((h, w), np.uint32), {}
    seg_ids = [s for s in cats if s != 0]
    rng.shuffle(seg_ids)
    things = [c for c, t in isthing.items() if t]
    stuffs = [c for c, t in isthing.items() if not t]
    pool = other_categories or list(isthing)

    def chance(p):
        return rng.random() < min(1.0, p * strength)

    # shifted boundaries: grow a segment into its neighbours
    for s in seg_ids:
        if chance(0.5):
            m = pred == s
            bb = _bbox(m)
            if bb is None:
                continue
            r = int(rng.integers(1, 5))
            y0, y1, x0, x1 = max(0, bb[0] - r), min(h, bb[1] + r), max(0, bb[2] - r), min(w, bb[3] + r)
            sub = pred[y0:y1, x0:x1]
            sub[_dilate(sub == s, r)] = s
    present = [s for s in seg_ids if (pred == s).any()]
    by_cat = {}
    for s in present:
        by_cat.setdefault(cats[s], []).append(s)
    # merged instances
    for c, members in by_cat.items():
        if isthing.get(c) and len(members) >= 2 and chance(0.35):
            a, b = members[0], members[1]
            pred[pred == b] = a
            present.remove(b)
    # split instances
    for s in list(present):
        if isthing.get(cats[s]) and chance(0.25):
            m = pred == s
            bb = _bbox(m)
            if bb is None or bb[3] - bb[2] < 4:
                continue
            cut = (bb[2] + bb[3]) // 2
            right = m.copy()
            right[:, :cut] = False
            pred[right] = next_id
            cats[next_id] = cats[s]
            present.append(next_id)
            next_id += 1
    # wrong class
    for s in list(present):
        if chance(0.12):
            same_kind = [c for c in (things if isthing.get(cats[s]) else stuffs) if c in pool and c != cats[s]]
            if same_kind:
                cats[s] = int(rng.choice(same_kind))
    # missing segments
    for s in list(present):
        if chance(0.1):
            pred[pred == s] = 0
            present.remove(s)
    # void blobs
    for _ in range(int(rng.integers(0, 4) * strength)):
        sl, m = _ellipse((h, w), rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, h / 8), rng.uniform(2, w / 8))
        if sl is not None:
            pred[sl][m] = 0
    # spurious segments (false positives), some over void or crowd ground truth
    for _ in range(int(rng.integers(0, 4) * strength)):
        sl, m = _ellipse((h, w), rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, h / 10), rng.uniform(2, w / 10))
        if sl is not None:
            pred[sl][m] = next_id
            cats[next_id] = int(rng.choice(things if (things and rng.random() < 0.7) else (stuffs or things)))
            next_id += 1
    # fresh random ids (not the ground truth's numbering), unique per image
    remaining = [s for s in np.unique(pred) if s != 0]
    fresh = set()
    while len(fresh) < len(remaining):
        fresh.add(int(rng.integers(1, 1 << 24)))
    fresh = sorted(fresh, key=lambda _: rng.random())
    lut_keys = np.array(remaining, dtype=np.int64)
    out = np.zeros((h, w), np.uint32)
    new_cats = {}
    for s, f in zip(lut_keys, fresh):
        out[pred == s] = f
        new_cats[int(f)] = int(cats[int(s)])
    return out, new_cats


# ----------------------------------------------------------------------------------------------
# COCO panoptic: real ground truth, damaged predictions


def coco_dir(test_assets):
    return os.path.join(test_assets, "coco_panoptic")


def load_coco_gt(test_assets):
    """Returns (gt_json dict, gt_dir, categories json list) for the bundled COCO examples."""
    d = coco_dir(test_assets)
    with open(os.path.join(d, "panoptic_examples.json")) as f:
        gt = json.load(f)
    return gt, d


def write_coco_case(test_assets, out_dir, seed, strength=1.0, drop_images=(), edit=None):
    """Writes a damaged COCO prediction: out_dir/pred.json + out_dir/pred/*.png.

    drop_images: image ids written as "predicted nothing" (all void, no segments).
    edit(image_id, ids, segments_info) may change the written prediction (error cases).
    Returns (gt_json_path, gt_dir, pred_json_path, pred_dir).
    """
    gt, gt_dir = load_coco_gt(test_assets)
    rng = np.random.default_rng(seed)
    isthing = {c["id"]: bool(c["isthing"]) for c in gt["categories"]}
    pred_dir = os.path.join(out_dir, "pred")
    os.makedirs(pred_dir, exist_ok=True)
    anns = []
    for ann in gt["annotations"]:
        ids = read_id_png(os.path.join(gt_dir, ann["file_name"]))
        cats = {s["id"]: s["category_id"] for s in ann["segments_info"]}
        pool = sorted(set(cats.values()) | set(int(c) for c in rng.choice(list(isthing), 6)))
        pred, pcats = damage_segments(ids, cats, isthing, rng, other_categories=pool, strength=strength,
                                      drop_all=ann["image_id"] in drop_images)
        infos = [{"id": int(k), "category_id": int(v)} for k, v in sorted(pcats.items())]
        if edit is not None:
            pred, infos = edit(ann["image_id"], pred, infos)
        write_id_png(os.path.join(pred_dir, ann["file_name"]), pred)
        anns.append({"image_id": ann["image_id"], "file_name": ann["file_name"], "segments_info": infos})
    pred_json = os.path.join(out_dir, "pred.json")
    with open(pred_json, "w") as f:
        json.dump({"annotations": anns}, f)
    return os.path.join(gt_dir, "panoptic_examples.json"), gt_dir, pred_json, pred_dir


# ----------------------------------------------------------------------------------------------
# Cityscapes: synthetic scenes in the official layout

# label ids (cityscapesScripts helpers/labels.py): stuff that is evaluated, things, and void ids
CS_STUFF = {"road": 7, "sidewalk": 8, "building": 11, "wall": 12, "fence": 13, "pole": 17,
            "traffic sign": 20, "vegetation": 21, "terrain": 22, "sky": 23}
CS_THINGS = {"person": 24, "rider": 25, "car": 26, "truck": 27, "bus": 28, "train": 31,
             "motorcycle": 32, "bicycle": 33}
CS_VOID = {"unlabeled": 0, "ego vehicle": 1, "out of roi": 3, "static": 4, "dynamic": 5, "ground": 6}
CS_CARAVAN = 29  # has instances but ignoreInEval: skipped by the panoptic export, ignored in mIoU/AP
CS_EVAL_IDS = sorted(list(CS_STUFF.values()) + list(CS_THINGS.values()))  # 18 of the 19 classes


def cs_scene(h, w, rng, n_things=None):
    """One synthetic street scene: (labelIds uint8, instanceIds int32) as gtFine stores them."""
    label = np.zeros((h, w), np.uint8)
    horizon = int(h * rng.uniform(0.3, 0.5))
    label[:horizon] = CS_STUFF["sky"]
    # buildings and vegetation as columns reaching to random heights
    x = 0
    while x < w:
        bw = int(rng.uniform(0.05, 0.25) * w) + 1
        top = int(rng.uniform(0.05, 0.4) * h)
        label[top:horizon + int(0.1 * h), x:x + bw] = rng.choice([CS_STUFF["building"], CS_STUFF["vegetation"],
                                                                   CS_STUFF["building"], CS_STUFF["wall"]])
        x += bw
    label[horizon + int(0.1 * h):] = CS_STUFF["road"]
    sw = int(0.15 * w)
    label[horizon + int(0.08 * h):, :sw] = CS_STUFF["sidewalk"]
    label[horizon + int(0.08 * h):, w - sw:] = rng.choice([CS_STUFF["sidewalk"], CS_STUFF["terrain"]])
    # poles, signs, fences
    for _ in range(int(rng.integers(1, 5))):
        px = int(rng.uniform(0, w - 3))
        pw = max(1, w // 200)
        label[int(0.2 * h):horizon + int(0.1 * h), px:px + pw] = CS_STUFF["pole"]
        sl, m = _ellipse((h, w), 0.2 * h, px, h / 40 + 1, w / 80 + 1)
        if sl is not None:
            label[sl][m] = CS_STUFF["traffic sign"]
    if rng.random() < 0.5:
        label[horizon:horizon + int(0.05 * h), int(0.3 * w):int(0.6 * w)] = CS_STUFF["fence"]
    inst = label.astype(np.int32).copy()
    # thing instances, later ones occlude earlier ones; some groups (id < 1000) and tiny ones
    n = int(rng.integers(6, 20)) if n_things is None else n_things
    counters = {}
    classes = list(CS_THINGS.values()) + [CS_CARAVAN]
    weights = np.array([3, 1, 5, 1, 1, 0.3, 0.7, 1, 0.3])
    for i in range(n):
        c = int(rng.choice(classes, p=weights / weights.sum()))
        cy = rng.uniform(horizon, h)
        cx = rng.uniform(0, w)
        scale = (cy - horizon + 0.05 * h) / h
        tiny = rng.random() < 0.15
        ry = (rng.uniform(0.01, 0.02) if tiny else rng.uniform(0.04, 0.18)) * h * (0.5 + scale)
        rx = ry * (rng.uniform(0.3, 0.7) if c in (24, 25, 33, 32) else rng.uniform(1.0, 2.2))
        sl, m = _ellipse((h, w), cy, cx, ry, rx)
        if sl is None:
            continue
        label[sl][m] = c
        if rng.random() < 0.12:
            inst[sl][m] = c  # group / crowd region: instance id < 1000
        else:
            k = counters.get(c, 0)
            counters[c] = k + 1
            inst[sl][m] = c * 1000 + k
    # void: ego vehicle at the bottom, out-of-roi border, unlabeled and static/dynamic blobs
    label[h - max(1, h // 16):] = CS_VOID["ego vehicle"]
    label[:, :max(1, w // 128)] = CS_VOID["out of roi"]
    for _ in range(int(rng.integers(1, 4))):
        sl, m = _ellipse((h, w), rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, h / 12), rng.uniform(2, w / 12))
        if sl is not None:
            label[sl][m] = rng.choice([CS_VOID["unlabeled"], CS_VOID["static"], CS_VOID["dynamic"], CS_VOID["ground"]])
    void = np.isin(label, list(CS_VOID.values()))
    inst[void] = label[void]
    return label, inst


def cs_names(n, split="val"):
    cities = ["frankfurt", "lindau", "munster"]
    out = []
    for i in range(n):
        city = cities[i % len(cities)]
        out.append((split, city, f"{city}_{i:06d}_{(19 * i) % 1000000:06d}"))
    return out


def cs_categories():
    from cityscapesscripts.helpers.labels import labels as cs_labels
    return [{"id": int(l.id), "name": l.name, "color": l.color, "supercategory": l.category,
             "isthing": 1 if l.hasInstances else 0} for l in cs_labels if not l.ignoreInEval]


def cs_panoptic_entry(gt_root, split, name):
    """Panoptic export of one gtFine image, as createPanopticImgs makes it: writes the PNG,
    returns (image entry, annotation entry)."""
    from cityscapesscripts.helpers.labels import id2label
    _, city, stem = name
    gt_dir = os.path.join(gt_root, "gtFine")
    folder = os.path.join(gt_dir, f"cityscapes_panoptic_{split}")
    os.makedirs(folder, exist_ok=True)
    inst = np.array(Image.open(os.path.join(gt_dir, split, city, stem + "_gtFine_instanceIds.png")))
    h, w = inst.shape
    image = {"id": stem, "width": int(w), "height": int(h), "file_name": stem + "_gtFine_leftImg8bit.png"}
    seg_ids, inverse, counts = np.unique(inst, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(inst.shape)
    keep = np.zeros(len(seg_ids), np.uint32)
    infos = []
    for k, s in enumerate(seg_ids):
        s = int(s)
        sem, crowd = (s, 1) if s < 1000 else (s // 1000, 0)
        lab = id2label[sem]
        if lab.ignoreInEval:
            continue
        if not lab.hasInstances:
            crowd = 0
        keep[k] = s
        m = inverse == k
        cols = np.flatnonzero(m.any(axis=0))
        rows = np.flatnonzero(m.any(axis=1))
        infos.append({"id": s, "category_id": int(lab.id), "area": int(counts[k]),
                      "bbox": [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)],
                      "iscrowd": crowd})
    write_id_png(os.path.join(folder, stem + "_gtFine_panoptic.png"), keep[inverse])
    return image, {"image_id": stem, "file_name": stem + "_gtFine_panoptic.png", "segments_info": infos}


def cs_write_panoptic_json(gt_root, split, entries):
    entries = sorted(entries, key=lambda e: e[0]["id"])
    with open(os.path.join(gt_root, "gtFine", f"cityscapes_panoptic_{split}.json"), "w") as f:
        json.dump({"images": [e[0] for e in entries], "annotations": [e[1] for e in entries],
                   "categories": cs_categories()}, f)


def cs_export_panoptic(gt_root, split, names):
    """Writes gtFine/cityscapes_panoptic_<split>.json + folder exactly as cityscapesScripts'
    createPanopticImgs does (tests check the two agree), but faster for the benchmark."""
    cs_write_panoptic_json(gt_root, split, [cs_panoptic_entry(gt_root, split, n) for n in names])


def write_cs_gt_image(gt_root, name, h, w, rng):
    sp, city, stem = name
    d = os.path.join(gt_root, "gtFine", sp, city)
    os.makedirs(d, exist_ok=True)
    label, inst = cs_scene(h, w, rng)
    Image.fromarray(label).save(os.path.join(d, stem + "_gtFine_labelIds.png"), compress_level=1)
    Image.fromarray(inst.astype(np.uint16)).save(os.path.join(d, stem + "_gtFine_instanceIds.png"), compress_level=1)


def write_cs_gt(gt_root, n, h, w, seed, split="val", official_export=True):
    """Writes n synthetic gtFine images and their panoptic export. Returns the name list."""
    rng = np.random.default_rng(seed)
    names = cs_names(n, split)
    for name in names:
        write_cs_gt_image(gt_root, name, h, w, rng)
    if official_export:
        from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
        with contextlib.redirect_stdout(io.StringIO()):
            convert2panoptic(os.path.join(gt_root, "gtFine"), None, False, [split])
    else:
        cs_export_panoptic(gt_root, split, names)
    return names


def cs_gt_paths(gt_root, names):
    return [os.path.join(gt_root, "gtFine", sp, city, stem + "_gtFine_labelIds.png") for sp, city, stem in names]


def write_cs_pred(gt_root, pred_root, names, seed, strength=1.0, formats=("semantic", "instance", "panoptic"),
                  drop=(), write_json=True):
    """Damaged predictions for every gt image in the three formats under pred_root.

    drop: stems for which no prediction file is written at all (missing-prediction case).
    Returns {"semantic": [paths], "instance": [txt paths], "panoptic": (json, dir)} for the
    images that have predictions.
    """
    from cityscapesscripts.helpers.labels import id2label
    rng = np.random.default_rng(seed)
    L = PRED_LAYOUT
    isthing = {**{c: False for c in CS_STUFF.values()}, **{c: True for c in CS_THINGS.values()}}
    sem_dir = os.path.join(pred_root, L["semantic_dir"])
    ins_dir = os.path.join(pred_root, L["instance_dir"])
    pan_dir = os.path.join(pred_root, L["panoptic_dir"])
    for d in (sem_dir, ins_dir, os.path.join(ins_dir, "masks"), pan_dir):
        os.makedirs(d, exist_ok=True)
    out = {"semantic": [], "instance": [], "panoptic": None}
    anns = []
    for sp, city, stem in names:
        if stem in drop:
            continue
        d = os.path.join(gt_root, "gtFine", sp, city)
        inst = np.array(Image.open(os.path.join(d, stem + "_gtFine_instanceIds.png"))).astype(np.int64)
        label = np.array(Image.open(os.path.join(d, stem + "_gtFine_labelIds.png")))
        # segment map: every gt instance/stuff region is a segment, void ids become void (0)
        ids = np.where(np.isin(label, list(CS_VOID.values())), 0, inst + 1)
        cats = {int(s): (int(s - 1) if s - 1 < 1000 else int((s - 1) // 1000)) for s in np.unique(ids) if s != 0}
        pred, pcats = damage_segments(ids, cats, {**isthing, CS_CARAVAN: True}, rng,
                                      other_categories=CS_EVAL_IDS, strength=strength)
        # void pixels of the gt are predicted as something plausible (models always predict)
        h, w = pred.shape
        if "panoptic" in formats:
            infos = [{"id": int(k), "category_id": int(v)} for k, v in sorted(pcats.items())
                     if not id2label[int(v)].ignoreInEval]
            drop_ids = [k for k, v in pcats.items() if id2label[int(v)].ignoreInEval]
            pan = pred.copy()
            if drop_ids:
                pan[np.isin(pan, drop_ids)] = 0
            write_id_png(os.path.join(pan_dir, stem + "_panoptic.png"), pan)
            anns.append({"image_id": stem, "file_name": stem + "_panoptic.png", "segments_info": infos})
        if "semantic" in formats:
            lut_keys = np.array([0] + sorted(pcats), dtype=np.int64)
            lut_vals = np.array([0] + [pcats[k] for k in sorted(pcats)], dtype=np.uint8)
            sem = lut_vals[np.searchsorted(lut_keys, pred)]
            # where the prediction is void, a semantic model still says something: keep gt void
            # labels some of the time, guess road/static elsewhere
            hole = pred == 0
            sem[hole] = np.where(rng.random(hole.sum()) < 0.5, label[hole], CS_STUFF["road"])
            # sparse pixel noise, including ignored labels (static) predicted on valid pixels
            noise = rng.random((h, w)) < 0.002
            sem[noise] = rng.choice(np.array(CS_EVAL_IDS + [4, 0], np.uint8), noise.sum())
            p = os.path.join(sem_dir, stem + L["semantic_suffix"])
            Image.fromarray(sem).save(p, compress_level=1)
            out["semantic"].append(p)
        if "instance" in formats:
            lines = []
            k = 0
            for s, c in sorted(pcats.items()):
                if not isthing.get(c, c == CS_CARAVAN):
                    continue
                m = pred == s
                variants = [m]
                if rng.random() < 0.2:  # a duplicate detection with a shifted mask
                    variants.append(np.roll(m, int(rng.integers(-3, 4)), axis=1))
                for v in variants:
                    name = f"{stem}_{k:03d}.png"
                    Image.fromarray((v * 255).astype(np.uint8)).save(os.path.join(ins_dir, "masks", name), compress_level=1)
                    conf = round(float(rng.uniform(0.05, 1.0)), 4)
                    lines.append(f"masks/{name} {c} {conf}")
                    k += 1
            p = os.path.join(ins_dir, stem + L["instance_suffix"])
            with open(p, "w") as f:
                f.write("".join(line + "\n" for line in lines))
            out["instance"].append(p)
    out["panoptic_annotations"] = anns
    if "panoptic" in formats and write_json:
        pj = os.path.join(pred_root, L["panoptic_json"])
        with open(pj, "w") as f:
            json.dump({"annotations": anns}, f)
        out["panoptic"] = (pj, pan_dir)
    return out


# ----------------------------------------------------------------------------------------------
# The official tools, called with explicit arguments


@contextlib.contextmanager
def _quiet_in(workdir, processes=1):
    """Runs in workdir with stdout silenced and the tools' process pools limited."""
    old_cwd = os.getcwd()
    old_count = multiprocessing.cpu_count
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    multiprocessing.cpu_count = lambda: processes
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        multiprocessing.cpu_count = old_count
        os.chdir(old_cwd)


def _pq_result(results, stats=None):
    """Official results as fractions; stats (the tool's PQStat) adds per-class TP/FP/FN."""
    out = {}
    if stats is not None:
        out["counts"] = {str(c): {"TP": v.tp, "FP": v.fp, "FN": v.fn} for c, v in stats.pq_per_cat.items()
                         if v.tp + v.fp + v.fn > 0}
    for key, name in (("PQ", "pq"), ("SQ", "sq"), ("RQ", "rq")):
        out[key] = {"all": results["All"][name], "things": results["Things"][name], "stuff": results["Stuff"][name],
                    "per_class": {str(c): v[name] for c, v in results["per_class"].items()}}
    out["n"] = {"all": results["All"]["n"], "things": results["Things"]["n"], "stuff": results["Stuff"]["n"]}
    return out


@contextlib.contextmanager
def _capture_pq_stat(module, box):
    """Keeps the PQStat the tool's own multi-core step returns (for per-class TP/FP/FN)."""
    original = module.pq_compute_multi_core

    def wrapper(*a, **k):
        box.append(original(*a, **k))
        return box[-1]
    module.pq_compute_multi_core = wrapper
    try:
        yield
    finally:
        module.pq_compute_multi_core = original


def official_coco_pq(gt_json, gt_dir, pred_json, pred_dir, workdir, processes=1):
    """panopticapi (pip panopticapi-lite) pq_compute."""
    import panopticapi.evaluation as pa
    box = []
    with _quiet_in(workdir, processes), _capture_pq_stat(pa, box):
        res = pa.pq_compute(gt_json, pred_json, gt_dir, pred_dir)
    return _pq_result(res, box[0])


def official_cs_pq(gt_json, gt_dir, pred_json, pred_dir, workdir, processes=1):
    """cityscapesScripts evalPanopticSemanticLabeling.evaluatePanoptic."""
    import cityscapesscripts.evaluation.evalPanopticSemanticLabeling as ps
    box = []
    with _quiet_in(workdir, processes), _capture_pq_stat(ps, box):
        res = ps.evaluatePanoptic(gt_json, gt_dir, pred_json, pred_dir,
                                  os.path.join(workdir, "resultPanopticSemanticLabeling.json"))
    return _pq_result(res, box[0])


def official_cs_miou(pred_pngs, gt_label_pngs, workdir):
    """cityscapesScripts evalPixelLevelSemanticLabeling.evaluateImgLists (the pip build has no
    Cython extension: the NumPy path). Returns {"mIoU", "per_class": {label id: IoU or nan}}."""
    import copy
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as px
    from cityscapesscripts.helpers.labels import name2label
    args = copy.copy(px.args)
    args.quiet = True
    args.JSONOutput = False
    args.exportFile = os.path.join(workdir, "resultPixelLevelSemanticLabeling.json")
    args.predictionPath = None
    args.predictionWalk = None
    with _quiet_in(workdir):
        res = px.evaluateImgLists(list(pred_pngs), list(gt_label_pngs), args)
    per_class = {str(name2label[n].id): v for n, v in res["classScores"].items()}
    return {"mIoU": res["averageScoreClasses"], "per_class": per_class, "raw": res}


def official_cs_ap(pred_txts, gt_label_pngs, pred_root, workdir):
    """cityscapesScripts evalInstanceLevelSemanticLabeling.evaluateImgLists."""
    import copy
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as il
    from cityscapesscripts.helpers.labels import name2label
    args = copy.copy(il.args)
    args.quiet = True
    args.JSONOutput = False
    args.colorized = False
    args.gtInstancesFile = os.path.join(workdir, "gtInstances.json")
    args.exportFile = os.path.join(workdir, "resultInstanceLevelSemanticLabeling.json")
    args.predictionPath = os.path.abspath(pred_root)
    args.predictionWalk = None
    gts = [p.replace("_labelIds.png", "_instanceIds.png") for p in gt_label_pngs]
    with _quiet_in(workdir):
        if os.path.exists(args.gtInstancesFile):
            os.remove(args.gtInstancesFile)
        res = il.evaluateImgLists(list(pred_txts), gts, args)
    avg = res["averages"]
    per_class = {str(name2label[n].id): {"AP": v["ap"], "AP50": v["ap50%"]} for n, v in avg["classes"].items()}
    return {"AP": float(avg["allAp"]), "AP50": float(avg["allAp50%"]), "per_class": per_class}
