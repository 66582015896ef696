"""The Runner end to end on a toy regression: training, resuming, loading, hooks, errors."""

import json

import engine_toys
import pytest
import torch

from detengine.checkpoint import load_checkpoint
from detengine.config_errors import ConfigKeyError
from detengine.hooks.check_invalid_loss_hook import InvalidLossError
from detengine.hooks.hook import Hook
from detengine.priority import Priority
from detengine.runner import Runner


class Killed(Exception):
    pass


class KillAfterEpoch(Hook):
    """Simulates the process dying right after the checkpoint of epoch ``epoch``."""

    priority = Priority.LOWEST

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise Killed


class RecordLr(Hook):
    priority = Priority.NORMAL

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.param_groups[0]["lr"])


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_killed_and_resumed_run_ends_bitwise_equal_to_uninterrupted(tmp_path):
    full = _train(engine_toys.runner_cfg(tmp_path / "full", max_epochs=4))

    killed_dir = tmp_path / "killed"
    with pytest.raises(Killed):
        _train(engine_toys.runner_cfg(killed_dir, max_epochs=4,
                                      custom_hooks=[KillAfterEpoch(2)]))
    assert (killed_dir / "epoch_2.pth").is_file() and not (killed_dir / "epoch_3.pth").exists()
    resumed = _train(engine_toys.runner_cfg(killed_dir, max_epochs=4, resume=True))

    assert resumed.epoch == full.epoch == 4 and resumed.iter == full.iter == 24
    expected, got = full.model.state_dict(), resumed.model.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:  # weights and BatchNorm statistics, bit for bit
        assert torch.equal(expected[key], got[key]), key
    assert full.optim_wrapper.param_groups[0]["lr"] == resumed.optim_wrapper.param_groups[0]["lr"]


def test_resume_with_ema_and_iter_based_loop_is_exact(tmp_path):
    def cfg(work_dir, **extra):
        return engine_toys.runner_cfg(
            work_dir, train_cfg={"type": "IterBasedTrainLoop", "max_iters": 14, "val_interval": 5},
            param_scheduler=[{"type": "CosineAnnealingLR", "by_epoch": False, "T_max": 14}],
            default_hooks={"checkpoint": {"type": "CheckpointHook", "interval": 5, "by_epoch": False},
                           "logger": {"type": "LoggerHook", "interval": 5}},
            **extra)

    ema = {"type": "EMAHook", "ema_type": "ExpMomentumEMA", "momentum": 0.01, "gamma": 10}
    full = _train(cfg(tmp_path / "full", custom_hooks=[dict(ema)]))

    class KillAtIter(Hook):
        priority = Priority.LOWEST

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == 10:
                raise Killed

    with pytest.raises(Killed):
        _train(cfg(tmp_path / "killed", custom_hooks=[dict(ema), KillAtIter()]))
    resumed = _train(cfg(tmp_path / "killed", custom_hooks=[dict(ema)], resume=True))
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    full_ema = [h for h in full.hooks if type(h).__name__ == "EMAHook"][0].ema_model
    resumed_ema = [h for h in resumed.hooks if type(h).__name__ == "EMAHook"][0].ema_model
    for key, value in full_ema.state_dict().items():
        assert torch.equal(value, resumed_ema.state_dict()[key]), key


def test_checkpoint_holds_everything_needed_and_loads_weights_only(tmp_path):
    runner = _train(engine_toys.runner_cfg(tmp_path, max_epochs=2))
    checkpoint = load_checkpoint(tmp_path / "epoch_2.pth")  # weights_only=True
    assert {"meta", "state_dict", "optimizer", "param_schedulers", "rng"} <= set(checkpoint)
    assert checkpoint["meta"]["epoch"] == 2 and checkpoint["meta"]["iter"] == 12
    assert checkpoint["meta"]["seed"] == 7
    assert "EngineToyRegressor" in checkpoint["meta"]["cfg"]  # the resolved config travels along
    assert len(checkpoint["param_schedulers"]) == 2
    assert (tmp_path / "last_checkpoint").read_text().strip() == str(tmp_path / "epoch_2.pth")
    for key, value in runner.model.state_dict().items():
        assert torch.equal(checkpoint["state_dict"][key], value)


def test_schedule_seen_by_training_matches_hand_computed_warmup_and_step(tmp_path):
    recorder = RecordLr()
    _train(engine_toys.runner_cfg(tmp_path, max_epochs=4, custom_hooks=[recorder]))
    # LinearLR over iterations 0..4 (factor 0.1 -> 1), MultiStepLR x0.1 from epoch 3 on
    warm = [0.05 * (0.1 + 0.9 * i / 4) for i in range(5)]
    expected = warm + [0.05] * 13 + [0.005] * 6
    assert recorder.lrs == pytest.approx(expected, rel=1e-12)


def test_validation_interval_begin_and_dynamic_intervals(tmp_path):
    cfg = engine_toys.runner_cfg(
        tmp_path, max_epochs=7,
        train_cfg={"type": "EpochBasedTrainLoop", "max_epochs": 7, "val_interval": 3,
                   "val_begin": 2, "dynamic_intervals": [(5, 1)]},
        default_hooks={"checkpoint": None})
    runner = _train(cfg)
    records = [json.loads(line) for line in runner.json_log_file.read_text().splitlines()]
    val_epochs = [r["epoch"] for r in records if r["mode"] == "val"]
    # every 3rd epoch from epoch 2 on (3), then every epoch once epoch + 1 >= 5 (4, 5, 6), and the last
    assert val_epochs == [3, 4, 5, 6, 7]


