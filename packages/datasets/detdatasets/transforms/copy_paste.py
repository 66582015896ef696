"""CopyPaste: paste objects (by their masks) from another image onto this one."""

from __future__ import annotations

import warnings

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.transforms.base import (
    BaseTransform,
    boxes_from_masks,
    check_image,
    concat_instances,
    keep_instances,
    mixed_results,
    refuse_seg_map,
)


def box_masks(boxes, height: int, width: int):
    """BitmapMasks filling each box (corners truncated to whole pixels), for objects
    annotated with boxes only."""
    from detcore.structures import BitmapMasks

    corners = np.asarray(boxes.numpy() if hasattr(boxes, "numpy") else boxes).astype(np.int64)
    x1, y1, x2, y2 = (corners[:, i, None, None] for i in range(4))
    rows = np.arange(height)[None, :, None]
    columns = np.arange(width)[None, None, :]
    inside = (rows >= y1) & (rows < y2) & (columns >= x1) & (columns < x2)
    return BitmapMasks(inside.astype(np.uint8), height, width)


class CopyPaste(BaseTransform):
    """Simple Copy-Paste (Ghiasi et al., 2021): objects of another image (a random subset
    of them when ``selected``) are pasted by their masks; this image's objects lose the
    pixels covered and are dropped when they are occluded, that is when their box moved by
    more than ``bbox_occluded_thr`` pixels on some side and no more than
    ``mask_occluded_thr`` of their mask pixels remain. Boxes of this image's objects are
    recomputed from their remaining masks.

    Both images must have the same size (put a fixed-size crop or resize before). Masks
    come out as BitmapMasks (polygons are rasterised).

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (unless
    ``paste_by_box``), mix_results (one more such dict)
    Modified Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    Added Keys: gt_masks (with ``paste_by_box``: the boxes filled)

    Args:
        max_num_pasted: at most this many minus one objects are pasted.
        bbox_occluded_thr, mask_occluded_thr: occlusion thresholds (pixels) as above.
        selected: paste a random subset (0 to all objects) instead of all.
        paste_by_box: without masks, use each box filled as its mask.
    """

    def __init__(self, max_num_pasted: int = 100, bbox_occluded_thr: int = 10,
                 mask_occluded_thr: int = 300, selected: bool = True,
                 paste_by_box: bool = False):
        self.max_num_pasted = max_num_pasted
        self.bbox_occluded_thr = bbox_occluded_thr
        self.mask_occluded_thr = mask_occluded_thr
        self.selected = selected
        self.paste_by_box = paste_by_box

    def get_indexes(self, dataset) -> int:
        """One random dataset position."""
        return int(np.random.randint(0, len(dataset)))

    def _bitmap_masks(self, results: dict):
        from detcore.structures import PolygonMasks

        masks = results.get("gt_masks")
        if masks is not None:
            if self.paste_by_box:
                warnings.warn("CopyPaste: results already hold gt_masks; paste_by_box is "
                              "ignored", stacklevel=3)
            return masks.to_bitmap() if isinstance(masks, PolygonMasks) else masks
        if not self.paste_by_box:
            raise KeyError("CopyPaste needs results['gt_masks'] (LoadAnnotations with_mask=True) "
                           "or paste_by_box=True")
        return box_masks(results["gt_bboxes"], *results["img"].shape[:2])

    def _select_objects(self, source: dict) -> dict:
        """A random subset (0 to all) of the source's objects, drawn as MMDetection does."""
        num_objects = len(source["gt_bboxes"])
        num_pasted = np.random.randint(0, min(num_objects + 1, self.max_num_pasted))
        chosen = np.random.choice(num_objects, size=num_pasted, replace=False)
        selected = dict(source)
        keep_instances(selected, chosen)
        return selected

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        owner = type(self).__name__
        source = mixed_results(results, 1, owner)[0]
        for part in (results, source):
            refuse_seg_map(part, owner)
        source = dict(source, gt_masks=self._bitmap_masks(source))
        if self.selected:
            source = self._select_objects(source)
        dst_img, src_img = check_image(results, owner), check_image(source, owner)
        if dst_img.shape != src_img.shape:
            raise ValueError(f"{owner}: both images must have the same shape, got "
                             f"{dst_img.shape} and {src_img.shape}; resize or crop them to "
                             f"a fixed size first")
        dst_masks = self._bitmap_masks(results)
        results["gt_masks"] = dst_masks
        if len(source["gt_bboxes"]) == 0:
            return results

        from detcore.structures import BitmapMasks

        pasted = source["gt_masks"].masks.any(axis=0)
        remaining = BitmapMasks(np.where(pasted, 0, dst_masks.masks).astype(dst_masks.masks.dtype),
                                dst_masks.height, dst_masks.width)
        remaining_boxes = boxes_from_masks(remaining, results["gt_bboxes"])
        moved = (remaining_boxes.tensor - results["gt_bboxes"].tensor).abs()
        box_kept = (moved <= self.bbox_occluded_thr).all(dim=-1).numpy()
        mask_kept = remaining.areas > self.mask_occluded_thr
        results["gt_bboxes"] = remaining_boxes
        results["gt_masks"] = remaining
        keep_instances(results, box_kept | mask_kept)
        results.update(concat_instances([results, source], owner))
        results["img"] = np.where(pasted[..., None] if dst_img.ndim == 3 else pasted,
                                  src_img, dst_img)
        return results
