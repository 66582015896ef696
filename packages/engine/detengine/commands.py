"""Handlers of `detcore run`, `test`, `infer` and `analyze logs` (see detengine.cli)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

from detcore.cli_commands import load_config
from detengine import dist
from detengine.config_errors import ConfigKeyError

METRICS_FILE = "metrics.json"


def _prepare(args, cfg) -> None:
    """Apply the options every command shares: work dir, launcher, trust."""
    if getattr(args, "work_dir", None):
        cfg.merge_from_dict({"work_dir": args.work_dir})
    elif cfg.get("work_dir") is None:
        cfg.merge_from_dict({"work_dir": str(Path("work_dirs") / Path(cfg.filename or "run").stem)})
    if hasattr(args, "launcher"):
        cfg.merge_from_dict({"launcher": args.launcher})
    if args.trust_checkpoint:
        cfg.merge_from_dict({"trust_checkpoint": True})


def write_metrics(runner, metrics: dict) -> Path:
    """WORK_DIR/metrics.json: the final evaluation plus the epoch and iteration it belongs to
    (those of the evaluated checkpoint when nothing was trained)."""
    record = {k: _json_value(v) for k, v in metrics.items()}
    source = runner.info.get("checkpoint", {}) if runner.built_loop("train") is None else {}
    record.update(epoch=source.get("epoch") or runner.epoch, iter=source.get("iter") or runner.iter)
    if source.get("path"):
        record["checkpoint"] = source["path"]
    path = runner.work_dir / METRICS_FILE
    if dist.is_main_process():
        path.write_text(json.dumps(record, indent=2) + "\n")
        runner.logger.info(f"wrote {path}")
    return path


def _json_value(value):
    if hasattr(value, "tolist"):  # tensors and NumPy values
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value


def run_command(args) -> int:
    from detengine.runner import Runner

    cfg = load_config(args)
    _prepare(args, cfg)
    if args.amp:
        optim = cfg.get("optim_wrapper")
        if optim is None:
            raise ConfigKeyError("optim_wrapper", "missing; --amp changes the optimizer wrapper")
        if optim.get("type", "OptimWrapper") == "AmpOptimWrapper":
            warnings.warn("--amp: the config already uses AmpOptimWrapper", stacklevel=1)
        cfg.merge_from_dict({"optim_wrapper.type": "AmpOptimWrapper"})
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    if args.auto_scale_lr:
        if "base_batch_size" not in (cfg.get("auto_scale_lr") or {}):
            raise ConfigKeyError("auto_scale_lr.base_batch_size",
                                 "--auto-scale-lr needs it: the total batch size the lr was tuned for")
        cfg.merge_from_dict({"auto_scale_lr.enable": True})
    if args.resume == "auto":
        cfg.merge_from_dict({"resume": True})
    elif args.resume:
        cfg.merge_from_dict({"resume": True, "load_from": args.resume})

    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics: dict = {}
    if not args.no_eval:
        if runner.test_loop is not None:
            metrics = runner.test()
        elif runner.val_loop is not None:
            metrics = runner.val()
    write_metrics(runner, metrics)
    return 0


def test_command(args) -> int:
    from detengine.runner import Runner

    cfg = load_config(args)
    _prepare(args, cfg)
    if args.checkpoint:
        cfg.merge_from_dict({"load_from": args.checkpoint})
    else:
        warnings.warn("no checkpoint given: evaluating a randomly initialised model", stacklevel=1)
        cfg.merge_from_dict({"load_from": None})
    cfg.merge_from_dict({"resume": False})
    if args.out:
        evaluators = cfg.get("test_evaluator")
        if evaluators is None:
            raise ConfigKeyError("test_evaluator", "missing; testing needs an evaluator")
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.merge_from_dict({"test_evaluator": [*evaluators, {"type": "DumpDetResults",
                                                              "out_file_path": args.out}]})
    if args.show_dir:
        cfg.merge_from_dict({"default_hooks.visualization": {
            "type": "DetVisualizationHook", "draw": True, "test_out_dir": args.show_dir}})
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    write_metrics(runner, metrics)
    return 0


def infer_command(args) -> int:
    from detengine.inferencer import DetInferencer

    cfg = load_config(args)
    inferencer = DetInferencer(cfg, args.checkpoint, device=args.device,
                               trust_checkpoint=args.trust_checkpoint)
    result = inferencer(args.inputs, out_dir=args.out, batch_size=args.batch_size,
                        pred_score_thr=args.score_thr, draw=not args.no_vis)
    print(f"{len(result['predictions'])} images: predictions in {Path(args.out) / 'preds'}"
          + ("" if args.no_vis else f", drawings in {Path(args.out) / 'vis'}"))
    return 0


def analyze_logs_command(args) -> int:
    from detengine.analyze_logs import plot_curves

    out = plot_curves(args.json_logs, args.out, keys=args.keys, title=args.title)
    print(f"wrote {out}")
    return 0