def test_max_keep_ckpts_and_save_best(tmp_path):
    cfg = engine_toys.runner_cfg(tmp_path, max_epochs=4, default_hooks={"checkpoint": {
        "type": "CheckpointHook", "interval": 1, "max_keep_ckpts": 2, "save_best": "toy/mse",
        "rule": "less"}})
    runner = _train(cfg)
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == ["epoch_3.pth", "epoch_4.pth"]
    best = list(tmp_path.glob("best_*.pth"))
    assert len(best) == 1
    records = [json.loads(line) for line in runner.json_log_file.read_text().splitlines()]
    mses = {r["epoch"]: r["toy/mse"] for r in records if r["mode"] == "val"}
    best_epoch = min(mses, key=mses.get)
    assert best[0].name == f"best_toy_mse_epoch_{best_epoch}.pth"
    assert load_checkpoint(best[0])["meta"]["epoch"] == best_epoch


def test_save_best_without_a_rule_for_an_unknown_key_fails_at_build():
    from detengine.hooks.checkpoint_hook import CheckpointHook

    with pytest.raises(ValueError, match="cannot tell whether a larger 'toy/mse' is better; "
                                         "set rule='greater' or rule='less'"):
        CheckpointHook(save_best="toy/mse")
    assert CheckpointHook(save_best="coco/bbox_mAP").rules == ["greater"]
    assert CheckpointHook(save_best="val/loss").rules == ["less"]


def test_invalid_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    class PoisonAfterEpoch(Hook):
        """Makes the weights NaN during epoch 3, as a diverging run would."""

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.epoch == 2 and batch_idx == 2:
                with torch.no_grad():
                    runner.model.fc.weight.fill_(float("nan"))

    cfg = engine_toys.runner_cfg(tmp_path, max_epochs=4, custom_hooks=[
        PoisonAfterEpoch(), {"type": "CheckInvalidLossHook"}])
    with pytest.raises(InvalidLossError) as err:
        _train(cfg)
    message = str(err.value)
    assert "loss became invalid at epoch 3, iteration 15" in message
    assert "loss=nan" in message and "loss_mse=nan" in message
    assert f"the last good checkpoint is {tmp_path / 'epoch_2.pth'}" in message
    good = load_checkpoint(tmp_path / "epoch_2.pth")
    assert all(torch.isfinite(v).all() for v in good["state_dict"].values() if v.is_floating_point())
    assert not (tmp_path / "epoch_3.pth").exists()


def test_early_stopping_ends_training(tmp_path):
    cfg = engine_toys.runner_cfg(tmp_path, max_epochs=10, optim_wrapper={
        "optimizer": {"type": "SGD", "lr": 0.0}}, custom_hooks=[
        {"type": "EarlyStoppingHook", "monitor": "toy/score", "rule": "greater", "patience": 2,
         "min_delta": 0.0}])
    runner = _train(cfg)
    # lr 0: the score never improves after the first validation -> stop after 1 + 2 epochs
    assert runner.epoch == 3


def test_load_from_loads_weights_only_and_reports_mismatches(tmp_path):
    source = _train(engine_toys.runner_cfg(tmp_path / "a", max_epochs=1))
    cfg = engine_toys.runner_cfg(tmp_path / "b", model={"type": "EngineToyRegressor", "with_bn": False},
                                 load_from=str(tmp_path / "a" / "epoch_1.pth"))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert torch.equal(runner.model.fc.weight, source.model.fc.weight)
    assert metrics["toy/count"] == 8
    log = runner.log_file.read_text()
    assert "unexpected in the checkpoint (ignored): 5: norm.weight, norm.bias, norm.running_mean" in log


def test_stage_needs_all_three_keys():
    cfg = engine_toys.runner_cfg("unused")
    del cfg["val_evaluator"]
    with pytest.raises(ConfigKeyError, match="config key 'val_evaluator': the val stage needs "
                                             "val_dataloader, val_cfg, val_evaluator together"):
        Runner.from_cfg(cfg)


def test_legacy_mmdet2_key_is_rejected_with_the_replacement():
    cfg = engine_toys.runner_cfg("unused", optimizer={"type": "SGD", "lr": 0.02})
    with pytest.raises(ConfigKeyError, match=r"config key 'optimizer': is an MMDetection 2.x key.*"
                                             r"optim_wrapper=dict\(optimizer=...\)"):
        Runner.from_cfg(cfg)


def test_bad_component_names_its_config_key(tmp_path):
    cfg = engine_toys.runner_cfg(tmp_path, train_dataloader=dict(
        engine_toys.dataloader_cfg(), sampler={"type": "NoSuchSampler"}))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(KeyError) as err:
        runner.train()
    assert "DATA_SAMPLERS has no component named 'NoSuchSampler'" in str(err.value)
    assert "while building config key 'train_dataloader.sampler'" in err.value.__notes__


def test_auto_scale_lr_scales_by_total_batch_size(tmp_path):
    cfg = engine_toys.runner_cfg(tmp_path, max_epochs=1, param_scheduler=None,
                                 auto_scale_lr={"enable": True, "base_batch_size": 16})
    runner = _train(cfg)  # batch 4 on 1 process: lr x 4/16
    assert runner.optim_wrapper.param_groups[0]["lr"] == pytest.approx(0.05 * 0.25)
    assert "auto_scale_lr: total batch size 4 vs base 16: lr scaled by 0.25" in runner.log_file.read_text()
