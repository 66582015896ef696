"""Box coders: regression targets relative to priors, and their inverse."""

from .base_bbox_coder import BaseBBoxCoder
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder, bbox2delta, delta2bbox
from .distance_point_bbox_coder import DistancePointBBoxCoder
from .pseudo_bbox_coder import PseudoBBoxCoder
from .tblr_bbox_coder import TBLRBBoxCoder, bboxes2tblr, tblr2bboxes

__all__ = ["BaseBBoxCoder", "DeltaXYWHBBoxCoder", "DistancePointBBoxCoder", "PseudoBBoxCoder",
           "TBLRBBoxCoder", "bbox2delta", "bboxes2tblr", "delta2bbox", "tblr2bboxes"]
