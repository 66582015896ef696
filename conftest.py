"""Fixtures shared by every test folder of the monorepo."""

import importlib.util
from pathlib import Path

import pytest

_SUPPORT = Path(__file__).parent / "tests" / "support"


def _load_support(name):
    spec = importlib.util.spec_from_file_location(f"det_test_support_{name}", _SUPPORT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def mmdet():
    """MMDetection 3.3.0 imported on the CPU with pure-PyTorch stand-ins for mmcv's compiled ops
    (tests/support/mmdet_reference.py); the test is skipped where mmdet is not installed."""
    if importlib.util.find_spec("mmdet") is None or importlib.util.find_spec("mmcv") is None:
        pytest.skip("MMDetection 3.3.0 / mmcv-lite not installed")
    return _load_support("mmdet_reference").import_mmdet()
