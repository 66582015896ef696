"""`detcore run`, `test` and `analyze logs` end to end on a toy config."""

import json
import pprint
import subprocess
import sys

import engine_toys
import pytest
import torch

from detcore.cli import main


def _write_config(path, work_dir, **overrides):
    cfg = engine_toys.runner_cfg(work_dir, max_epochs=2, **overrides)
    path.write_text("\n".join(f"{key} = {pprint.pformat(value)}" for key, value in cfg.items()))
    return path


def test_run_trains_evaluates_and_writes_metrics_log_and_curves(tmp_path):
    config = _write_config(tmp_path / "toy_config.py", "ignored")
    work_dir = tmp_path / "work"
    assert main(["run", str(config), "--work-dir", str(work_dir),
                 "--cfg-options", "train_dataloader.batch_size=6"]) == 0

    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["epoch"] == 2 and metrics["iter"] == 8  # 24 samples / 6 per batch * 2 epochs
    assert metrics["toy/count"] == 8 and metrics["toy/mse"] >= 0
    logs = list(work_dir.glob("*.log.json"))
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert [r["mode"] for r in records if r["mode"] != "train"] == ["val", "val", "test"]
    assert records[-1]["toy/mse"] == pytest.approx(metrics["toy/mse"])
    curves = list(work_dir.glob("*_curves.png"))
    assert curves and curves[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (work_dir / "toy_config.py").is_file()  # the resolved config is kept with the run
    assert (work_dir / "epoch_2.pth").is_file()


def test_test_command_evaluates_a_checkpoint_and_dumps_predictions(tmp_path):
    config = _write_config(tmp_path / "toy_config.py", str(tmp_path / "train"))
    assert main(["run", str(config), "--no-eval"]) == 0
    out = tmp_path / "preds.json"
    assert main(["test", str(config), str(tmp_path / "train" / "epoch_2.pth"),
                 "--work-dir", str(tmp_path / "test"), "--out", str(out)]) == 0
    metrics = json.loads((tmp_path / "test" / "metrics.json").read_text())
    assert metrics["toy/count"] == 8
    assert (metrics["epoch"], metrics["iter"]) == (2, 12)  # those of the evaluated checkpoint
    assert metrics["checkpoint"] == str(tmp_path / "train" / "epoch_2.pth")
    assert len(json.loads(out.read_text())) == 8


def test_test_command_reports_a_missing_checkpoint(tmp_path, capsys):
    config = _write_config(tmp_path / "toy_config.py", str(tmp_path / "w"))
    assert main(["test", str(config), str(tmp_path / "nope.pth")]) == 2
    assert f"checkpoint not found: {tmp_path / 'nope.pth'}" in capsys.readouterr().err


def test_bad_config_key_is_reported_without_traceback(tmp_path, capsys):
    config = _write_config(tmp_path / "toy_config.py", str(tmp_path / "w"),
                           optimizer={"type": "SGD", "lr": 0.1})
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert "detcore run: error: config key 'optimizer': is an MMDetection 2.x key" in err
    assert "Traceback" not in err


def test_analyze_logs_plots_requested_keys(tmp_path, capsys):
    log = tmp_path / "run.log.json"
    lines = [{"mode": "train", "epoch": 1, "iter": i, "step": i, "loss": 1.0 / i} for i in range(1, 6)]
    lines.append({"mode": "val", "epoch": 1, "iter": 5, "step": 5, "coco/bbox_mAP": 0.3})
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "plot.png"
    assert main(["analyze", "logs", str(log), "--keys", "loss", "coco/bbox_mAP", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["analyze", "logs", str(log), "--keys", "nope", "--out", str(out)]) == 2
    assert "key 'nope' is in none of the logs; they hold: coco/bbox_mAP, loss" in capsys.readouterr().err


def test_command_line_start_up_imports_no_torch():
    code = ("import sys; from detcore.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_analyze_is_a_group_other_plugins_can_extend():
    import argparse

    from detcore.cli import command_group
    from detengine.cli import add_commands

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    other = command_group(subparsers, "analyze")  # another plugin's hook ran first
    other.add_parser("confusion").set_defaults(handler="confusion")
    add_commands(subparsers)
    assert parser.parse_args(["analyze", "confusion"]).handler == "confusion"
    assert parser.parse_args(["analyze", "logs", "a.json"]).json_logs == ["a.json"]
    assert torch.is_tensor(torch.zeros(1))  # (torch itself is fine in the test process)


def test_run_with_amp_then_resume_to_more_epochs(tmp_path):
    config = _write_config(tmp_path / "toy_config.py", str(tmp_path / "w"))
    assert main(["run", str(config), "--amp", "--no-eval"]) == 0
    resolved = (tmp_path / "w" / "toy_config.py").read_text()
    assert "AmpOptimWrapper" in resolved  # --amp switched the wrapper
    assert main(["run", str(config), "--amp", "--resume",
                 "--cfg-options", "train_cfg.max_epochs=3"]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["epoch"] == 3 and metrics["iter"] == 18
    logs = "".join(p.read_text() for p in (tmp_path / "w").glob("*.log"))
    assert f"resumed from {tmp_path / 'w' / 'epoch_2.pth'} at epoch 2, iteration 12" in logs


def test_tensorboard_scalars_when_installed(tmp_path):
    pytest.importorskip("tensorboard")
    config = _write_config(tmp_path / "toy_config.py", str(tmp_path / "w"),
                           default_hooks={"logger": {"type": "LoggerHook", "interval": 2,
                                                     "tensorboard": True}})
    assert main(["run", str(config), "--no-eval"]) == 0
    assert list((tmp_path / "w").glob("*/tensorboard/events.out.tfevents.*"))
