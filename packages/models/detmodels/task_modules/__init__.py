"""Task modules of detection heads: prior generators, box coders, assigners, samplers, and
the helpers heads share (utils.py)."""

from .assigners import *  # noqa: F403
from .assigners import __all__ as _assigners
from .coders import *  # noqa: F403
from .coders import __all__ as _coders
from .prior_generators import *  # noqa: F403
from .prior_generators import __all__ as _prior_generators
from .samplers import *  # noqa: F403
from .samplers import __all__ as _samplers
from .utils import (
    filter_scores_and_topk,
    images_to_levels,
    multi_apply,
    select_single_mlvl,
    unmap,
)

__all__ = [*_assigners, *_coders, *_prior_generators, *_samplers, "filter_scores_and_topk",
           "images_to_levels", "multi_apply", "select_single_mlvl", "unmap"]
