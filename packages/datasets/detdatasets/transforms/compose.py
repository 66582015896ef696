"""Compose: run a list of transforms in order; a transform that returns None drops the sample."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


class Compose:
    """Chain of transforms, each a config dict (built through ``TRANSFORMS``) or a callable.

    Calling it passes the results dict through every transform; if one returns None the
    chain stops and returns None, which tells a dataset to fetch another sample.
    """

    def __init__(self, transforms: Sequence[Mapping | Callable] | Mapping | Callable | None):
        if transforms is None:
            transforms = []
        elif isinstance(transforms, Mapping) or callable(transforms):
            transforms = [transforms]
        self.transforms: list[Callable] = []
        for i, transform in enumerate(transforms):
            if isinstance(transform, Mapping):
                from detcore.registry import TRANSFORMS

                transform = TRANSFORMS.build(transform)
            if not callable(transform):
                raise TypeError(f"pipeline[{i}] must be a transform config dict or a callable, "
                                f"got {type(transform).__name__}: {transform!r}")
            self.transforms.append(transform)

    def __call__(self, data):
        for transform in self.transforms:
            data = transform(data)
            if data is None:
                return None
        return data

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"{type(self).__name__}([{inner}\n])" if inner else f"{type(self).__name__}([])"
