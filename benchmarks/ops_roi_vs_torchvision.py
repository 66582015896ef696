"""CPU time of detops.roi_align / roi_pool against torchvision.ops in the same process.

One FPN level as Mask R-CNN sees it: batch 2, 256 channels, 200x304 (stride 4 on a
1216x800 image), 7x7 output, aligned=True. RoIs are boxes of 16..128 px (log-uniform sides),
the sizes FPN's RoI extractor sends to this level, anywhere in the image, spread over the
batch. Forward+backward times the forward pass plus
torch.autograd.grad of the features. Ratio = detops time / torchvision time (median of
repeats, calls interleaved, 2 threads); "max diff" is the largest absolute difference of the
outputs (and of the gradients for forward+backward).

    python benchmarks/ops_roi_vs_torchvision.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torchvision

from detops.roi_ops import roi_align, roi_pool

IMAGE_W, IMAGE_H, STRIDE = 1216, 800, 4


def make_rois(num: int, batch: int, seed: int = 0) -> torch.Tensor:
    """(num, 5) [batch_index, x1, y1, x2, y2] in image pixels."""
    g = torch.Generator().manual_seed(seed)
    wh = torch.exp(torch.empty(num, 2).uniform_(2.77, 4.85, generator=g))  # 16..128 px
    xy = torch.rand(num, 2, generator=g) * (torch.tensor([IMAGE_W, IMAGE_H]) - wh)
    index = torch.randint(0, batch, (num, 1), generator=g).float()
    return torch.cat([index, xy, xy + wh], dim=1)


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


def forward_and_grad(op, features, grad_output):
    """fn() running op on features and returning (output, d(output . grad_output)/d features)."""
    def run():
        x = features.detach().requires_grad_()
        out = op(x)
        return out.detach(), torch.autograd.grad(out, x, grad_output)[0]
    return run


def compare(op: str, case: str, ours, theirs, repeats: int) -> dict:
    ours_out, theirs_out = ours(), theirs()
    if isinstance(ours_out, tuple):
        diff = max(float((a - b).abs().max()) for a, b in zip(ours_out, theirs_out))
    else:
        diff = float((ours_out - theirs_out).abs().max())
    ours_s, theirs_s = median_seconds([ours, theirs], repeats)
    return {"op": op, "case": case, "detops ms": ours_s * 1e3, "torchvision ms": theirs_s * 1e3,
            "ratio": ours_s / theirs_s, "goal": "<= 1.0", "max diff": diff}


def run() -> list[dict]:
    torch.set_num_threads(2)
    features = torch.randn(2, 256, IMAGE_H // STRIDE, IMAGE_W // STRIDE,
                           generator=torch.Generator().manual_seed(0))
    scale = 1.0 / STRIDE
    rows = []
    for num in (512, 2000):
        rois = make_rois(num, batch=2, seed=num)
        grad = torch.randn(num, 256, 7, 7, generator=torch.Generator().manual_seed(1))
        for sampling_ratio in (2, 0):
            if sampling_ratio == 0 and num != 512:
                continue
            case = f"{num} RoIs, sampling_ratio={sampling_ratio}"

            def ours(x, r=rois, s=sampling_ratio):
                return roi_align(x, r, 7, scale, s, True)

            def theirs(x, r=rois, s=sampling_ratio):
                return torchvision.ops.roi_align(x, r, 7, scale, s, True)

            rows.append(compare("roi_align forward", case, lambda f=ours: f(features),
                                lambda f=theirs: f(features), repeats=5))
            rows.append(compare("roi_align forward+backward", case,
                                forward_and_grad(ours, features, grad),
                                forward_and_grad(theirs, features, grad), repeats=3))

        def ours_pool(x, r=rois):
            return roi_pool(x, r, 7, scale)

        def theirs_pool(x, r=rois):
            return torchvision.ops.roi_pool(x, r, 7, scale)

        case = f"{num} RoIs"
        rows.append(compare("roi_pool forward", case, lambda f=ours_pool: f(features),
                            lambda f=theirs_pool: f(features), repeats=5))
        rows.append(compare("roi_pool forward+backward", case,
                            forward_and_grad(ours_pool, features, grad),
                            forward_and_grad(theirs_pool, features, grad), repeats=3))
    return rows


if __name__ == "__main__":
    from run_all import markdown_table

    print(markdown_table(run()))
