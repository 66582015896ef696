"""Loading transforms: images from files or arrays, and a record's annotations as gt_* keys."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from detdatasets.io import imread
from detdatasets.transforms.base import BaseTransform

#: OpenCV decoding flags by mmcv's ``color_type`` names. The colour and grayscale flags
#: apply the EXIF orientation; 'unchanged' and the '*_ignore_orientation' ones do not.
COLOR_TYPES = ("color", "grayscale", "unchanged", "color_ignore_orientation",
               "grayscale_ignore_orientation")


def _check_local_backend(owner: str, backend_args: Mapping | None,
                         file_client_args: Mapping | None) -> None:
    """Files are read from the local file system; refuse settings that ask for another store."""
    for name, args in (("backend_args", backend_args), ("file_client_args", file_client_args)):
        if args and args.get("backend", "local") != "local":
            raise ValueError(f"{owner}: {name}={dict(args)!r} asks for a storage backend this "
                             f"package does not provide; only local files (backend='local') "
                             f"are read")


def _check_decoder(owner: str, imdecode_backend: str) -> None:
    if imdecode_backend != "cv2":
        raise ValueError(f"{owner}: imdecode_backend must be 'cv2' (images are decoded with "
                         f"OpenCV), got {imdecode_backend!r}")


class LoadImageFromFile(BaseTransform):
    """Read the image at ``results['img_path']`` with OpenCV (EXIF orientation applied for
    'color' and 'grayscale').

    Required Keys: img_path
    Modified Keys: img, img_shape, ori_shape

    Args:
        to_float32: return a float32 image instead of uint8.
        color_type: 'color' (H, W, 3), 'grayscale' (H, W), 'unchanged' (as stored, e.g.
            with alpha), or 'color_ignore_orientation' / 'grayscale_ignore_orientation'.
        imdecode_backend: only 'cv2'.
        file_client_args, backend_args: accepted for MMDetection configs; only local
            files are supported.
        ignore_empty: return None (the dataset then draws another sample) instead of
            raising when the file is missing or cannot be decoded.
        channel_order: 'bgr' (OpenCV's, the default) or 'rgb'.

    A missing file raises FileNotFoundError and an undecodable one ValueError; both name
    the file.
    """

    def __init__(self, to_float32: bool = False, color_type: str = "color",
                 imdecode_backend: str = "cv2", file_client_args: Mapping | None = None,
                 ignore_empty: bool = False, *, backend_args: Mapping | None = None,
                 channel_order: str = "bgr"):
        if color_type not in COLOR_TYPES:
            raise ValueError(f"{type(self).__name__}: color_type must be one of {COLOR_TYPES}, "
                             f"got {color_type!r}")
        _check_decoder(type(self).__name__, imdecode_backend)
        _check_local_backend(type(self).__name__, backend_args, file_client_args)
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.file_client_args = file_client_args
        self.ignore_empty = ignore_empty
        self.backend_args = backend_args
        self.channel_order = channel_order

    def transform(self, results: dict) -> dict | None:
        if "img_path" not in results:
            raise KeyError(f"{type(self).__name__} needs results['img_path']; got keys "
                           f"{sorted(results)}")
        try:
            img = imread(results["img_path"], self.color_type, self.channel_order)
        except (FileNotFoundError, ValueError):
            if self.ignore_empty:
                return None
            raise
        return self._set_image(results, img)

    def _set_image(self, results: dict, img: np.ndarray) -> dict:
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results


class LoadImageFromNDArray(LoadImageFromFile):
    """Take an already decoded image from ``results['img']`` (webcam frames, inference on
    arrays) and fill in the keys LoadImageFromFile would.

    Required Keys: img
    Modified Keys: img, img_path (set to None), img_shape, ori_shape
    """

    def transform(self, results: dict) -> dict:
        img = results.get("img")
        if not isinstance(img, np.ndarray):
            raise TypeError(f"{type(self).__name__} needs results['img'] to be an ndarray, got "
                            f"{type(img).__name__}")
        results["img_path"] = None
        return self._set_image(results, img)


class LoadAnnotations(BaseTransform):
    """Turn the record's ``instances`` (and ``seg_map_path``) into gt_* arrays.

    Required Keys: instances (each with bbox, bbox_label, ignore_flag, mask), seg_map_path
    (with ``with_seg``), ori_shape or height/width (with ``with_mask``)
    Added Keys: gt_bboxes (box_type boxes, or a float32 (N, 4) array with box_type=None),
    gt_bboxes_labels (int64 (N,)), gt_ignore_flags (bool (N,)), gt_masks (BitmapMasks, or
    PolygonMasks with poly2mask=False), gt_seg_map (H, W), ignore_index

    Args:
        with_bbox, with_label, with_mask, with_seg: which annotations to load.
        poly2mask: rasterise polygons (and RLEs) to BitmapMasks; False keeps PolygonMasks.
        box_type: registered box type of gt_bboxes ('hbox'), or None for an ndarray.
        reduce_zero_label: semantic seg label 0 becomes ``ignore_index`` and the others
            shift down by one.
        ignore_index: the label of ignored pixels in gt_seg_map.

    An instance whose mask is unusable (a polygon list with no valid polygon, an RLE dict
    without counts/size, or an RLE with poly2mask=False) gets an empty mask and is marked
    ignored, as in MMDetection, so boxes, labels and masks stay aligned.
    """

    def __init__(self, with_bbox: bool = True, with_label: bool = True, with_mask: bool = False,
                 with_seg: bool = False, poly2mask: bool = True, box_type: str | None = "hbox",
                 reduce_zero_label: bool = False, ignore_index: int = 255,
                 imdecode_backend: str = "cv2", file_client_args: Mapping | None = None, *,
                 backend_args: Mapping | None = None):
        _check_decoder(type(self).__name__, imdecode_backend)
        _check_local_backend(type(self).__name__, backend_args, file_client_args)
        self.with_bbox = with_bbox
        self.with_label = with_label
        self.with_mask = with_mask
        self.with_seg = with_seg
        self.poly2mask = poly2mask
        self.box_type = box_type
        self.reduce_zero_label = reduce_zero_label
        self.ignore_index = ignore_index
        self.imdecode_backend = imdecode_backend
        self.file_client_args = file_client_args
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        instances = results.get("instances", [])
        if self.with_bbox:
            results["gt_bboxes"] = self._load_boxes(instances, results)
            results["gt_ignore_flags"] = self._ignore_flags(instances)
        if self.with_label:
            results["gt_bboxes_labels"] = np.array(
                [instance["bbox_label"] for instance in instances], dtype=np.int64)
        if self.with_mask:
            results["gt_masks"] = self._load_masks(instances, results)
            results["gt_ignore_flags"] = self._ignore_flags(instances)
        if self.with_seg:
            self._load_seg_map(results)
        return results

    @staticmethod
    def _ignore_flags(instances: list) -> np.ndarray:
        return np.array([instance.get("ignore_flag", 0) for instance in instances], dtype=bool)

    def _load_boxes(self, instances: list, results: dict):
        boxes = [instance["bbox"] for instance in instances]
        for i, box in enumerate(boxes):
            if np.shape(box) != (4,):
                raise ValueError(f"{type(self).__name__}: {results.get('img_path')} instance "
                                 f"{i}: 'bbox' must be [x1, y1, x2, y2], got {box!r}")
        boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        if self.box_type is None:
            return boxes
        from detcore.structures import get_box_type

        _, box_cls = get_box_type(self.box_type)
        return box_cls(boxes)  # float32, as the array

    def _load_masks(self, instances: list, results: dict):
        from detcore.structures import BitmapMasks, PolygonMasks

        if "ori_shape" in results:
            height, width = results["ori_shape"][:2]
        elif "height" in results and "width" in results:
            height, width = results["height"], results["width"]
        else:
            raise KeyError(f"{type(self).__name__}(with_mask=True) needs results['ori_shape'] "
                           f"(load the image first) or the record's height and width")
        masks = [self._usable_mask(instance, f"{results.get('img_path')} instance {i}")
                 for i, instance in enumerate(instances)]
        if not self.poly2mask:
            return PolygonMasks(masks, height, width)
        bitmaps = [_decode_mask(mask, height, width) for mask in masks]
        return BitmapMasks(bitmaps, height, width)

    def _usable_mask(self, instance: dict, where: str):
        """The instance's mask annotation, or a degenerate polygon (and ignore_flag=1)."""
        mask = instance.get("mask")
        if isinstance(mask, list):
            if not all(isinstance(p, (list, tuple, np.ndarray)) for p in mask):
                raise ValueError(f"{type(self).__name__}: {where}: 'mask' must be a list of "
                                 f"polygons [[x0, y0, x1, y1, ...], ...] or an RLE dict, got "
                                 f"{mask!r:.80}")
            polygons = [np.asarray(p, dtype=np.float64) for p in mask
                        if len(p) % 2 == 0 and len(p) >= 6]
            if polygons:
                return polygons
        elif (self.poly2mask and isinstance(mask, Mapping) and mask.get("size") is not None
              and isinstance(mask.get("counts"), (list, str, bytes))):
            return mask
        instance["ignore_flag"] = 1
        return [np.zeros(6)]

    def _load_seg_map(self, results: dict) -> None:
        path = results.get("seg_map_path")
        if path is None:
            return
        seg = imread(path, "unchanged").squeeze()
        if self.reduce_zero_label:
            shifted = np.where(seg == 0, self.ignore_index, seg.astype(np.int64) - 1)
            shifted[shifted == self.ignore_index - 1] = self.ignore_index
            seg = shifted.astype(seg.dtype)
        label_map = results.get("label_map")
        if label_map:  # old label -> new label, applied to the original values at once
            lookup = np.arange(max(int(seg.max()), *label_map) + 1, dtype=np.int64)
            lookup[list(label_map)] = list(label_map.values())
            seg = lookup[seg].astype(seg.dtype)
        results["gt_seg_map"] = seg
        results["ignore_index"] = self.ignore_index


def _decode_mask(mask, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 bitmap of polygons (parts merged), an uncompressed or a compressed RLE."""
    import pycocotools.mask as mask_utils

    if isinstance(mask, list):
        rle = mask_utils.merge(mask_utils.frPyObjects([p.tolist() for p in mask], height, width))
    elif isinstance(mask["counts"], list):
        rle = mask_utils.frPyObjects(mask, height, width)
    else:
        rle = mask
    return mask_utils.decode(rle)
