"""Parameter schedulers against torch.optim.lr_scheduler and hand-computed values."""

import math

import pytest
import torch
from torch.optim import lr_scheduler as torch_schedulers

from detcore.registry import PARAM_SCHEDULERS
from detengine.optim.optim_wrapper import OptimWrapper
from detengine.optim.schedulers import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    PolyLR,
    QuadraticWarmupLR,
)

BASE_LR = 0.1


def _optimizer(kind=torch.optim.SGD, **kwargs):
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))]
    groups = [{"params": [params[0]]}, {"params": [params[1]], "lr": BASE_LR * 2}]
    return kind(groups, lr=BASE_LR, **kwargs)


def _trace(optimizer, scheduler, steps):
    """lr of both groups before each of ``steps`` steps (scheduler stepped after each), flat."""
    values = []
    for _ in range(steps):
        values += [g["lr"] for g in optimizer.param_groups]
        optimizer.step()
        scheduler.step()
    return values


@pytest.mark.parametrize("ours, theirs, steps", [
    (lambda o: LinearLR(o, start_factor=0.25, end=6),
     lambda o: torch_schedulers.LinearLR(o, start_factor=0.25, total_iters=5), 10),
    (lambda o: MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5),
     lambda o: torch_schedulers.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5), 9),
    (lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.001),
     lambda o: torch_schedulers.CosineAnnealingLR(o, T_max=7, eta_min=0.001), 20),
    (lambda o: PolyLR(o, power=2.0, end=9),
     lambda o: torch_schedulers.PolynomialLR(o, total_iters=8, power=2.0), 12),
    (lambda o: ExponentialLR(o, gamma=0.9),
     lambda o: torch_schedulers.ExponentialLR(o, gamma=0.9), 8),
    (lambda o: OneCycleLR(o, eta_max=[1.0, 2.0], total_steps=20, pct_start=0.25),
     lambda o: torch_schedulers.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=20, pct_start=0.25,
                                           cycle_momentum=False), 20),
    (lambda o: OneCycleLR(o, eta_max=1.0, total_steps=20, three_phase=True, anneal_strategy="linear"),
     lambda o: torch_schedulers.OneCycleLR(o, max_lr=1.0, total_steps=20, three_phase=True,
                                           anneal_strategy="linear", cycle_momentum=False), 20),
], ids=["LinearLR", "MultiStepLR", "CosineAnnealingLR", "PolyLR", "ExponentialLR", "OneCycleLR",
        "OneCycleLR-three-phase"])
def test_lr_schedulers_match_torch(ours, theirs, steps):
    mine, reference = _optimizer(), _optimizer()
    expected = _trace(reference, theirs(reference), steps)
    got = _trace(mine, ours(mine), steps)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mmdet_1x_schedule_warmup_by_iter_then_steps_by_epoch():
    """The seed's 1x schedule: LinearLR(start_factor=0.001, by_epoch=False, end=500) and
    MultiStepLR(by_epoch=True, milestones=[8, 11], gamma=0.1, end=12), lr 0.02."""
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=0.02, momentum=0.9))
    warmup = PARAM_SCHEDULERS.build({"type": "LinearLR", "optimizer": wrapper, "start_factor": 0.001,
                                     "by_epoch": False, "begin": 0, "end": 500})
    steps = PARAM_SCHEDULERS.build({"type": "MultiStepLR", "optimizer": wrapper, "by_epoch": True,
                                    "begin": 0, "end": 12, "milestones": [8, 11], "gamma": 0.1})
    epoch_length = 300
    seen = {}
    for epoch in range(12):
        for it in range(epoch_length):
            seen[epoch * epoch_length + it] = wrapper.param_groups[0]["lr"]
            wrapper.optimizer.step()
            warmup.step()
        steps.step()

    def warm(i):
        return 0.02 * (0.001 + 0.999 * i / 499)

    for i in (0, 1, 250, 498):
        assert seen[i] == pytest.approx(warm(i), rel=1e-9)
    assert seen[499] == pytest.approx(0.02, rel=1e-9)
    assert seen[7 * epoch_length + 5] == pytest.approx(0.02, rel=1e-9)
    assert seen[8 * epoch_length] == pytest.approx(0.002, rel=1e-9)
    assert seen[11 * epoch_length] == pytest.approx(0.0002, rel=1e-9)


def test_quadratic_warmup_is_quadratic():
    optimizer = _optimizer()
    values = _trace(optimizer, QuadraticWarmupLR(optimizer, end=5), 7)
    expected = [BASE_LR * ((t + 1) / 5) ** 2 for t in range(5)] + [BASE_LR] * 2
    assert values[0::2] == pytest.approx(expected, rel=1e-12)
    assert values[1::2] == pytest.approx([2 * e for e in expected], rel=1e-12)


def test_begin_offsets_the_schedule_and_milestones_count_from_begin():
    optimizer = _optimizer()
    values = _trace(optimizer, MultiStepLR(optimizer, milestones=[2], begin=3), 8)[0::2]
    assert values == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_convert_to_iter_based_scales_epochs():
    optimizer = _optimizer()
    scheduler = MultiStepLR.build_iter_from_epoch(optimizer, milestones=[2], epoch_length=5, end=4)
    assert (scheduler.by_epoch, scheduler.end, dict(scheduler.milestones)) == (False, 20, {10: 1})
    cosine = CosineAnnealingLR.build_iter_from_epoch(optimizer, T_max=3, epoch_length=4, begin=1, end=4)
    assert (cosine.T_max, cosine.begin, cosine.end) == (12, 4, 16)


def test_momentum_schedule_drives_adam_betas():
    optimizer = _optimizer(torch.optim.Adam, betas=(0.9, 0.999))
    scheduler = PARAM_SCHEDULERS.build({"type": "CosineAnnealingMomentum", "optimizer": optimizer,
                                        "T_max": 4, "eta_min": 0.5})
    seen = []
    for _ in range(5):
        seen.append(optimizer.param_groups[0]["betas"])
        optimizer.step()
        scheduler.step()
    expected = [0.5 + 0.4 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert [b[0] for b in seen] == pytest.approx(expected, rel=1e-12)
    assert all(b[1] == 0.999 for b in seen)


def test_state_dict_round_trip_continues_the_schedule():
    first = _optimizer()
    scheduler = CosineAnnealingLR(first, T_max=10)
    _trace(first, scheduler, 4)
    state, group_state = scheduler.state_dict(), first.state_dict()
    expected = _trace(first, scheduler, 4)

    second = _optimizer()
    resumed = CosineAnnealingLR(second, T_max=10)
    second.load_state_dict(group_state)
    resumed.load_state_dict(state)
    assert _trace(second, resumed, 4) == pytest.approx(expected, rel=1e-12)


def test_bad_arguments_give_clear_errors():
    optimizer = _optimizer()
    with pytest.raises(ValueError, match=r"LinearLR: end \(3\) must be larger than begin \(5\)"):
        LinearLR(optimizer, begin=5, end=3)
    with pytest.raises(ValueError, match="param group 0 of the optimizer has no 'momentum'"):
        PARAM_SCHEDULERS.build({"type": "LinearMomentum", "optimizer": torch.optim.Adagrad(
            [torch.nn.Parameter(torch.zeros(1))], lr=0.1)})
    with pytest.raises(ValueError, match="QuadraticWarmupLR: 'end' must be set"):
        QuadraticWarmupLR(optimizer)
