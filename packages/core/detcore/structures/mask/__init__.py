"""Instance masks: BitmapMasks ((N, H, W) arrays) and PolygonMasks (COCO polygons).

Method names and behaviour follow MMDetection 3.x's ``mmdet.structures.mask``.
"""

from .base import BaseInstanceMasks
from .bitmap import BitmapMasks
from .conversions import bitmap_to_polygon, polygon_to_bitmap
from .polygon import PolygonMasks
from .utils import encode_mask_results, mask2bbox

__all__ = [
    "BaseInstanceMasks",
    "BitmapMasks",
    "PolygonMasks",
    "bitmap_to_polygon",
    "encode_mask_results",
    "mask2bbox",
    "polygon_to_bitmap",
]
