"""Build DataLoaders from MMEngine-style dataloader configs.

    train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                            sampler=dict(type='DefaultSampler', shuffle=True),
                            batch_sampler=dict(type='AspectRatioBatchSampler'),
                            collate_fn=dict(type='pseudo_collate'),
                            dataset=dict(type='CocoDataset', ...))

The dataset comes from DATASETS, samplers from DATA_SAMPLERS (the sampler receives
``dataset`` and ``seed``; the batch sampler ``sampler`` and ``batch_size``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from detcore.registry import DATA_SAMPLERS, DATASETS
from detengine import dist
from detengine.collate import resolve_collate_fn
from detengine.config_errors import ConfigKeyError, building
from detengine.randomness import worker_init_fn


def build_dataset(cfg: Any, key: str = "dataset"):
    """A dataset from a config dict (DATASETS) or the dataset object itself."""
    if not isinstance(cfg, Mapping):
        return cfg
    with building(key):
        dataset = DATASETS.build(cfg)
    if hasattr(dataset, "full_init"):  # datasets that load their annotations lazily
        dataset.full_init()
    return dataset


def build_dataloader(cfg: Any, seed: int | None = None, key: str = "dataloader",
                     own_generator: bool = False) -> DataLoader:
    """A DataLoader from ``cfg`` (returned unchanged if it already is one).

    ``own_generator`` gives the loader a private random generator: starting to iterate
    then draws nothing from torch's global one, so evaluating during training leaves the
    training's random stream (dropout, augmentation) exactly as it would be without it.
    """
    if isinstance(cfg, DataLoader):
        return cfg
    if not isinstance(cfg, Mapping):
        raise ConfigKeyError(key, f"expected a dict or a DataLoader, got {type(cfg).__name__}")
    cfg = dict(cfg)
    if "dataset" not in cfg:
        raise ConfigKeyError(f"{key}.dataset", "missing; a dataloader needs a dataset")
    dataset = build_dataset(cfg.pop("dataset"), f"{key}.dataset")

    sampler_cfg = cfg.pop("sampler", None)
    sampler = None
    if sampler_cfg is not None:
        with building(f"{key}.sampler"):
            sampler = (DATA_SAMPLERS.build(sampler_cfg, default_args={"dataset": dataset, "seed": seed})
                       if isinstance(sampler_cfg, Mapping) else sampler_cfg)

    batch_size = cfg.pop("batch_size", 1)
    batch_sampler_cfg = cfg.pop("batch_sampler", None)
    batch_sampler = None
    if batch_sampler_cfg is not None:
        if sampler is None:
            raise ConfigKeyError(f"{key}.batch_sampler", f"needs {key}.sampler to be set")
        with building(f"{key}.batch_sampler"):
            batch_sampler = DATA_SAMPLERS.build(
                batch_sampler_cfg, default_args={"sampler": sampler, "batch_size": batch_size})

    with building(f"{key}.collate_fn"):
        collate_fn = resolve_collate_fn(cfg.pop("collate_fn", None))
    num_workers = cfg.get("num_workers", 0)
    if not num_workers:
        cfg.pop("persistent_workers", None)  # torch refuses persistent workers without workers
    init_fn = None
    if seed is not None:
        init_fn = functools.partial(worker_init_fn, num_workers=num_workers, rank=dist.get_rank(),
                                    seed=seed)
    if own_generator:
        cfg.setdefault("generator", torch.Generator().manual_seed(seed or 0))
    with building(key):
        if batch_sampler is not None:
            return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=collate_fn,
                              worker_init_fn=init_fn, **cfg)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn,
                          worker_init_fn=init_fn, **cfg)
