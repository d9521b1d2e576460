#!/usr/bin/env python3
"""A deterministic synthetic panoptic dataset for the Panoptic-DeepLab demo model.

Every image is a function of its integer seed only (NumPy's PCG64 through default_rng(seed)):
three textured *stuff* classes (a sky gradient on top, grass noise and a striped road below a
random wavy horizon and a random slanted border) and four *thing* classes (circle, square,
triangle, star) with random sizes, rotations, colours and textures, 5–13 instances per image,
drawn in order so later ones occlude earlier ones. Objects whose visible area falls below
MIN_VISIBLE pixels are marked void (ignored by training and evaluation, as tiny occluded
fragments).

Labels (model class ids; `void_label` 255 in semantic maps):

    0 sky, 1 grass, 2 road  (stuff)       3 circle, 4 square, 5 triangle, 6 star  (things)

Panoptic values are class·LABEL_DIVISOR + instance (instance ≥ 1 for things, 0 for stuff).

    python models/pytorch/demo/synthetic_panoptic.py --out DIR [--count 100] [--first-seed 1000000]

writes a held-out set in COCO panoptic layout: DIR/images/<name>.png (RGB),
DIR/panoptic/<name>.png (id = R + 256·G + 256²·B, 0 = void) and DIR/panoptic.json (categories,
images, annotations with segments_info). COCO category ids are class id + 1 (COCO's id 0 is
void in the PNG encoding, so segment ids are numbered 1, 2, … per image instead of reusing the
panoptic values).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Dict, List, Tuple

import numpy as np

LABELS = ("sky", "grass", "road", "circle", "square", "triangle", "star")
STUFF_CLASSES = (0, 1, 2)
THING_CLASSES = (3, 4, 5, 6)
NUM_CLASSES = len(LABELS)
LABEL_DIVISOR = 1000
VOID_LABEL = 255
SIZE = (129, 129)           # H, W (DeepLab2's 16k+1 convention)
MIN_VISIBLE = 24            # visible pixels below which an instance becomes void
TRAIN_SEED_BASE = 0         # training images use seeds 0, 1, 2, …
HELDOUT_SEED_BASE = 1_000_000


def _noise(rng: np.random.Generator, shape: Tuple[int, int], cell: int) -> np.ndarray:
    """Smooth value noise in [0, 1]: a coarse random grid, bilinearly upsampled."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.random((gh, gw))
    y = np.arange(h) / cell
    x = np.arange(w) / cell
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return (a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + c * fy * (1 - fx) + d * fy * fx)


