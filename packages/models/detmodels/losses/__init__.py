"""Detection losses with MMDetection's names, arguments and reduction rules (see utils.py):
every module's forward takes ``(pred, target, weight=None, avg_factor=None,
reduction_override=None)`` and scales its result by ``loss_weight``."""

from .accuracy import Accuracy, accuracy
from .balanced_l1_loss import BalancedL1Loss, balanced_l1_loss
from .cross_entropy_loss import (
    CrossEntropyLoss,
    binary_cross_entropy,
    cross_entropy,
    mask_cross_entropy,
)
from .dice_loss import DiceLoss, dice_loss
from .focal_loss import (
    FocalLoss,
    py_focal_loss_with_prob,
    py_sigmoid_focal_loss,
    sigmoid_focal_loss,
)
from .gfocal_loss import (
    DistributionFocalLoss,
    QualityFocalLoss,
    distribution_focal_loss,
    quality_focal_loss,
)
from .ghm_loss import GHMC, GHMR
from .iou_loss import (
    CIoULoss,
    DIoULoss,
    EIoULoss,
    GIoULoss,
    IoULoss,
    SIoULoss,
    ciou_loss,
    diou_loss,
    eiou_loss,
    giou_loss,
    iou_loss,
    siou_loss,
)
from .smooth_l1_loss import L1Loss, SmoothL1Loss, l1_loss, smooth_l1_loss
from .utils import reduce_loss, weight_reduce_loss, weighted_loss
from .varifocal_loss import VarifocalLoss, varifocal_loss

__all__ = [
    "Accuracy", "BalancedL1Loss", "CIoULoss", "CrossEntropyLoss", "DIoULoss", "DiceLoss",
    "DistributionFocalLoss", "EIoULoss", "FocalLoss", "GHMC", "GHMR", "GIoULoss", "IoULoss",
    "L1Loss", "QualityFocalLoss", "SIoULoss", "SmoothL1Loss", "VarifocalLoss", "accuracy",
    "balanced_l1_loss", "binary_cross_entropy", "ciou_loss", "cross_entropy", "dice_loss",
    "diou_loss", "distribution_focal_loss", "eiou_loss", "giou_loss", "iou_loss", "l1_loss",
    "mask_cross_entropy", "py_focal_loss_with_prob", "py_sigmoid_focal_loss",
    "quality_focal_loss", "reduce_loss", "siou_loss", "sigmoid_focal_loss", "smooth_l1_loss",
    "varifocal_loss", "weight_reduce_loss", "weighted_loss",
]
