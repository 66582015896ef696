"""Loading pretrained weights from a local file into a module (init_cfg ``Pretrained``).

Files are read with ``detcore.checkpoint.load_checkpoint_file`` (``weights_only=True``).
Nothing is downloaded: MMDetection configs name weights as URLs or ``torchvision://``
names, and those fail here with a message that says how to pass a local file instead.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping

import torch
from torch import nn

from detcore.checkpoint import CheckpointError, load_checkpoint_file

_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _refuse_remote(checkpoint: str) -> None:
    if not _REMOTE.match(checkpoint):
        return
    hint = ""
    if checkpoint.startswith("torchvision://"):
        hint = (" torchvision's ImageNet files (e.g. resnet50-0676ba61.pth) load into ResNet as "
                "they are: download one where you have network access and give its path.")
    raise CheckpointError(
        f"init_cfg Pretrained checkpoint={checkpoint!r}: no model hub is reachable from here, "
        f"so weights are never downloaded. Put the file on disk and pass its path, e.g. "
        f"init_cfg=dict(type='Pretrained', checkpoint='/path/to/weights.pth').{hint}")


def read_state_dict(checkpoint: str, map_location: str = "cpu") -> dict[str, torch.Tensor]:
    """The state_dict in a local checkpoint file: its 'state_dict' (MMEngine) or 'model'
    entry, or the file itself when it is a plain state_dict; a DataParallel 'module.' prefix
    is removed."""
    _refuse_remote(str(checkpoint))
    content = load_checkpoint_file(checkpoint, map_location=map_location)
    if not isinstance(content, Mapping):
        raise CheckpointError(f"{checkpoint} holds a {type(content).__name__}, not a state_dict")
    for key in ("state_dict", "model"):
        if isinstance(content.get(key), Mapping):
            content = content[key]
            break
    return {re.sub(r"^module\.", "", k): v for k, v in content.items()}


def select_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str,
                  source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` (e.g. 'backbone.') with the prefix removed."""
    if not prefix.endswith("."):
        prefix += "."
    selected = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not selected:
        raise CheckpointError(f"{source} has no key starting with {prefix!r}")
    return selected


def load_state_dict_report(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                           source: str = "checkpoint") -> None:
    """``load_state_dict(strict=False)`` that warns about missing, unexpected and
    wrongly shaped keys (the latter are skipped instead of failing the load)."""
    own = module.state_dict()
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    usable = {k: v for k, v in state_dict.items() if k not in own or own[k].shape == v.shape}
    result = module.load_state_dict(usable, strict=False)
    problems = []
    if result.unexpected_keys:
        problems.append("unexpected keys in the checkpoint: " + ", ".join(result.unexpected_keys))
    if result.missing_keys:
        problems.append("missing keys in the checkpoint: " + ", ".join(result.missing_keys))
    if mismatched:
        problems.append("shape mismatches (skipped): " + "; ".join(mismatched))
    if problems:
        warnings.warn(f"{type(module).__name__} loaded from {source} with differences:\n  "
                      + "\n  ".join(problems), stacklevel=3)


def load_pretrained(module: nn.Module, checkpoint: str, prefix: str | None = None,
                    map_location: str = "cpu") -> None:
    """Load a local checkpoint file (optionally only the keys under ``prefix``) into
    ``module``."""
    state_dict = read_state_dict(checkpoint, map_location)
    if prefix is not None:
        state_dict = select_prefix(state_dict, prefix, source=str(checkpoint))
    load_state_dict_report(module, state_dict, source=str(checkpoint))
