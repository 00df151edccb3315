"""Small pieces shared by all verifiers: the input-error type and cell formatting.

Every verifier reports problems as human-readable reasons that name grid cells as
``(row,col)`` counted from 1 (row 1 is the top row), so a person can find the exact spot;
the cell lists a verdict carries for code are 0-based indices.
"""

from __future__ import annotations

from typing import Iterable, Sequence

# A grid position, 0-based: (row, column).
Cell = tuple[int, int]


class VerifierInputError(ValueError):
    """The input to a verifier is malformed (wrong shape, stray values, ...).

    It subclasses ValueError so callers that already catch ValueError keep working.
    ``cells`` lists the offending positions when the problem is tied to specific cells.
    """

    def __init__(self, message: str, cells: Iterable[Cell] = ()):
        super().__init__(message)
        self.cells: list[Cell] = list(cells)


def format_cell(cell: Cell) -> str:
    """Render one 0-based cell as ``(row,column)`` counted from 1, as people count them."""
    return f"({cell[0] + 1},{cell[1] + 1})"


def format_cells(cells: Sequence[Cell], limit: int = 12) -> str:
    """Render cells as ``(r,c),(r,c),...``, cut after ``limit`` so reasons stay readable.

    The full list is always available in the verdict's ``bad_cells`` field; the reason
    string only needs enough cells for a human to see what is going on.
    """
    shown = ",".join(format_cell(c) for c in cells[:limit])
    if len(cells) > limit:
        shown += f" ... and {len(cells) - limit} more"
    return shown


def is_int_value(value: object) -> bool:
    """True for Python or numpy integers, but not for bools (True would pass as 1)."""
    import numpy as np  # local import keeps this module importable on its own

    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
