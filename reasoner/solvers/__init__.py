"""One policy per task for `solve()` (reasoner/inference.py): sudoku.py, maze.py; base.py holds
what the driver and a policy hand each other."""

from __future__ import annotations

from .base import NON_FINITE_NOTE, Answers, Chunk, Policy, Runner
from .maze import MazePolicy, MazeSolveResult
from .sudoku import SolveResult, SudokuPolicy, read_digits, sudoku_variant

__all__ = ["NON_FINITE_NOTE", "Answers", "Chunk", "Policy", "Runner", "MazePolicy", "MazeSolveResult", "SolveResult",
           "SudokuPolicy", "read_digits", "sudoku_variant"]
