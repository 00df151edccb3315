"""ARC grid verification.

An ARC grid is a list of rows of colours 0..9, rectangular, each side 1..30 cells.
Numpy 2-D integer arrays are accepted as well.

check_arc_grid   -- is this a well-formed ARC grid?
check_arc_answer -- well-formed, and (when the expected output is known) an exact match?
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .common import Cell, VerifierInputError, format_cell, format_cells, is_int_value

__all__ = ["ArcAnswerVerdict", "ArcVerdict", "check_arc_answer", "check_arc_grid"]

MAX_SIDE = 30
NUM_COLOURS = 10


class ArcVerdict(BaseModel):
    """Result of :func:`check_arc_grid`."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    reasons: list[str] = Field(default_factory=list)
    # (rows, columns) when the grid is rectangular, else None.
    shape: Optional[tuple[int, int]] = None
    bad_cells: list[Cell] = Field(default_factory=list)


class ArcAnswerVerdict(BaseModel):
    """Result of :func:`check_arc_answer`."""

    model_config = ConfigDict(frozen=True)

    # Grid is well-formed and, when an expected answer was given, matches it exactly.
    ok: bool
    valid_grid: bool
    # None when no expected answer was given.
    matches: Optional[bool] = None
    shape: Optional[tuple[int, int]] = None
    reasons: list[str] = Field(default_factory=list)
    # Well-formed grid: cells that differ from the expected one (same shape only).
    bad_cells: list[Cell] = Field(default_factory=list)


def _rows_of(grid: Any) -> list[Any]:
    """Turn the input into a list of rows or raise VerifierInputError."""
    if isinstance(grid, np.ndarray):
        if grid.ndim != 2:
            raise VerifierInputError(f"grid must be 2-D, got an array of shape {grid.shape}")
        if grid.dtype.kind not in "iu":
            raise VerifierInputError(f"grid must hold integers, got dtype {grid.dtype}")
        return grid.tolist()
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence):
        raise VerifierInputError(f"grid must be a list of rows, got {type(grid).__name__}")
    return list(grid)


def check_arc_grid(grid: Any) -> ArcVerdict:
    """Check that ``grid`` is a rectangular list of rows of colours 0..9, sides 1..30."""
    try:
        rows = _rows_of(grid)
    except VerifierInputError as exc:
        return ArcVerdict(ok=False, reasons=[str(exc)])
    if not rows:
        return ArcVerdict(ok=False, reasons=["grid is empty (no rows)"])

    reasons: list[str] = []
    for r, row in enumerate(rows):
        if isinstance(row, np.ndarray):
            row = rows[r] = row.tolist()
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            return ArcVerdict(ok=False, reasons=[f"row {r + 1} is not a list of colours"])
    widths = [len(row) for row in rows]
    if min(widths) == 0:
        reasons.append(f"row {widths.index(0) + 1} is empty")
    if len(set(widths)) > 1:
        reasons.append(f"rows have different lengths (ragged): {sorted(set(widths))}")
    height, width = len(rows), max(widths)
    if height > MAX_SIDE:
        reasons.append(f"grid has {height} rows, at most {MAX_SIDE} allowed")
    if width > MAX_SIDE:
        reasons.append(f"grid has {width} columns, at most {MAX_SIDE} allowed")

    not_int: list[Cell] = []
    off_palette: list[Cell] = []
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if not is_int_value(value):
                not_int.append((r, c))
            elif not 0 <= value < NUM_COLOURS:
                off_palette.append((r, c))
    if not_int:
        r, c = not_int[0]
        reasons.append(
            f"non-integer values at {format_cells(not_int)} (first: {rows[r][c]!r} at {format_cell((r, c))})"
        )
    if off_palette:
        shown = ", ".join(f"{rows[r][c]} at {format_cell((r, c))}" for r, c in off_palette[:8])
        reasons.append(f"colours outside 0..9: {shown}")

    rectangular = len(set(widths)) == 1
    return ArcVerdict(
        ok=not reasons,
        reasons=reasons,
        shape=(height, width) if rectangular else None,
        bad_cells=sorted(set(not_int + off_palette)),
    )


def check_arc_answer(predicted: Any, expected: Any = None) -> ArcAnswerVerdict:
    """Grid sanity of ``predicted`` plus exact match against ``expected`` when given.

    Raises VerifierInputError if ``expected`` itself is not a valid ARC grid, since that
    is a bug in the caller's data rather than a wrong prediction.
    """
    if expected is not None:
        exp_verdict = check_arc_grid(expected)
        if not exp_verdict.ok:
            raise VerifierInputError("expected grid is invalid: " + "; ".join(exp_verdict.reasons))

    pred_verdict = check_arc_grid(predicted)
    if not pred_verdict.ok:
        return ArcAnswerVerdict(
            ok=False,
            valid_grid=False,
            matches=None if expected is None else False,
            shape=pred_verdict.shape,
            reasons=pred_verdict.reasons,
            bad_cells=pred_verdict.bad_cells,
        )
    if expected is None:
        return ArcAnswerVerdict(ok=True, valid_grid=True, shape=pred_verdict.shape)

    pred = np.asarray(_rows_of(predicted), dtype=np.int64)
    exp = np.asarray(_rows_of(expected), dtype=np.int64)
    if pred.shape != exp.shape:
        return ArcAnswerVerdict(
            ok=False,
            valid_grid=True,
            matches=False,
            shape=pred_verdict.shape,
            reasons=[f"shape {pred.shape[0]}x{pred.shape[1]} differs from expected {exp.shape[0]}x{exp.shape[1]}"],
        )
    diff = [(int(r), int(c)) for r, c in zip(*np.nonzero(pred != exp))]
    if diff:
        r, c = diff[0]
        reason = (
            f"{len(diff)} of {pred.size} cells differ from the expected grid, first at "
            f"{format_cell((r, c))}: predicted {pred[r, c]}, expected {exp[r, c]}"
        )
        return ArcAnswerVerdict(
            ok=False,
            valid_grid=True,
            matches=False,
            shape=pred_verdict.shape,
            reasons=[reason],
            bad_cells=diff,
        )
    return ArcAnswerVerdict(ok=True, valid_grid=True, matches=True, shape=pred_verdict.shape)
