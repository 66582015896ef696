"""YOLO data pipeline pieces after MMYOLO: mixing (YOLOMosaic, Mosaic9, YOLOv5MixUp,
YOLOXMixUp), YOLOv5RandomAffine, YOLOv5HSVRandomAug, the letterbox (YOLOv5KeepRatioResize,
LetterResize), YOLOLoadAnnotations, and evaluation batch shapes (BatchShapePolicy with
YOLOv5CocoDataset). Results dicts in and out, as detdatasets' transforms.
"""

from detyolo.transforms.hsv import YOLOv5HSVRandomAug
from detyolo.transforms.loading import YOLOLoadAnnotations, merge_polygons
from detyolo.transforms.mix_img_transforms import (
    BaseMixImageTransform,
    Mosaic9,
    YOLOMosaic,
    YOLOv5MixUp,
    YOLOXMixUp,
)
from detyolo.transforms.random_affine import YOLOv5RandomAffine
from detyolo.transforms.resize import LetterResize, YOLOv5KeepRatioResize

__all__ = [
    "BaseMixImageTransform", "LetterResize", "Mosaic9", "YOLOLoadAnnotations",
    "YOLOMosaic", "YOLOXMixUp", "YOLOv5HSVRandomAug", "YOLOv5KeepRatioResize",
    "YOLOv5MixUp", "YOLOv5RandomAffine", "merge_polygons",
]
