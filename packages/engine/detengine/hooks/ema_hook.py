"""EMAHook: keep an exponential moving average of the weights and evaluate with it.

    custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001,
                         update_buffers=True, priority=49)]

The average is updated after every training iteration (from ``begin_iter``/``begin_epoch``
on; before that it copies the weights). Validation and testing swap the averaged weights
into the model and back. Checkpoints store the averaged weights as ``state_dict`` (what
inference loads) and the raw training weights in ``ema_state_dict``; resuming swaps them
back, so training continues exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import torch

from detcore.registry import MODELS
from detengine.config_errors import building
from detengine.hooks.hook import Hook
from detengine.model_steps import unwrap_model
from detengine.priority import Priority

PREFIX = "module."


class EMAHook(Hook):
    priority = Priority.NORMAL

    def __init__(self, ema_type: str = "ExponentialMovingAverage", strict_load: bool = False,
                 begin_iter: int = 0, begin_epoch: int = 0, **kwargs):
        self.ema_cfg = {"type": ema_type, **kwargs}
        self.strict_load = strict_load
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.ema_model = None
        self.src_model = None

    def before_run(self, runner) -> None:
        if self.ema_model is not None:
            return
        self.src_model = unwrap_model(runner.model)
        with building("custom_hooks.EMAHook"):
            self.ema_model = MODELS.build({**self.ema_cfg, "model": self.src_model})

    def _started(self, runner) -> bool:
        return runner.iter + 1 >= self.begin_iter and runner.epoch + 1 >= self.begin_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._started(runner):
            self.ema_model.update_parameters(self.src_model)
        else:
            with torch.no_grad():
                for mine, theirs in zip(self.ema_model.module.state_dict().values(),
                                        self.src_model.state_dict().values()):
                    mine.copy_(theirs)

    # ------------------------------------------------------------------ evaluate with EMA
    def _swap_weights(self) -> None:
        def tensors(module):
            if self.ema_model.update_buffers:
                return itertools.chain(module.parameters(), module.buffers())
            return module.parameters()

        with torch.no_grad():
            for averaged, source in zip(tensors(self.ema_model.module), tensors(self.src_model)):
                held = averaged.detach().clone()
                averaged.copy_(source)
                source.copy_(held)

    def before_val_epoch(self, runner) -> None:
        self._swap_weights()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._swap_weights()

    def before_test_epoch(self, runner) -> None:
        self._swap_weights()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._swap_weights()

    # ------------------------------------------------------------------ checkpoints
    @staticmethod
    def _swap_in_checkpoint(checkpoint: dict) -> None:
        """Exchange the model weights with the averaged ones inside a checkpoint dict."""
        weights, averaged = checkpoint["state_dict"], checkpoint["ema_state_dict"]
        for key in averaged:
            if key.startswith(PREFIX) and key[len(PREFIX):] in weights:
                name = key[len(PREFIX):]
                weights[name], averaged[key] = averaged[key], weights[name]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["ema_state_dict"] = {k: v.detach().cpu() for k, v in self.ema_model.state_dict().items()}
        self._swap_in_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Called before the runner loads ``checkpoint['state_dict']`` into the model."""
        if "ema_state_dict" in checkpoint and runner.resumed:
            self._swap_in_checkpoint(checkpoint)  # state_dict: training weights again
            self.ema_model.load_state_dict(checkpoint["ema_state_dict"], strict=self.strict_load)
            return
        if runner.resumed:
            runner.logger.warning("EMAHook: the checkpoint has no ema_state_dict; the average "
                                  "restarts from its weights")
        weights = checkpoint.get("state_dict", checkpoint)
        if isinstance(weights, Mapping):
            self.ema_model.module.load_state_dict(
                {k.removeprefix(PREFIX): v for k, v in weights.items()}, strict=self.strict_load)
