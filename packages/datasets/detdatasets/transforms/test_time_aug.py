"""TestTimeAug: run every combination of alternative transforms on one sample."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping, Sequence

from detdatasets.transforms.base import BaseTransform
from detdatasets.transforms.compose import Compose


def _build(transform: Mapping | Callable, where: str) -> Callable:
    if isinstance(transform, Mapping):
        from detcore.registry import TRANSFORMS

        return TRANSFORMS.build(transform)
    if callable(transform):
        return transform
    raise TypeError(f"TestTimeAug: {where} must be a transform config dict or a callable, got "
                    f"{transform!r}")


class TestTimeAug(BaseTransform):
    """``transforms`` is a list of stages, each a list of alternatives; the sample goes
    through every combination (one alternative per stage, in stage order) and the
    results come back as one dict of lists, ``{key: [value of combination 0, ...]}``.

    Example: ``[[Resize(scale=s) for s in (1333, 800), (666, 400)], [RandomFlip(prob=1.),
    RandomFlip(prob=0.)], [PackDetInputs()]]`` gives 4 combinations: 2 scales x flip or not.

    Required Keys / Modified Keys: those of the transforms; every value becomes a list.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, transforms: Sequence[Sequence[Mapping | Callable]]):
        stages = []
        for i, stage in enumerate(transforms):
            if isinstance(stage, Mapping) or not isinstance(stage, Sequence) or not stage:
                raise TypeError(f"{type(self).__name__}: transforms[{i}] must be a non-empty list "
                                f"of alternative transforms, got {stage!r}")
            stages.append([_build(alternative, f"transforms[{i}][{j}]")
                           for j, alternative in enumerate(stage)])
        self.transforms = transforms
        self.subroutines = [Compose(list(chain)) for chain in itertools.product(*stages)]

    def transform(self, results: dict) -> dict:
        outputs = []
        for subroutine in self.subroutines:
            output = subroutine(copy.deepcopy(results))
            if not isinstance(output, dict):
                raise RuntimeError(f"{type(self).__name__}: {subroutine!r} returned "
                                   f"{output!r} instead of a dict; test-time transforms must "
                                   f"not drop samples")
            outputs.append(output)
        return {key: [output[key] for output in outputs] for key in outputs[0]}
