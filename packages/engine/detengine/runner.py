"""The Runner: builds everything a config describes and runs training, validation or testing.

    runner = Runner.from_cfg(Config.fromfile('retinanet_r50_fpn_1x_coco.py'))
    runner.train()          # train_cfg loop, validating as it goes
    metrics = runner.test() # test_cfg loop

Config keys are MMEngine's: ``model``, ``work_dir``, ``train_dataloader``,
``val_dataloader``, ``test_dataloader``, ``train_cfg``, ``val_cfg``, ``test_cfg``,
``optim_wrapper``, ``param_scheduler``, ``val_evaluator``, ``test_evaluator``,
``default_hooks``, ``custom_hooks``, ``data_preprocessor``, ``load_from``, ``resume``,
``launcher``, ``env_cfg``, ``log_processor``, ``log_level``, ``visualizer``,
``randomness``, ``auto_scale_lr``, ``sync_bn``, ``model_wrapper_cfg``, plus
``trust_checkpoint`` (opt in to loading checkpoints that pickle Python objects) and
``progress`` (progress bars: True, False or 'auto').

Loops, the optimizer and the schedulers are built when a stage needs them, so a test
run never needs a train config. Hooks act at MMEngine's 22 points, in priority order.
"""

from __future__ import annotations

import copy
import json
import os
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from detcore.registry import HOOKS, LOOPS, MODELS, PARAM_SCHEDULERS, VISUALIZERS
from detengine import dist
from detengine.checkpoint import (
    find_latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    weights_of,
    weights_to_cpu,
)
from detengine.config_errors import ConfigKeyError, building
from detengine.data import build_dataloader
from detengine.evaluator import Evaluator
from detengine.history import ScalarHistory
from detengine.hooks.hook import HOOK_POINTS, Hook
from detengine.model_steps import unwrap_model
from detengine.optim.constructor import build_optim_wrapper
from detengine.priority import get_priority
from detengine.progress import close_logger, setup_logger
from detengine.randomness import rng_state, set_random_seed, set_rng_state

DEFAULT_HOOKS = {
    "timer": {"type": "IterTimerHook"},
    "logger": {"type": "LoggerHook", "interval": 50},
    "param_scheduler": {"type": "ParamSchedulerHook"},
    "checkpoint": {"type": "CheckpointHook", "interval": 1},
    "sampler_seed": {"type": "DistSamplerSeedHook"},
    "visualization": {"type": "DetVisualizationHook"},
}

#: MMDetection 2.x keys that MMEngine-style configs replaced, with what to write instead
LEGACY_KEYS = {
    "optimizer": "optim_wrapper=dict(optimizer=...)",
    "optimizer_config": "optim_wrapper=dict(clip_grad=...)",
    "lr_config": "param_scheduler=[...]",
    "runner": "train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=...)",
    "checkpoint_config": "default_hooks=dict(checkpoint=dict(type='CheckpointHook', ...))",
    "log_config": "default_hooks=dict(logger=dict(type='LoggerHook', ...))",
    "evaluation": "val_cfg/val_evaluator and train_cfg.val_interval",
    "data": "train_dataloader/val_dataloader/test_dataloader",
}

STAGE_KEYS = {
    "train": ("train_dataloader", "train_cfg", "optim_wrapper"),
    "val": ("val_dataloader", "val_cfg", "val_evaluator"),
    "test": ("test_dataloader", "test_cfg", "test_evaluator"),
}


