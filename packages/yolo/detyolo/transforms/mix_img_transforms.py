"""MMYOLO's multi-image transforms: YOLOMosaic (MMYOLO's 'Mosaic'), Mosaic9, YOLOv5MixUp and
YOLOXMixUp.

Unlike detdatasets' Mosaic/MixUp, which need the MultiImageMixDataset wrapper, these
fetch their extra images themselves: from ``results['dataset']`` (YOLOv5CocoDataset puts
itself there during training), running each through ``pre_transform`` (loading, and for
MixUp the whole Mosaic + affine branch), or, with ``use_cached``, from a cache of recent
samples (RTMDet). Inside MultiImageMixDataset they use the ``mix_results`` it provides.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.io import imresize
from detdatasets.transforms.base import (
    INSTANCE_KEYS,
    BaseTransform,
    check_image,
    concat_instances,
    keep_instances,
    mixed_results,
    record_homography,
    refuse_seg_map,
)
from detdatasets.transforms.compose import Compose
from detdatasets.transforms.mix import MixUp, Mosaic

#: the per-object keys a mixed-in image contributes besides its boxes
OBJECT_KEYS = ("gt_bboxes_labels", "gt_ignore_flags", "gt_instances_ids")
#: what the cache keeps of a sample: the image and its objects
CACHED_KEYS = ("img", "img_shape", "ori_shape", "sample_idx", *INSTANCE_KEYS)


class BaseMixImageTransform(BaseTransform):
    """Fetch ``num_mixed`` other samples, then :meth:`mix_img_transform` them in.

    With probability 1 - ``prob`` the sample passes unchanged. The other samples come
    from the cache (``use_cached``), else from ``results['mix_results']`` when a
    MultiImageMixDataset provided them, else from ``results['dataset']`` at
    :meth:`get_indexes` positions, each run through ``pre_transform``; a pre-transform
    returning None makes it draw again, up to ``max_refetch`` times.

    The cache holds copies of the image and objects of the last samples seen (at most
    ``max_cached_images``; when full, a random one, or the oldest without ``random_pop``,
    is dropped). While it holds 4 or fewer, the other samples come from the dataset, or
    without one the sample passes unchanged (MMYOLO passes it unchanged either way, which
    breaks a following YOLOv5RandomAffine that crops the mosaic canvas).
    """

    #: how many other samples :meth:`mix_img_transform` needs
    num_mixed: int = 1
    #: the smallest cache that can feed the transform
    min_cached_images: int = 2

    def __init__(self, pre_transform: Sequence[Mapping | Callable] | None = None,
                 prob: float = 1.0, use_cached: bool = False, max_cached_images: int = 40,
                 random_pop: bool = True, max_refetch: int = 15):
        owner = type(self).__name__
        if not 0 <= prob <= 1:
            raise ValueError(f"{owner}: prob must be in [0, 1], got {prob}")
        if use_cached and max_cached_images < self.min_cached_images:
            raise ValueError(f"{owner}: max_cached_images must be >= {self.min_cached_images}, "
                             f"got {max_cached_images}")
        if max_refetch < 1:
            raise ValueError(f"{owner}: max_refetch must be >= 1, got {max_refetch}")
        self.pre_transform = None if pre_transform is None else Compose(pre_transform)
        self.prob = prob
        self.use_cached = use_cached
        self.max_cached_images = max_cached_images
        self.random_pop = random_pop
        self.max_refetch = max_refetch
        self.results_cache: list[dict] = []

    def get_indexes(self, dataset) -> list[int]:
        """``num_mixed`` random positions in ``dataset`` (a dataset or the cache list)."""
        return [int(np.random.randint(0, len(dataset))) for _ in range(self.num_mixed)]

    @abstractmethod
    def mix_img_transform(self, results: dict) -> dict:
        """Mix ``results['mix_results']`` into ``results``; return the updated dict."""

    def transform(self, results: dict) -> dict:
        if np.random.uniform(0, 1) > self.prob:
            return results
        dataset = results.pop("dataset", None)
        if self.use_cached:
            self._remember(results)
        if self.use_cached and len(self.results_cache) > 4:
            results["mix_results"] = self._fetch(self.results_cache)
        elif "mix_results" in results:
            pass  # given by MultiImageMixDataset
        elif dataset is not None:
            results["mix_results"] = self._fetch(dataset)
        elif self.use_cached:
            return results  # MMYOLO's warm-up of the cache: the first samples pass unchanged
        else:
            raise KeyError(f"{type(self).__name__} needs results['dataset'] to draw other "
                           f"images from: use a dataset that passes itself to the pipeline "
                           f"(YOLOv5CocoDataset), MultiImageMixDataset, or use_cached=True")
        results = self.mix_img_transform(results)
        results.pop("mix_results", None)
        return self._with_dataset(results, dataset)

    @staticmethod
    def _with_dataset(results: dict, dataset) -> dict:
        if dataset is not None:  # for the next mixing transform of the pipeline
            results["dataset"] = dataset
        return results

    def _remember(self, results: dict) -> None:
        # only what mixing reads: deep-copying the raw annotation records (polygon lists)
        # would cost more than the whole mosaic
        self.results_cache.append(copy.deepcopy({key: results[key] for key in CACHED_KEYS
                                                 if key in results}))
        if len(self.results_cache) > self.max_cached_images:
            index = np.random.randint(0, len(self.results_cache)) if self.random_pop else 0
            self.results_cache.pop(index)

    def _fetch(self, source) -> list[dict]:
        """``num_mixed`` samples of ``source``: copies from the cache, or dataset records run
        through ``pre_transform``."""
        for _ in range(self.max_refetch):
            indexes = self.get_indexes(source)
            if source is self.results_cache:
                return [copy.deepcopy(source[i]) for i in indexes]
            mixed = [self._prepare(source.get_data_info(i), source) for i in indexes]
            if all(m is not None for m in mixed):
                return mixed
        raise RuntimeError(f"{type(self).__name__}: pre_transform returned None for the images "
                           f"drawn {self.max_refetch} times in a row; check the dataset and "
                           f"pre_transform")

    def _prepare(self, info: dict, dataset) -> dict | None:
        if self.pre_transform is None:
            return info
        info["dataset"] = dataset  # a mixing pre-transform (MixUp's Mosaic) draws from it too
        prepared = self.pre_transform(info)
        if prepared is not None:
            prepared.pop("dataset", None)
        return prepared


class YOLOMosaic(BaseMixImageTransform):
    """MMYOLO's Mosaic: four images around a random centre on a (2h, 2w) canvas.

    The placement is detdatasets' Mosaic (each image resized to fit ``img_scale`` (w, h)
    keeping its ratio, cut at the canvas, boxes clipped with ``bbox_clip_border`` and
    dropped when fully outside); the other three images come from the dataset or the
    cache (see BaseMixImageTransform).

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (optional),
    dataset (or mix_results, or use_cached)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    """

    num_mixed = 3
    min_cached_images = 4

    def __init__(self, img_scale: Sequence[int] = (640, 640),
                 center_ratio_range: Sequence[float] = (0.5, 1.5), bbox_clip_border: bool = True,
                 pad_val: float = 114.0, pre_transform: Sequence | None = None, prob: float = 1.0,
                 use_cached: bool = False, max_cached_images: int = 40, random_pop: bool = True,
                 max_refetch: int = 15):
        super().__init__(pre_transform, prob, use_cached, max_cached_images, random_pop,
                         max_refetch)
        self.img_scale = tuple(img_scale)
        self.center_ratio_range = tuple(center_ratio_range)
        self.bbox_clip_border = bbox_clip_border
        self.pad_val = pad_val
        self._mosaic = Mosaic(img_scale, center_ratio_range, bbox_clip_border, pad_val, prob=1.0)

    def mix_img_transform(self, results: dict) -> dict:
        return self._mosaic(results)


class YOLOXMixUp(BaseMixImageTransform):
    """YOLOX's MixUp: blend 50/50 with another image that is resized to fit ``img_scale``,
    jittered by a factor from ``ratio_range``, maybe flipped and randomly cropped; the
    mixing itself is detdatasets' MixUp (an image without boxes is not mixed in).

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (optional),
    dataset (or mix_results, or use_cached)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    """

    def __init__(self, img_scale: Sequence[int] = (640, 640),
                 ratio_range: Sequence[float] = (0.5, 1.5), flip_ratio: float = 0.5,
                 pad_val: float = 114.0, bbox_clip_border: bool = True,
                 pre_transform: Sequence | None = None, prob: float = 1.0,
                 use_cached: bool = False, max_cached_images: int = 20, random_pop: bool = True,
                 max_refetch: int = 15):
        super().__init__(pre_transform, prob, use_cached, max_cached_images, random_pop,
                         max_refetch)
        self.img_scale = tuple(img_scale)
        self.ratio_range = tuple(ratio_range)
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.bbox_clip_border = bbox_clip_border
        self._mixup = MixUp(img_scale, ratio_range, flip_ratio, pad_val,
                            bbox_clip_border=bbox_clip_border)

    def mix_img_transform(self, results: dict) -> dict:
        return self._mixup(results)


class YOLOv5MixUp(BaseMixImageTransform):
    """YOLOv5's MixUp: ``img * r + other * (1 - r)`` with r ~ Beta(alpha, beta) (around
    0.5 for the default 32, 32), keeping the objects of both. The other image must have
    the same shape, so its ``pre_transform`` is usually the same Mosaic + affine branch.

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (optional),
    dataset (or mix_results, or use_cached)
    Modified Keys: img (uint8), gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    """

    def __init__(self, alpha: float = 32.0, beta: float = 32.0,
                 pre_transform: Sequence | None = None, prob: float = 1.0,
                 use_cached: bool = False, max_cached_images: int = 20, random_pop: bool = True,
                 max_refetch: int = 15):
        super().__init__(pre_transform, prob, use_cached, max_cached_images, random_pop,
                         max_refetch)
        if alpha <= 0 or beta <= 0:
            raise ValueError(f"YOLOv5MixUp: alpha and beta must be > 0, got {alpha}, {beta}")
        self.alpha = alpha
        self.beta = beta

    @autocast_box_type()
    def mix_img_transform(self, results: dict) -> dict:
        owner = type(self).__name__
        other = mixed_results(results, 1, owner)[0]
        img, other_img = check_image(results, owner), check_image(other, owner)
        if img.shape != other_img.shape:
            raise ValueError(f"{owner}: the mixed-in image has shape {other_img.shape} but the "
                             f"image {img.shape}; give pre_transform the steps that bring it to "
                             f"the same size (e.g. the same Mosaic and YOLOv5RandomAffine)")
        for part in (results, other):
            refuse_seg_map(part, owner)
        ratio = np.random.beta(self.alpha, self.beta)
        results["img"] = (img * ratio + other_img * (1 - ratio)).astype(np.uint8)
        results.update(concat_instances([results, other], owner))
        return results


#: Mosaic9's nine cells in filling order, each placed against the centre image, the
#: previous image or the canvas origin (see Mosaic9._paste_corner)
MOSAIC9_CELLS = ("center", "top", "top_right", "right", "bottom_right", "bottom",
                 "bottom_left", "left", "top_left")


class Mosaic9(BaseMixImageTransform):
    """Nine images on a (3h, 3w) canvas, then a random (2h, 2w) window of it (YOLOv5's
    load_mosaic9); ``img_scale`` = (w, h).

    The sample's own image goes in the centre cell at (w, h); the other eight, each
    resized to fit ``img_scale`` keeping its ratio, are laid around it clockwise from the
    top, each touching the centre image or its predecessor. The window's top-left corner
    is drawn uniformly from [0, w) x [0, h). Boxes follow their images; with
    ``bbox_clip_border`` they are clipped to the window, and boxes fully outside it are
    dropped with their labels, flags and masks.

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (optional),
    dataset (or mix_results, or use_cached)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    Added Keys: homography_matrix (of the centre image's placement)
    """

    num_mixed = 8
    min_cached_images = 9

    def __init__(self, img_scale: Sequence[int] = (640, 640), bbox_clip_border: bool = True,
                 pad_val: float = 114.0, pre_transform: Sequence | None = None, prob: float = 1.0,
                 use_cached: bool = False, max_cached_images: int = 50, random_pop: bool = True,
                 max_refetch: int = 15):
        super().__init__(pre_transform, prob, use_cached, max_cached_images, random_pop,
                         max_refetch)
        self.img_scale = tuple(img_scale)
        self.bbox_clip_border = bbox_clip_border
        self.pad_val = pad_val

    def _paste_corner(self, cell: str, size: tuple[int, int], center: tuple[int, int],
                      previous: tuple[int, int]) -> tuple[int, int]:
        """(x, y) of the top-left corner of an image of (h, w) ``size`` in ``cell``, on the
        (3h, 3w) canvas, given the (h, w) of the centre and of the previous image."""
        width, height = self.img_scale
        h, w = size
        center_h, center_w = center
        previous_h, previous_w = previous
        return {
            "center": (width, height),
            "top": (width, height - h),
            "top_right": (width + previous_w, height - h),
            "right": (width + center_w, height),
            "bottom_right": (width + center_w, height + previous_h),
            "bottom": (width + center_w - w, height + center_h),
            "bottom_left": (width + center_w - previous_w - w, height + center_h),
            "left": (width - w, height + center_h - h),
            "top_left": (width - w, height + center_h - previous_h - h),
        }[cell]

    @autocast_box_type()
    def mix_img_transform(self, results: dict) -> dict:
        owner = type(self).__name__
        parts = [results, *mixed_results(results, self.num_mixed, owner)]
        img = check_image(results, owner)
        for part in parts:
            refuse_seg_map(part, owner)
        width, height = self.img_scale
        canvas_h, canvas_w = 3 * height, 3 * width
        canvas = np.full((canvas_h, canvas_w, *img.shape[2:]), self.pad_val, dtype=img.dtype)
        offset_x = int(np.random.uniform(0, width))
        offset_y = int(np.random.uniform(0, height))
        window = np.array([offset_x, offset_y, offset_x + 2 * width, offset_y + 2 * height])

        pieces, center, previous = [], (0, 0), (0, 0)
        for cell, part in zip(MOSAIC9_CELLS, parts):
            part_img = check_image(part, owner)
            h, w = part_img.shape[:2]
            ratio = min(height / h, width / w)
            new_h, new_w = int(h * ratio), int(w * ratio)
            if cell == "center":
                center = (new_h, new_w)
            x, y = self._paste_corner(cell, (new_h, new_w), center, previous)
            previous = (new_h, new_w)
            # the part of the image that lands on the canvas (corners may lie left of or above it)
            crop_x, crop_y = max(-x, 0), max(-y, 0)
            x1, y1 = x + crop_x, y + crop_y
            resized = imresize(part_img, (new_w, new_h))
            canvas[y1:y + new_h, x1:x + new_w] = resized[crop_y:, crop_x:]

            piece = {key: part[key] for key in OBJECT_KEYS if key in part}
            boxes = part["gt_bboxes"].clone()
            boxes.rescale_([ratio, ratio])
            boxes.translate_([x - offset_x, y - offset_y])
            piece["gt_bboxes"] = boxes
            if part.get("gt_masks") is not None:
                piece["gt_masks"] = (part["gt_masks"].resize((new_h, new_w))
                                     .crop(np.array([crop_x, crop_y, new_w, new_h]))
                                     .expand(canvas_h, canvas_w, y1, x1).crop(window))
            pieces.append(piece)
            if cell == "center":
                record_homography(results, np.array([[ratio, 0, x - offset_x],
                                                     [0, ratio, y - offset_y], [0, 0, 1]]))

        out_h, out_w = 2 * height, 2 * width
        results.update(concat_instances(pieces, owner))
        if self.bbox_clip_border:
            results["gt_bboxes"].clip_((out_h, out_w))
        keep_instances(results, results["gt_bboxes"].is_inside((out_h, out_w)).numpy())
        results["img"] = canvas[offset_y:offset_y + out_h, offset_x:offset_x + out_w]
        results["img_shape"] = (out_h, out_w)
        return results
