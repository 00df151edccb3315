"""Task plug-ins and their variants. `make_task(name, **params)` builds one; `TASKS` lists them;
`VARIANTS` are the named ones ("sudoku-9x9", "maze-15x15", "arc"; see variants.py)."""

from __future__ import annotations

from .arc import ArcTask
from .base import Examples, PuzzleInputError, Task
from .maze import MazeTask
from .sudoku import ContradictoryPuzzleError, SudokuTask
from .variants import BOX_SHAPE, SUDOKU_BY_CELLS, TASKS, VARIANTS, Variant, make_task, maze_variant

__all__ = ["Examples", "PuzzleInputError", "ContradictoryPuzzleError", "Task", "SudokuTask", "MazeTask", "ArcTask", "TASKS",
           "make_task", "Variant", "VARIANTS", "SUDOKU_BY_CELLS", "BOX_SHAPE", "maze_variant"]
