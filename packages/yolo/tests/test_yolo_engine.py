"""detyolo's training machinery: YOLOv5's parameter groups and weight decay, its lr/momentum
schedule, ExpMomentumEMA, and the close-mosaic switches (PipelineSwitchHook,
YOLOXModeSwitchHook).

References: Ultralytics (its trainer's optimizer groups, weight-decay scaling, warm-up
interpolation and lr curves), hand-computed trajectories, and the EMA formula
``m_t = (1 - m) * exp(-(1 + t) / gamma) + m``.
"""

import logging
import math
import types

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from detcore.registry import HOOKS, MODELS, OPTIM_WRAPPERS, TRANSFORMS
from detengine import dist
from detengine.hooks.pipeline_switch_hook import PipelineSwitchHook
from detengine.optim.constructor import build_optim_wrapper
from detengine.optim.optim_wrapper import OptimWrapper
from detyolo.engine import (
    YOLOv5OptimizerConstructor,
    YOLOv5ParamSchedulerHook,
    YOLOv7OptimWrapperConstructor,
    YOLOXModeSwitchHook,
    cosine_decay,
    linear_decay,
    scaled_weight_decay,
)
from detyolo.transforms import YOLOv5HSVRandomAug

torch.set_num_threads(1)

SGD = dict(type="SGD", lr=0.01, momentum=0.937, weight_decay=0.0005, nesterov=True)


class ImplicitA(nn.Module):
    """Stands in for YOLOv7's implicit-knowledge layer: one learned offset."""

    def __init__(self, channels):
        super().__init__()
        self.implicit = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x):
        return x + self.implicit


