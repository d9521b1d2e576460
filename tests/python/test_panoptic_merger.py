"""`atrous merge` against an independent NumPy oracle of the rules in docs/PANOPTIC.md,
"Algorithm" and "Sources" (deeplab2 and detectron2 conventions). The oracle is the plain formulation: full-map max-pool by windows, the K×H×W
distance tensor in float32, np.argmin (first index on ties), tf.unique-like first-appearance
order. Panoptic maps must be identical.
"""
import json
import os
import subprocess

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

F32 = np.float32


# ---------------------------------------------------------------- oracle
def oracle(semantic, center, offset, p, convention="deeplab2"):
    d2 = convention == "deeplab2"
    sem = np.argmax(semantic, axis=0) if semantic.dtype.kind == "f" else semantic.astype(np.int64)
    H, W = sem.shape
    things = np.array(sorted(set(p["thing_classes"])), dtype=np.int64)
    div = p["label_divisor"]
    heat = center.reshape(H, W).astype(F32)
    thr = F32(p["center_threshold"])
    k = p["nms_kernel"]
    b, a = (k - 1) // 2, k - 1 - (k - 1) // 2
    below = F32(0) if d2 else F32(-1)
    v = np.where(heat > thr, heat, below).astype(F32)
    padded = np.pad(v, ((b, a), (b, a)), constant_values=(0 if d2 else -np.inf))
    pooled = sliding_window_view(padded, (k, k)).max(axis=(2, 3))
    nms = np.where(pooled == v, v, below)
    ys, xs = np.nonzero(nms > 0)
    scores = nms[ys, xs]
    K = p["top_k"]
    flat = np.sort(nms.ravel())[::-1]
    if d2 and K > 0 and len(ys) > K:
        keep = scores > flat[K - 1]
        ys, xs, scores = ys[keep], xs[keep], scores[keep]
    if not d2 and K > 0 and K <= H * W:
        keep = scores > max(flat[K - 1], 0)
        ys, xs, scores = ys[keep], xs[keep], scores[keep]
    thing = np.isin(sem, things)
    if len(ys) == 0:
        inst = np.zeros((H, W), np.int64)
    else:
        gy, gx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        py = gy.astype(F32) + offset[0].astype(F32)
        px = gx.astype(F32) + offset[1].astype(F32)
        dy = ys.astype(F32)[:, None, None] - py[None]
        dx = xs.astype(F32)[:, None, None] - px[None]
        with np.errstate(invalid="ignore", over="ignore"):
            dist = np.sqrt(dy * dy + dx * dx)
        inst = (np.argmin(dist, axis=0) + 1) * thing
    pan = np.full((H, W), p["void_label"] * div if d2 else -1, np.int64)
    ids, first = np.unique(inst.ravel(), return_index=True)
    order = ids[np.argsort(first)] if d2 else ids
    counter = {}
    segments = {}
    for i in order:
        if i == 0:
            continue
        mask = (inst == i) & thing
        if not mask.any():
            continue
        cls = int(np.argmax(np.bincount(sem[mask])))
        counter[cls] = counter.get(cls, 0) + 1
        pan[mask] = cls * div + counter[cls]
        segments[cls * div + counter[cls]] = (cls, int(i) - 1, mask)
    for c in np.unique(sem):
        if c in things:
            continue
        mask = (sem == c) & (inst == 0)
        if mask.sum() >= p["stuff_area_limit"]:
            pan[mask] = c * div
    return pan, segments, (ys, xs, scores)


# ---------------------------------------------------------------- running atrous
def run_merge(atrous_bin, tmp, semantic, center, offset, params, convention=None, threads=1, extra=()):
    os.makedirs(tmp, exist_ok=True)
    np.save(os.path.join(tmp, "s.npy"), semantic)
    np.save(os.path.join(tmp, "c.npy"), center)
    np.save(os.path.join(tmp, "o.npy"), offset)
    with open(os.path.join(tmp, "p.json"), "w") as f:
        json.dump(params, f)
    cmd = [atrous_bin, "merge", "--semantic", os.path.join(tmp, "s.npy"), "--center", os.path.join(tmp, "c.npy"),
           "--offset", os.path.join(tmp, "o.npy"), "--params", os.path.join(tmp, "p.json"),
           "--output-dir", os.path.join(tmp, "out"), "--threads", str(threads), *extra]
    if convention:
        cmd += ["--convention", convention]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r


def merged(atrous_bin, tmp, *a, **kw):
    r = run_merge(atrous_bin, tmp, *a, **kw)
    assert r.returncode == 0, r.stderr
    pan = np.load(os.path.join(tmp, "out", "panoptic.npy"))
    with open(os.path.join(tmp, "out", "segments.json")) as f:
        info = json.load(f)
    return pan, info


