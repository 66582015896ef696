"""CPU time of detops.nms / batched_nms against torchvision.ops in the same process.

Two box distributions, both in a 1333x800 image, scores uniform in [0, 1):
  clustered  detector-like output: about 20 jittered boxes around each object (most boxes
             are suppressed by a nearby better one);
  uniform    boxes scattered at random (most boxes survive: greedy NMS's worst case).
batched_nms uses 80 classes. Ratio = detops time / torchvision time (median of repeats,
calls interleaved, 2 threads). "same" says whether both kept the same boxes in the same
score order (torchvision's per-class path may order exactly equal scores differently).

    python benchmarks/ops_nms_vs_torchvision.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torchvision

import detops

IMAGE_W, IMAGE_H = 1333.0, 800.0


def make_boxes(n: int, layout: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 4) xyxy boxes and (n,) scores laid out as described in the module docstring."""
    g = torch.Generator().manual_seed(seed)
    if layout == "clustered":
        objects = max(1, n // 20)
        size = torch.exp(torch.empty(objects, 2).uniform_(3.0, 6.0, generator=g))  # 20..400 px
        centre = torch.rand(objects, 2, generator=g) * torch.tensor([IMAGE_W, IMAGE_H])
        owner = torch.randint(0, objects, (n,), generator=g)
        jitter = 1 + 0.15 * torch.randn(n, 4, generator=g)
        half = size[owner] / 2
        boxes = torch.cat([centre[owner] - half * jitter[:, :2],
                           centre[owner] + half * jitter[:, 2:]], 1)
    else:
        xy = torch.rand(n, 2, generator=g) * torch.tensor([IMAGE_W, IMAGE_H])
        wh = torch.exp(torch.empty(n, 2).uniform_(2.5, 5.0, generator=g))  # 12..150 px
        boxes = torch.cat([xy, xy + wh], 1)
    return boxes, torch.rand(n, generator=g)


def median_seconds(fns, repeats: int) -> list[float]:
    """Median wall time of each function, calling them in turn (after one warm-up each)."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, samples in zip(fns, times):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return [statistics.median(samples) for samples in times]


def compare(op: str, case: str, scores, ours, theirs, goal: str, repeats: int) -> dict:
    kept, expected = ours(), theirs()
    same = (torch.equal(kept.sort().values, expected.sort().values)
            and torch.equal(scores[kept], scores[expected]))
    ours_s, theirs_s = median_seconds([ours, theirs], repeats)
    return {"op": op, "case": case, "detops ms": ours_s * 1e3, "torchvision ms": theirs_s * 1e3,
            "ratio": ours_s / theirs_s, "goal": goal, "same": same}


def run() -> list[dict]:
    torch.set_num_threads(2)
    rows = []
    for layout in ("clustered", "uniform"):
        for n in (1_000, 5_000, 20_000):
            boxes, scores = make_boxes(n, layout, seed=n)
            rows.append(compare("nms", f"{n // 1000}k boxes, {layout}", scores,
                                lambda b=boxes, s=scores: detops.nms(b, s, 0.5),
                                lambda b=boxes, s=scores: torchvision.ops.nms(b, s, 0.5),
                                "<= 0.5", repeats=5 if n == 20_000 else 15))
    for layout in ("clustered", "uniform"):
        for n in (10_000, 100_000):
            boxes, scores = make_boxes(n, layout, seed=n)
            idxs = torch.randint(0, 80, (n,), generator=torch.Generator().manual_seed(n))
            rows.append(compare(
                "batched_nms", f"{n // 1000}k boxes, 80 classes, {layout}", scores,
                lambda b=boxes, s=scores, i=idxs: detops.batched_nms(b, s, i, 0.5),
                lambda b=boxes, s=scores, i=idxs: torchvision.ops.batched_nms(b, s, i, 0.5),
                "<= 0.5", repeats=5 if n == 100_000 else 15))
    return rows


if __name__ == "__main__":
    from run_all import markdown_table

    print(markdown_table(run()))
