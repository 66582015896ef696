"""detdatasets as a detcore plugin: every registered name loads the class of that name, and
importing the plugin module stays cheap."""

import subprocess
import sys

import pytest

from detcore.registry import DATA_SAMPLERS, DATASETS, METRICS, TRANSFORMS

EXPECTED = {
    DATASETS: ["BaseDetDataset", "CocoDataset", "XMLDataset", "VOCDataset", "YoloDataset",
               "CrowdHumanDataset", "LabelmeDataset", "ConcatDataset", "RepeatDataset",
               "ClassBalancedDataset", "MultiImageMixDataset"],
    DATA_SAMPLERS: ["DefaultSampler", "InfiniteSampler", "AspectRatioBatchSampler",
                    "ClassAwareSampler"],
    TRANSFORMS: ["Compose"],
}


@pytest.mark.parametrize("registry", list(EXPECTED), ids=lambda r: r.name)
def test_registered_components_load_with_their_names(registry):
    for name in EXPECTED[registry]:
        entry = registry.get_entry(f"detdatasets::{name}")
        assert entry.distribution == "detdatasets"
        assert entry.load().__name__ == name


def test_metrics_of_the_evaluation_package_are_registered():
    assert {"CocoMetric", "VOCMetric"} <= set(METRICS.names())


def test_sampler_builds_from_a_config():
    sampler = DATA_SAMPLERS.build(dict(type="DefaultSampler", shuffle=False, seed=0),
                                  default_args=dict(dataset=list(range(4))))
    assert list(sampler) == [0, 1, 2, 3]


def test_plugin_import_does_not_import_torch_or_opencv():
    code = ("import sys, detdatasets.plugin; "
            "print(sorted(m for m in ('torch', 'cv2', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