def params(**kw):
    p = dict(thing_classes=[3, 4, 5], label_divisor=1000, void_label=255, center_threshold=0.1,
             nms_kernel=3, top_k=400, stuff_area_limit=0)
    p.update(kw)
    return p


def check(atrous_bin, tmp, semantic, center, offset, p, convention="deeplab2", threads=1):
    pan, info = merged(atrous_bin, tmp, semantic, center, offset, p, convention=convention, threads=threads)
    ref, segments, _ = oracle(semantic, center, offset, p, convention)
    assert pan.dtype == np.int32 and pan.shape == ref.shape
    diff = np.argwhere(pan != ref)
    assert len(diff) == 0, f"{len(diff)} pixels differ, first at {diff[:5].tolist()}"
    # segments_info agrees with the map
    by_id = {s["id"]: s for s in info["segments_info"]}
    void = p["void_label"] * p["label_divisor"] if convention == "deeplab2" else -1
    assert set(by_id) == set(int(v) for v in np.unique(pan) if v != void or void in by_id)
    for sid, s in by_id.items():
        ys, xs = np.nonzero(pan == sid)
        assert s["area"] == len(ys)
        assert s["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        assert s["category_id"] == sid // p["label_divisor"]
        assert s["isthing"] == int(s["category_id"] in p["thing_classes"])
    assert info["convention"] == convention
    return pan, info, segments


def random_case(rng, H=48, W=64, C=6, peaks=20, offset_scale=6.0, integer_offsets=False):
    logits = rng.normal(size=(C, H, W)).astype(F32)
    # blocky semantic regions so classes form areas
    block = rng.integers(0, C, size=(H // 8 + 1, W // 8 + 1))
    logits += 3 * (np.arange(C)[:, None, None] == np.kron(block, np.ones((8, 8), int))[:H, :W][None])
    heat = (rng.random((1, H, W)) * 0.12).astype(F32)
    ys, xs = rng.integers(0, H, peaks), rng.integers(0, W, peaks)
    heat[0, ys, xs] = rng.random(peaks).astype(F32) * 0.8 + 0.2
    if integer_offsets:
        offset = rng.integers(-8, 9, size=(2, H, W)).astype(F32) / 2
    else:
        offset = (rng.normal(size=(2, H, W)) * offset_scale).astype(F32)
    return logits, heat, offset


# ---------------------------------------------------------------- cases
@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_logits(atrous_bin, tmp_path, convention, seed):
    rng = np.random.default_rng(seed)
    s, c, o = random_case(rng, peaks=10 + 30 * seed)
    check(atrous_bin, str(tmp_path), s, c, o, params(nms_kernel=[3, 5, 7][seed]), convention)


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_many_instances_and_grid(atrous_bin, tmp_path, convention):
    # ~300 centers: the grid search path, checked against the brute-force oracle
    rng = np.random.default_rng(7)
    s, c, o = random_case(rng, H=64, W=96, peaks=400, offset_scale=3.0)
    pan, info, _ = check(atrous_bin, str(tmp_path), s, c, o, params(nms_kernel=1, center_threshold=0.15), convention)
    assert info["centers"] > 200


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_distance_ties_first_index(atrous_bin, tmp_path, convention):
    # half-integer offsets and integer centers: many pixels exactly equidistant from two centers
    rng = np.random.default_rng(3)
    s, c, o = random_case(rng, peaks=60, integer_offsets=True)
    check(atrous_bin, str(tmp_path), s, c, o, params(nms_kernel=1), convention)
    # the explicit case: one thing row, centers at x=2 and x=8, pixel x=5 goes to the first
    sem = np.full((1, 11), 3, np.int32)
    heat = np.zeros((1, 1, 11), F32)
    heat[0, 0, [2, 8]] = 0.5
    pan, _ = merged(atrous_bin, str(tmp_path / "b"), sem, heat, np.zeros((2, 1, 11), F32), params(nms_kernel=1),
                    convention=convention)
    assert pan[0, 5] == pan[0, 2] != pan[0, 8]


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_heatmap_ties_and_nms_plateaus(atrous_bin, tmp_path, convention):
    H, W = 24, 30
    sem = np.full((H, W), 4, np.int32)
    heat = np.zeros((1, H, W), F32)
    heat[0, 3:6, 3:6] = 0.5          # plateau: all 9 survive NMS
    heat[0, 15, 20] = heat[0, 15, 22] = 0.5  # equal peaks within one kernel: both survive
    heat[0, 20, 5] = 0.7
    heat[0, 20, 6] = 0.69             # suppressed neighbour
    heat[0, 0, 29] = 0.3              # corner peak (padding)
    o = np.zeros((2, H, W), F32)
    pan, info, seg = check(atrous_bin, str(tmp_path), sem, heat, o, params(nms_kernel=5), convention)
    assert info["centers"] == 9 + 2 + 1 + 1


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_even_kernel_and_negative_heat(atrous_bin, tmp_path, convention):
    rng = np.random.default_rng(11)
    s, c, o = random_case(rng, peaks=40)
    c -= F32(0.05)  # values below zero, threshold below zero
    k = 4 if convention == "deeplab2" else 9
    check(atrous_bin, str(tmp_path), s, c, o, params(nms_kernel=k, center_threshold=-0.02), convention)


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_no_centers(atrous_bin, tmp_path, convention):
    rng = np.random.default_rng(4)
    s, c, o = random_case(rng)
    c[:] = 0.05
    pan, info, _ = check(atrous_bin, str(tmp_path), s, c, o, params(), convention)
    assert info["centers"] == 0
    assert all(not x["isthing"] for x in info["segments_info"])


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
@pytest.mark.parametrize("top_k", [10, 12, 13, 30])
def test_top_k_with_ties_at_cutoff(atrous_bin, tmp_path, convention, top_k):
    # 30 isolated peaks with values in {0.3, 0.5, 0.7}: ties at the K-th value drop all tied
    H, W = 30, 60
    sem = np.full((H, W), 5, np.int32)
    heat = np.zeros((1, H, W), F32)
    vals = np.repeat(np.array([0.7, 0.5, 0.3], F32), [8, 5, 17])
    np.random.default_rng(5).shuffle(vals)
    for i, val in enumerate(vals):
        heat[0, 2 + 5 * (i // 10), 2 + 6 * (i % 10)] = val
    o = np.zeros((2, H, W), F32)
    check(atrous_bin, str(tmp_path), sem, heat, o, params(top_k=top_k), convention)


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_stuff_area_limit_boundaries(atrous_bin, tmp_path, convention):
    limit = 20
    H, W = 20, 30
    sem = np.zeros((H, W), np.int32)   # class 0 everywhere else (large)
    sem[0, 0:limit - 1] = 1            # area limit-1 → void
    sem[2, 0:limit] = 2                # area limit → kept
    sem[4, 0:limit + 1] = 6            # area limit+1 → kept
    sem[10:14, 10:14] = 3              # things, no centers → void
    heat = np.zeros((1, H, W), F32)
    pan, info, _ = check(atrous_bin, str(tmp_path), sem, heat, np.zeros((2, H, W), F32),
                         params(stuff_area_limit=limit), convention)
    void = 255000 if convention == "deeplab2" else -1
    assert (pan[0, :limit - 1] == void).all() and (pan[2, :limit] == 2000).all() and (pan[4, :limit + 1] == 6000).all()


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_majority_vote_and_classes_without_pixels(atrous_bin, tmp_path, convention):
    H, W = 12, 12
    sem = np.zeros((H, W), np.int32)
    sem[2:6, 2:6] = 4                  # 16 pixels of class 4
    sem[2:6, 6:10] = 3                 # 16 pixels of class 3: tie → class 3 (smaller)
    sem[8:11, 2:5] = 5                 # 9 pixels, all pointing to the same center
    sem[8, 5] = 4                      # one class-4 pixel there: class 5 wins
    heat = np.zeros((1, H, W), F32)
    heat[0, 4, 6] = 0.9
    heat[0, 9, 3] = 0.8
    o = np.zeros((2, H, W), F32)
    # thing class 9 and 77 have no pixels; logits channel 7 never wins
    logits = np.full((8, H, W), -5, F32)
    logits[sem, np.arange(H)[:, None], np.arange(W)[None]] = 5
    p = params(thing_classes=[3, 4, 5, 9, 77], nms_kernel=3)
    for name, semantic in (("labels", sem), ("logits", logits)):
        pan, info, _ = check(atrous_bin, str(tmp_path / name), semantic, heat, o, p, convention)
        assert (pan[2:6, 2:10] == 3001).all()
        assert pan[8, 5] == 5001 and (pan[8:11, 2:5] == 5001).all()


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_nearest_center_in_another_class_region(atrous_bin, tmp_path, convention):
    # offsets point all thing pixels to a few centers that sit in regions of other classes
    rng = np.random.default_rng(9)
    H, W = 40, 40
    sem = rng.choice([0, 1, 3, 4, 5], size=(H, W)).astype(np.int32)
    heat = np.zeros((1, H, W), F32)
    cs = [(5, 5), (5, 30), (30, 5), (30, 30), (20, 20)]
    for y, x in cs:
        heat[0, y, x] = 0.9
    gy, gx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    tgt = np.array(cs)[rng.integers(0, len(cs), size=(H, W))]
    o = np.stack([tgt[..., 0] - gy, tgt[..., 1] - gx]).astype(F32) + rng.normal(size=(2, H, W)).astype(F32) * 0.3
    check(atrous_bin, str(tmp_path), sem, heat, o, params(stuff_area_limit=300), convention)


@pytest.mark.parametrize("convention", ["deeplab2", "detectron2"])
def test_int_labels_far_and_nan_offsets(atrous_bin, tmp_path, convention):
    rng = np.random.default_rng(12)
    s, c, o = random_case(rng, peaks=50)
    labels = np.argmax(s, axis=0).astype(np.int64)   # int64 labels are accepted too
    o[:, :4, :] *= 1000                              # points far outside the image
    o[0, 10, 10] = np.nan
    o[1, 11, 11] = np.inf
    check(atrous_bin, str(tmp_path), labels, c, o, params(nms_kernel=1), convention)


def test_scores_and_thread_invariance(atrous_bin, tmp_path):
    rng = np.random.default_rng(21)
    s, c, o = random_case(rng, H=70, W=50, peaks=60)
    p = params(nms_kernel=1)
    pan1, info1 = merged(atrous_bin, str(tmp_path / "t1"), s, c, o, p, threads=1)
    pan3, info3 = merged(atrous_bin, str(tmp_path / "t3"), s, c, o, p, threads=3)
    assert np.array_equal(pan1, pan3)
    assert info1["segments_info"] == info3["segments_info"]
    _, segments, (cys, cxs, cscores) = oracle(s, c, o, p)
    probs = np.exp(s - s.max(axis=0)) / np.exp(s - s.max(axis=0)).sum(axis=0)
    assert any(seg["isthing"] for seg in info1["segments_info"])
    for seg in info1["segments_info"]:
        if not seg["isthing"]:
            assert seg["score"] == 1.0
            continue
        cls, idx, mask = segments[seg["id"]]
        expected = probs[cls][mask].mean() * cscores[idx]
        assert seg["score"] == pytest.approx(expected, rel=1e-5)


def test_errors(atrous_bin, tmp_path):
    t = str(tmp_path)
    s = np.zeros((3, 8, 9), F32)
    c = np.zeros((1, 8, 9), F32)
    o = np.zeros((2, 8, 9), F32)
    r = run_merge(atrous_bin, t, s, np.zeros((1, 8, 10), F32), o, params())
    assert r.returncode != 0 and "H and W must agree" in r.stderr
    r = run_merge(atrous_bin, t, s, c, np.zeros((3, 8, 9), F32), params())
    assert r.returncode != 0 and "2 channels" in r.stderr
    r = run_merge(atrous_bin, t, s, np.zeros((1, 8, 9), np.int32), o, params())
    assert r.returncode != 0 and "float32" in r.stderr
    p = params()
    del p["thing_classes"]
    r = run_merge(atrous_bin, t, s, c, o, p)
    assert r.returncode != 0 and "thing classes" in r.stderr
    r = run_merge(atrous_bin, t, s, c, o, params(), convention="mask-rcnn")
    assert r.returncode == 2
    r = run_merge(atrous_bin, t, s, c, o, params(nms_kernel=4), convention="detectron2")
    assert r.returncode != 0 and "odd nms_kernel" in r.stderr


def test_detectron2_void_label_minus_one(atrous_bin, tmp_path):
    """detectron2's Panoptic-DeepLab passes void_label=-1 and fills void with it: accepted, and
    the map equals the oracle's (void -1) and the run with a deeplab2 model's 255."""
    rng = np.random.default_rng(7)
    semantic, center, offset = random_case(rng)
    pan, info, _ = check(atrous_bin, str(tmp_path / "a"), semantic, center, offset,
                         params(void_label=-1, stuff_area_limit=10**6), convention="detectron2")
    pan255, _ = merged(atrous_bin, str(tmp_path / "b"), semantic, center, offset,
                       params(void_label=255, stuff_area_limit=10**6), convention="detectron2")
    assert info["void_value"] == -1 and (pan == -1).any()
    assert np.array_equal(pan, pan255)
    r = run_merge(atrous_bin, str(tmp_path / "c"), semantic, center, offset, params(void_label=-1))
    assert r.returncode == 1 and "void_label must be >= 0 with the deeplab2 convention" in r.stderr


def test_unknown_params_key_names_the_closest(atrous_bin, tmp_path):
    s, c, o = np.zeros((3, 8, 9), F32), np.zeros((1, 8, 9), F32), np.zeros((2, 8, 9), F32)
    p = params()
    p["centre_threshold"] = p.pop("center_threshold")
    r = run_merge(atrous_bin, str(tmp_path), s, c, o, p)
    assert r.returncode == 1
    assert 'unknown key "centre_threshold"' in r.stderr and '"center_threshold"' in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
