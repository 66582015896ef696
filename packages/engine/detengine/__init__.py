"""detengine: the training engine: runner, loops, hooks, optimizers, schedulers,
checkpoints, logging, visualizer, inferencer and the run/test/infer commands.

The names below are imported on first use, so that ``import detengine`` (which the
plugin machinery does at start-up) stays free of torch.
"""

import importlib

_EXPORTS = {
    "Runner": "detengine.runner",
    "DetInferencer": "detengine.inferencer",
    "DetLocalVisualizer": "detengine.visualizer",
    "Hook": "detengine.hooks.hook",
    "Priority": "detengine.priority",
    "OptimWrapper": "detengine.optim.optim_wrapper",
    "AmpOptimWrapper": "detengine.optim.amp_optim_wrapper",
    "DefaultOptimWrapperConstructor": "detengine.optim.constructor",
    "build_optim_wrapper": "detengine.optim.constructor",
    "load_checkpoint": "detengine.checkpoint",
    "save_checkpoint": "detengine.checkpoint",
    "load_weights": "detengine.checkpoint",
    "parse_losses": "detengine.model_steps",
    "pseudo_collate": "detengine.collate",
    "default_collate": "detengine.collate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'detengine' has no attribute '{name}'")
