"""The interface of box coders: regression targets from (prior, gt) pairs and back."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod


class BaseBBoxCoder(metaclass=ABCMeta):
    """Encodes boxes relative to priors (``encode``) and decodes predictions (``decode``).

    Args:
        use_box_type: ``decode`` returns HorizontalBoxes instead of a tensor.
    """

    #: length of one encoded box (heads size their regression branch with it)
    encode_size = 4

    def __init__(self, use_box_type: bool = False, **kwargs):
        self.use_box_type = use_box_type

    @abstractmethod
    def encode(self, bboxes, gt_bboxes):
        """Regression targets of ``gt_bboxes`` relative to ``bboxes`` (priors)."""

    @abstractmethod
    def decode(self, bboxes, bboxes_pred):
        """Boxes from priors ``bboxes`` and predicted regressions ``bboxes_pred``."""
