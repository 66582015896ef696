"""YOLOXModeSwitchHook: YOLOX's last epochs train without Mosaic/MixUp and with the L1 box
loss.

    custom_hooks = [dict(type='YOLOXModeSwitchHook', num_last_epochs=15,
                         new_train_pipeline=train_pipeline_stage2, priority=48)]

From epoch index ``max_epochs - num_last_epochs - 1`` on (MMYOLO's and MMDetection's
switch point), the training dataset's pipeline is replaced by ``new_train_pipeline``
(through detengine's PipelineSwitchHook) and ``model.bbox_head.use_bbox_aux`` is set,
which adds YOLOXHead's L1 loss. Resuming past the switch applies both again.
"""

from __future__ import annotations

from collections.abc import Sequence

from detengine.config_errors import ConfigKeyError
from detengine.hooks.pipeline_switch_hook import PipelineSwitchHook
from detengine.model_steps import unwrap_model


class YOLOXModeSwitchHook(PipelineSwitchHook):
    """Switch the pipeline and turn on the auxiliary L1 loss for the last epochs.

    Args:
        num_last_epochs: how many epochs at the end train in the switched mode (the
            switch happens before epoch index ``max_epochs - num_last_epochs - 1``).
        new_train_pipeline: the transforms of those epochs; None keeps the pipeline and
            only turns on the L1 loss.
    """

    def __init__(self, num_last_epochs: int = 15, new_train_pipeline: Sequence | None = None):
        if not isinstance(num_last_epochs, int) or num_last_epochs < 0:
            raise ValueError(f"YOLOXModeSwitchHook: num_last_epochs must be an int >= 0, got "
                             f"{num_last_epochs!r}")
        super().__init__(switch_epoch=0, switch_pipeline=new_train_pipeline or [])
        self.num_last_epochs = num_last_epochs
        self.new_train_pipeline = new_train_pipeline
        self._aux_loss_on = False

    def before_train_epoch(self, runner) -> None:
        self.switch_epoch = runner.max_epochs - self.num_last_epochs - 1
        if runner.epoch < self.switch_epoch:
            return
        if self.new_train_pipeline is not None:
            super().before_train_epoch(runner)
        if not self._aux_loss_on:
            model = unwrap_model(runner.model)
            head = getattr(model, "bbox_head", None)
            if not hasattr(head, "use_bbox_aux"):
                raise ConfigKeyError("custom_hooks.YOLOXModeSwitchHook",
                                     f"the model {type(model).__name__} has no bbox_head with "
                                     f"'use_bbox_aux' (YOLOXHead's L1 loss switch)")
            head.use_bbox_aux = True
            self._aux_loss_on = True
            runner.logger.info(f"epoch {runner.epoch + 1}: YOLOX L1 box loss on")
