"""Seeds and random-number-generator states, so that runs repeat and resumes are exact.

``randomness=dict(seed=..., deterministic=..., diff_rank_seed=...)`` in a config is
applied by ``set_random_seed``. ``rng_state()``/``set_rng_state()`` capture and restore
the Python, NumPy and torch generators as plain lists and tensors, which a checkpoint
can hold and ``torch.load(weights_only=True)`` can read back.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from detengine import dist


def set_random_seed(seed: int | None = None, deterministic: bool = False,
                    diff_rank_seed: bool = False) -> int:
    """Seed Python, NumPy and torch; return the seed used.

    Without ``seed`` a random one is drawn on rank 0 and shared with every rank, so all
    ranks build the same model. ``diff_rank_seed`` adds the rank to the seed (different
    augmentations per rank). ``deterministic`` makes torch pick deterministic kernels
    (slower on CUDA) and fails loudly on operations that have none.
    """
    if seed is None:
        seed = dist.broadcast_object(int(np.random.SeedSequence().entropy % (2**31)))
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"randomness.seed must be an int or None, got {seed!r}")
    if diff_rank_seed:
        seed += dist.get_rank()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    return seed


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int) -> None:
    """Give every DataLoader worker of every rank its own seed derived from the run's."""
    worker_seed = num_workers * rank + worker_id + seed
    random.seed(worker_seed)
    np.random.seed(worker_seed % 2**32)
    torch.manual_seed(worker_seed)


def rng_state() -> dict:
    """The state of every generator, in types that weights_only loading accepts."""
    version, mt_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [version, list(mt_state), gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos),
                  int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` captured (CUDA states only when the device counts match)."""
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss,
                         np_gauss))
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
