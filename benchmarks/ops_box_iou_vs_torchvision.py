"""CPU time of detops' box overlaps against torchvision.ops in the same process.

  box_iou             pairwise IoU, square (1000 x 1000) and assigner-shaped (50 ground
                      truths x 100k anchors, what a max-IoU assigner computes per image)
  generalized_box_iou pairwise GIoU (detops.bbox_overlaps(mode='giou')), forward and
                      forward+backward
Ratio = detops time / torchvision time (median of repeats, calls interleaved, 2 threads);
"max diff" is the largest absolute difference between the two results.

    python benchmarks/ops_box_iou_vs_torchvision.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torchvision

import detops


def make_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * torch.tensor([1333.0, 800.0])
    wh = torch.exp(torch.empty(n, 2).uniform_(2.5, 6.0, generator=g))  # 12..400 px
    return torch.cat([xy, xy + wh], 1)


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


def compare(op: str, case: str, ours, theirs, repeats: int = 15) -> dict:
    diff = (ours() - theirs()).abs().max().item()
    ours_s, theirs_s = median_seconds([ours, theirs], repeats)
    return {"op": op, "case": case, "detops ms": ours_s * 1e3, "torchvision ms": theirs_s * 1e3,
            "ratio": ours_s / theirs_s, "goal": "<= 1.0", "max diff": diff}


def backward_of(overlaps, a: torch.Tensor, b: torch.Tensor):
    """A function running overlaps(a, b) forward and backward; returns the gradient of a."""
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()

    def step():
        grad_a, _ = torch.autograd.grad(overlaps(a, b).sum(), (a, b))
        return grad_a

    return step


def run() -> list[dict]:
    torch.set_num_threads(2)
    square_a, square_b = make_boxes(1000, 1), make_boxes(1000, 2)
    gts, anchors = make_boxes(50, 3), make_boxes(100_000, 4)
    giou = lambda a, b: detops.bbox_overlaps(a, b, mode="giou")  # noqa: E731
    return [
        compare("box_iou", "1000 x 1000", lambda: detops.box_iou(square_a, square_b),
                lambda: torchvision.ops.box_iou(square_a, square_b)),
        compare("box_iou", "50 x 100k", lambda: detops.box_iou(gts, anchors),
                lambda: torchvision.ops.box_iou(gts, anchors)),
        compare("generalized_box_iou", "1000 x 1000", lambda: giou(square_a, square_b),
                lambda: torchvision.ops.generalized_box_iou(square_a, square_b)),
        compare("generalized_box_iou", "1000 x 1000, forward+backward",
                backward_of(giou, square_a, square_b),
                backward_of(torchvision.ops.generalized_box_iou, square_a, square_b)),
    ]


if __name__ == "__main__":
    from run_all import markdown_table

    print(markdown_table(run()))
