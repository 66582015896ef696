"""Detection data structures: what datasets, transforms, models and metrics pass around.

Boxes are xyxy pixels with no +1; labels are 0..K-1.
"""

from .base_data_element import BaseDataElement
from .bbox import BaseBoxes, HorizontalBoxes, bbox_overlaps, get_box_type, register_box_type
from .det_data_sample import DetDataSample
from .instance_data import InstanceData
from .mask import BaseInstanceMasks, BitmapMasks, PolygonMasks
from .pixel_data import PixelData

__all__ = [
    "BaseBoxes",
    "BaseDataElement",
    "BaseInstanceMasks",
    "BitmapMasks",
    "DetDataSample",
    "HorizontalBoxes",
    "InstanceData",
    "PixelData",
    "PolygonMasks",
    "bbox_overlaps",
    "get_box_type",
    "register_box_type",
]
