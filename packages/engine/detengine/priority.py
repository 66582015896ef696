"""Hook priorities: a smaller number runs earlier at every hook point.

The names and values are MMEngine's, so configs that say ``priority='VERY_LOW'`` or
``priority=49`` mean the same thing here.
"""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: int | str | Priority) -> int:
    """The integer value of ``priority`` given as a number (0-100), a name or a Priority."""
    if isinstance(priority, str):
        try:
            return Priority[priority.upper()].value
        except KeyError:
            raise ValueError(f"unknown hook priority '{priority}'; use a number from 0 to 100 "
                             f"or one of {', '.join(p.name for p in Priority)}") from None
    if isinstance(priority, int) and not isinstance(priority, bool):
        if not 0 <= priority <= 100:
            raise ValueError(f"hook priority must be between 0 and 100, got {priority}")
        return int(priority)
    raise TypeError(f"hook priority must be an int, a name or a Priority, got {priority!r}")
