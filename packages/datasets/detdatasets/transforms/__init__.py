"""Data transforms: results dict in, results dict (or None: draw another sample) out.

Each transform documents the keys it reads and writes; names, arguments, defaults and
keys follow MMDetection 3.x / MMCV 2.x. Random transforms draw from numpy's global RNG,
so seeding it (the runner's ``randomness.seed``) makes a pipeline reproducible.
"""

from detdatasets.transforms.affine import RandomAffine
from detdatasets.transforms.base import BaseTransform
from detdatasets.transforms.compose import Compose
from detdatasets.transforms.copy_paste import CopyPaste
from detdatasets.transforms.crop import MinIoURandomCrop, RandomCrop
from detdatasets.transforms.erase import CutOut, RandomErasing
from detdatasets.transforms.expand import Expand
from detdatasets.transforms.filter import FilterAnnotations
from detdatasets.transforms.flip import RandomFlip
from detdatasets.transforms.formatting import PackDetInputs, to_tensor
from detdatasets.transforms.loading import LoadAnnotations, LoadImageFromFile, LoadImageFromNDArray
from detdatasets.transforms.mix import MixUp, Mosaic
from detdatasets.transforms.pad import Pad
from detdatasets.transforms.photometric import PhotoMetricDistortion, YOLOXHSVRandomAug
from detdatasets.transforms.resize import FixShapeResize, RandomChoiceResize, RandomResize, Resize
from detdatasets.transforms.test_time_aug import TestTimeAug

__all__ = [
    "BaseTransform", "Compose", "CopyPaste", "CutOut", "Expand", "FilterAnnotations",
    "FixShapeResize", "LoadAnnotations", "LoadImageFromFile", "LoadImageFromNDArray",
    "MinIoURandomCrop", "MixUp", "Mosaic", "PackDetInputs", "Pad", "PhotoMetricDistortion",
    "RandomAffine", "RandomChoiceResize", "RandomCrop", "RandomErasing", "RandomFlip",
    "RandomResize", "Resize", "TestTimeAug", "YOLOXHSVRandomAug",
    "to_tensor",
]
