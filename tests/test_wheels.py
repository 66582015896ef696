"""Every distribution builds a wheel that installs into a clean virtual environment, where
the plugins are discovered through their entry points and the command line starts without
torch (the venv has none: detops' wheel then carries only the pure-PyTorch fallbacks)."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = {"core": "detcore", "ops": "detops", "models": "detmodels",
                 "datasets": "detdatasets", "engine": "detengine", "yolo": "detyolo"}


@pytest.mark.slow
def test_wheels_install_into_a_clean_venv_and_the_cli_lists_every_plugin(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "setuptools>=64", "wheel"], check=True)  # build tools only
    wheels = tmp_path / "wheels"
    for folder in DISTRIBUTIONS:
        subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                              str(ROOT / "packages" / folder)], check=True)
    built = sorted(p.name.split("-")[0] for p in wheels.glob("*.whl"))
    assert built == sorted(DISTRIBUTIONS.values())

    for wheel in wheels.glob("*.whl"):  # configs ship inside the wheels that have them
        names = zipfile.ZipFile(wheel).namelist()
        dist = wheel.name.split("-")[0]
        configs = ROOT / "packages" / {v: k for k, v in DISTRIBUTIONS.items()}[dist] / dist / "configs"
        for cfg in configs.rglob("*.py"):
            assert f"{dist}/configs/{cfg.relative_to(configs).as_posix()}" in names

    # detcore's import-time dependencies only; torch is absent on purpose
    subprocess.run(pip + ["install", "--no-deps", "pluggy", "pyyaml", *map(str, wheels.glob("*.whl"))],
                   check=True)
    help_text = subprocess.run([str(venv / "bin" / "detcore"), "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "plugins" in help_text and "config" in help_text
    listing = subprocess.run([str(venv / "bin" / "detcore"), "plugins", "--json"],
                             capture_output=True, text=True)
    plugins = {p["distribution"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert set(DISTRIBUTIONS.values()) <= set(plugins)
    assert all(plugins[d]["error"] is None for d in DISTRIBUTIONS.values()), listing.stdout
    torch_absent = subprocess.run([python, "-c", "import torch"], capture_output=True)
    assert torch_absent.returncode != 0
