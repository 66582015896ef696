"""The interface of assigners."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from detcore.structures import InstanceData


class BaseAssigner(metaclass=ABCMeta):
    """Assigns predictions to ground truths.

    ``assign(pred_instances, gt_instances, gt_instances_ignore=None, **kwargs)`` returns an
    :class:`AssignResult`. ``pred_instances`` carries ``priors`` (and, for cost-based
    assigners, ``bboxes`` decoded predictions and ``scores``); ``gt_instances`` carries
    ``bboxes`` and ``labels``; ``gt_instances_ignore`` carries the ``bboxes`` of regions to
    ignore.
    """

    @abstractmethod
    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: InstanceData | None = None, **kwargs):
        """Assign each prediction to a ground truth, the background, or "ignore"."""