def _stuff(rng: np.random.Generator, shape: Tuple[int, int]):
    """Background: (rgb float [H,W,3], semantic [H,W])."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    horizon = h * rng.uniform(0.25, 0.55)
    amp, freq, phase = rng.uniform(0, 6), rng.uniform(0.02, 0.12), rng.uniform(0, 2 * np.pi)
    sky = yy < horizon + amp * np.sin(freq * xx + phase)
    # grass and road split by a slanted line through a random point below the horizon
    angle = rng.uniform(-1.2, 1.2)
    px = rng.uniform(0.2, 0.8) * w
    road = ((xx - px) * np.cos(angle) + (yy - h) * np.sin(angle)) > 0
    if rng.random() < 0.5:
        road = ~road
    semantic = np.where(sky, 0, np.where(road, 2, 1)).astype(np.uint8)

    img = np.zeros((h, w, 3))
    # sky: vertical gradient from a random deep blue to a pale tone, faint clouds
    top = np.array([rng.uniform(20, 80), rng.uniform(60, 130), rng.uniform(150, 240)])
    bottom = np.array([rng.uniform(150, 220), rng.uniform(180, 235), rng.uniform(220, 255)])
    t = (yy / h)[..., None]
    sky_rgb = top * (1 - t) + bottom * t + 25 * _noise(rng, shape, 24)[..., None]
    # grass: green with fine and coarse noise
    base = np.array([rng.uniform(30, 90), rng.uniform(110, 180), rng.uniform(20, 70)])
    grass_rgb = base * (0.6 + 0.5 * _noise(rng, shape, 3)[..., None]) \
        + 20 * _noise(rng, shape, 16)[..., None]
    # road: gray asphalt with fine noise and light stripes along a random direction
    gray = rng.uniform(70, 130)
    road_rgb = np.full((h, w, 3), gray) + 18 * (_noise(rng, shape, 2)[..., None] - 0.5)
    sa = rng.uniform(0, np.pi)
    period = rng.uniform(10, 20)
    u = xx * np.cos(sa) + yy * np.sin(sa)
    stripes = (np.mod(u, period) < period * 0.25)
    road_rgb[stripes] = rng.uniform(200, 240)
    img = np.where((semantic == 0)[..., None], sky_rgb,
                   np.where((semantic == 1)[..., None], grass_rgb, road_rgb))
    return img, semantic


def _shape_mask(cls: int, yy, xx, cy, cx, r, rot) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    c, s = np.cos(rot), np.sin(rot)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if cls == 3:    # circle
        return dx * dx + dy * dy <= r * r
    if cls == 4:    # square (rotated), half side 0.85 r
        return (np.abs(u) <= 0.85 * r) & (np.abs(v) <= 0.85 * r)
    theta = np.arctan2(v, u)
    rho = np.hypot(u, v)
    if cls == 5:    # equilateral triangle with circumradius r
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            a = rot * 0 + 2 * np.pi * k / 3
            inside &= (u * np.cos(a) + v * np.sin(a)) <= 0.5 * r
        return inside
    if cls == 6:    # five-pointed star: outer radius r, inner 0.45 r
        sector = np.mod(theta, 2 * np.pi / 5) / (2 * np.pi / 5)   # 0..1 across one spike
        tri = np.abs(sector - 0.5) * 2                               # 1 at the tips, 0 between
        return rho <= r * (0.45 + 0.55 * tri)
    raise ValueError(cls)


def _texture(rng: np.random.Generator, shape, yy, xx) -> np.ndarray:
    """Random colour with one of: flat, noise, stripes, checker → rgb [H,W,3]."""
    color = rng.uniform(0, 255, 3)
    kind = rng.integers(0, 4)
    if kind == 0:
        return np.broadcast_to(color, shape + (3,)).copy()
    if kind == 1:
        return color * (0.7 + 0.5 * _noise(rng, shape, 3)[..., None])
    other = rng.uniform(0, 255, 3)
    period = rng.uniform(4, 9)
    if kind == 2:
        a = rng.uniform(0, np.pi)
        m = np.mod(xx * np.cos(a) + yy * np.sin(a), period) < period / 2
    else:
        m = (np.floor(xx / period) + np.floor(yy / period)) % 2 == 0
    return np.where(m[..., None], color, other)


def generate(seed: int, size: Tuple[int, int] = SIZE):
    """→ (image uint8 [H,W,3], panoptic int32 [H,W] with class·1000 + instance, void = 255·1000,
    list of instances [(panoptic value, class)] in drawing order, only visible ones)."""
    rng = np.random.default_rng(seed)
    h, w = size
    img, semantic = _stuff(rng, size)
    panoptic = semantic.astype(np.int32) * LABEL_DIVISOR
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    owner = np.zeros((h, w), np.int32)          # 0 = stuff, k = k-th object (1-based)
    classes: List[int] = []
    count = int(rng.integers(5, 14))
    for k in range(1, count + 1):
        cls = int(rng.choice(THING_CLASSES))
        r = rng.uniform(7, 20)
        cy, cx = rng.uniform(-0.1 * h, 1.1 * h), rng.uniform(-0.1 * w, 1.1 * w)
        mask = _shape_mask(cls, yy, xx, cy, cx, r, rng.uniform(0, 2 * np.pi))
        tex = _texture(rng, size, yy, xx)
        shade = 1 + 0.25 * (((yy - cy) * 0.6 - (xx - cx) * 0.8) / max(r, 1))[..., None]
        img = np.where(mask[..., None], tex * shade, img)
        owner[mask] = k
        classes.append(cls)
    instances = []
    per_class: Dict[int, int] = {}
    for k, cls in enumerate(classes, start=1):
        mask = owner == k
        area = int(mask.sum())
        if area == 0:
            continue
        if area < MIN_VISIBLE:
            panoptic[mask] = VOID_LABEL * LABEL_DIVISOR
            continue
        per_class[cls] = per_class.get(cls, 0) + 1
        value = cls * LABEL_DIVISOR + per_class[cls]
        panoptic[mask] = value
        instances.append((value, cls))
    # global illumination and sensor noise
    img = img * rng.uniform(0.8, 1.15) + rng.normal(0, 4, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), panoptic, instances


def semantic_of(panoptic: np.ndarray) -> np.ndarray:
    return (panoptic // LABEL_DIVISOR).astype(np.int64)


def targets(panoptic: np.ndarray, sigma: float):
    """Panoptic-DeepLab training targets: semantic [H,W] (void 255), center heatmap [H,W] (max of
    unnormalized Gaussians of `sigma` at each instance's mass center), offsets [2,H,W] (center −
    pixel, (Δy, Δx), zero off things) and the thing-pixel mask [H,W]."""
    h, w = panoptic.shape
    semantic = semantic_of(panoptic)
    heat = np.zeros((h, w), np.float32)
    offset = np.zeros((2, h, w), np.float32)
    thing = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for value in np.unique(panoptic):
        cls = int(value) // LABEL_DIVISOR
        if cls not in THING_CLASSES:
            continue
        mask = panoptic == value
        cy, cx = float(yy[mask].mean()), float(xx[mask].mean())
        # the heatmap peak sits on the rounded center, as DeepLab2 rounds it
        ry, rx = round(cy), round(cx)
        g = np.exp(-((yy - ry) ** 2 + (xx - rx) ** 2) / (2 * sigma * sigma))
        np.maximum(heat, g, out=heat)
        offset[0][mask] = ry - yy[mask]
        offset[1][mask] = rx - xx[mask]
        thing |= mask
    return semantic, heat, offset, thing


def to_coco(panoptic: np.ndarray, void_value: int = VOID_LABEL * LABEL_DIVISOR):
    """panoptic map → (COCO PNG rgb uint8 [H,W,3], segments_info). Segment ids 1, 2, … in
    ascending panoptic value; category_id = class + 1; void → id 0."""
    rgb_ids = np.zeros(panoptic.shape, np.int64)
    segments = []
    for value in np.unique(panoptic):
        value = int(value)
        if value == void_value or value < 0:
            continue
        cls = value // LABEL_DIVISOR
        mask = panoptic == value
        sid = len(segments) + 1
        rgb_ids[mask] = sid
        ys, xs = np.nonzero(mask)
        segments.append({"id": sid, "category_id": cls + 1, "iscrowd": 0,
                         "area": int(mask.sum()),
                         "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                  int(ys.max() - ys.min() + 1)]})
    png = np.stack([rgb_ids % 256, rgb_ids // 256 % 256, rgb_ids // 65536], -1).astype(np.uint8)
    return png, segments


def categories() -> List[Dict]:
    return [{"id": c + 1, "name": LABELS[c], "isthing": int(c in THING_CLASSES),
             "supercategory": "thing" if c in THING_CLASSES else "stuff"}
            for c in range(NUM_CLASSES)]


def image_name(seed: int) -> str:
    return f"synth_{seed:07d}"


def write_png(path: str, array: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray(array).save(path)


def write_coco(out: str, seeds: List[int]) -> str:
    """Writes images/, panoptic/ and panoptic.json for `seeds`; returns the JSON path."""
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "panoptic"), exist_ok=True)
    images, annotations = [], []
    for seed in seeds:
        name = image_name(seed)
        img, pan, _ = generate(seed)
        write_png(os.path.join(out, "images", name + ".png"), img)
        png, segments = to_coco(pan)
        write_png(os.path.join(out, "panoptic", name + ".png"), png)
        images.append({"id": name, "file_name": name + ".png", "height": int(img.shape[0]),
                       "width": int(img.shape[1])})
        annotations.append({"image_id": name, "file_name": name + ".png",
                            "segments_info": segments})
    path = os.path.join(out, "panoptic.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories()}, f)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description="writes a synthetic held-out set (COCO panoptic)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=HELDOUT_SEED_BASE)
    args = parser.parse_args()
    path = write_coco(args.out, list(range(args.first_seed, args.first_seed + args.count)))
    print(f"wrote {args.count} images, {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
