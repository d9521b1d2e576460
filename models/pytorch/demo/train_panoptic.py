#!/usr/bin/env python3
"""Trains the small Panoptic-DeepLab demo model on the synthetic dataset (CPU, one thread).

    python models/pytorch/demo/train_panoptic.py --out DIR [--minutes 18] [--images 600]

Model (`build_demo_model`): MobileNetV3-Small backbone at output stride 32 (DeepLab2's S table,
BN ε 1e-3, as the mnv3s_os32 config), ASPP rates 3/6/9 (the 129×129 input gives a 5×5 stride-32
map; the pool window 5×5 is global), reduced widths (semantic ASPP/decoder/head 64, semantic
projections 32/16, instance ASPP/decoder 32, instance projections 16/8, center/offset heads 32),
7 classes.

Losses (Panoptic-DeepLab): semantic cross-entropy (void 255 ignored), weight 1; center heatmap
MSE against unnormalized Gaussians (σ = 3 px: DeepLab2's σ 8 at 1025×2049 would be ~1 px
here, so it is set to the objects' size), weight 200, over all pixels; offset L1 on thing
pixels, weight 0.02, normalized by the thing-pixel count. Adam (lr --lr, default 2e-3) with a
cosine decay over the time box, batch 8, horizontal flips. The training images are generated up front from seeds
0 … images−1 (synthetic_panoptic.TRAIN_SEED_BASE); everything is seeded, but the number of
steps reached depends on the time box, so a rerun on another machine stops at another step.

Writes DIR/checkpoint.pt periodically and DIR/demo_state_dict.pt (eval-mode state_dict) at the
end; progress to stdout.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import panoptic_deeplab as pdl  # noqa: E402
import synthetic_panoptic as sp  # noqa: E402

DEMO_CONFIG = pdl.Config("mnv3s_os32_demo", "mnv3s", 32, (3, 6, 9), 1e-3, 7)
DEMO_WIDTHS = pdl.Widths(semantic_aspp=64, semantic_projections=(32, 16), semantic_decoder=64,
                         semantic_head=64, instance_aspp=32, instance_projections=(16, 8),
                         instance_decoder=32, instance_head=32)
SIGMA = 3.0
POSTPROCESS = {"label_divisor": sp.LABEL_DIVISOR, "void_label": sp.VOID_LABEL,
               "center_threshold": 0.1, "nms_kernel": 7, "top_k": 200, "stuff_area_limit": 64}


def build_demo_model() -> pdl.PanopticDeepLab:
    torch.manual_seed(0)
    return pdl.PanopticDeepLab(DEMO_CONFIG, sp.SIZE, sp.NUM_CLASSES, DEMO_WIDTHS)


def normalize(images_uint8: np.ndarray) -> torch.Tensor:
    """[N,H,W,3] uint8 → [N,3,H,W] float32 in [−1,1] (x/127.5 − 1, as the metadata says)."""
    x = torch.from_numpy(np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def make_dataset(count: int):
    imgs, sems, heats, offs, things = [], [], [], [], []
    for seed in range(sp.TRAIN_SEED_BASE, sp.TRAIN_SEED_BASE + count):
        img, pan, _ = sp.generate(seed)
        sem, heat, off, thing = sp.targets(pan, SIGMA)
        imgs.append(img), sems.append(sem), heats.append(heat), offs.append(off), things.append(thing)
    return (np.stack(imgs), np.stack(sems), np.stack(heats), np.stack(offs), np.stack(things))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=18.0, help="training time box")
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--resume", default=None,
                        help="state_dict to start from (a second run continues a first)")
    parser.add_argument("--seed", type=int, default=0, help="batch sampling seed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    data = make_dataset(args.images)
    print(f"generated {args.images} training images in {time.time() - start:.0f} s", flush=True)
    model = build_demo_model()
    if args.resume:
        model.load_state_dict(torch.load(args.resume, map_location="cpu"))
    model = model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    budget = args.minutes * 60
    t0 = time.time()
    step, running = 0, None
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget:
            break
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * min(elapsed / budget, 1.0)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = rng.choice(args.images, args.batch, replace=False)
        flip = rng.random(args.batch) < 0.5
        img, sem, heat, off, thing = (a[idx].copy() for a in data)
        for b in np.nonzero(flip)[0]:
            img[b], sem[b], heat[b], thing[b] = (img[b][:, ::-1], sem[b][:, ::-1],
                                                 heat[b][:, ::-1], thing[b][:, ::-1])
            off[b] = off[b][:, :, ::-1]
            off[b][1] = -off[b][1]
        x = normalize(img).to(device)
        sem_t = torch.from_numpy(np.ascontiguousarray(sem)).to(device)
        heat_t = torch.from_numpy(np.ascontiguousarray(heat))[:, None].to(device)
        off_t = torch.from_numpy(np.ascontiguousarray(off)).to(device)
        thing_t = torch.from_numpy(np.ascontiguousarray(thing))[:, None].float().to(device)
        semantic, center, offset = model(x)
        loss_sem = F.cross_entropy(semantic, sem_t, ignore_index=sp.VOID_LABEL)
        loss_center = F.mse_loss(center, heat_t)
        loss_offset = (torch.abs(offset - off_t) * thing_t).sum() / thing_t.sum().clamp(min=1)
        loss = loss_sem + 200 * loss_center + 0.02 * loss_offset
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        values = np.array([loss.item(), loss_sem.item(), loss_center.item(), loss_offset.item()])
        running = values if running is None else 0.95 * running + 0.05 * values
        if step % 20 == 0:
            print(f"step {step} t {time.time() - t0:.0f}s lr {lr:.2e} loss {running[0]:.4f} "
                  f"sem {running[1]:.4f} center {running[2]:.5f} offset {running[3]:.3f}",
                  flush=True)
        if step % 200 == 0:
            torch.save({"step": step, "model": model.state_dict()},
                       os.path.join(args.out, "checkpoint.pt"))
    model = model.cpu().eval()
    torch.save(model.state_dict(), os.path.join(args.out, "demo_state_dict.pt"))
    print(f"done: {step} steps in {time.time() - t0:.0f} s "
          f"(+{t0 - start:.0f} s data); total {time.time() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
