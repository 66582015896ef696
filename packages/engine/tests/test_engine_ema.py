"""Averaged models against hand computations, and EMAHook's swaps around evaluation."""

import math

import engine_toys
import pytest
import torch
from torch import nn

from detcore.registry import MODELS
from detengine.hooks.ema_hook import EMAHook
from detengine.runner import Runner


def _scalar_model(value):
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(value)
    return model


def _run(ema, model, values):
    """Set the source weight to each value in turn and update the average after each."""
    seen = []
    for value in values:
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update_parameters(model)
        seen.append(float(ema.module.weight))
    return seen


def test_exponential_moving_average_by_hand():
    model = _scalar_model(0.0)
    ema = MODELS.build({"type": "ExponentialMovingAverage", "model": model, "momentum": 0.1})
    seen = _run(ema, model, [1.0, 2.0, 3.0, 4.0])
    # first update copies; then avg = 0.9 avg + 0.1 src
    expected = [1.0]
    for value in (2.0, 3.0, 4.0):
        expected.append(0.9 * expected[-1] + 0.1 * value)
    assert seen == pytest.approx(expected, rel=1e-6)
    assert int(ema.steps) == 4


def test_exp_momentum_ema_by_hand():
    model = _scalar_model(0.0)
    ema = MODELS.build({"type": "ExpMomentumEMA", "model": model, "momentum": 0.0002, "gamma": 3})
    seen = _run(ema, model, [1.0, 5.0, -2.0])
    m1 = 0.9998 * math.exp(-2 / 3) + 0.0002  # steps = 1
    m2 = 0.9998 * math.exp(-3 / 3) + 0.0002  # steps = 2
    after_1 = (1 - m1) * 1.0 + m1 * 5.0
    assert seen == pytest.approx([1.0, after_1, (1 - m2) * after_1 + m2 * -2.0], rel=1e-6)


@pytest.mark.parametrize("kind, extra, momentum_of_step", [
    ("MomentumAnnealingEMA", {"gamma": 4}, lambda steps: max(0.1, 4 / (4 + steps))),
    ("LinearMomentumEMA", {"warm_up": 5}, lambda steps: min(0.1, (1 + steps) / (5 + steps))),
])
def test_linear_variants_by_hand(kind, extra, momentum_of_step):
    model = _scalar_model(0.0)
    ema = MODELS.build({"type": kind, "model": model, "momentum": 0.1, **extra})
    values = [2.0, 4.0, 8.0, 1.0, 3.0]
    expected = [values[0]]
    for steps, value in enumerate(values[1:], start=1):
        m = momentum_of_step(steps)
        expected.append((1 - m) * expected[-1] + m * value)
    assert _run(ema, model, values) == pytest.approx(expected, rel=1e-6)


def test_interval_skips_updates_and_buffers_follow_the_source():
    model = nn.BatchNorm1d(1)
    ema = MODELS.build({"type": "ExponentialMovingAverage", "model": model, "momentum": 0.5,
                        "interval": 2})
    for value in (1.0, 3.0, 5.0):  # steps 0 (copy), 1 (skipped), 2 (averaged)
        with torch.no_grad():
            model.weight.fill_(value)
            model.running_mean.fill_(value * 10)
        ema.update_parameters(model)
    assert float(ema.module.weight) == pytest.approx(0.5 * 1.0 + 0.5 * 5.0)
    assert float(ema.module.running_mean) == 50.0  # copied, not averaged


def test_ema_hook_evaluates_with_the_average_and_restores_training_weights(tmp_path):
    from detengine.hooks.hook import Hook

    cfg = engine_toys.runner_cfg(tmp_path, max_epochs=2, custom_hooks=[
        {"type": "EMAHook", "momentum": 0.5, "priority": 49}])
    runner = Runner.from_cfg(cfg)
    ema_hook = next(h for h in runner.hooks if isinstance(h, EMAHook))
    seen = []

    class Before(Hook):
        priority = "HIGHEST"  # before the EMA swap

        def before_val_epoch(self, runner):
            seen.append({"training": runner.model.fc.weight.detach().clone()})

    class Spy(Hook):
        def before_val_iter(self, runner, batch_idx, data_batch=None):
            seen[-1]["evaluated"] = runner.model.fc.weight.detach().clone()

    class After(Hook):
        priority = "LOWEST"  # after the swap back

        def after_val_epoch(self, runner, metrics=None):
            seen[-1]["average"] = ema_hook.ema_model.module.fc.weight.detach().clone()
            seen[-1]["restored"] = runner.model.fc.weight.detach().clone()

    for hook in (Before(), Spy(), After()):
        runner.register_hook(hook)
    runner.train()
    assert len(seen) == 2
    for record in seen:
        assert torch.equal(record["evaluated"], record["average"])
        assert torch.equal(record["restored"], record["training"])
        assert not torch.equal(record["average"], record["training"])
    checkpoint = torch.load(tmp_path / "epoch_2.pth", weights_only=True)
    # the checkpoint's state_dict holds the average (what inference loads), ema_state_dict the rest
    assert torch.equal(checkpoint["state_dict"]["fc.weight"], seen[-1]["average"])
    assert torch.equal(checkpoint["ema_state_dict"]["module.fc.weight"], seen[-1]["training"])
