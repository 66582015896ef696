"""Vectorised geometry over ragged polygon lists.

PolygonMasks keep, per instance, a list of flat [x0, y0, x1, y1, ...] arrays. Here all
vertices of all instances are laid out as one (P, 2) array with the sizes that cut it
back into parts and instances, so transforms, areas, bounds and clipping run as a few
array operations instead of Python loops over polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FlatPolygons:
    """All vertices of N instances in one array.

    points: (P, 2) float64 x, y; part_sizes: (Q,) vertices per polygon part;
    parts_per_instance: (N,) parts per instance; dtype: float dtype to hand back.
    """

    points: np.ndarray
    part_sizes: np.ndarray
    parts_per_instance: np.ndarray
    dtype: np.dtype

    @classmethod
    def of(cls, masks: Sequence[Sequence[np.ndarray]]) -> FlatPolygons:
        parts = [part for instance in masks for part in instance]
        parts_per_instance = np.array([len(instance) for instance in masks], dtype=np.int64)
        part_sizes = np.array([len(part) // 2 for part in parts], dtype=np.int64)
        if parts:
            points = np.concatenate(parts).astype(np.float64).reshape(-1, 2)
            dtype = np.result_type(np.float32, *(part.dtype for part in parts))
        else:
            points, dtype = np.zeros((0, 2)), np.dtype(np.float32)
        return cls(points, part_sizes, parts_per_instance, dtype)

    @property
    def instance_of_part(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.parts_per_instance)), self.parts_per_instance)

    @property
    def part_of_point(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.part_sizes)), self.part_sizes)

    @property
    def instance_of_point(self) -> np.ndarray:
        return self.instance_of_part[self.part_of_point]

    def with_points(self, points: np.ndarray) -> FlatPolygons:
        return FlatPolygons(points, self.part_sizes, self.parts_per_instance, self.dtype)

    def to_lists(self) -> list[list[np.ndarray]]:
        """Back to the per-instance lists of flat coordinate arrays."""
        flat = self.points.astype(self.dtype).reshape(-1)
        part_ends = np.cumsum(self.part_sizes * 2)[:-1]
        parts = np.split(flat, part_ends) if len(self.part_sizes) else []
        instance_ends = np.cumsum(self.parts_per_instance)
        starts = instance_ends - self.parts_per_instance
        return [parts[start:end] for start, end in zip(starts, instance_ends)]


def next_vertex(part_sizes: np.ndarray) -> np.ndarray:
    """(P,) index of each vertex's successor, wrapping around within its part."""
    ends = np.cumsum(part_sizes)
    successor = np.arange(1, int(ends[-1]) + 1) if len(ends) else np.zeros(0, dtype=np.int64)
    nonempty = part_sizes > 0
    successor[ends[nonempty] - 1] = (ends - part_sizes)[nonempty]
    return successor


def part_areas(flat: FlatPolygons) -> np.ndarray:
    """(Q,) area of each part by the shoelace formula."""
    x, y = flat.points[:, 0], flat.points[:, 1]
    successor = next_vertex(flat.part_sizes)
    cross = x * y[successor] - x[successor] * y
    return 0.5 * np.abs(np.bincount(flat.part_of_point, cross, minlength=len(flat.part_sizes)))


def instance_bounds(flat: FlatPolygons) -> np.ndarray:
    """(N, 4) float32 xyxy bounds of each instance's vertices; zeros without vertices."""
    num_instances = len(flat.parts_per_instance)
    counts = np.bincount(flat.instance_of_point, minlength=num_instances)
    bounds = np.zeros((num_instances, 4), dtype=np.float32)
    nonempty = counts > 0
    if nonempty.any():
        # Points are grouped by instance, so each non-empty instance is one reduceat segment.
        starts = (np.cumsum(counts) - counts)[nonempty]
        bounds[nonempty, :2] = np.minimum.reduceat(flat.points, starts, axis=0)
        bounds[nonempty, 2:] = np.maximum.reduceat(flat.points, starts, axis=0)
    return bounds


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(P, 2) points through a forward 2x3 affine matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def clip_to_box(flat: FlatPolygons, box: tuple[float, float, float, float]) -> FlatPolygons:
    """Clip every part to the xyxy ``box`` (Sutherland-Hodgman against its four sides).

    A part split in two by the box stays one part joined by a zero-width seam along the
    box side, which rasterises the same. Parts left with no area are dropped.
    """
    x1, y1, x2, y2 = box
    points, sizes = flat.points, flat.part_sizes
    for axis, bound, sign in ((0, x1, 1.0), (1, y1, 1.0), (0, x2, -1.0), (1, y2, -1.0)):
        successor = next_vertex(sizes)
        following = points[successor]
        inside = sign * (points[:, axis] - bound) >= 0
        crosses = inside != inside[successor]
        crossing = points.copy()
        start, stop = points[crosses], following[crosses]
        t = (bound - start[:, axis]) / (stop[:, axis] - start[:, axis])
        crossing[crosses] = start + t[:, None] * (stop - start)
        crossing[crosses, axis] = bound
        # Each edge emits its start vertex when inside, then the crossing when it crosses.
        keep = np.stack([inside, crosses], axis=1).reshape(-1)
        part_of_point = np.repeat(np.arange(len(sizes)), sizes)
        points = np.stack([points, crossing], axis=1).reshape(-1, 2)[keep]
        sizes = np.bincount(np.repeat(part_of_point, 2)[keep], minlength=len(sizes))
    clipped = FlatPolygons(points, sizes, flat.parts_per_instance, flat.dtype)
    return drop_parts(clipped, (sizes >= 3) & (part_areas(clipped) > 0))


def drop_parts(flat: FlatPolygons, keep: np.ndarray) -> FlatPolygons:
    """Keep only the parts where ``keep`` (Q,) is True."""
    parts_per_instance = np.bincount(
        flat.instance_of_part[keep], minlength=len(flat.parts_per_instance)
    )
    return FlatPolygons(
        flat.points[keep[flat.part_of_point]], flat.part_sizes[keep], parts_per_instance, flat.dtype
    )
