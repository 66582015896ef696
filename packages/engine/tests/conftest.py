"""Shared set-up of the engine tests: the toy components (engine_toys.py) importable,
registered, and torch's global determinism flag restored after each test."""

import sys
from pathlib import Path

import pytest
import torch

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import engine_toys  # noqa: E402

# The toy tensors are tiny: one thread avoids OpenMP hand-offs that cost 100x on a busy machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _toys_and_determinism():
    engine_toys.register()
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)
