"""Saving and loading checkpoints: atomic writes, safe loads, readable key reports.

A checkpoint written by the runner is a dict:
``meta`` (epoch, iter, seed, time, the resolved config as text, dataset_meta),
``state_dict`` (model weights), ``optimizer``, ``param_schedulers``, ``loop``,
``rng`` (generator states) and, with an EMA hook, ``ema_state_dict``.

Files are read and written by ``detcore.checkpoint``: writes go to a temporary file in
the same folder, then ``os.replace`` (a crash while writing leaves the previous file
intact); loads use ``torch.load(weights_only=True)`` unless the caller explicitly
trusts the file, so a checkpoint cannot run code. Everything the runner stores is made
of tensors, numbers, strings and plain containers, so its own checkpoints always load.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from detcore.checkpoint import CheckpointError, load_checkpoint_file, save_checkpoint_file

LAST_CHECKPOINT_FILE = "last_checkpoint"
DEFAULT_REVISE_KEYS = ((r"^module\.", ""),)


def save_checkpoint(checkpoint: Mapping, path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (temporary file + os.replace)."""
    return save_checkpoint_file(dict(checkpoint), path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    trust_checkpoint: bool = False) -> dict:
    """Read a checkpoint file with ``torch.load(weights_only=True)``.

    A file holding pickled Python objects other than tensors and plain containers is
    refused with an error that says how to opt in; only opt in (``trust_checkpoint=True``,
    ``--trust-checkpoint``) for files you trust, as loading them can run arbitrary code.
    """
    checkpoint = load_checkpoint_file(path, map_location=map_location, trust_pickle=trust_checkpoint)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(checkpoint).__name__}, "
                              f"not a dict of weights")
    return dict(checkpoint)


def weights_of(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """The model weights in a checkpoint: its 'state_dict' or 'model' entry, or the dict itself."""
    for key in ("state_dict", "model"):
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    return {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def weights_to_cpu(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state_dict.items()}


@dataclass
class LoadReport:
    """What ``load_weights`` did: names of tensors that did not load, and why."""

    source: str
    loaded: int
    missing: list[str] = field(default_factory=list)  # in the model, not in the checkpoint
    unexpected: list[str] = field(default_factory=list)  # in the checkpoint, not in the model
    shape_mismatch: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def __str__(self) -> str:
        lines = [f"loaded {self.loaded} tensors from {self.source}"]
        for title, names in (("missing in the checkpoint (kept as initialised)", self.missing),
                             ("unexpected in the checkpoint (ignored)", self.unexpected)):
            if names:
                lines.append(f"  {title}: {len(names)}: {_abbreviate(names)}")
        if self.shape_mismatch:
            shown = ", ".join(f"{k} {tuple(c)} vs model {tuple(m)}" for k, c, m in self.shape_mismatch[:10])
            more = len(self.shape_mismatch) - 10
            lines.append(f"  shape mismatch (not loaded): {len(self.shape_mismatch)}: {shown}"
                         + (f" ... and {more} more" if more > 0 else ""))
        return "\n".join(lines)


def _abbreviate(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... and {len(names) - limit} more" if len(names) > limit else "")


def revise_keys(state_dict: Mapping[str, torch.Tensor],
                rules: Sequence[tuple[str, str]] = DEFAULT_REVISE_KEYS) -> dict[str, torch.Tensor]:
    """Rename keys with ``(regex, replacement)`` rules applied in order ('module.' stripped by default)."""
    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    revised = {}
    for key, value in state_dict.items():
        for pattern, repl in compiled:
            key = pattern.sub(repl, key)
        revised[key] = value
    return revised


def load_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = False,
                 rules: Sequence[tuple[str, str]] = DEFAULT_REVISE_KEYS,
                 source: str = "checkpoint") -> LoadReport:
    """Load ``state_dict`` into ``model`` after renaming its keys; report what did not fit.

    Tensors whose shape differs from the model's are skipped (and reported) rather than
    failing the whole load; ``strict=True`` raises CheckpointError on any mismatch.
    """
    weights = revise_keys(state_dict, rules)
    own = model.state_dict()
    mismatch = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in weights.items()
                if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape]
    skipped = {k for k, _, _ in mismatch}
    result = model.load_state_dict({k: v for k, v in weights.items() if k not in skipped},
                                   strict=False)
    report = LoadReport(source=source, loaded=len(weights) - len(skipped) - len(result.unexpected_keys),
                        missing=[k for k in result.missing_keys if k not in skipped],
                        unexpected=list(result.unexpected_keys), shape_mismatch=mismatch)
    if strict and not report.clean:
        raise CheckpointError(f"the weights do not fit the model exactly (strict loading):\n{report}")
    return report


def find_latest_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint the last run in ``work_dir`` completed, or None.

    Reads the ``last_checkpoint`` file the runner keeps; falls back to the highest
    ``epoch_N.pth``/``iter_N.pth``.
    """
    work_dir = Path(work_dir)
    pointer = work_dir / LAST_CHECKPOINT_FILE
    if pointer.is_file():
        recorded = Path(pointer.read_text().strip())
        recorded = recorded if recorded.is_absolute() else work_dir / recorded
        if recorded.is_file():
            return recorded
    numbered = [(int(m.group(2)), p) for p in work_dir.glob("*.pth")
                if (m := re.fullmatch(r"(epoch|iter)_(\d+)\.pth", p.name))]
    return max(numbered)[1] if numbered else None
