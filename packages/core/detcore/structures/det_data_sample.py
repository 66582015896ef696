"""DetDataSample: everything a detector reads and writes for one image.

Behaves like MMDetection 3.x's class of the same name. The annotation and prediction fields
are typed: ``sample.gt_instances = 3`` raises ``TypeError`` instead of failing later in a
loss. Image facts live in metainfo: ``img_id``, ``img_path``, ``ori_shape`` (h, w),
``img_shape`` (h, w) after resizing, ``pad_shape``, ``scale_factor`` (w_scale, h_scale),
``flip``, ``flip_direction``, ``batch_input_shape``...
"""

from __future__ import annotations

from typing import Any

from .base_data_element import BaseDataElement
from .instance_data import InstanceData
from .pixel_data import PixelData


class TypedField:
    """A data field of a data element that only accepts values of ``expected_type``.

    Reading an unset field raises ``AttributeError`` (so ``sample.get(name)`` and
    ``hasattr`` work); ``del sample.<name>`` removes it.
    """

    def __init__(self, expected_type: type, doc: str) -> None:
        self.expected_type = expected_type
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, element: BaseDataElement | None, owner: type) -> Any:
        if element is None:
            return self
        try:
            return element.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, element: BaseDataElement, value: Any) -> None:
        if not isinstance(value, self.expected_type):
            raise TypeError(
                f"{type(element).__name__}.{self.name} must be of type {self.expected_type.__name__}, "
                f"but got {type(value).__name__}"
            )
        element.__dict__[self.name] = value

    def __delete__(self, element: BaseDataElement) -> None:
        if self.name not in element.__dict__:
            raise AttributeError(self.name)
        del element.__dict__[self.name]


class DetDataSample(BaseDataElement):
    """Annotations and predictions of one image for detection and segmentation.

    Examples:
        >>> sample = DetDataSample(metainfo=dict(img_id=7, img_shape=(480, 640)))
        >>> sample.gt_instances = InstanceData(bboxes=torch.rand(2, 4), labels=torch.tensor([0, 1]))
        >>> 'gt_instances' in sample, sample.img_id
        (True, 7)
    """

    proposals = TypedField(
        InstanceData, "Region proposals (bboxes (N, 4) xyxy, scores) for two-stage detectors."
    )
    gt_instances = TypedField(
        InstanceData, "Ground-truth instances: bboxes, labels (0..K-1), masks..."
    )
    pred_instances = TypedField(
        InstanceData, "Predicted instances: bboxes (N, 4) xyxy, scores, labels, masks..."
    )
    ignored_instances = TypedField(
        InstanceData, "Instances to ignore in training and evaluation (crowd regions)."
    )
    gt_sem_seg = TypedField(
        PixelData, "Ground-truth semantic segmentation map, field sem_seg of shape (1, H, W)."
    )
    pred_sem_seg = TypedField(PixelData, "Predicted semantic segmentation map, field sem_seg.")
    gt_panoptic_seg = TypedField(
        PixelData, "Ground-truth panoptic segmentation map, field sem_seg."
    )
    pred_panoptic_seg = TypedField(PixelData, "Predicted panoptic segmentation map, field sem_seg.")
