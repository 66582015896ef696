"""Bad annotation input: one error type, and the strict / skip-with-warning policy.

Every message names the annotation file and the record (an image, an annotation id, a
line), so a user can go straight to the culprit.
"""

from __future__ import annotations

import math
import warnings


class DatasetError(ValueError):
    """An annotation file or record cannot be used; the message says which and why."""


class BadRecordWarning(UserWarning):
    """Bad records were skipped because the dataset was built with ``strict=False``."""


class BadRecords:
    """Collects the bad records of one annotation file.

    ``strict=True``: the first bad record raises :class:`DatasetError`. ``strict=False``:
    bad records are counted and :meth:`warn_summary` reports them in one warning.
    """

    MAX_EXAMPLES = 3

    def __init__(self, source: str, strict: bool = True):
        self.source = source
        self.strict = strict
        self.count = 0
        self.examples: list[str] = []

    def reject(self, record: str, problem: str) -> None:
        """Report ``record`` (e.g. "annotation id 7 (image id 3)") as unusable."""
        message = f"{self.source}: {record}: {problem}"
        if self.strict:
            raise DatasetError(f"{message}\n(build the dataset with strict=False to skip bad "
                               f"records with a warning instead)")
        self.count += 1
        if len(self.examples) < self.MAX_EXAMPLES:
            self.examples.append(message)

    def warn_summary(self) -> None:
        if self.count:
            shown = "\n  ".join(self.examples)
            warnings.warn(f"{self.source}: skipped {self.count} bad record(s) (strict=False); "
                          f"first:\n  {shown}", BadRecordWarning, stacklevel=3)


def check_bbox(bbox, width: float, height: float) -> str | None:
    """What is wrong with an xyxy ``bbox`` in a ``width`` x ``height`` image, or None."""
    try:
        x1, y1, x2, y2 = map(float, bbox)
    except (TypeError, ValueError):
        return f"bbox must be 4 numbers, got {bbox!r}"
    if not math.isfinite(x1 + y1 + x2 + y2):  # a nan or an infinity anywhere
        return f"bbox has a non-finite value: {bbox!r}"
    if x2 <= x1 or y2 <= y1:
        return f"bbox {_fmt(bbox)} has a non-positive size ({x2 - x1:g} x {y2 - y1:g})"
    if x1 >= width or y1 >= height or x2 <= 0 or y2 <= 0:
        return f"bbox {_fmt(bbox)} lies outside the {width:g} x {height:g} image"
    return None


def _fmt(bbox) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in bbox) + "]"
