"""Toy models, datasets, samplers and metrics for the engine tests.

Small and deterministic: a linear regression with optional BatchNorm and Dropout (so
that resuming must restore buffers and RNG states), an in-memory dataset, a sampler that
shuffles by seed and epoch and shards by rank like DefaultSampler, and a mean-squared
error metric that gathers results across ranks. ``register()`` puts them into detcore's
registries under names the test configs use.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import Dataset

from detcore.registry import DATA_SAMPLERS, DATASETS, METRICS, MODELS
from detengine import dist

IN_FEATURES = 4


class EngineToyPreprocessor(nn.Module):
    """Casts the collated inputs to float (default_collate already stacked them)."""

    def forward(self, data, training=False):
        return {"inputs": data["inputs"].float(), "data_samples": data["data_samples"]}


class EngineToyRegressor(nn.Module):
    """y = w.x + b with optional BatchNorm/Dropout; the MMDetection model API."""

    def __init__(self, with_bn: bool = True, dropout: float = 0.1, data_preprocessor=None):
        super().__init__()
        self.norm = nn.BatchNorm1d(IN_FEATURES) if with_bn else nn.Identity()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(IN_FEATURES, 1)
        if data_preprocessor is not None:
            self.data_preprocessor = EngineToyPreprocessor()

    def forward(self, inputs, data_samples=None, mode="tensor"):
        out = self.fc(self.drop(self.norm(inputs))).squeeze(1)
        if mode == "loss":
            return {"loss_mse": ((out - data_samples["target"]) ** 2).mean(),
                    "mean_pred": out.detach().mean()}
        if mode == "predict":
            return [{"pred": p, "target": t, "index": int(i)}
                    for p, t, i in zip(out, data_samples["target"], data_samples["index"])]
        return out


class EngineToyDataset(Dataset):
    """``length`` samples: inputs (4,) float, target = inputs . (1, -2, 3, 0.5) + 1."""

    metainfo = {"classes": ("value",)}

    def __init__(self, length: int = 24, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(length, IN_FEATURES, generator=generator)
        self.targets = self.inputs @ torch.tensor([1.0, -2.0, 3.0, 0.5]) + 1.0

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        return {"inputs": self.inputs[index],
                "data_samples": {"target": self.targets[index], "index": index}}


class EngineToySampler:
    """Shuffled by (seed, epoch), padded to a multiple of the world size, rank r takes r::W."""

    def __init__(self, dataset, seed=None, shuffle=True):
        self.size = len(dataset)
        self.seed = 0 if seed is None else seed
        self.shuffle = shuffle
        self.epoch = 0
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.per_rank = math.ceil(self.size / self.world_size)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        order += order[: self.per_rank * self.world_size - self.size]
        return iter(order[self.rank::self.world_size])

    def __len__(self):
        return self.per_rank


class EngineToyMetric:
    """Mean squared error of the predictions ('toy/mse') and 1 / (1 + mse) ('toy/score')."""

    def __init__(self, prefix: str = "toy"):
        self.prefix = prefix
        self.dataset_meta = None
        self.results = []

    def process(self, data_batch, data_samples):
        self.results += [(s["index"], float(s["pred"]), float(s["target"])) for s in data_samples]

    def evaluate(self, size):
        gathered = dist.collect_results(self.results, size)
        self.results = []
        metrics = None
        if gathered is not None:
            mse = sum((p - t) ** 2 for _, p, t in gathered) / len(gathered)
            metrics = {f"{self.prefix}/mse": mse, f"{self.prefix}/score": 1 / (1 + mse),
                       f"{self.prefix}/count": len(gathered)}
        return dist.broadcast_object(metrics)


def register() -> None:
    MODELS.register_module(module=EngineToyRegressor, force=True)
    DATASETS.register_module(module=EngineToyDataset, force=True)
    DATA_SAMPLERS.register_module(module=EngineToySampler, force=True)
    METRICS.register_module(module=EngineToyMetric, force=True)


def dataloader_cfg(length=24, batch_size=4, shuffle=True, seed=0):
    return {"dataset": {"type": "EngineToyDataset", "length": length, "seed": seed},
            "batch_size": batch_size, "num_workers": 0,
            "sampler": {"type": "EngineToySampler", "shuffle": shuffle},
            "collate_fn": {"type": "default_collate"}}


def runner_cfg(work_dir, max_epochs=4, **overrides):
    """A complete runner config for the toy regression."""
    cfg = {
        "model": {"type": "EngineToyRegressor"},
        "work_dir": str(work_dir),
        "train_dataloader": dataloader_cfg(),
        "train_cfg": {"type": "EpochBasedTrainLoop", "max_epochs": max_epochs, "val_interval": 1},
        "val_dataloader": dataloader_cfg(length=8, shuffle=False, seed=1),
        "val_cfg": {"type": "ValLoop"},
        "val_evaluator": {"type": "EngineToyMetric"},
        "test_dataloader": dataloader_cfg(length=8, shuffle=False, seed=2),
        "test_cfg": {"type": "TestLoop"},
        "test_evaluator": {"type": "EngineToyMetric"},
        "optim_wrapper": {"type": "OptimWrapper",
                          "optimizer": {"type": "SGD", "lr": 0.05, "momentum": 0.9,
                                        "weight_decay": 1e-4}},
        "param_scheduler": [
            {"type": "LinearLR", "start_factor": 0.1, "by_epoch": False, "begin": 0, "end": 5},
            {"type": "MultiStepLR", "by_epoch": True, "milestones": [3], "gamma": 0.1}],
        "default_hooks": {"logger": {"type": "LoggerHook", "interval": 2}},
        "randomness": {"seed": 7, "deterministic": True},
        "progress": False,
    }
    cfg.update(overrides)
    return cfg


def distributed_cfg(work_dir, per_rank_batch, launcher="none"):
    """The toy run of the distributed test: no BatchNorm or dropout (their per-rank
    statistics and random masks differ by design), DDP over gloo on the CPU."""
    cfg = runner_cfg(work_dir, max_epochs=3, launcher=launcher,
                     model={"type": "EngineToyRegressor", "with_bn": False, "dropout": 0.0},
                     env_cfg={"dist_cfg": {"backend": "gloo"}},
                     default_hooks={"checkpoint": None, "visualization": None})
    cfg["train_dataloader"]["batch_size"] = per_rank_batch
    cfg["test_dataloader"]["dataset"]["length"] = 9  # odd: the sampler pads, results are trimmed
    return cfg


# ---------------------------------------------------------------------- detection toys
class EngineToyLoad:
    """Test pipeline step: the image (from img_path or img) as a CHW uint8 tensor plus a sample."""

    def __call__(self, results):
        import cv2

        from detcore.structures import DetDataSample

        image = results.get("img")
        if image is None:
            image = cv2.imread(results["img_path"], cv2.IMREAD_COLOR)
        meta = {"img_path": results.get("img_path"), "img_id": results.get("img_id"),
                "ori_shape": image.shape[:2]}
        return {"inputs": torch.from_numpy(image).permute(2, 0, 1).contiguous(),
                "data_samples": DetDataSample(metainfo=meta)}


class EngineToyDetector(nn.Module):
    """'Detects' the whole image (label 1, score 0.9) and a tiny box (label 0, score 0.1)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode="predict"):
        from detcore.structures import InstanceData

        results = []
        for image, sample in zip(inputs, data_samples):
            h, w = image.shape[-2:]
            sample.pred_instances = InstanceData(
                bboxes=torch.tensor([[1.0, 1.0, w - 2.0, h - 2.0], [0.0, 0.0, 2.0, 2.0]]) * self.scale,
                scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([1, 0]))
            results.append(sample)
        return results


