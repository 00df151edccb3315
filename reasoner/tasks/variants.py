"""The task plug-ins and the puzzle variants users name ("sudoku-9x9", "maze-15x15", "arc").

A variant is one task with fixed parameters: training takes its name (`--task`), `solve()` maps
a puzzle to it (a sudoku by its cells, a maze by its side) and loads its checkpoint, the chat
reads grids of its sizes, the benchmarks measure it. This module is the one list of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .arc import MAX_CANVAS, ArcTask
from .base import Task
from .maze import MazeTask
from .sudoku import SudokuTask

TASKS: dict[str, type[Task]] = {"sudoku": SudokuTask, "maze": MazeTask, "arc": ArcTask}

# Mazes of a side without weights of their own run on this size-free model (any side).
SIZE_FREE_MAZE = "maze.safetensors"


def make_task(name: str, **params: Any) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name](**params)


@dataclass(frozen=True)
class Variant:
    """One task with fixed parameters, under the name users give it."""

    name: str  # what users type: "sudoku-9x9", "maze-15x15", "arc"
    params: dict[str, Any]  # make_task(**params) builds its task
    side: int  # the grid is side x side cells (ARC: the canvas its grids are drawn on)
    # Its weights' file in the checkpoint folder (reasoner/checkpoints), where solve() looks for
    # them; None: no weights of its own.
    checkpoint: str | None = None
    fallback: str | None = None  # the weights to use when `checkpoint` is missing

    @property
    def family(self) -> str:  # the task plug-in: "sudoku", "maze", "arc"
        return self.params["name"]

    @property
    def cells(self) -> int:
        return self.side * self.side

    def make(self) -> Task:
        return make_task(**self.params)


def _sudoku(box_rows: int, box_cols: int) -> Variant:
    side = box_rows * box_cols
    name = f"sudoku-{side}x{side}"
    return Variant(name, {"name": "sudoku", "box_rows": box_rows, "box_cols": box_cols}, side, f"{name}.safetensors")


def maze_variant(side: int) -> Variant:
    """The maze variant of any side (solve() answers every side from 3 up; training offers the
    sides in VARIANTS)."""
    name = f"maze-{side}x{side}"
    return Variant(name, {"name": "maze", "size": side}, side, f"{name}.safetensors", fallback=SIZE_FREE_MAZE)


VARIANTS: dict[str, Variant] = {v.name: v for v in [
    _sudoku(2, 2),
    _sudoku(2, 3),
    _sudoku(3, 3),
    *(maze_variant(side) for side in (9, 11, 15, 21, 30)),
    # ARC: the task sets come with --train-data (docs/arc.md); 30x30 is the reference's canvas,
    # 10x10 keeps only tasks whose grids fit (a CPU-sized sequence of 100 cells). The shipped ARC
    # weights are a smoke-scale run (docs/benchmarks.md); solve() does not answer ARC.
    Variant("arc", {"name": "arc"}, MAX_CANVAS),
    Variant("arc-10x10", {"name": "arc", "canvas": 10}, 10, "arc-10x10-smoke.safetensors"),
]}

# Lookups: the sudoku variant of a number of cells (16, 36, 81), and the box shape (rows x
# columns) of a sudoku side (4, 6, 9).
SUDOKU_BY_CELLS: dict[int, Variant] = {v.cells: v for v in VARIANTS.values() if v.family == "sudoku"}
BOX_SHAPE: dict[int, tuple[int, int]] = {v.side: (v.params["box_rows"], v.params["box_cols"]) for v in SUDOKU_BY_CELLS.values()}
