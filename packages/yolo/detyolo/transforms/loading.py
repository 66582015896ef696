"""YOLOLoadAnnotations: MMYOLO's LoadAnnotations (registered under another name, since
detdatasets already provides 'LoadAnnotations').

YOLO training has no use for ignored objects, so they are dropped at loading instead of
being carried through Mosaic and friends; polygon masks can replace the boxes
(``mask2bbox``, the "mask refine" of YOLOv5/YOLOv8) and an object's several polygons are
joined into one outline (``merge_polygons``), as Ultralytics does for segment labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from detcore.structures import HorizontalBoxes, PolygonMasks
from detdatasets.transforms.base import keep_instances
from detdatasets.transforms.loading import LoadAnnotations


def _closest_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Indices (i, j) of the closest points a[i], b[j] of two (N, 2) / (M, 2) point sets."""
    distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(distances), distances.shape)
    return int(i), int(j)


def merge_polygons(polygons: list[np.ndarray]) -> np.ndarray:
    """One flat polygon tracing several: consecutive polygons are bridged at their closest
    points and the bridges are walked there and back (a zero-width seam), as Ultralytics'
    ``merge_multi_segment``.

    The walk goes round the first polygon from its bridge to the second, along each middle
    polygon from the entry bridge to the exit bridge, round the last polygon, then back
    through the unvisited arcs of the middle polygons in reverse order.

    Args:
        polygons: flat (2K,) x, y arrays.
    Returns:
        (2P,) flat array.
    """
    rings = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons]
    if len(rings) == 1:
        return rings[0].reshape(-1)
    bridges = [_closest_pair(rings[i - 1], rings[i]) for i in range(1, len(rings))]
    last = len(rings) - 1
    outward, homeward = [], []
    for i, ring in enumerate(rings):
        entry = bridges[i - 1][1] if i > 0 else None
        exit_ = bridges[i][0] if i < last else None
        if entry is None or exit_ is None:  # the first or last polygon: walk all of it
            start = exit_ if entry is None else entry
            outward.append(np.roll(ring, -start, axis=0))
            outward[-1] = np.concatenate([outward[-1], outward[-1][:1]])
            continue
        if entry > exit_:  # walk the other way round so that the exit comes after the entry
            ring, entry, exit_ = ring[::-1], len(ring) - 1 - entry, len(ring) - 1 - exit_
        closed = np.roll(ring, -entry, axis=0)
        closed = np.concatenate([closed, closed[:1]])
        outward.append(closed[:exit_ - entry + 1])
        homeward.append(closed[exit_ - entry:])
    return np.concatenate(outward + homeward[::-1]).reshape(-1)


class YOLOLoadAnnotations(LoadAnnotations):
    """Load boxes, labels and polygon masks without the ignored objects.

    Objects with ``ignore_flag=1`` are left out entirely (``gt_ignore_flags`` is then all
    False). With ``with_mask`` the masks stay polygons (PolygonMasks) and objects without
    a usable polygon are left out too; ``merge_polygons`` joins an object's polygons into
    one (see :func:`merge_polygons`); ``mask2bbox`` sets each box to its mask's bounds.

    Required Keys: instances, ori_shape or height/width (with ``with_mask``), seg_map_path
    (with ``with_seg``)
    Modified Keys: instances (without the ignored objects)
    Added Keys: gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks, gt_seg_map

    Args:
        mask2bbox: boxes from the masks (needs ``with_mask=True``).
        poly2mask: must be False (bitmaps cost memory the YOLO pipelines do not need).
        merge_polygons: join the polygons of each object into one.
        Other arguments: those of detdatasets' LoadAnnotations.
    """

    def __init__(self, mask2bbox: bool = False, poly2mask: bool = False,
                 merge_polygons: bool = True, with_bbox: bool = True, with_label: bool = True,
                 with_mask: bool = False, with_seg: bool = False, box_type: str = "hbox",
                 reduce_zero_label: bool = False, ignore_index: int = 255,
                 imdecode_backend: str = "cv2", file_client_args: Mapping | None = None, *,
                 backend_args: Mapping | None = None):
        owner = type(self).__name__
        if poly2mask:
            raise ValueError(f"{owner}: poly2mask must be False (the YOLO transforms work on "
                             f"polygon masks); use detdatasets' LoadAnnotations for bitmaps")
        if mask2bbox and not with_mask:
            raise ValueError(f"{owner}: mask2bbox=True needs with_mask=True")
        if box_type != "hbox":
            raise ValueError(f"{owner}: box_type must be 'hbox', got {box_type!r}")
        super().__init__(with_bbox=with_bbox or mask2bbox, with_label=with_label,
                         with_mask=with_mask, with_seg=with_seg, poly2mask=False,
                         box_type=box_type, reduce_zero_label=reduce_zero_label,
                         ignore_index=ignore_index, imdecode_backend=imdecode_backend,
                         file_client_args=file_client_args, backend_args=backend_args)
        self.mask2bbox = mask2bbox
        self.merge_polygons = merge_polygons

    def transform(self, results: dict) -> dict:
        results["instances"] = [instance for instance in results.get("instances", [])
                                if not instance.get("ignore_flag", 0)]
        results = super().transform(results)
        if not self.with_mask:
            return results
        # the parent marks objects whose mask is unusable as ignored; YOLO drops them
        keep_instances(results, ~results["gt_ignore_flags"])
        masks = results["gt_masks"]
        if self.merge_polygons:
            masks = PolygonMasks([[merge_polygons(parts)] if len(parts) > 1 else parts
                                  for parts in masks.masks], masks.height, masks.width)
            results["gt_masks"] = masks
        if self.mask2bbox:
            results["gt_bboxes"] = HorizontalBoxes(masks.get_bboxes())
        return results