class TinyYOLO(nn.Module):
    """Conv (no bias) + BN, conv with bias, GroupNorm, a free parameter, an implicit layer,
    a linear layer: every kind of parameter the constructors sort."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.SiLU())
        self.mid = nn.Conv2d(8, 8, 1)
        self.gn = nn.GroupNorm(2, 8)
        self.implicit = ImplicitA(8)
        self.scale = nn.Parameter(torch.ones(1))
        self.fc = nn.Linear(8, 2)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        x = self.implicit(self.gn(self.mid(self.stem(inputs.float()))))
        out = self.fc(x.mean((2, 3))) * self.scale
        if mode == "loss":
            return {"loss": ((out - data_samples["target"]) ** 2).mean()}
        return out


def _ids(params):
    return {id(p) for p in params}


# ---------------------------------------------------------------------------- optimizer
def test_parameter_groups_match_ultralytics_build_optimizer():
    from ultralytics.engine.trainer import BaseTrainer

    model = TinyYOLO()
    wrapper = YOLOv5OptimizerConstructor({"optimizer": {**SGD, "batch_size_per_gpu": 16}})(model)
    ours = wrapper.optimizer.param_groups
    peer = BaseTrainer.build_optimizer(types.SimpleNamespace(args=None), model, name="SGD", lr=0.01,
                                       momentum=0.937, decay=0.0005)
    # Ultralytics' order: weights with decay, norm weights, biases
    assert [_ids(g["params"]) for g in ours] == [_ids(g["params"]) for g in peer.param_groups]
    assert [g["weight_decay"] for g in ours] == [g["weight_decay"] for g in peer.param_groups]
    for group in ours:
        assert (group["lr"], group["momentum"], group["nesterov"]) == (0.01, 0.937, True)
        assert "batch_size_per_gpu" not in group
    counts = [len(g["params"]) for g in ours]
    # decay: 2 convs, linear, implicit, scale; no decay: BN, GN weights; biases: BN, conv, GN, linear
    assert counts == [5, 2, 4]
    assert sum(counts) == len(list(model.parameters()))


def test_yolov7_constructor_frees_implicit_layers_from_decay():
    model = TinyYOLO()
    groups = YOLOv7OptimWrapperConstructor({"optimizer": SGD}).param_groups(model)
    assert id(model.implicit.implicit) in _ids(groups[1]["params"])
    assert id(model.implicit.implicit) not in _ids(groups[0]["params"])
    assert [len(g["params"]) for g in groups] == [4, 3, 4]


def test_weight_decay_scales_with_the_total_batch_as_ultralytics_trainer(monkeypatch):
    nbs = 64
    for batch in (1, 8, 16, 24, 32, 48, 64, 100, 128, 256):
        accumulate = max(round(nbs / batch), 1)  # BaseTrainer._setup_train
        assert scaled_weight_decay(0.0005, batch) == pytest.approx(0.0005 * batch * accumulate / nbs)
    assert scaled_weight_decay(0.0005, 16) == 0.0005  # 4 accumulated steps of 16 = 64
    assert scaled_weight_decay(0.0005, 128) == pytest.approx(0.001)
    assert scaled_weight_decay(0.0005, 24) == pytest.approx(0.0005 * 72 / 64)
    # the total counts every process: 8 processes x 16 = 128
    monkeypatch.setattr(dist, "get_world_size", lambda: 8)
    constructor = YOLOv5OptimizerConstructor({"optimizer": {**SGD, "batch_size_per_gpu": 16}})
    assert constructor.weight_decay() == pytest.approx(0.001)
    constructor = YOLOv5OptimizerConstructor({"optimizer": {**SGD, "batch_size_per_gpu": 16}},
                                             paramwise_cfg={"base_total_batch_size": 256})
    assert constructor.weight_decay() == pytest.approx(0.0005)


def test_constructor_through_detengine_build_optim_wrapper():
    OPTIM_WRAPPERS.register_module(module=YOLOv5OptimizerConstructor, force=True)
    wrapper = build_optim_wrapper(TinyYOLO(), {
        "type": "OptimWrapper", "clip_grad": {"max_norm": 10.0},
        "optimizer": {**SGD, "batch_size_per_gpu": 128},
        "constructor": "YOLOv5OptimizerConstructor"})
    assert isinstance(wrapper, OptimWrapper) and isinstance(wrapper.optimizer, torch.optim.SGD)
    assert wrapper.clip_grad["max_norm"] == 10.0
    assert [g["weight_decay"] for g in wrapper.optimizer.param_groups] == [pytest.approx(0.001), 0.0, 0.0]


def test_constructor_errors_name_the_config_key():
    with pytest.raises(ValueError, match="optim_wrapper.optimizer.*missing"):
        YOLOv5OptimizerConstructor({"type": "OptimWrapper"})
    with pytest.raises(ValueError, match=r"knows only \('base_total_batch_size',\), got \['bias_lr_mult'\]"):
        YOLOv5OptimizerConstructor({"optimizer": SGD}, paramwise_cfg={"bias_lr_mult": 2.0})
    with pytest.raises(ValueError, match="batch_size_per_gpu.*must be a positive int, got 0"):
        YOLOv5OptimizerConstructor({"optimizer": {**SGD, "batch_size_per_gpu": 0}})(TinyYOLO())


# ---------------------------------------------------------------------------- lr schedule
class FakeRunner:
    """What the schedule hook reads of a runner, driven by :func:`_run_schedule`."""

    def __init__(self, iters_per_epoch, max_epochs):
        self.model = TinyYOLO()
        self.optim_wrapper = YOLOv5OptimizerConstructor({"optimizer": SGD})(self.model)
        self.train_dataloader = range(iters_per_epoch)
        self.param_schedulers = []
        self.iter = self.epoch = 0
        self.max_epochs = max_epochs
        self.logger = logging.getLogger("test_yolo_engine")


def _run_schedule(hook, runner, epochs):
    """(lr per group, momentum per group) seen by every iteration of ``epochs`` epochs."""
    seen = []
    hook.before_train(runner)
    for _ in range(epochs):
        for batch_idx in range(len(runner.train_dataloader)):
            hook.before_train_iter(runner, batch_idx)
            groups = runner.optim_wrapper.optimizer.param_groups
            seen.append(([g["lr"] for g in groups], [g["momentum"] for g in groups]))
            runner.iter += 1
        hook.after_train_epoch(runner)
        runner.epoch += 1
    return seen


def test_warmup_follows_ultralytics_interpolation_then_mmyolo_epoch_decay():
    iters, epochs, lrf = 4, 5, 0.1
    hook = YOLOv5ParamSchedulerHook(lr_factor=lrf, max_epochs=epochs, warmup_epochs=1,
                                    warmup_mim_iter=3)
    seen = _run_schedule(hook, FakeRunner(iters, epochs), epochs)

    # Ultralytics' trainer: nw = warm-up iterations; for ni <= nw every group's lr goes from 0
    # (the bias group from warmup_bias_lr) to initial_lr * lf(epoch), momentum from
    # warmup_momentum to momentum
    lf = lambda x: max(1 - x / epochs, 0) * (1.0 - lrf) + lrf  # noqa: E731
    nw = max(round(1 * iters), 3)
    for ni in range(nw + 1):
        epoch = ni // iters
        lrs, momentums = seen[ni]
        expected = [np.interp(ni, [0, nw], [0.1 if j == 2 else 0.0, 0.01 * lf(epoch)]) for j in range(3)]
        assert lrs == pytest.approx(expected)
        assert momentums == pytest.approx([np.interp(ni, [0, nw], [0.8, 0.937])] * 3)

    # after the warm-up the lr changes once per epoch, to lf(finished epoch), as MMYOLO
    # (Ultralytics applies lf(e) during epoch e: one epoch earlier)
    per_epoch = [seen[e * iters + iters - 1][0] for e in range(epochs)]
    assert per_epoch[1:] == [pytest.approx([0.01 * lf(e)] * 3) for e in (1, 1, 2, 3)]
    assert lf(1) == pytest.approx(0.82)
    assert seen[-1][1] == pytest.approx([0.937] * 3)


def test_decay_curves_match_ultralytics():
    from ultralytics.utils.torch_utils import one_cycle

    linear, cosine, peer_cosine = linear_decay(0.01, 300), cosine_decay(0.01, 300), one_cycle(1, 0.01, 300)
    for epoch in (0, 1, 77, 150, 299, 300):
        assert linear(epoch) == pytest.approx(max(1 - epoch / 300, 0) * 0.99 + 0.01)
        assert cosine(epoch) == pytest.approx(peer_cosine(epoch))
    assert (linear(0), linear(300), cosine(150)) == pytest.approx((1.0, 0.01, 0.505))


def test_schedule_survives_resuming_from_the_optimizer_state():
    runner = FakeRunner(iters_per_epoch=10, max_epochs=3)
    hook = YOLOv5ParamSchedulerHook(scheduler_type="cosine", max_epochs=3, warmup_mim_iter=5)
    _run_schedule(hook, runner, 1)
    state = runner.optim_wrapper.optimizer.state_dict()
    resumed = FakeRunner(iters_per_epoch=10, max_epochs=3)
    resumed.optim_wrapper.optimizer.load_state_dict(state)
    resumed.iter, resumed.epoch = runner.iter, runner.epoch
    fresh_hook = YOLOv5ParamSchedulerHook(scheduler_type="cosine", max_epochs=3, warmup_mim_iter=5)
    fresh_hook.before_train(resumed)
    assert fresh_hook.base_lrs == [0.01] * 3  # not the lr the warm-up had reached
    assert fresh_hook.base_momentums == [0.937] * 3


def test_schedule_hook_errors():
    with pytest.raises(ValueError, match=r"scheduler_type must be one of \['cosine', 'linear'\], got 'step'"):
        YOLOv5ParamSchedulerHook(scheduler_type="step")
    runner = FakeRunner(4, 3)
    runner.param_schedulers = [object()]
    with pytest.raises(ValueError, match="set param_scheduler=None in the config"):
        YOLOv5ParamSchedulerHook().before_train(runner)


# ---------------------------------------------------------------------------- EMA
def test_exp_momentum_ema_follows_its_formula():
    model = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
    ema = MODELS.build({"type": "ExpMomentumEMA", "model": model, "momentum": 0.0001,
                        "gamma": 2000, "update_buffers": True})
    expected = {k: v.clone().double() for k, v in model.state_dict().items()}
    for step in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
            model(torch.randn(4, 2, 3, 3))  # moves the BN running statistics
        ema.update_parameters(model)
        m = (1 - 0.0001) * math.exp(-(1 + step) / 2000) + 0.0001
        for name, value in model.state_dict().items():
            if step == 0 or not value.dtype.is_floating_point:
                if step == 0:
                    expected[name] = value.clone().double()
                continue
            expected[name] = (1 - m) * expected[name] + m * value.double()
    for name, value in ema.module.state_dict().items():
        assert torch.allclose(value.double(), expected[name], atol=1e-6), name
    assert int(ema.module[1].num_batches_tracked) == 1  # integer buffers: copied once, never averaged


# ---------------------------------------------------------------------------- close mosaic
class _Dataset:
    def __init__(self):
        self.pipeline = "mosaic pipeline"


def _switch_runner(max_epochs, epoch, model=None):
    loader = types.SimpleNamespace(dataset=_Dataset(), persistent_workers=False)
    return types.SimpleNamespace(epoch=epoch, max_epochs=max_epochs, model=model,
                                 train_loop=types.SimpleNamespace(dataloader=loader),
                                 logger=logging.getLogger("test_yolo_engine"))


def test_pipeline_switch_hook_closes_mosaic_for_the_last_epochs():
    TRANSFORMS.register_module(module=YOLOv5HSVRandomAug, force=True)
    hook = HOOKS.build({"type": "PipelineSwitchHook", "switch_epoch": 8,
                        "switch_pipeline": [{"type": "YOLOv5HSVRandomAug"}]})
    assert isinstance(hook, PipelineSwitchHook)
    runner = _switch_runner(max_epochs=10, epoch=7)
    hook.before_train_epoch(runner)
    assert runner.train_loop.dataloader.dataset.pipeline == "mosaic pipeline"
    runner.epoch = 8
    hook.before_train_epoch(runner)
    pipeline = runner.train_loop.dataloader.dataset.pipeline
    assert callable(pipeline) and "YOLOv5HSVRandomAug" in repr(pipeline)


class _Detector(nn.Module):
    def __init__(self, head=True):
        super().__init__()
        if head:
            self.bbox_head = nn.Module()
            self.bbox_head.use_bbox_aux = False


def test_yolox_mode_switch_turns_on_the_l1_loss_and_new_pipeline():
    TRANSFORMS.register_module(module=YOLOv5HSVRandomAug, force=True)
    hook = YOLOXModeSwitchHook(num_last_epochs=2, new_train_pipeline=[{"type": "YOLOv5HSVRandomAug"}])
    model = _Detector()
    runner = _switch_runner(max_epochs=10, epoch=6, model=model)
    hook.before_train_epoch(runner)
    assert model.bbox_head.use_bbox_aux is False
    assert runner.train_loop.dataloader.dataset.pipeline == "mosaic pipeline"
    runner.epoch = 7  # MMYOLO's switch: (epoch + 1) == max_epochs - num_last_epochs
    hook.before_train_epoch(runner)
    assert model.bbox_head.use_bbox_aux is True
    assert "YOLOv5HSVRandomAug" in repr(runner.train_loop.dataloader.dataset.pipeline)

    # resuming at a later epoch switches at once; without a pipeline only the loss changes
    resumed_model = _Detector()
    resumed = _switch_runner(max_epochs=10, epoch=9, model=resumed_model)
    YOLOXModeSwitchHook(num_last_epochs=2).before_train_epoch(resumed)
    assert resumed_model.bbox_head.use_bbox_aux is True
    assert resumed.train_loop.dataloader.dataset.pipeline == "mosaic pipeline"

    with pytest.raises(ValueError, match="has no bbox_head with 'use_bbox_aux'"):
        YOLOXModeSwitchHook(num_last_epochs=2).before_train_epoch(
            _switch_runner(10, 8, model=_Detector(head=False)))
    with pytest.raises(ValueError, match="num_last_epochs must be an int >= 0, got -1"):
        YOLOXModeSwitchHook(num_last_epochs=-1)


# ---------------------------------------------------------------------------- with the Runner
class _Batches(torch.utils.data.Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        return {"inputs": torch.rand(3, 8, 8, generator=generator),
                "data_samples": {"target": torch.rand(2, generator=generator)}}


def test_runner_trains_with_the_yolo_optimizer_schedule_and_ema(tmp_path):
    from detengine.hooks.hook import Hook
    from detengine.runner import Runner

    OPTIM_WRAPPERS.register_module(module=YOLOv5OptimizerConstructor, force=True)
    HOOKS.register_module(module=YOLOv5ParamSchedulerHook, force=True)
    seen = []

    class Record(Hook):
        priority = 10  # right after YOLOv5ParamSchedulerHook (9)

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            seen.append([g["lr"] for g in runner.optim_wrapper.optimizer.param_groups])

    runner = Runner.from_cfg({
        "model": TinyYOLO(), "work_dir": str(tmp_path), "progress": False,
        "train_dataloader": DataLoader(_Batches(), batch_size=4),
        "train_cfg": {"type": "EpochBasedTrainLoop", "max_epochs": 4},
        "optim_wrapper": {"type": "OptimWrapper", "optimizer": {**SGD, "batch_size_per_gpu": 4},
                          "constructor": "YOLOv5OptimizerConstructor"},
        "param_scheduler": None,
        "default_hooks": {"checkpoint": None, "visualization": None,
                          "param_scheduler": {"type": "YOLOv5ParamSchedulerHook", "max_epochs": 4,
                                              "warmup_epochs": 1, "warmup_mim_iter": 2}},
        "custom_hooks": [{"type": "EMAHook", "ema_type": "ExpMomentumEMA", "momentum": 0.0001,
                          "update_buffers": True, "priority": 49}, Record()],
        "randomness": {"seed": 0}})
    runner.train()
    lf = linear_decay(0.01, 4)
    warmup = [[np.interp(i, [0, 3], [0.1 if j == 2 else 0.0, 0.01]) for j in range(3)] for i in range(3)]
    # epoch 1 starts at the warm-up's last iteration (3), aiming at lf(1); the lr then changes
    # after each epoch: lf(1) for epoch 2, lf(2) for epoch 3
    expected = warmup + [[0.01 * lf(1)] * 3] * 6 + [[0.01 * lf(2)] * 3] * 3
    assert len(seen) == 12
    for got, want in zip(seen, expected):
        assert got == pytest.approx(want)
