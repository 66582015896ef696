"""The runner's cost per training iteration against a bare PyTorch loop, and DataLoader
throughput with 0, 1 and 2 workers.

Overhead: the same small CNN, data, optimizer and number of iterations, trained by a
plain ``for batch in loader: zero_grad / forward / backward / step`` loop and by
``Runner.train()`` with MMDetection's default hooks (timer, logger every 50 iterations,
param scheduler with a warm-up, sampler seed; checkpoints off). Each is timed over the
iterations after a warm-up, alternating, in CPU time of the training thread
(``time.thread_time``, one torch thread, no DataLoader workers: everything runs in that
thread) so that other processes on a shared machine do not count; the minimum over
repeats is reported, as timeit does. The overhead in microseconds per iteration does not
depend on the model; the percentage does.

Throughput: images decoded from JPEG bytes and resized (a detection-like load) through
the engine's dataloader builder with pseudo_collate.

    python benchmarks/engine_overhead.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

ITERS = 110
WARMUP = 10
REPEATS = 9
BATCH = 8


class TinyLinear(nn.Module):
    """Almost no compute: what remains of an iteration is the loop's own cost."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 10)

    def logits(self, inputs):
        return self.head(inputs.mean((2, 3)))

    def forward(self, inputs, labels=None, mode="tensor"):
        logits = self.logits(inputs)
        if mode == "loss":
            return {"loss_cls": nn.functional.cross_entropy(logits, labels)}
        return logits


class SmallCNN(nn.Module):
    """Four conv blocks and a linear head on 3x96x96 inputs; the model API of detengine."""

    def __init__(self):
        super().__init__()
        layers, channels = [], 3
        for width in (16, 32, 64, 64):
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 10)

    def logits(self, inputs):
        return self.head(self.features(inputs).mean((2, 3)))

    def forward(self, inputs, labels=None, mode="tensor"):
        logits = self.logits(inputs)
        if mode == "loss":
            return {"loss_cls": nn.functional.cross_entropy(logits, labels)}
        return logits


class TensorImages(Dataset):
    def __init__(self, length):
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randn(length, 3, 96, 96, generator=generator)
        self.labels = torch.randint(0, 10, (length,), generator=generator)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return {"inputs": self.images[index], "labels": self.labels[index]}


class Sequential:
    """A minimal sampler with the DATA_SAMPLERS signature."""

    def __init__(self, dataset, seed=None):
        self.size = len(dataset)

    def __iter__(self):
        return iter(range(self.size))

    def __len__(self):
        return self.size


def _bare_loop(model_cls) -> float:
    torch.manual_seed(0)
    model = model_cls()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(TensorImages(ITERS * BATCH), batch_size=BATCH,
                        collate_fn=torch.utils.data.default_collate)
    model.train()
    start = None
    for index, batch in enumerate(loader):
        if index == WARMUP:
            start = time.thread_time()
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model.logits(batch["inputs"]), batch["labels"])
        loss.backward()
        optimizer.step()
    return (time.thread_time() - start) / (ITERS - WARMUP)


def _runner_loop(model_cls) -> float:
    from detengine.hooks.hook import Hook
    from detengine.runner import Runner

    class Stopwatch(Hook):
        priority = "LOWEST"

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if batch_idx == WARMUP:
                self.start = time.thread_time()

        def after_train(self, runner):
            self.seconds = time.thread_time() - self.start

    torch.manual_seed(0)
    stopwatch = Stopwatch()
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner(
            model=model_cls(), work_dir=work_dir,
            train_dataloader={"dataset": TensorImages(ITERS * BATCH), "batch_size": BATCH,
                              "sampler": {"type": Sequential}, "collate_fn": {"type": "default_collate"}},
            train_cfg={"type": "EpochBasedTrainLoop", "max_epochs": 1},
            optim_wrapper={"optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9}},
            param_scheduler=[{"type": "LinearLR", "start_factor": 0.1, "by_epoch": False, "end": 20}],
            default_hooks={"checkpoint": None, "visualization": None}, custom_hooks=[stopwatch],
            randomness={"seed": 0}, progress=False, log_level="WARNING")
        runner.train()
    return stopwatch.seconds / (ITERS - WARMUP)


def overhead_rows() -> list[dict]:
    rows = []
    for model_cls in (TinyLinear, SmallCNN):
        bare, engine = [], []
        _bare_loop(model_cls), _runner_loop(model_cls)  # warm caches and lazy imports
        for _ in range(REPEATS):  # alternate, so that load changes hit both alike
            bare.append(_bare_loop(model_cls))
            engine.append(_runner_loop(model_cls))
        bare_ms, engine_ms = min(bare) * 1e3, min(engine) * 1e3
        rows.append({"measure": f"train iteration, {model_cls.__name__}, 3x96x96 batch {BATCH}",
                     "bare PyTorch ms/iter (min)": bare_ms, "Runner ms/iter (min)": engine_ms,
                     "overhead us/iter": (engine_ms - bare_ms) * 1e3,
                     "overhead %": (engine_ms / bare_ms - 1) * 100,
                     "medians bare/Runner ms": f"{statistics.median(bare) * 1e3:.3f} / "
                                               f"{statistics.median(engine) * 1e3:.3f}"})
    # the loop's own cost (measured on the tiny model) relative to the CNN's iteration
    tiny, cnn = rows
    rows.append({"measure": "Runner's own cost / SmallCNN iteration",
                 "overhead %": tiny["overhead us/iter"] / 1e3 / cnn["bare PyTorch ms/iter (min)"] * 100})
    return rows


class JpegImages(Dataset):
    """JPEG bytes decoded and resized to 512 on the long side: a detection-like load."""

    def __init__(self, length=96):
        rng = np.random.default_rng(0)
        image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
        image = cv2.GaussianBlur(image, (9, 9), 3)
        self.blobs = [cv2.imencode(".jpg", np.roll(image, i, axis=1))[1] for i in range(length)]

    def __len__(self):
        return len(self.blobs)

    def __getitem__(self, index):
        image = cv2.imdecode(self.blobs[index], cv2.IMREAD_COLOR)
        image = cv2.resize(image, (512, 384), interpolation=cv2.INTER_LINEAR)
        return {"inputs": torch.from_numpy(image).permute(2, 0, 1).contiguous(), "id": index}


def throughput_rows() -> list[dict]:
    from detengine.data import build_dataloader

    rows = []
    dataset = JpegImages()
    for workers in (0, 1, 2):
        loader = build_dataloader({"dataset": dataset, "batch_size": 4, "num_workers": workers,
                                   "persistent_workers": workers > 0,
                                   "sampler": {"type": Sequential}, "collate_fn": {"type": "pseudo_collate"}},
                                  seed=0)
        for _ in loader:  # start the workers and warm up
            pass
        start = time.perf_counter()
        count = sum(len(batch["inputs"]) for _ in range(2) for batch in loader)
        rows.append({"measure": f"DataLoader, JPEG decode + resize, {workers} workers",
                     "images/s": count / (time.perf_counter() - start),
                     "load average (1 min)": os.getloadavg()[0], "CPU cores": os.cpu_count()})
    return rows


def run() -> list[dict]:
    torch.set_num_threads(1)  # the 2-core machine is shared; OpenMP hand-offs would dominate
    return overhead_rows() + throughput_rows()


if __name__ == "__main__":
    for row in run():
        print(row)
