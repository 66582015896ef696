"""PipelineSwitchHook: change the training data pipeline at an epoch, e.g. turn Mosaic
off for the last epochs (YOLOX, RTMDet, YOLOv5+ do).

    custom_hooks = [dict(type='PipelineSwitchHook', switch_epoch=280,
                         switch_pipeline=train_pipeline_stage2)]

From epoch ``switch_epoch`` on (0-based count of finished epochs, as in MMDetection) the
training dataset's ``pipeline`` is rebuilt from ``switch_pipeline``; persistent
DataLoader workers are restarted so they see it. Resuming past the switch applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

from detcore.registry import TRANSFORMS
from detengine.config_errors import ConfigKeyError, building
from detengine.hooks.hook import Hook
from detengine.priority import Priority


class _Compose:
    """Apply transforms in order; a transform returning None drops the sample."""

    def __init__(self, transforms: list):
        self.transforms = transforms

    def __call__(self, results):
        for transform in self.transforms:
            results = transform(results)
            if results is None:
                return None
        return results


def build_pipeline(cfgs: Sequence):
    """A callable pipeline from a list of TRANSFORMS configs (or callables)."""
    if "Compose" in TRANSFORMS:
        return TRANSFORMS.build({"type": "Compose", "transforms": list(cfgs)})
    return _Compose([TRANSFORMS.build(c) if isinstance(c, dict) else c for c in cfgs])


class PipelineSwitchHook(Hook):
    priority = Priority.NORMAL

    def __init__(self, switch_epoch: int, switch_pipeline: Sequence):
        self.switch_epoch = switch_epoch
        self.switch_pipeline = list(switch_pipeline)
        self._switched = False

    def before_train_epoch(self, runner) -> None:
        if self._switched or runner.epoch < self.switch_epoch:
            return
        dataloader = runner.train_loop.dataloader
        dataset = dataloader.dataset
        while not hasattr(dataset, "pipeline") and hasattr(dataset, "dataset"):
            dataset = dataset.dataset  # wrappers without a pipeline of their own (RepeatDataset)
        if not hasattr(dataset, "pipeline"):
            raise ConfigKeyError("custom_hooks.PipelineSwitchHook",
                                 f"the training dataset {type(dataset).__name__} has no 'pipeline'")
        with building("custom_hooks.PipelineSwitchHook.switch_pipeline"):
            dataset.pipeline = build_pipeline(self.switch_pipeline)
        if getattr(dataloader, "persistent_workers", False):
            dataloader._iterator = None  # torch keeps old workers (with the old pipeline) otherwise
        self._switched = True
        runner.logger.info(f"epoch {runner.epoch + 1}: switched the training pipeline")
