"""YOLO training machinery on top of detengine: YOLOv5's optimizer parameter groups
(YOLOv5OptimizerConstructor, YOLOv7OptimWrapperConstructor), its lr/momentum schedule
(YOLOv5ParamSchedulerHook) and YOLOX's last-epochs switch (YOLOXModeSwitchHook).
ExpMomentumEMA and PipelineSwitchHook come from detengine.
"""

from detyolo.engine.mode_switch_hooks import YOLOXModeSwitchHook
from detyolo.engine.optimizer_constructors import (
    YOLOv5OptimizerConstructor,
    YOLOv7OptimWrapperConstructor,
    scaled_weight_decay,
)
from detyolo.engine.param_scheduler_hooks import (
    YOLOv5ParamSchedulerHook,
    cosine_decay,
    linear_decay,
)

__all__ = [
    "YOLOXModeSwitchHook", "YOLOv5OptimizerConstructor", "YOLOv5ParamSchedulerHook",
    "YOLOv7OptimWrapperConstructor", "cosine_decay", "linear_decay", "scaled_weight_decay",
]
