"""Datasets (MMEngine/MMDetection 3.x semantics) over COCO, the middle format, VOC XML,
YOLO txt, CrowdHuman odgt and labelme JSON, and the dataset wrappers."""

from detdatasets.datasets.base_dataset import BaseDataset
from detdatasets.datasets.base_det_dataset import BaseDetDataset
from detdatasets.datasets.coco import CocoDataset
from detdatasets.datasets.crowdhuman import CrowdHumanDataset
from detdatasets.datasets.errors import BadRecordWarning, DatasetError
from detdatasets.datasets.labelme import LabelmeDataset
from detdatasets.datasets.multi_image_mix import MultiImageMixDataset
from detdatasets.datasets.voc import VOCDataset, XMLDataset
from detdatasets.datasets.wrappers import ClassBalancedDataset, ConcatDataset, RepeatDataset
from detdatasets.datasets.yolo import YoloDataset

__all__ = [
    "BaseDataset", "BaseDetDataset", "CocoDataset", "XMLDataset", "VOCDataset", "YoloDataset",
    "CrowdHumanDataset", "LabelmeDataset", "ConcatDataset", "RepeatDataset",
    "ClassBalancedDataset", "MultiImageMixDataset", "DatasetError", "BadRecordWarning",
]
