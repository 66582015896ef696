"""The `run`, `test`, `infer` and `analyze` commands (parsers only; handlers import torch
when they run, so `detcore --help` stays fast).

`analyze` is a command group that other plugins can extend: inside their
``detcore_add_cli_commands`` hook they call ``detcore.cli.command_group(subparsers,
'analyze')`` and add a sub-command to what it returns, whichever plugin's hook runs first.
"""

from __future__ import annotations

from detcore.cli import command_group
from detcore.cli_commands import add_cfg_options_argument


def add_commands(subparsers) -> None:
    _add_run(subparsers)
    _add_test(subparsers)
    _add_infer(subparsers)
    group = command_group(subparsers, "analyze", "analyse runs: plot logs, ...")
    _add_analyze_logs(group)


def _add_launcher_argument(parser) -> None:
    parser.add_argument("--launcher", choices=("none", "pytorch"), default="none",
                        help="'pytorch' when started by torchrun for distributed training")


def _add_trust_argument(parser) -> None:
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="allow checkpoints that pickle Python objects (this runs code from "
                             "the file: only for files you trust)")


def _add_run(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="train a model from a config, then evaluate it",
        description="Train with the config's train_cfg, validating as it says, then evaluate "
                    "with test_cfg (or val_cfg) and write WORK_DIR/metrics.json. For several "
                    "GPUs or machines: torchrun --nproc-per-node N -m detcore run CONFIG "
                    "--launcher pytorch")
    p.add_argument("config", help="config file: a path, or 'dist::relative/path.py'")
    p.add_argument("--work-dir", help="folder for logs and checkpoints "
                                      "(default: the config's work_dir or ./work_dirs/CONFIG_NAME)")
    p.add_argument("--resume", nargs="?", const="auto", metavar="CKPT",
                   help="continue a run: from CKPT, or without it from the latest checkpoint "
                        "in the work dir")
    p.add_argument("--amp", action="store_true", help="mixed precision (float16 on CUDA, bfloat16 on CPU)")
    p.add_argument("--auto-scale-lr", action="store_true",
                   help="scale the lr by the total batch size over auto_scale_lr.base_batch_size")
    p.add_argument("--no-eval", action="store_true", help="train only; skip the final evaluation")
    add_cfg_options_argument(p)
    _add_launcher_argument(p)
    _add_trust_argument(p)
    p.set_defaults(handler=_handler("run"))


def _add_test(subparsers) -> None:
    p = subparsers.add_parser(
        "test", help="evaluate a checkpoint on the config's test set",
        description="Evaluate with the config's test_cfg/test_dataloader/test_evaluator and "
                    "write WORK_DIR/metrics.json. Without CKPT the model is randomly initialised.")
    p.add_argument("config", help="config file: a path, or 'dist::relative/path.py'")
    p.add_argument("checkpoint", nargs="?", help="checkpoint to evaluate")
    p.add_argument("--work-dir", help="folder for logs and metrics.json")
    p.add_argument("--out", metavar="FILE", help="also write every prediction to FILE (.pkl or .json)")
    p.add_argument("--show-dir", metavar="DIR", help="draw predictions on the test images into DIR")
    add_cfg_options_argument(p)
    _add_launcher_argument(p)
    _add_trust_argument(p)
    p.set_defaults(handler=_handler("test"))


def _add_infer(subparsers) -> None:
    p = subparsers.add_parser(
        "infer", help="detect objects in images with a trained model",
        description="Run a model on images (a file, a folder or several paths) and write "
                    "OUT/preds/NAME.json and OUT/vis/NAME.jpg for each.")
    p.add_argument("config", help="config file: a path, or 'dist::relative/path.py'")
    p.add_argument("checkpoint", help="checkpoint with the trained weights")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--score-thr", type=float, default=0.3, help="draw boxes above this score (default 0.3)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--device", default=None, help="e.g. cpu or cuda:0 (default: cuda if available)")
    p.add_argument("--no-vis", action="store_true", help="write predictions only, no drawn images")
    add_cfg_options_argument(p)
    _add_trust_argument(p)
    p.set_defaults(handler=_handler("infer"))


def _add_analyze_logs(group) -> None:
    p = group.add_parser(
        "logs", help="plot loss and metric curves from JSON logs",
        description="Plot curves from one or more JSON-lines logs (WORK_DIR/<time>.log.json) "
                    "to a PNG image.")
    p.add_argument("json_logs", nargs="+", help="JSON-lines log files")
    p.add_argument("--keys", nargs="+", default=None,
                   help="what to plot (default: the loss and every validation metric with 'mAP')")
    p.add_argument("--out", default="curves.png", help="output image (default curves.png)")
    p.add_argument("--title", default=None)
    p.set_defaults(handler=_handler("analyze_logs"))


def _handler(name: str):
    def handle(args):
        from detengine import commands

        return getattr(commands, f"{name}_command")(args)

    return handle
