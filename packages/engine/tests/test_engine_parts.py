"""Smaller parts: collate functions, loss parsing, hook priorities, the pipeline switch,
the registrations of the plugin."""

import engine_toys
import pytest
import torch

from detcore.registry import DATASETS, HOOKS, LOOPS, OPTIM_WRAPPERS, PARAM_SCHEDULERS, TRANSFORMS
from detengine import plugin
from detengine.collate import default_collate, pseudo_collate, resolve_collate_fn
from detengine.hooks.hook import HOOK_POINTS, Hook
from detengine.model_steps import parse_losses
from detengine.priority import Priority, get_priority
from detengine.runner import Runner


def test_pseudo_collate_keeps_lists_and_default_collate_stacks():
    batch = [{"inputs": torch.ones(3, 2, 2), "meta": {"id": 1}},
             {"inputs": torch.zeros(3, 4, 4), "meta": {"id": 2}}]
    collated = pseudo_collate(batch)
    assert [t.shape for t in collated["inputs"]] == [(3, 2, 2), (3, 4, 4)]
    assert collated["meta"] == {"id": [1, 2]}
    stacked = default_collate([{"x": torch.ones(2), "n": 1}, {"x": torch.zeros(2), "n": 2}])
    assert torch.equal(stacked["x"], torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert torch.equal(stacked["n"], torch.tensor([1, 2]))
    assert resolve_collate_fn({"type": "default_collate"}) is default_collate
    assert resolve_collate_fn(None) is pseudo_collate
    with pytest.raises(KeyError, match="FUNCTIONS has no component named 'stack'"):
        resolve_collate_fn({"type": "stack"})


def test_parse_losses_sums_only_loss_terms():
    loss, log_vars = parse_losses({"loss_cls": torch.tensor([1.0, 3.0]),
                                   "loss_bbox": [torch.tensor(1.0), torch.tensor([2.0, 4.0])],
                                   "acc": torch.tensor(0.5)})
    assert float(loss) == 2.0 + 1.0 + 3.0
    assert list(log_vars) == ["loss", "loss_cls", "loss_bbox", "acc"]
    assert float(log_vars["acc"]) == 0.5
    with pytest.raises(ValueError, match=r"no term whose name contains 'loss' \(got \['acc'\]\)"):
        parse_losses({"acc": torch.tensor(1.0)})
    with pytest.raises(TypeError, match="loss term 'loss_x' must be a tensor or a list of tensors"):
        parse_losses({"loss_x": 1.0})


def test_hooks_run_in_priority_order_stably(tmp_path):
    calls = []

    def make(name, priority):
        class Recorder(Hook):
            def before_run(self, runner):
                calls.append(name)

        hook = Recorder()
        hook.priority = priority
        return hook

    runner = Runner.from_cfg(engine_toys.runner_cfg(tmp_path))
    for name, priority in [("low", "LOW"), ("normal_a", 50), ("highest", "HIGHEST"),
                           ("normal_b", Priority.NORMAL)]:
        runner.register_hook(make(name, priority))
    runner.call_hook("before_run")
    assert [c for c in calls] == ["highest", "normal_a", "normal_b", "low"]
    assert get_priority("very_low") == 90
    with pytest.raises(ValueError, match="unknown hook priority 'urgent'"):
        get_priority("urgent")


def test_hook_base_has_the_22_points():
    assert len(HOOK_POINTS) == 22


def test_pipeline_switch_takes_effect_at_the_epoch(tmp_path):
    DATASETS.register_module(module=engine_toys.EngineToyPipelineDataset, force=True)
    TRANSFORMS.register_module(module=engine_toys.EngineToyZeroInputs, force=True)
    sums = {}

    class Watch(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            sums.setdefault(runner.epoch, 0.0)
            sums[runner.epoch] += float(data_batch["inputs"].abs().sum())

    loader = engine_toys.dataloader_cfg()
    loader["dataset"]["type"] = "EngineToyPipelineDataset"
    cfg = engine_toys.runner_cfg(tmp_path, max_epochs=3, train_dataloader=loader, custom_hooks=[
        {"type": "PipelineSwitchHook", "switch_epoch": 2,
         "switch_pipeline": [{"type": "EngineToyZeroInputs"}]}, Watch()])
    Runner.from_cfg(cfg).train()
    assert sums[0] > 0 and sums[1] > 0 and sums[2] == 0.0


def test_every_registered_name_imports():
    expected = {LOOPS: plugin.LOOPS, HOOKS: plugin.HOOKS, OPTIM_WRAPPERS: plugin.OPTIM_WRAPPERS,
                PARAM_SCHEDULERS: plugin.PARAM_SCHEDULERS}
    for registry, names in expected.items():
        for name in names:
            component = registry.get(name)
            assert component.__name__ == name, (registry, name)