def register_detection_toys() -> None:
    from detcore.registry import TRANSFORMS

    MODELS.register_module(module=EngineToyDetector, force=True)
    TRANSFORMS.register_module(module=EngineToyLoad, force=True)


def detection_cfg():
    return {"model": {"type": "EngineToyDetector"},
            "test_dataloader": {"dataset": {"pipeline": [{"type": "EngineToyLoad"}],
                                            "metainfo": {"classes": ["cat", "dog"],
                                                         "palette": [(255, 0, 0), (0, 255, 0)]}}}}


class EngineToyPipelineDataset(EngineToyDataset):
    """EngineToyDataset whose samples pass through a switchable ``pipeline``."""

    def __init__(self, length: int = 24, seed: int = 0):
        super().__init__(length, seed)
        self.pipeline = lambda sample: sample

    def __getitem__(self, index):
        return self.pipeline(super().__getitem__(index))


class EngineToyZeroInputs:
    """A 'transform' that zeroes the inputs, to see when a pipeline switch takes effect."""

    def __call__(self, sample):
        return {**sample, "inputs": torch.zeros_like(sample["inputs"])}


class EngineToyImageDataset(Dataset):
    """The image files of a folder, loaded like the toy test pipeline does."""

    metainfo = {"classes": ("cat", "dog")}

    def __init__(self, folder: str):
        from pathlib import Path

        self.paths = sorted(str(p) for p in Path(folder).glob("*.png"))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return EngineToyLoad()({"img_path": self.paths[index], "img_id": index})
