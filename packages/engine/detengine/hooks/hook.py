"""The Hook base class: every point where the runner lets hooks act.

There are 22 points, MMEngine's: before/after the run, before/after train, val and
test (and each of their epochs and iterations), and before/after saving a checkpoint.
A hook overrides only the methods it needs; the runner calls only overridden ones.
"""

from __future__ import annotations

from typing import Any

from detengine.priority import Priority

TRAIN_POINTS = ("before_train", "before_train_epoch", "before_train_iter", "after_train_iter",
                "after_train_epoch", "after_train")
VAL_POINTS = tuple(p.replace("train", "val") for p in TRAIN_POINTS)
TEST_POINTS = tuple(p.replace("train", "test") for p in TRAIN_POINTS)
HOOK_POINTS = ("before_run", "after_run", *TRAIN_POINTS, *VAL_POINTS, *TEST_POINTS,
               "after_load_checkpoint", "before_save_checkpoint")


class Hook:
    """Base class of runner hooks. ``priority`` (class attribute, or the config key
    ``priority``) orders hooks at each point: lower runs first."""

    priority: int | str = Priority.NORMAL

    def before_run(self, runner) -> None:
        pass

    def after_run(self, runner) -> None:
        pass

    def before_train(self, runner) -> None:
        pass

    def after_train(self, runner) -> None:
        pass

    def before_val(self, runner) -> None:
        pass

    def after_val(self, runner) -> None:
        pass

    def before_test(self, runner) -> None:
        pass

    def after_test(self, runner) -> None:
        pass

    def before_train_epoch(self, runner) -> None:
        pass

    def after_train_epoch(self, runner) -> None:
        pass

    def before_val_epoch(self, runner) -> None:
        pass

    def after_val_epoch(self, runner, metrics: dict[str, Any] | None = None) -> None:
        pass

    def before_test_epoch(self, runner) -> None:
        pass

    def after_test_epoch(self, runner, metrics: dict[str, Any] | None = None) -> None:
        pass

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        pass

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        pass

    def before_val_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        pass

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        pass

    def before_test_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        pass

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        pass

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        pass

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        pass

    # ------------------------------------------------------------------ helpers
    def overrides(self, point: str) -> bool:
        """Whether this hook does anything at ``point`` (the runner skips no-op calls)."""
        return getattr(type(self), point) is not getattr(Hook, point)

    @staticmethod
    def every_n_epochs(runner, n: int, start: int = 0) -> bool:
        """True after every ``n``-th finished epoch counted from ``start``."""
        done = runner.epoch + 1 - start
        return n > 0 and done > 0 and done % n == 0

    @staticmethod
    def every_n_train_iters(runner, n: int, start: int = 0) -> bool:
        """True after every ``n``-th finished training iteration counted from ``start``."""
        done = runner.iter + 1 - start
        return n > 0 and done > 0 and done % n == 0

    @staticmethod
    def every_n_inner_iters(batch_idx: int, n: int) -> bool:
        return n > 0 and (batch_idx + 1) % n == 0

    @staticmethod
    def end_of_epoch(dataloader, batch_idx: int) -> bool:
        return batch_idx + 1 == len(dataloader)

    @staticmethod
    def is_last_train_epoch(runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs

    @staticmethod
    def is_last_train_iter(runner) -> bool:
        return runner.iter + 1 == runner.max_iters