class Runner:
    def __init__(self, model: nn.Module | Mapping, work_dir: str | os.PathLike,
                 train_dataloader=None, val_dataloader=None, test_dataloader=None,
                 train_cfg: Mapping | None = None, val_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None, auto_scale_lr: Mapping | None = None,
                 optim_wrapper=None, param_scheduler=None, val_evaluator=None,
                 test_evaluator=None, default_hooks: Mapping | None = None,
                 custom_hooks: Sequence | None = None, data_preprocessor: Mapping | None = None,
                 load_from: str | None = None, resume: bool = False, launcher: str = "none",
                 env_cfg: Mapping | None = None, log_processor: Mapping | None = None,
                 log_level: str = "INFO", visualizer=None, randomness: Mapping | None = None,
                 experiment_name: str | None = None, cfg: Any = None, sync_bn: str | None = None,
                 model_wrapper_cfg: Mapping | None = None, trust_checkpoint: bool = False,
                 progress: bool | str = "auto", default_scope: str | None = None):
        stage_values = {"train_dataloader": train_dataloader, "train_cfg": train_cfg,
                        "optim_wrapper": optim_wrapper, "val_dataloader": val_dataloader,
                        "val_cfg": val_cfg, "val_evaluator": val_evaluator,
                        "test_dataloader": test_dataloader, "test_cfg": test_cfg,
                        "test_evaluator": test_evaluator}
        for stage, keys in STAGE_KEYS.items():
            given = [k for k in keys if stage_values[k] is not None]
            if given and len(given) != len(keys):
                missing = [k for k in keys if k not in given]
                raise ConfigKeyError(missing[0], f"the {stage} stage needs {', '.join(keys)} "
                                     f"together; {', '.join(given)} given but not {', '.join(missing)}")
        self.cfg = cfg
        self._stage_cfgs = stage_values
        self._param_scheduler_cfg = param_scheduler
        self._auto_scale_lr = auto_scale_lr
        self.load_from = load_from
        self.resume_requested = resume
        self.trust_checkpoint = trust_checkpoint
        self.progress = progress
        self.log_processor = dict(log_processor or {})
        self._visualizer_cfg = visualizer
        self._visualizer = None

        self.launcher = launcher
        self._setup_env(dict(env_cfg or {}))
        self._randomness = dict(randomness or {})
        unknown = set(self._randomness) - {"seed", "deterministic", "diff_rank_seed"}
        if unknown:
            raise ConfigKeyError("randomness", f"unknown option(s) {sorted(unknown)}; "
                                 f"known: seed, deterministic, diff_rank_seed")
        self.seed = set_random_seed(**self._randomness)

        self.timestamp = dist.broadcast_object(time.strftime("%Y%m%d_%H%M%S", time.localtime()))
        self.work_dir = Path(work_dir).resolve()
        self.experiment_name = experiment_name or self.timestamp
        if dist.is_main_process():
            self.work_dir.mkdir(parents=True, exist_ok=True)
        dist.barrier()
        self.log_file = self.work_dir / f"{self.timestamp}.log"
        if dist.get_world_size() > 1 and not dist.is_main_process():
            self.log_file = self.work_dir / f"{self.timestamp}.rank{dist.get_rank()}.log"
        self.json_log_file = self.work_dir / f"{self.timestamp}.log.json"
        self.logger = setup_logger(f"detengine.{id(self)}", str(self.log_file), log_level)
        weakref.finalize(self, close_logger, self.logger)
        self._dump_config()

        self.history = ScalarHistory()
        self.info: dict[str, Any] = {}  # latest non-smoothed values (metrics, best scores)
        self.model = self._build_model(model, data_preprocessor, sync_bn, model_wrapper_cfg)

        self.optim_wrapper = None
        self.param_schedulers: list = []
        self._loops: dict[str, Any] = {}
        self._loaded = False
        self.resumed = False  # True once this run continues from a checkpoint
        self._hooks: list[Hook] = []
        self._hook_table: dict[str, list] = {p: [] for p in HOOK_POINTS}
        self._register_default_hooks(default_hooks)
        for index, hook_cfg in enumerate(custom_hooks or []):
            self.register_hook(hook_cfg, key=f"custom_hooks.{index}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_cfg(cls, cfg: Any) -> Runner:
        """A runner from a Config (or dict) with MMEngine's top-level keys."""
        plain = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
        for key, replacement in LEGACY_KEYS.items():
            if key in plain:
                raise ConfigKeyError(key, f"is an MMDetection 2.x key; this runner reads "
                                     f"MMEngine-style configs: write {replacement}")
        if "model" not in plain:
            raise ConfigKeyError("model", "missing; the config must describe a model")
        if plain.get("custom_imports"):
            warnings.warn("config key 'custom_imports' is ignored: components come from installed "
                          "plugins (entry points); `detcore plugins` lists them", stacklevel=2)
        work_dir = plain.get("work_dir")
        if work_dir is None:
            name = Path(getattr(cfg, "filename", None) or "run").stem
            work_dir = Path("work_dirs") / name
        keys = ("train_dataloader", "val_dataloader", "test_dataloader", "train_cfg", "val_cfg",
                "test_cfg", "auto_scale_lr", "optim_wrapper", "param_scheduler", "val_evaluator",
                "test_evaluator", "default_hooks", "custom_hooks", "data_preprocessor",
                "load_from", "resume", "launcher", "env_cfg", "log_processor", "log_level",
                "visualizer", "randomness", "experiment_name", "sync_bn", "model_wrapper_cfg",
                "trust_checkpoint", "progress", "default_scope")
        kwargs = {k: plain[k] for k in keys if k in plain}
        return cls(model=plain["model"], work_dir=work_dir, cfg=cfg, **kwargs)

    def _setup_env(self, env_cfg: dict) -> None:
        if env_cfg.get("cudnn_benchmark"):
            torch.backends.cudnn.benchmark = True
        mp_cfg = env_cfg.get("mp_cfg") or {}
        if mp_cfg.get("opencv_num_threads") is not None:
            try:
                import cv2

                cv2.setNumThreads(int(mp_cfg["opencv_num_threads"]))
            except ImportError:
                pass
        if self.launcher not in ("none", None):
            dist_cfg = dict(env_cfg.get("dist_cfg") or {})
            init = {"backend": dist_cfg.pop("backend", None)}
            if "timeout" in dist_cfg:
                init["timeout_s"] = int(dist_cfg.pop("timeout"))
            dist.init_dist(self.launcher, **init)
        self.distributed = dist.is_distributed()
        if torch.cuda.is_available():
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")

    def _dump_config(self) -> None:
        if self.cfg is None or not dist.is_main_process():
            return
        filename = getattr(self.cfg, "filename", None)
        if hasattr(self.cfg, "dump"):
            name = Path(filename).name if filename else "config.py"
            try:
                self.cfg.dump(self.work_dir / name)
            except Exception as err:  # a config holding live objects cannot be written as text
                self.logger.warning(f"could not write the resolved config to the work dir: {err}")
        else:
            (self.work_dir / "config.json").write_text(json.dumps(self.cfg, indent=2, default=repr))

    def _build_model(self, model, data_preprocessor, sync_bn, wrapper_cfg) -> nn.Module:
        if isinstance(model, Mapping):
            model = dict(model)
            if data_preprocessor is not None:
                model.setdefault("data_preprocessor", data_preprocessor)
            with building("model"):
                model = MODELS.build(model)
        if not isinstance(model, nn.Module):
            raise ConfigKeyError("model", f"must build an nn.Module, got {type(model).__name__}")
        model = model.to(self.device)
        if not self.distributed:
            return model
        if sync_bn == "torch" and self.device.type != "cuda":
            self.logger.warning("sync_bn='torch' ignored: torch's SyncBatchNorm runs only on CUDA")
        elif sync_bn == "torch":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif sync_bn is not None:
            raise ConfigKeyError("sync_bn", f"must be 'torch' or None, got {sync_bn!r}")
        wrapper_cfg = dict(wrapper_cfg or {})
        wrapper_cfg.pop("type", None)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids, **wrapper_cfg)

    def build_dataloader(self, cfg, key: str = "dataloader") -> DataLoader:
        """A dataloader from its config; evaluation loaders get their own random generator."""
        return build_dataloader(cfg, seed=self.seed, key=key,
                                own_generator=not key.startswith("train"))

    def build_evaluator(self, cfg, key: str = "evaluator") -> Evaluator:
        return cfg if isinstance(cfg, Evaluator) else Evaluator(cfg, key=key)

    # ------------------------------------------------------------------ loops
    def _loop(self, stage: str):
        if stage in self._loops:
            return self._loops[stage]
        dataloader_key, loop_key, third_key = STAGE_KEYS[stage]
        loop_cfg = self._stage_cfgs[loop_key]
        if loop_cfg is None:
            return None
        if not isinstance(loop_cfg, Mapping):
            self._loops[stage] = loop_cfg
            return loop_cfg
        loop_cfg = dict(loop_cfg)
        loop_cfg.setdefault("type", {"train": "EpochBasedTrainLoop", "val": "ValLoop",
                                     "test": "TestLoop"}[stage])
        extra = {"runner": self, "dataloader": self._stage_cfgs[dataloader_key]}
        if stage != "train":
            extra["evaluator"] = self._stage_cfgs[third_key]
        with building(loop_key):
            loop = LOOPS.build(loop_cfg, default_args=extra)
        self._loops[stage] = loop
        return loop

    @property
    def train_loop(self):
        return self._loop("train")

    @property
    def val_loop(self):
        return self._loop("val")

    @property
    def test_loop(self):
        return self._loop("test")

    def built_loop(self, stage: str):
        """The loop of ``stage`` if it has been built, else None (never builds it)."""
        return self._loops.get(stage)

    @property
    def epoch(self) -> int:
        loop = self.built_loop("train")
        return loop.epoch if loop is not None else 0

    @property
    def iter(self) -> int:
        loop = self.built_loop("train")
        return loop.iter if loop is not None else 0

    @property
    def max_epochs(self) -> int:
        loop = self.built_loop("train")
        return loop.max_epochs if loop is not None else 0

    @property
    def max_iters(self) -> int:
        loop = self.built_loop("train")
        return loop.max_iters if loop is not None else 0

    @property
    def train_dataloader(self):
        return self.train_loop.dataloader

    @property
    def val_dataloader(self):
        return self.val_loop.dataloader

    @property
    def test_dataloader(self):
        return self.test_loop.dataloader

    @property
    def visualizer(self):
        """The visualizer of ``visualizer=dict(...)`` (default DetLocalVisualizer), built on first use."""
        if self._visualizer is None:
            cfg = self._visualizer_cfg or {"type": "DetLocalVisualizer"}
            with building("visualizer"):
                self._visualizer = (VISUALIZERS.build(cfg, default_args={"save_dir": str(
                    self.work_dir / self.timestamp / "vis_data")}) if isinstance(cfg, Mapping) else cfg)
        return self._visualizer

    # ------------------------------------------------------------------ stages
    def train(self) -> nn.Module:
        """Train with ``train_cfg``; validate as it says; return the trained model."""
        if self._stage_cfgs["train_cfg"] is None:
            raise ConfigKeyError("train_cfg", "missing; training needs train_dataloader, "
                                 "train_cfg and optim_wrapper")
        loop = self.train_loop
        optim_cfg = self._scaled_optim_cfg(self._stage_cfgs["optim_wrapper"], loop.dataloader)
        self.optim_wrapper = build_optim_wrapper(self.model, optim_cfg)
        self.param_schedulers = self._build_param_schedulers(self._param_scheduler_cfg, loop)
        self.val_loop  # noqa: B018 - build it now so that a bad val config fails before training
        self.call_hook("before_run")
        self._init_weights()
        self.load_or_resume()
        self.optim_wrapper.initialize_count_status(unwrap_model(self.model), loop.iter, loop.max_iters)
        try:
            model = loop.run()
        finally:
            self.call_hook("after_run")
        return model

    def val(self) -> dict:
        """Evaluate with ``val_cfg`` and return the metrics."""
        return self._evaluate("val")

    def test(self) -> dict:
        """Evaluate with ``test_cfg`` and return the metrics."""
        return self._evaluate("test")

    def _evaluate(self, stage: str) -> dict:
        loop = self._loop(stage)
        if loop is None:
            raise ConfigKeyError(f"{stage}_cfg", f"missing; {stage} needs "
                                 f"{', '.join(STAGE_KEYS[stage])}")
        self.call_hook("before_run")
        self.load_or_resume()
        try:
            return loop.run()
        finally:
            self.call_hook("after_run")

    def _init_weights(self) -> None:
        module = unwrap_model(self.model)
        if hasattr(module, "init_weights") and not (self.load_from or self.resume_requested):
            module.init_weights()

    def _scaled_optim_cfg(self, optim_cfg, dataloader):
        """``optim_wrapper`` with its lr scaled by ``auto_scale_lr`` when that is enabled."""
        scale_cfg = self._auto_scale_lr or {}
        if not scale_cfg.get("enable", False):
            return optim_cfg
        if "base_batch_size" not in scale_cfg:
            raise ConfigKeyError("auto_scale_lr.base_batch_size", "missing; the batch size the lr was tuned for")
        if not isinstance(optim_cfg, Mapping):
            raise ConfigKeyError("auto_scale_lr", "needs optim_wrapper as a config dict")
        batch_size = dataloader.batch_size or dataloader.batch_sampler.batch_size
        ratio = batch_size * dist.get_world_size() / scale_cfg["base_batch_size"]
        scaled = copy.deepcopy(dict(optim_cfg))
        optimizer = dict(scaled["optimizer"])
        optimizer["lr"] = optimizer["lr"] * ratio
        scaled["optimizer"] = optimizer
        self.logger.info(f"auto_scale_lr: total batch size {batch_size * dist.get_world_size()} vs "
                         f"base {scale_cfg['base_batch_size']}: lr scaled by {ratio:g} to {optimizer['lr']:g}")
        return scaled

    def _build_param_schedulers(self, cfgs, loop) -> list:
        if cfgs is None:
            return []
        cfgs = [cfgs] if isinstance(cfgs, Mapping) else list(cfgs)
        schedulers = []
        for index, cfg in enumerate(cfgs):
            key = f"param_scheduler.{index}"
            if not isinstance(cfg, Mapping):
                schedulers.append(cfg)
                continue
            cfg = dict(cfg)
            if "type" not in cfg:
                raise ConfigKeyError(key, "has no 'type'")
            with building(key):
                kind = cfg.pop("type")
                scheduler_cls = PARAM_SCHEDULERS.get(kind) if isinstance(kind, str) else kind
                by_epoch = cfg.get("by_epoch", True)
                if "end" not in cfg:  # until the end of training, counted in the scheduler's unit
                    if not by_epoch:
                        cfg["end"] = loop.max_iters
                    elif getattr(loop, "by_epoch", True):
                        cfg["end"] = loop.max_epochs
                if cfg.pop("convert_to_iter_based", False) and by_epoch:
                    scheduler = scheduler_cls.build_iter_from_epoch(
                        self.optim_wrapper, epoch_length=len(loop.dataloader), **cfg)
                else:
                    scheduler = scheduler_cls(self.optim_wrapper, **cfg)
            schedulers.append(scheduler)
        return schedulers

    # ------------------------------------------------------------------ hooks
    def _register_default_hooks(self, overrides: Mapping | None) -> None:
        hooks = dict(DEFAULT_HOOKS)
        for name, cfg in (overrides or {}).items():
            hooks[name] = cfg
        for name, cfg in hooks.items():
            if cfg is not None:
                self.register_hook(cfg, key=f"default_hooks.{name}")

    def register_hook(self, hook: Hook | Mapping, priority: int | str | None = None,
                      key: str = "custom_hooks") -> Hook:
        """Add a hook (or build one from a HOOKS config); ``priority`` overrides the hook's own."""
        if isinstance(hook, Mapping):
            cfg = dict(hook)
            priority = cfg.pop("priority", priority)
            with building(key):
                hook = HOOKS.build(cfg)
        if not isinstance(hook, Hook):
            raise TypeError(f"hooks must subclass detengine Hook, got {type(hook).__name__}")
        if priority is not None:
            hook.priority = priority
        value = get_priority(hook.priority)
        position = len(self._hooks)
        while position > 0 and get_priority(self._hooks[position - 1].priority) > value:
            position -= 1
        self._hooks.insert(position, hook)
        self._hook_table = {point: [getattr(h, point) for h in self._hooks if h.overrides(point)]
                            for point in HOOK_POINTS}
        return hook

    @property
    def hooks(self) -> list[Hook]:
        return list(self._hooks)

    def call_hook(self, point: str, **kwargs) -> None:
        for method in self._hook_table[point]:
            method(self, **kwargs)

    # ------------------------------------------------------------------ checkpoints
    def load_or_resume(self) -> None:
        """Resume (``resume=True``) or load weights (``load_from``), once per runner."""
        if self._loaded:
            return
        self._loaded = True
        if self.resume_requested and self.built_loop("train") is not None:
            path = self.load_from or find_latest_checkpoint(self.work_dir)
            if path is None:
                self.logger.warning(f"resume=True but {self.work_dir} holds no checkpoint: "
                                    f"training starts from scratch")
                return
            self.resume(path)
        elif self.load_from:
            self.load_checkpoint(self.load_from)

    def load_checkpoint(self, path: str | os.PathLike, strict: bool = False,
                        revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),)) -> dict:
        """Load model weights only; log which tensors were missing, unexpected or misshapen."""
        checkpoint = load_checkpoint(path, trust_checkpoint=self.trust_checkpoint)
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)  # hooks may rewrite it first
        report = load_weights(unwrap_model(self.model), weights_of(checkpoint), strict=strict,
                              rules=revise_keys, source=str(path))
        (self.logger.info if report.clean else self.logger.warning)(str(report))
        meta = checkpoint.get("meta", {})
        self.info["checkpoint"] = {"path": str(path), "epoch": meta.get("epoch"), "iter": meta.get("iter")}
        return checkpoint

    def resume(self, path: str | os.PathLike) -> None:
        """Continue a run from a checkpoint: weights, optimizer, schedulers, loop, RNG."""
        checkpoint = load_checkpoint(path, trust_checkpoint=self.trust_checkpoint)
        self.resumed = True
        loop = self.train_loop
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)  # hooks may rewrite it first
        report = load_weights(unwrap_model(self.model), weights_of(checkpoint), source=str(path))
        if not report.clean:
            self.logger.warning(str(report))
        meta = checkpoint.get("meta", {})
        if "optimizer" in checkpoint and self.optim_wrapper is not None:
            self.optim_wrapper.load_state_dict(checkpoint["optimizer"])
        saved_schedulers = checkpoint.get("param_schedulers", [])
        if len(saved_schedulers) != len(self.param_schedulers):
            self.logger.warning(f"the checkpoint has {len(saved_schedulers)} parameter scheduler "
                                f"states for {len(self.param_schedulers)} schedulers; not restored")
        else:
            for scheduler, state in zip(self.param_schedulers, saved_schedulers):
                scheduler.load_state_dict(state)
        loop.load_state_dict({"epoch": meta.get("epoch", 0), "iter": meta.get("iter", 0)})
        resumed_seed = meta.get("seed")
        if resumed_seed is not None and resumed_seed != self.seed:
            self.logger.warning(f"the checkpoint was trained with seed {resumed_seed}, this run "
                                f"has {self.seed}; continuing with {resumed_seed}")
            self.seed = set_random_seed(resumed_seed, self._randomness.get("deterministic", False))
            sampler = getattr(loop.dataloader, "sampler", None)
            if hasattr(sampler, "seed"):
                sampler.seed = resumed_seed
        if "rng" in checkpoint and dist.get_world_size() == meta.get("world_size", 1):
            set_rng_state(checkpoint["rng"])
        self.logger.info(f"resumed from {path} at epoch {loop.epoch}, iteration {loop.iter}")

    def save_checkpoint(self, filename: str, by_epoch: bool = True, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, out_dir: str | os.PathLike | None = None,
                        meta: Mapping | None = None) -> Path:
        """Write a checkpoint of the run to ``out_dir/filename`` (default: the work dir).

        Called by CheckpointHook after an epoch (``by_epoch``: the epoch counter is then one
        behind) or an iteration. Every rank calls it; rank 0 writes.
        """
        meta = dict(meta or {})
        meta.setdefault("epoch", self.epoch + 1 if by_epoch else self.epoch)
        meta.setdefault("iter", self.iter if by_epoch else self.iter + 1)
        meta.update(seed=self.seed, time=time.strftime("%Y%m%d_%H%M%S"),
                    experiment_name=self.experiment_name, world_size=dist.get_world_size())
        if self.cfg is not None:
            meta["cfg"] = self.cfg.pretty_text if hasattr(self.cfg, "pretty_text") else \
                json.dumps(self.cfg, default=repr)
        dataset_meta = getattr(self.train_dataloader.dataset, "metainfo", None) \
            if self.built_loop("train") is not None else None
        if dataset_meta is not None:
            meta["dataset_meta"] = _plain(dataset_meta)
        checkpoint: dict[str, Any] = {
            "meta": meta,
            "state_dict": weights_to_cpu(unwrap_model(self.model).state_dict()),
            "rng": rng_state(),
        }
        if save_optimizer and self.optim_wrapper is not None:
            checkpoint["optimizer"] = self.optim_wrapper.state_dict()
        if save_param_scheduler:
            checkpoint["param_schedulers"] = [s.state_dict() for s in self.param_schedulers]
        self.call_hook("before_save_checkpoint", checkpoint=checkpoint)
        path = Path(out_dir or self.work_dir) / filename
        if dist.is_main_process():
            save_checkpoint(checkpoint, path)
        dist.barrier()
        return path

    def __repr__(self) -> str:
        return f"Runner(work_dir={self.work_dir}, hooks={[type(h).__name__ for h in self._hooks]})"


def _plain(value: Any) -> Any:
    """``value`` reduced to types weights_only loading accepts (str for anything else)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    return repr(value)

