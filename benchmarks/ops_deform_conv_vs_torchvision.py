"""CPU time of detops.deform_conv2d against torchvision.ops.deform_conv2d in the same process.

Cases: a 1x64x64x64 input with a 3x3 kernel and 64 output channels (padding 1), with and
without a modulation mask (DCNv2 / DCNv1), and a ResNet-stage-like 2x128x50x68 DCNv2 layer.
Offsets are Gaussian with a standard deviation of 2 pixels. Forward+backward times the forward
pass plus torch.autograd.grad of every input (input, offset, weight, bias, mask). Ratio =
detops time / torchvision time (median of repeats, calls interleaved, 2 threads); "max diff"
is the largest absolute difference of the outputs (and gradients).

    python benchmarks/ops_deform_conv_vs_torchvision.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torchvision

from detops.deform_conv import deform_conv2d


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


def make_inputs(batch, channels, height, width, out_channels, modulated, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        input=torch.randn(batch, channels, height, width, generator=g),
        offset=2 * torch.randn(batch, 18, height, width, generator=g),
        weight=torch.randn(out_channels, channels, 3, 3, generator=g) / (9 * channels) ** 0.5,
        bias=torch.randn(out_channels, generator=g),
        mask=torch.rand(batch, 9, height, width, generator=g) if modulated else None)


def forward(op, tensors):
    return lambda: op(tensors["input"], tensors["offset"], tensors["weight"], tensors["bias"],
                      padding=1, mask=tensors["mask"])


def forward_and_grad(op, tensors, grad_output):
    names = [n for n, t in tensors.items() if t is not None]

    def run():
        leaves = {n: t.detach().requires_grad_() if t is not None else None
                  for n, t in tensors.items()}
        out = op(leaves["input"], leaves["offset"], leaves["weight"], leaves["bias"],
                 padding=1, mask=leaves["mask"])
        return (out.detach(),
                *torch.autograd.grad(out, [leaves[n] for n in names], grad_output))
    return run


def compare(op: str, case: str, ours, theirs, repeats: int) -> dict:
    ours_out, theirs_out = ours(), theirs()
    if not isinstance(ours_out, tuple):
        ours_out, theirs_out = (ours_out,), (theirs_out,)
    diff = max(float((a - b).abs().max()) for a, b in zip(ours_out, theirs_out))
    ours_s, theirs_s = median_seconds([ours, theirs], repeats)
    return {"op": op, "case": case, "detops ms": ours_s * 1e3, "torchvision ms": theirs_s * 1e3,
            "ratio": ours_s / theirs_s, "goal": "<= 1.0", "max diff": diff}


def run() -> list[dict]:
    torch.set_num_threads(2)
    rows = []
    for shape, modulated in (((1, 64, 64, 64, 64), False), ((1, 64, 64, 64, 64), True),
                             ((2, 128, 50, 68, 128), True)):
        tensors = make_inputs(*shape, modulated=modulated)
        batch, channels, height, width, out_channels = shape
        case = (f"{batch}x{channels}x{height}x{width} -> {out_channels}, 3x3, "
                f"{'with' if modulated else 'no'} mask")
        grad = torch.randn(batch, out_channels, height, width,
                           generator=torch.Generator().manual_seed(1))
        rows.append(compare("deform_conv2d forward", case, forward(deform_conv2d, tensors),
                            forward(torchvision.ops.deform_conv2d, tensors), repeats=5))
        rows.append(compare("deform_conv2d forward+backward", case,
                            forward_and_grad(deform_conv2d, tensors, grad),
                            forward_and_grad(torchvision.ops.deform_conv2d, tensors, grad),
                            repeats=3))
    return rows


if __name__ == "__main__":
    from run_all import markdown_table

    print(markdown_table(run()))
