"""A sudoku handed to the API or the MCP tools (text, or rows of ints) read into a grid, and the
clash of contradictory givens told in people's numbering (rows and columns from 1)."""

from __future__ import annotations

from typing import Any

from reasoner.tasks import BOX_SHAPE, SUDOKU_BY_CELLS, PuzzleInputError
from verifiers import sudoku as sudoku_rules

from .extract import Grid, count_cells, sudoku_task


def read_sudoku(puzzle: Any, what: str = "puzzle") -> Grid:
    """A 4x4 / 6x6 / 9x9 grid from text (one line or rows; blanks . 0 _) or a list of rows.
    Raises PuzzleInputError with the reason."""
    if isinstance(puzzle, str):
        cells = count_cells(puzzle)
    elif isinstance(puzzle, list) and all(isinstance(row, list) for row in puzzle):
        cells = sum(len(row) for row in puzzle)
    else:
        raise PuzzleInputError(f"the {what} must be text or a list of rows")
    if cells not in SUDOKU_BY_CELLS:
        raise PuzzleInputError(f"the {what} has {cells} cells; a sudoku has 16, 36 or 81 (4x4, 6x6, 9x9)")
    try:
        return sudoku_task(SUDOKU_BY_CELLS[cells].side).parse(puzzle).tolist()
    except PuzzleInputError as err:
        raise PuzzleInputError(f"cannot read the {what}: {err}") from None


def clash(puzzle: Any) -> str:
    """Why contradictory givens break the rules, with their cells as r<row>c<column>."""
    try:
        grid = read_sudoku(puzzle)
    except PuzzleInputError as err:
        return str(err)
    verdict = sudoku_rules.analyse_puzzle(grid, *BOX_SHAPE[len(grid)])
    cells = ", ".join(f"r{r + 1}c{c + 1}" for r, c in verdict.conflict_cells)
    return f"the givens break the rules before any cell is filled: a digit appears twice in a row, column or box at {cells}"
