"""Progress bars (tqdm) and a console log handler that does not break them.

``show`` is True, False or 'auto' (only when stderr is a terminal, so logs written to
files do not fill with carriage returns). Only rank 0 shows bars.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from tqdm import tqdm

from detengine import dist


def wants_progress(show: bool | str) -> bool:
    if show == "auto":
        show = sys.stderr.isatty()
    return bool(show) and dist.is_main_process()


def progress_bar(iterable: Iterable, total: int | None, desc: str, show: bool | str = "auto"):
    """``iterable`` wrapped in a tqdm bar, or returned unchanged when no bar is wanted."""
    if not wants_progress(show):
        return iterable
    return tqdm(iterable, total=total, desc=desc, dynamic_ncols=True, mininterval=0.5,
                leave=False, file=sys.stderr)


class TqdmConsoleHandler(logging.StreamHandler):
    """Writes log records above any live progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def setup_logger(name: str, log_file: str | None = None, level: str | int = "INFO") -> logging.Logger:
    """A logger writing to the console (rank 0) and to ``log_file`` (every rank's own)."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    close_logger(logger)
    formatter = logging.Formatter("%(asctime)s - %(levelname)s - %(message)s", "%Y/%m/%d %H:%M:%S")
    if dist.is_main_process():
        console = TqdmConsoleHandler(sys.stdout)
        console.setFormatter(formatter)
        logger.addHandler(console)
    if log_file is not None:
        file_handler = logging.FileHandler(log_file, mode="a")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    return logger


def close_logger(logger: logging.Logger) -> None:
    """Detach and close every handler (open log files) of ``logger``."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
