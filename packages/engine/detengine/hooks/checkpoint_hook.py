"""CheckpointHook: save the run regularly, keep the newest few, and keep the best.

    default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                         save_best='coco/bbox_mAP', rule='greater'))

Regular checkpoints are ``epoch_N.pth`` (``iter_N.pth`` with ``by_epoch=False``) and
``last_checkpoint`` names the newest, which ``resume=True`` continues from. With
``save_best`` ('auto': the first metric; or a key, or a list of keys) the checkpoint
after the best validation so far is ``best_<key>_epoch_N.pth`` and replaces the previous
best. ``rule`` is 'greater' or 'less'; by default inferred from the key (mAP, AR, acc:
greater; loss: less). All files are written atomically.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from detengine import dist
from detengine.checkpoint import LAST_CHECKPOINT_FILE
from detengine.hooks.hook import Hook
from detengine.priority import Priority

GREATER_KEYS = ("acc", "top", "AR@", "auc", "precision", "mAP", "mDice", "mIoU", "mAcc", "aAcc")
LESS_KEYS = ("loss",)


class CheckpointHook(Hook):
    priority = Priority.VERY_LOW

    def __init__(self, interval: int = -1, by_epoch: bool = True, save_optimizer: bool = True,
                 save_param_scheduler: bool = True, out_dir: str | None = None,
                 max_keep_ckpts: int = -1, save_last: bool = True,
                 save_best: str | Sequence[str] | None = None,
                 rule: str | Sequence[str] | None = None,
                 greater_keys: Sequence[str] | None = None, less_keys: Sequence[str] | None = None):
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.out_dir = out_dir
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.greater_keys = tuple(greater_keys or GREATER_KEYS)
        self.less_keys = tuple(less_keys or LESS_KEYS)
        self.save_best = [save_best] if isinstance(save_best, str) else list(save_best or [])
        rules = [rule] * len(self.save_best) if rule is None or isinstance(rule, str) else list(rule)
        if len(rules) != len(self.save_best):
            raise ValueError(f"CheckpointHook: {len(rules)} rules for {len(self.save_best)} save_best keys")
        for r in rules:
            if r not in (None, "greater", "less"):
                raise ValueError(f"CheckpointHook: rule must be 'greater' or 'less', got '{r}'")
        # an explicit key must have a rule now, so that a bad config fails before training
        self.rules = [r or (None if k == "auto" else self._infer_rule(k))
                      for k, r in zip(self.save_best, rules)]
        self.best_scores: dict[str, float] = {}
        self.best_paths: dict[str, str] = {}

    # ------------------------------------------------------------------ regular checkpoints
    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or (self.save_last and self.is_last_train_epoch(runner))):
            self._save_regular(runner, f"epoch_{runner.epoch + 1}.pth")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.by_epoch and (self.every_n_train_iters(runner, self.interval)
                                  or (self.save_last and self.is_last_train_iter(runner))):
            self._save_regular(runner, f"iter_{runner.iter + 1}.pth")

    def _folder(self, runner) -> Path:
        return Path(self.out_dir) if self.out_dir else runner.work_dir

    def _save_regular(self, runner, filename: str) -> None:
        path = runner.save_checkpoint(filename, by_epoch=self.by_epoch,
                                      save_optimizer=self.save_optimizer,
                                      save_param_scheduler=self.save_param_scheduler,
                                      out_dir=self._folder(runner))
        if dist.is_main_process():
            _write_atomically(runner.work_dir / LAST_CHECKPOINT_FILE, str(path))
            self._remove_old(path.parent)

    def _remove_old(self, folder: Path) -> None:
        if self.max_keep_ckpts <= 0:
            return
        unit = "epoch" if self.by_epoch else "iter"
        numbered = sorted((int(m.group(1)), p) for p in folder.glob(f"{unit}_*.pth")
                          if (m := re.fullmatch(rf"{unit}_(\d+)\.pth", p.name)))
        for _, old in numbered[:-self.max_keep_ckpts]:
            old.unlink(missing_ok=True)

    # ------------------------------------------------------------------ best checkpoints
    def after_val_epoch(self, runner, metrics=None) -> None:
        if not self.save_best or not metrics:
            return
        keys = [next(iter(metrics))] if self.save_best == ["auto"] else self.save_best
        rules = self.rules if self.save_best != ["auto"] else [self.rules[0]]
        for key, rule in zip(keys, rules):
            if key not in metrics:
                raise KeyError(f"CheckpointHook: save_best='{key}' is not among the validation "
                               f"metrics {sorted(metrics)}")
            rule = rule or self._infer_rule(key)
            score = float(metrics[key])
            best = self.best_scores.get(key)
            if math.isnan(score) or (best is not None and not (
                    score > best if rule == "greater" else score < best)):
                continue
            self.best_scores[key] = score
            runner.info[f"best_score/{key}"] = score
            self._save_best(runner, key, score)

    def _infer_rule(self, key: str) -> str:
        if any(k in key for k in self.greater_keys):
            return "greater"
        if any(k in key for k in self.less_keys):
            return "less"
        raise ValueError(f"CheckpointHook: cannot tell whether a larger '{key}' is better; "
                         f"set rule='greater' or rule='less'")

    def _save_best(self, runner, key: str, score: float) -> None:
        step = f"epoch_{runner.epoch}" if self.by_epoch else f"iter_{runner.iter}"
        filename = f"best_{re.sub(r'[^A-Za-z0-9_.-]+', '_', key)}_{step}.pth"
        previous = self.best_paths.get(key)
        path = runner.save_checkpoint(filename, save_optimizer=self.save_optimizer,
                                      save_param_scheduler=self.save_param_scheduler,
                                      out_dir=self._folder(runner),
                                      meta={"epoch": runner.epoch, "iter": runner.iter})
        self.best_paths[key] = str(path)
        if dist.is_main_process() and previous and previous != str(path):
            Path(previous).unlink(missing_ok=True)
        runner.logger.info(f"best {key} so far: {score:.4f}; saved {path.name}")

    # ------------------------------------------------------------------ resume
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["meta"]["best_scores"] = dict(self.best_scores)
        checkpoint["meta"]["best_paths"] = dict(self.best_paths)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner.resumed:  # weights of another run: its best scores are not ours
            return
        meta = checkpoint.get("meta", {})
        self.best_scores.update(meta.get("best_scores", {}))
        self.best_paths.update(meta.get("best_paths", {}))


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
