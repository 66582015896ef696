"""Plain-text tables for metric logs (the layout of terminaltables' AsciiTable)."""

from __future__ import annotations

from collections.abc import Sequence


def ascii_table(rows: Sequence[Sequence[object]], footer: bool = False) -> str:
    """A boxed table: the first row is the header; ``footer`` rules off the last row.

    >>> print(ascii_table([["class", "ap"], ["cat", "0.5"]]))
    +-------+-----+
    | class | ap  |
    +-------+-----+
    | cat   | 0.5 |
    +-------+-----+
    """
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [rule]
    for i, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if i < len(cells) - 1 and (i == 0 or footer and i == len(cells) - 2):
            lines.append(rule)
    lines.append(rule)
    return "\n".join(lines)
