"""Optimizer wrappers and the paramwise constructor."""

import inspect

import pytest
import torch
from torch import nn

from detcore.registry import OPTIMIZERS
from detengine.config_errors import ConfigKeyError
from detengine.optim.amp_optim_wrapper import AmpOptimWrapper
from detengine.optim.constructor import DefaultOptimWrapperConstructor, build_optim_wrapper
from detengine.optim.optim_wrapper import OptimWrapper
from detengine.optim.optimizers import TORCH_OPTIMIZERS


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.backbone_dw = nn.Conv2d(4, 4, 3, groups=4)
        self.neck = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(4, 2)
        self.head_scale = nn.Parameter(torch.ones(1))


def _settings(wrapper, model):
    """{param name: (lr, weight_decay)} read back from the optimizer's param groups."""
    by_id = {id(p): (g["lr"], g["weight_decay"]) for g in wrapper.param_groups for p in g["params"]}
    return {name: by_id[id(p)] for name, p in model.named_parameters()}


def test_every_torch_optimizer_is_registered_by_name():
    installed = {name for name, cls in vars(torch.optim).items()
                 if inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)
                 and cls is not torch.optim.Optimizer}
    assert set(TORCH_OPTIMIZERS) == installed
    assert OPTIMIZERS.get("AdamW") is torch.optim.AdamW


def test_paramwise_rules_set_lr_and_weight_decay_per_parameter():
    model = Net()
    wrapper = build_optim_wrapper(model, {
        "optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4},
        "paramwise_cfg": {"bias_lr_mult": 2.0, "bias_decay_mult": 0.5, "norm_decay_mult": 0.0,
                          "dwconv_decay_mult": 0.1, "flat_decay_mult": 0.3,
                          "custom_keys": {"head": {"lr_mult": 0.1, "decay_mult": 2.0},
                                          "head_scale": {"lr_mult": 5.0}}}})
    got = _settings(wrapper, model)
    assert got["backbone.0.weight"] == pytest.approx((0.01, 1e-4))
    assert got["backbone.0.bias"] == pytest.approx((0.02, 0.5e-4))  # bias: lr x2, decay x0.5
    assert got["backbone.1.weight"] == pytest.approx((0.01, 0.0))  # norm: no decay, lr unchanged
    assert got["backbone.1.bias"] == pytest.approx((0.01, 0.0))  # norm bias: not a plain bias
    assert got["backbone_dw.weight"] == pytest.approx((0.01, 1e-5))  # depth-wise conv
    assert got["neck.weight"] == pytest.approx((0.01, 1e-4))
    assert got["head.weight"] == pytest.approx((0.001, 2e-4))  # custom key wins over every rule
    assert got["head.bias"] == pytest.approx((0.001, 2e-4))
    assert got["head_scale"] == pytest.approx((0.05, 1e-4))  # the longest matching key wins
    # parameters with the same settings share one group
    assert len(wrapper.param_groups) == len(set(got.values()))


def test_no_paramwise_cfg_gives_one_group():
    model = Net()
    wrapper = build_optim_wrapper(model, {"optimizer": {"type": "AdamW", "lr": 1e-3}})
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    assert len(wrapper.param_groups) == 1


def test_unknown_paramwise_option_names_the_key():
    with pytest.raises(ConfigKeyError, match=r"config key 'optim_wrapper.paramwise_cfg': unknown "
                                             r"option\(s\) \['bias_lr_mul'\]"):
        DefaultOptimWrapperConstructor({"optimizer": {"type": "SGD", "lr": 0.1}},
                                       {"bias_lr_mul": 2.0})
    with pytest.raises(ConfigKeyError, match="config key 'optim_wrapper.optimizer': missing"):
        build_optim_wrapper(Net(), {"type": "OptimWrapper"})


def _regression_batch(seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(8, 3, generator=generator), torch.randn(8, generator=generator)


def test_gradient_accumulation_equals_one_large_batch():
    torch.manual_seed(0)
    big, small = nn.Linear(3, 1), nn.Linear(3, 1)
    small.load_state_dict(big.state_dict())
    big_wrapper = OptimWrapper(torch.optim.SGD(big.parameters(), lr=0.1, momentum=0.9))
    small_wrapper = OptimWrapper(torch.optim.SGD(small.parameters(), lr=0.1, momentum=0.9),
                                 accumulative_counts=2)
    small_wrapper.initialize_count_status(small, 0, 6)
    for step in range(3):
        x, y = _regression_batch(step)
        big_wrapper.update_params(((big(x).squeeze(1) - y) ** 2).mean())
        for half in (slice(0, 4), slice(4, 8)):
            small_wrapper.update_params(((small(x[half]).squeeze(1) - y[half]) ** 2).mean())
    for a, b in zip(big.parameters(), small.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_accumulation_divides_the_last_short_group_by_its_size():
    model = nn.Linear(1, 1, bias=False)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0), accumulative_counts=4)
    wrapper.initialize_count_status(model, 0, 6)  # groups of 4 and 2
    factors = []
    for _ in range(6):
        factors.append(float(wrapper.scale_loss(torch.tensor(1.0))))
        wrapper.backward(torch.zeros((), requires_grad=True))
    assert factors == [0.25] * 4 + [0.5] * 2


def test_norm_clipping_matches_torch_and_is_logged():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    reference = nn.Linear(5, 3)
    reference.load_state_dict(model.state_dict())
    x = torch.randn(4, 5) * 100
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                           clip_grad={"max_norm": 1.0, "norm_type": 2})
    wrapper.update_params(model(x).pow(2).mean())
    reference(x).pow(2).mean().backward()
    expected_norm = nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
    torch.optim.SGD(reference.parameters(), lr=0.1).step()
    assert float(wrapper.last_grad_norm) == pytest.approx(float(expected_norm))
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)


def test_clip_grad_needs_its_threshold():
    with pytest.raises(ValueError, match="clip_grad of type 'value' needs 'clip_value'"):
        OptimWrapper(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1),
                     clip_grad={"type": "value", "max_norm": 1})


def test_amp_on_cpu_runs_the_forward_in_bfloat16_without_a_scaler():
    model = nn.Linear(4, 2)
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert wrapper.cast_dtype == torch.bfloat16 and wrapper.loss_scaler is None
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight) and model.weight.dtype == torch.float32
    with pytest.raises(ValueError, match="optim_wrapper.dtype must be one of"):
        AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dtype="int8")
