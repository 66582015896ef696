"""Rendering one image of the synthetic shapes dataset, with its instances.

Rendering: a background (colour gradient, smooth blotches, pixel noise, then clutter:
lines, scribbles and soft blobs that have no hard outline, so they are not objects),
then the objects in random depth order, each a solid colour with a shading gradient.
Objects that end up less than ``min_visible`` visible (occluded by later ones, or cut
by the image border) are removed and the image is rendered again without them, so
every object in an image is annotated. The annotation of an object is its *visible*
part: the box is the extent of that mask, the polygons rasterise back to it exactly.

Every random number of image ``index`` of a split comes from its own stream, seeded by
``(seed, split, index)``: an image does not depend on how many others are generated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from detdatasets.datasets.mask_polygons import mask_to_polygons

SHAPE_CLASSES = ("triangle", "square", "hexagon", "star", "cross", "ellipse", "ring")

#: Split names and the number that seeds each split's random stream.
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class ShapesConfig:
    """Everything that determines the generated images (besides seed, split and index)."""

    img_size: int = 256
    min_objects: int = 1
    max_objects: int = 6
    min_scale: float = 0.08  # object size (circumscribed diameter) / image side
    max_scale: float = 0.6
    min_visible: float = 0.35  # visible fraction of an object's area needed to keep it
    min_visible_pixels: int = 30
    num_clutter: tuple[int, int] = (4, 14)  # range of clutter strokes and blobs

    def __post_init__(self):
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(f"need 0 < min_scale <= max_scale, got {self.min_scale}, "
                             f"{self.max_scale}")
        if not 0 < self.min_objects <= self.max_objects:
            raise ValueError(f"need 0 < min_objects <= max_objects, got {self.min_objects}, "
                             f"{self.max_objects}")
        if self.img_size < 32:
            raise ValueError(f"img_size must be at least 32, got {self.img_size}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one image: independent of how many images are generated."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {list(SPLIT_CODES)}, got {split!r}")
    return np.random.default_rng([seed, SPLIT_CODES[split], index])


# ---------------------------------------------------------------------------- outlines
def _regular_polygon(n: int, radius: float, angle: float) -> np.ndarray:
    theta = angle + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def _star(radius: float, angle: float, inner_ratio: float) -> np.ndarray:
    points = _regular_polygon(10, radius, angle)
    points[1::2] *= inner_ratio
    return points


def _cross(radius: float, angle: float, arm: float) -> np.ndarray:
    """A plus sign whose arms reach ``radius`` from the centre, ``arm`` * radius wide."""
    a, h = radius / math.sqrt(1 + arm**2 / 4), radius / math.sqrt(1 + arm**2 / 4) * arm / 2
    quarter = np.array([[a, -h], [a, h], [h, h]])
    parts = [quarter @ np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
             for t in np.arange(4) * np.pi / 2]
    points = np.concatenate(parts)
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def draw_shape_mask(canvas: np.ndarray, name: str, center: tuple[float, float], radius: float,
                    rng: np.random.Generator) -> None:
    """Fill the outline of class ``name`` (value 1) into the uint8 ``canvas``, in place."""
    angle = rng.uniform(0, 2 * np.pi)
    cx, cy = center
    if name in ("ellipse", "ring"):
        ratio = rng.uniform(0.45, 1.0) if name == "ellipse" else rng.uniform(0.8, 1.0)
        axes = (max(1, round(radius)), max(1, round(radius * ratio)))
        centre_px = (round(cx), round(cy))
        degrees = math.degrees(angle)
        cv2.ellipse(canvas, centre_px, axes, degrees, 0, 360, 1, -1, cv2.LINE_8)
        if name == "ring":
            hole = rng.uniform(0.45, 0.7)
            inner = (max(1, round(axes[0] * hole)), max(1, round(axes[1] * hole)))
            cv2.ellipse(canvas, centre_px, inner, degrees, 0, 360, 0, -1, cv2.LINE_8)
        return
    if name == "triangle":
        points = _regular_polygon(3, radius, angle)
    elif name == "square":
        points = _regular_polygon(4, radius, angle)
    elif name == "hexagon":
        points = _regular_polygon(6, radius, angle)
    elif name == "star":
        points = _star(radius, angle, rng.uniform(0.38, 0.5))
    elif name == "cross":
        points = _cross(radius, angle, rng.uniform(0.45, 0.6))
    else:
        raise ValueError(f"unknown shape class {name!r}; known: {SHAPE_CLASSES}")
    pts = np.round((points + [cx, cy]) * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(canvas, [pts], 1, cv2.LINE_8, shift=4)


# ---------------------------------------------------------------------------- background
def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3)


def render_background(size: int, rng: np.random.Generator, num_clutter: tuple[int, int]
                      ) -> np.ndarray:
    """(size, size, 3) uint8 BGR: gradient, blotches, noise and clutter that is not an object."""
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
    t = ((t - t.min()) / max(t.max() - t.min(), 1e-6))[..., None]
    img = (1 - t) * _random_colour(rng).astype(np.float32) + t * _random_colour(rng).astype(np.float32)
    cells = int(rng.integers(3, 9))
    blotches = cv2.resize(rng.standard_normal((cells, cells, 3), dtype=np.float32), (size, size),
                          interpolation=cv2.INTER_CUBIC)
    img += blotches * np.float32(rng.uniform(10, 40))
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2, 10))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(*num_clutter))):
        kind = rng.integers(3)
        colour = tuple(int(c) for c in _random_colour(rng))
        if kind == 0:  # a straight stroke
            p1, p2 = (tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2))
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
        elif kind == 1:  # a scribble: an open random walk
            steps = rng.normal(0, size * 0.04, (int(rng.integers(4, 12)), 2)).cumsum(0)
            pts = (steps + rng.uniform(0, size, 2)).astype(np.int32)
            cv2.polylines(img, [pts], False, colour, int(rng.integers(1, 3)), cv2.LINE_AA)
        else:
            _soft_blob(img, colour, rng)
    return img


def _soft_blob(img: np.ndarray, colour: tuple, rng: np.random.Generator) -> None:
    """Blend in a blurred disc, in place: it has no outline to mistake for an ellipse."""
    size = img.shape[0]
    radius = int(rng.integers(size // 20, size // 5))
    cx, cy = (int(v) for v in rng.integers(0, size, 2))
    reach = 3 * radius  # the blur fades out well within this distance
    x0, y0, x1, y1 = max(cx - reach, 0), max(cy - reach, 0), min(cx + reach, size), min(cy + reach, size)
    layer = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.circle(layer, (cx - x0, cy - y0), radius, 1.0, -1)
    alpha = cv2.GaussianBlur(layer, (0, 0), radius * 0.6)[..., None] * np.float32(rng.uniform(0.3, 0.7))
    patch = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (patch * (1 - alpha) + np.float32(colour) * alpha).astype(np.uint8)


# ---------------------------------------------------------------------------- one image
@dataclass
class _Object:
    label: int
    colour: np.ndarray
    shading: np.ndarray  # (2,) gradient of brightness across the object, per pixel
    mask: np.ndarray  # (H, W) bool, the whole shape inside the image
    full_area: int  # pixels of the whole shape, inside and outside the image


def _sample_objects(cfg: ShapesConfig, background: np.ndarray,
                    rng: np.random.Generator) -> list[_Object]:
    size = cfg.img_size
    pad = int(math.ceil(cfg.max_scale * size / 2)) + 2
    objects = []
    for _ in range(int(rng.integers(cfg.min_objects, cfg.max_objects + 1))):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        scale = math.exp(rng.uniform(math.log(cfg.min_scale), math.log(cfg.max_scale)))
        radius = scale * size / 2
        center = rng.uniform(0, size, 2)
        canvas = np.zeros((size + 2 * pad, size + 2 * pad), np.uint8)
        draw_shape_mask(canvas, SHAPE_CLASSES[label], (center[0] + pad, center[1] + pad),
                        radius, rng)
        mask = canvas[pad:pad + size, pad:pad + size].astype(bool)
        colour = _contrasting_colour(background, mask, rng)
        shading = rng.normal(0, 25, 2) / max(radius, 1)
        objects.append(_Object(label, colour, shading, mask, int(canvas.sum())))
    return objects


def _contrasting_colour(background: np.ndarray, mask: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """A random colour that stands out from the background under ``mask``."""
    local = background[mask].mean(0) if mask.any() else background.reshape(-1, 3).mean(0)
    colour = _random_colour(rng)
    for _ in range(10):
        if np.abs(colour - local).sum() > 120:
            break
        colour = _random_colour(rng)
    return colour


def _visible_objects(cfg: ShapesConfig, objects: list[_Object]) -> tuple[list[_Object], np.ndarray]:
    """Drop objects that are mostly hidden, until none is; also return the (H, W) map of
    which kept object (index, -1 for none) is on top at each pixel."""
    while True:
        top = np.full((cfg.img_size, cfg.img_size), -1, np.int32)
        for i, obj in enumerate(objects):
            top[obj.mask] = i
        visible = np.bincount(top.ravel() + 1, minlength=len(objects) + 1)[1:]
        keep = [i for i, obj in enumerate(objects)
                if visible[i] >= max(cfg.min_visible * obj.full_area, cfg.min_visible_pixels)]
        if len(keep) == len(objects):
            return objects, top
        objects = [objects[i] for i in keep]


def _paint(background: np.ndarray, objects: list[_Object], rng: np.random.Generator) -> np.ndarray:
    img = background.astype(np.float32)
    for obj in objects:
        ys, xs = np.nonzero(obj.mask)
        shade = (xs - xs.mean()) * obj.shading[0] + (ys - ys.mean()) * obj.shading[1]
        img[ys, xs] = np.clip(obj.colour + shade[:, None], 0, 255)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1, 5))
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.9))
    return np.clip(img, 0, 255).astype(np.uint8)


def generate_image(cfg: ShapesConfig, seed: int, split: str, index: int,
                   with_bitmaps: bool = False) -> tuple[np.ndarray, list[dict]]:
    """One (H, W, 3) BGR image and its instances: dicts with ``bbox`` (xyxy, x2 exclusive,
    from the visible mask), ``bbox_label``, ``ignore_flag`` (0), ``mask`` (polygons),
    ``area`` (visible pixels) and, with ``with_bitmaps``, ``bitmap`` ((H, W) bool visible
    mask, for inspection)."""
    rng = image_rng(seed, split, index)
    background = render_background(cfg.img_size, rng, cfg.num_clutter)
    objects, top = _visible_objects(cfg, _sample_objects(cfg, background, rng))
    img = _paint(background, objects, rng)
    instances = []
    for i, obj in enumerate(objects):
        visible = top == i
        rows, cols = np.nonzero(visible.any(1))[0], np.nonzero(visible.any(0))[0]
        instances.append(dict(
            bbox=[int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1],
            bbox_label=obj.label, ignore_flag=0, mask=mask_to_polygons(visible),
            area=int(visible.sum())))
        if with_bitmaps:
            instances[-1]["bitmap"] = visible
    return img, instances
