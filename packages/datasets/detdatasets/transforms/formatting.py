"""PackDetInputs: the results dict as a model input tensor and a DetDataSample."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detdatasets.transforms.base import BaseTransform

#: results key -> field of gt_instances / ignored_instances
INSTANCE_FIELDS = {"gt_bboxes": "bboxes", "gt_bboxes_labels": "labels", "gt_masks": "masks"}


def to_tensor(data):
    """A Tensor from a Tensor, ndarray (sharing memory), sequence, int or float."""
    import torch

    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return torch.from_numpy(data)
    if isinstance(data, Sequence) and not isinstance(data, str):
        return torch.tensor(data)
    if isinstance(data, int):
        return torch.LongTensor([data])
    if isinstance(data, float):
        return torch.FloatTensor([data])
    raise TypeError(f"cannot convert {type(data).__name__} to a tensor")


class PackDetInputs(BaseTransform):
    """Pack a sample for a detector: ``{'inputs': (C, H, W) tensor of the image's dtype
    (uint8 unless a transform made it float), 'data_samples': DetDataSample}``.

    Objects with gt_ignore_flags set go to ``ignored_instances``, the others to
    ``gt_instances`` (fields bboxes, labels, masks; boxes and masks keep their classes).
    A seg map becomes ``gt_sem_seg.sem_seg`` (1, H, W); proposals become ``proposals``.
    ``meta_keys`` present in the results are copied into the sample's metainfo.

    Required Keys: img, gt_bboxes (optional), gt_bboxes_labels (optional), gt_ignore_flags
    (optional), gt_masks (optional), gt_seg_map (optional), proposals and
    proposals_scores (optional), the meta_keys
    Added Keys: inputs, data_samples (the only keys of the output)
    """

    def __init__(self, meta_keys: Sequence[str] = ("img_id", "img_path", "ori_shape",
                                                   "img_shape", "scale_factor", "flip",
                                                   "flip_direction")):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        from detcore.structures import BaseBoxes, DetDataSample, InstanceData, PixelData

        packed = {}
        if "img" in results:
            img = results["img"]
            if img.ndim < 3:
                img = img[..., None]
            # one copy either way: a strided view is made contiguous in numpy first
            if img.flags.c_contiguous:
                packed["inputs"] = to_tensor(img).permute(2, 0, 1).contiguous()
            else:
                packed["inputs"] = to_tensor(np.ascontiguousarray(img.transpose(2, 0, 1)))

        sample = DetDataSample()
        instances, ignored = InstanceData(), InstanceData()
        flags = results.get("gt_ignore_flags")
        if flags is not None:
            valid, ignore = np.flatnonzero(flags == 0), np.flatnonzero(flags == 1)
        for key, field in INSTANCE_FIELDS.items():
            if key not in results:
                continue
            value = results[key]
            as_is = key == "gt_masks" or isinstance(value, BaseBoxes)
            if flags is None:
                instances[field] = value if as_is else to_tensor(value)
                continue
            kept, dropped = value[valid], value[ignore]
            instances[field] = kept if as_is else to_tensor(kept)
            ignored[field] = dropped if as_is else to_tensor(dropped)
        sample.gt_instances = instances
        sample.ignored_instances = ignored

        if "proposals" in results:
            sample.proposals = InstanceData(bboxes=to_tensor(results["proposals"]),
                                            scores=to_tensor(results["proposals_scores"]))
        if "gt_seg_map" in results:
            sem_seg = PixelData(sem_seg=to_tensor(results["gt_seg_map"][None, ...].copy()))
            if "ignore_index" in results:
                sem_seg.set_metainfo(dict(ignore_index=results["ignore_index"]))
            sample.gt_sem_seg = sem_seg
        sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        packed["data_samples"] = sample
        return packed
