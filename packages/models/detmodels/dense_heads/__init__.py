"""Dense heads: per-location classification and box regression over feature maps
(base_dense_head -> anchor_head / anchor_free_head -> the detectors' heads)."""

from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead
from .atss_head import ATSSHead, LevelAssignedAnchorHead
from .base_dense_head import BaseDenseHead
from .fcos_head import FCOSHead
from .gfl_head import GFLHead, Integral
from .retina_head import RetinaHead
from .rpn_head import RPNHead
from .ssd_head import SSDHead

__all__ = ["ATSSHead", "AnchorFreeHead", "AnchorHead", "BaseDenseHead", "FCOSHead", "GFLHead",
           "Integral", "LevelAssignedAnchorHead", "RPNHead", "RetinaHead", "SSDHead"]
