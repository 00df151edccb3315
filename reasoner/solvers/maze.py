"""Maze's part of `solve()`: read and check the maze (a well-formed maze whose goal cannot be reached
is answered as such), take the HRM's path if the verifier accepts it as a shortest one, else the
exact breadth-first search."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from verifiers import maze as maze_rules

from ..tasks import MazeTask, PuzzleInputError, Variant, maze_variant
from ..tasks.maze import MazeCanvas, UnreachableGoalError, maze_side
from .base import NON_FINITE_NOTE, Chunk


class MazeSolveResult(BaseModel):
    task: str  # e.g. "maze-9x9"
    puzzle: list[str]  # the question's rows ('#' wall, ' ' open, 'S', 'G')
    # solved: `answer` is a verified shortest S->G path; no_solution: G cannot be reached from S.
    status: Literal["solved", "no_solution", "unsolved"]
    answer: list[str] | None  # the question with one shortest path drawn as 'o'; only when verified
    verified: bool
    path: Literal["hrm", "search", "none"]  # "search": the exact breadth-first search
    path_length: int | None  # cells of the answer's path, S and G included
    model_answer: list[str]  # the HRM's own answer, right or wrong
    model_correct: bool  # is the HRM's answer a valid shortest path?
    model_matches_label: bool  # ... and exactly the path the BFS tie-break rule picks (the training label)?
    model_errors: list[str] = []  # why the verifier rejected the HRM's answer
    notes: list[str] = []  # how the answer came about when the model could not help
    confidence: list[list[float]]  # probability the HRM gave its own answer, per cell
    segments_used: int
    halted_at: int
    checkpoint: str

    def answer_string(self) -> str | None:
        return None if self.answer is None else "\n".join(self.answer)


class MazePolicy:
    label = "maze"

    def is_batch(self, puzzles: Any) -> bool:
        if isinstance(puzzles, str):
            return False
        if isinstance(puzzles, np.ndarray):
            return puzzles.ndim == 3
        if isinstance(puzzles, (list, tuple)):
            if not puzzles:
                raise PuzzleInputError("no maze given")
            if all(isinstance(p, str) for p in puzzles):
                # N strings of N characters each are the rows of one maze.
                return not all(len(p) == len(puzzles) for p in puzzles)
            return True
        raise PuzzleInputError(f"cannot read a maze from a {type(puzzles).__name__}")

    def single(self, puzzle: Any) -> Any:
        return puzzle

    def variant_of(self, puzzle: Any) -> Variant:
        side = maze_side(puzzle)
        if side < 3:  # S, G and a way between them need at least 3x3 cells
            raise PuzzleInputError(f"a maze has at least 3x3 cells; this one is {side}x{side}")
        return maze_variant(side)

    def prepare(self, task: MazeTask, puzzle: Any) -> tuple[np.ndarray, bool]:
        """(grid, whether G is reachable): a well-formed maze without a path is answered as such, like a
        sudoku with no solution."""
        try:
            return task.parse(puzzle), True
        except UnreachableGoalError as err:
            return err.grid, False

    def answer(self, chunk: Chunk) -> list[MazeSolveResult]:
        grids, reachable = chunk.grids, chunk.facts
        # A maze smaller than the model's grid runs in the middle of a grid of walls of that size
        # (the driver chose the model: inference.load_model_for); its answer is read back from there.
        canvas = MazeCanvas(chunk.task.size, grids.shape[1])
        run = chunk.run(canvas.place(grids), None)
        probs = canvas.crop(run.probs)
        task = chunk.task if canvas.size == canvas.side else MazeTask(canvas.side)
        tokens = probs.argmax(-1).numpy()
        finite = run.probs.isfinite().flatten(1).all(1).numpy()
        confidence = probs.max(-1).values.numpy().reshape(len(grids), task.size, task.size)
        confidence = np.where(np.isfinite(confidence), confidence, 0.0)
        results = []
        for i, grid in enumerate(grids):
            rows = ["".join(r) for r in grid.tolist()]
            model_rows = ["".join(r) for r in task.decode(tokens[i]).tolist()]
            answer, path, errors, matches = None, "none", [], False
            if reachable[i]:
                verdict = task.verify(grid, task.decode(tokens[i]))
                matches = verdict.matches_label
                if verdict.ok:
                    answer, path = model_rows, "hrm"
                else:
                    errors = verdict.reasons
                    if chunk.repair:  # the exact BFS; verified like any other answer
                        searched = list(maze_rules.label_maze(rows, side=task.size))
                        if task.verify(grid, np.array([list(r) for r in searched])).ok:
                            answer, path = searched, "search"
            else:
                errors = ["G cannot be reached from S"]
            length = None if answer is None else sum(row.count("o") for row in answer) + 2
            status = "no_solution" if not reachable[i] else ("solved" if answer is not None else "unsolved")
            results.append(MazeSolveResult(
                task=chunk.variant.name, puzzle=rows, status=status, answer=answer, verified=answer is not None, path=path,
                path_length=length, model_answer=model_rows, model_correct=path == "hrm", model_matches_label=matches,
                model_errors=errors, notes=[] if finite[i] else [NON_FINITE_NOTE],
                confidence=confidence[i].round(4).tolist(),
                segments_used=int(run.used[i]), halted_at=int(run.halted_at[i]),
                checkpoint=chunk.checkpoint,
            ))
        return results
