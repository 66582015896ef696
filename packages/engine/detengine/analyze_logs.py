"""Training curves from JSON-lines logs, drawn to PNG with matplotlib.

Each log line is a JSON object with ``mode`` ('train', 'val' or 'test'), ``step`` (the
global iteration) and scalar values. Training values are plotted against the
iteration, validation values against the iteration they were measured at.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from detcore.errors import UserError

BOOKKEEPING = ("mode", "epoch", "iter", "step")


class LogAnalysisError(UserError, ValueError):
    """A log cannot be read, or holds nothing to plot."""


def read_json_log(path: str | os.PathLike) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{mode: {key: [(step, value), ...]}}`` from one JSON-lines log.

    Lines that are not JSON objects (a run killed mid-write) are skipped with their
    number in the error only if nothing at all could be read.
    """
    curves: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    bad_lines = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad_lines.append(number)
                continue
            mode, step = record.get("mode", "train"), record.get("step", record.get("iter", 0))
            for key, value in record.items():
                if key not in BOOKKEEPING and isinstance(value, (int, float)):
                    curves[mode][key].append((int(step), float(value)))
    if not curves and bad_lines:
        raise LogAnalysisError(f"{path}: no readable JSON lines (bad lines: {bad_lines[:5]})")
    return curves


def default_keys(curves: dict) -> list[tuple[str, str]]:
    """What to plot when the user names nothing: training loss and validation mAP-like metrics."""
    keys = [("train", "loss")] if "loss" in curves.get("train", {}) else []
    for mode in ("val", "test"):
        keys += [(mode, k) for k in curves.get(mode, {}) if "mAP" in k or "acc" in k.lower()]
    if not keys:  # a run with neither: every validation metric
        keys = [(mode, k) for mode in ("val", "test") for k in curves.get(mode, {})]
    return keys


def plot_curves(json_logs: Sequence[str | os.PathLike], out: str | os.PathLike,
                keys: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Draw ``keys`` (default: loss and mAP) from the logs into ``out`` (a PNG), one panel
    per key, one line per log. A key is searched in train, then val, then test values,
    or named explicitly as ``'val/coco/bbox_mAP'``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = [(Path(p), read_json_log(p)) for p in json_logs]
    if keys:
        wanted = [_resolve(key, logs) for key in keys]
    else:
        wanted = list(dict.fromkeys(k for _, curves in logs for k in default_keys(curves)))
    if not wanted:
        raise LogAnalysisError(f"nothing to plot in {', '.join(str(p) for p, _ in logs)}: "
                         f"no loss or metric values found")
    fig, axes = plt.subplots(len(wanted), 1, figsize=(8, 3 * len(wanted)), squeeze=False)
    for axis, (mode, key) in zip(axes[:, 0], wanted):
        for path, curves in logs:
            points = curves.get(mode, {}).get(key)
            if points:
                steps, values = zip(*points)
                axis.plot(steps, values, marker="o" if mode != "train" else None,
                          markersize=3, label=path.stem)
        axis.set_title(f"{mode}: {key}")
        axis.set_xlabel("iteration")
        axis.grid(alpha=0.3)
        if len(logs) > 1:
            axis.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _resolve(key: str, logs) -> tuple[str, str]:
    mode, _, rest = key.partition("/")
    if mode in ("train", "val", "test") and rest:
        return mode, rest
    for mode in ("train", "val", "test"):
        if any(key in curves.get(mode, {}) for _, curves in logs):
            return mode, key
    known = sorted({k for _, curves in logs for m in curves.values() for k in m})
    raise LogAnalysisError(f"key '{key}' is in none of the logs; they hold: {', '.join(known)}")
