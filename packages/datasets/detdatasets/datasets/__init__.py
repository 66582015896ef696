"""Datasets (MMEngine/MMDetection 3.x semantics) over COCO, the middle format, VOC XML,
YOLO txt, CrowdHuman odgt and labelme JSON, and the dataset wrappers.

Names are imported on first use, so that importing one submodule (say, the mask/polygon
helpers the synthetic generator uses) does not import every dataset.
"""

import importlib

_MODULES = {
    "BaseDataset": "base_dataset",
    "BaseDetDataset": "base_det_dataset",
    "CocoDataset": "coco",
    "XMLDataset": "voc",
    "VOCDataset": "voc",
    "YoloDataset": "yolo",
    "CrowdHumanDataset": "crowdhuman",
    "LabelmeDataset": "labelme",
    "ConcatDataset": "wrappers",
    "RepeatDataset": "wrappers",
    "ClassBalancedDataset": "wrappers",
    "MultiImageMixDataset": "multi_image_mix",
    "DatasetError": "errors",
    "BadRecordWarning": "errors",
}

__all__ = list(_MODULES)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module 'detdatasets.datasets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"detdatasets.datasets.{_MODULES[name]}"), name)


def __dir__():
    return sorted(list(globals()) + __all__)
