"""Reading and writing checkpoint files safely.

Loading uses ``torch.load(weights_only=True)``: tensors and plain containers only, no code
from the file runs. A checkpoint that pickles Python objects (an Ultralytics ``.pt``, an
old MMDetection file with custom classes) is refused with a message that says how to opt
in. Writing is atomic: a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from detcore.errors import UserError


class CheckpointError(UserError, ValueError):
    """A checkpoint file is missing, corrupt, or needs an explicit opt-in to load."""


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = "cpu",
                         trust_pickle: bool = False) -> Any:
    """Load a checkpoint with ``weights_only=True`` unless ``trust_pickle`` is set.

    ``trust_pickle=True`` runs whatever code the file's pickles name: only for files from a
    source you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust_pickle)
    except pickle.UnpicklingError as err:
        if trust_pickle:
            raise CheckpointError(f"{path} is not a readable torch checkpoint: {err}") from err
        reason = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path} holds pickled Python objects, which safe loading (weights_only=True) refuses: "
            f"{reason}. Loading it would run code named in the file. If you trust where it comes "
            f"from, opt in with --trust-checkpoint (Python: trust_pickle=True), or convert it "
            f"once to a plain state_dict.") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"{path} is not a readable torch checkpoint (truncated or corrupt?): "
                              f"{type(err).__name__}: {err}") from err


def save_checkpoint_file(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` with torch.save to ``path`` atomically (temp file in the same folder,
    flushed to disk, then renamed over the target)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
