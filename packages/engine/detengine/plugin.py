"""detengine's plugin module: what it contributes to detcore.

Kept cheap to import: components are registered lazily by import path and the command
line handlers import torch only when they run.
"""

from detcore import hookimpl
from detengine.optim.optimizers import TORCH_OPTIMIZERS

LOOPS = {name: "detengine.loops" for name in
         ("EpochBasedTrainLoop", "IterBasedTrainLoop", "ValLoop", "TestLoop")}

HOOKS = {
    "IterTimerHook": "detengine.hooks.iter_timer_hook",
    "LoggerHook": "detengine.hooks.logger_hook",
    "ParamSchedulerHook": "detengine.hooks.param_scheduler_hook",
    "CheckpointHook": "detengine.hooks.checkpoint_hook",
    "DistSamplerSeedHook": "detengine.hooks.sampler_seed_hook",
    "EMAHook": "detengine.hooks.ema_hook",
    "CheckInvalidLossHook": "detengine.hooks.check_invalid_loss_hook",
    "EarlyStoppingHook": "detengine.hooks.early_stopping_hook",
    "DetVisualizationHook": "detengine.hooks.visualization_hook",
    "PipelineSwitchHook": "detengine.hooks.pipeline_switch_hook",
}

OPTIM_WRAPPERS = {
    "OptimWrapper": "detengine.optim.optim_wrapper",
    "AmpOptimWrapper": "detengine.optim.amp_optim_wrapper",
    "DefaultOptimWrapperConstructor": "detengine.optim.constructor",
}

POLICIES = ("Constant", "Step", "MultiStep", "Exponential", "Linear", "CosineAnnealing", "Poly",
            "QuadraticWarmup", "OneCycle")
PARAM_SCHEDULERS = {
    **{f"{p}ParamScheduler": "detengine.optim.schedulers" for p in POLICIES},
    **{f"{p}LR": "detengine.optim.schedulers" for p in POLICIES},
    **{f"{p}Momentum": "detengine.optim.schedulers" for p in POLICIES if p != "OneCycle"},
}

#: averaged models for EMAHook(ema_type=...), in MODELS as in MMEngine
AVERAGED_MODELS = {name: "detengine.ema" for name in
                   ("ExponentialMovingAverage", "ExpMomentumEMA", "MomentumAnnealingEMA",
                    "LinearMomentumEMA")}

METRICS = {"DumpDetResults": "detengine.dump_results"}

VISUALIZERS = {"DetLocalVisualizer": "detengine.visualizer"}


@hookimpl
def detcore_register_components(registries):
    registries.LOOPS.register_lazy(LOOPS)
    registries.HOOKS.register_lazy(HOOKS)
    registries.OPTIM_WRAPPERS.register_lazy(OPTIM_WRAPPERS)
    registries.OPTIMIZERS.register_lazy({name: f"torch.optim:{name}" for name in TORCH_OPTIMIZERS})
    registries.PARAM_SCHEDULERS.register_lazy(PARAM_SCHEDULERS)
    registries.MODELS.register_lazy(AVERAGED_MODELS)
    registries.METRICS.register_lazy(METRICS)
    registries.VISUALIZERS.register_lazy(VISUALIZERS)
    registries.FUNCTIONS.register_lazy({"pseudo_collate": "detengine.collate",
                                        "default_collate": "detengine.collate"})


@hookimpl
def detcore_add_cli_commands(subparsers):
    from detengine.cli import add_commands

    add_commands(subparsers)
