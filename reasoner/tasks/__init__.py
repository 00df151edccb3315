"""Task plug-ins. `make_task(name, **params)` builds one; `TASKS` lists them."""

from __future__ import annotations

from typing import Any

from .arc import ArcTask
from .base import Examples, PuzzleInputError, Task
from .maze import MazeTask
from .sudoku import ContradictoryPuzzleError, SudokuTask

TASKS: dict[str, type[Task]] = {"sudoku": SudokuTask, "maze": MazeTask, "arc": ArcTask}


def make_task(name: str, **params: Any) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name](**params)


__all__ = ["Examples", "PuzzleInputError", "ContradictoryPuzzleError", "Task", "SudokuTask", "MazeTask", "ArcTask", "TASKS", "make_task"]
