"""The example plugin is found through its entry point alone: installed as a wheel into a
separate folder, never imported by name, and still listed, attributed and built."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The plugin installed from its wheel into a folder of its own (a PYTHONPATH entry)."""
    tmp = tmp_path_factory.mktemp("example-plugin")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", str(PLUGIN_DIR),
                          "-w", str(tmp / "wheels")], check=True)
    wheel = next((tmp / "wheels").glob("detplugin_example-*.whl"))
    subprocess.run(pip + ["install", "--no-deps", "--target", str(tmp / "site"), str(wheel)],
                   check=True)
    return tmp / "site"


def run_python(code, site, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd)


def test_plugin_is_listed_with_its_distribution(plugin_site, tmp_path):
    result = run_python("from detcore.cli import main; main(['plugins', '--json'])", plugin_site,
                        tmp_path)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    plugin = [p for p in listing["plugins"] if p["name"] == "detplugin_example"]
    assert plugin == [{"name": "detplugin_example", "distribution": "detplugin-example",
                       "version": "0.1.0", "module": "detplugin_example.plugin", "error": None}]
    components = listing["components"]["detplugin-example"]
    assert [c["name"] for c in components["MODELS"]] == ["TinyConvNet"]
    assert [c["name"] for c in components["TRANSFORMS"]] == ["RandomGrayscale"]


def test_plugin_components_mix_with_other_packages_in_one_config(plugin_site, tmp_path):
    """The plugin's backbone feeds detmodels' FPN, and its transform runs inside detdatasets'
    Compose next to detdatasets' Resize: all by name, from one config file."""
    config = tmp_path / "mixed.py"
    config.write_text(
        "backbone = dict(type='TinyConvNet', widths=(8, 16, 32), out_indices=(1, 2))\n"
        "neck = dict(type='FPN', in_channels=[16, 32], out_channels=8, num_outs=3)\n"
        "pipeline = [dict(type='RandomGrayscale', prob=1.0),\n"
        "            dict(type='Resize', scale=(8, 8), keep_ratio=False)]\n")
    code = (
        "import numpy as np, torch\n"
        "from detcore.config import Config\n"
        "from detcore.registry import MODELS, TRANSFORMS\n"
        f"cfg = Config.fromfile({str(config)!r})\n"
        "feats = MODELS.build(cfg.neck)(MODELS.build(cfg.backbone)(torch.zeros(2, 3, 64, 48)))\n"
        "print([tuple(f.shape) for f in feats])\n"
        "pipeline = TRANSFORMS.build(dict(type='Compose', transforms=cfg.pipeline))\n"
        "img = np.zeros((4, 4, 3), np.uint8); img[..., 2] = 100\n"
        "out = pipeline({'img': img, 'img_shape': (4, 4), 'ori_shape': (4, 4)})\n"
        "print(out['img'].shape, int(out['img'][0, 0, 0]))\n"
        "print(*(MODELS.get_entry(n).distribution for n in ('TinyConvNet', 'FPN')),\n"
        "      *(TRANSFORMS.get_entry(n).distribution for n in ('RandomGrayscale', 'Resize')))\n")
    result = run_python(code, plugin_site, tmp_path)
    assert result.returncode == 0, result.stderr
    shapes, image, dists = result.stdout.strip().splitlines()
    assert shapes == "[(2, 8, 16, 12), (2, 8, 8, 6), (2, 8, 4, 3)]"
    assert image == f"(8, 8, 3) {round(100 * 0.299)}"  # ITU-R 601 weight of the red channel
    assert dists == "detplugin-example detmodels detplugin-example detdatasets"
