"""Box structures and helpers: box classes, the box-type registry, overlaps and conversions.

Boxes are xyxy pixels with no +1 (width = x2 - x1).
"""

from .base_boxes import BaseBoxes
from .bbox_overlaps import bbox_overlaps
from .box_type import (
    autocast_box_type,
    box_converters,
    box_types,
    convert_box_type,
    get_box_type,
    register_box,
    register_box_converter,
    register_box_type,
    register_box_type_converter,
)
from .horizontal_boxes import HorizontalBoxes
from .transforms import (
    bbox2distance,
    bbox2roi,
    bbox_cxcywh_to_xyxy,
    bbox_flip,
    bbox_mapping,
    bbox_mapping_back,
    bbox_rescale,
    bbox_xywh_to_xyxy,
    bbox_xyxy_to_cxcywh,
    bbox_xyxy_to_xywh,
    cat_boxes,
    distance2bbox,
    empty_box_as,
    get_box_tensor,
    get_box_wh,
    roi2bbox,
    scale_boxes,
    stack_boxes,
)

__all__ = [
    "BaseBoxes",
    "HorizontalBoxes",
    "autocast_box_type",
    "bbox2distance",
    "bbox2roi",
    "bbox_cxcywh_to_xyxy",
    "bbox_flip",
    "bbox_mapping",
    "bbox_mapping_back",
    "bbox_overlaps",
    "bbox_rescale",
    "bbox_xywh_to_xyxy",
    "bbox_xyxy_to_cxcywh",
    "bbox_xyxy_to_xywh",
    "box_converters",
    "box_types",
    "cat_boxes",
    "convert_box_type",
    "distance2bbox",
    "empty_box_as",
    "get_box_tensor",
    "get_box_type",
    "get_box_wh",
    "register_box",
    "register_box_converter",
    "register_box_type",
    "register_box_type_converter",
    "roi2bbox",
    "scale_boxes",
    "stack_boxes",
]
