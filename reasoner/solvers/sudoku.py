"""Sudoku's part of `solve()`: read and check the puzzle, analyse it exactly, take the HRM's answer
if the verifier accepts it, else repair it guided by the model:

  * keep the confident, mutually consistent cells as extra givens and (when they add at least
    REPAIR_MIN_NEW_CELLS) run the HRM again, for at most REPAIR_SEGMENTS;
  * if that fails too, a constraint-propagating search that tries values in the order of the
    model's probabilities (exhaustive, so it always ends with a verified solution when one exists).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from verifiers import sudoku as sudoku_rules

from ..tasks import BOX_SHAPE, SUDOKU_BY_CELLS, ContradictoryPuzzleError, PuzzleInputError, SudokuTask, Variant
from ..tasks.sudoku import SEPARATOR_CHARS
from .base import NON_FINITE_NOTE, Answers, Chunk

REPAIR_CONFIDENCE = 0.9
# The repair's second HRM run only when it adds this many cells, for at most REPAIR_SEGMENTS: it costs
# a puzzle up to that many segments more, and the search answers anyway. Measured on the shipped
# sudoku-9x9 (100 each of Sudoku-Extreme rows 900-999, generated minimal puzzles with 17-25 givens,
# 50 and 55 blanks): of reruns adding 0-4 cells none succeeded (97), of 5-9 cells 31 of 154, of
# 10-29 cells 34 of 62; capped at 8 segments a rerun keeps 9 of the 11 / 12 of the 13 / 32 of the 38
# successes 16 segments give on Extreme / 17-25 givens / 55 blanks (docs/benchmarks.md).
REPAIR_MIN_NEW_CELLS = 10
REPAIR_SEGMENTS = 8


class SolveResult(BaseModel):
    task: str  # e.g. "sudoku-9x9"
    puzzle: list[list[int]]
    # solved: a verified answer, the only solution; multiple_solutions: a verified answer, but the
    # puzzle has others; no_solution: nothing can be right; unsolved: no verified answer found.
    status: Literal["solved", "multiple_solutions", "no_solution", "unsolved"]
    answer: list[list[int]] | None  # set only when a verifier accepted it
    verified: bool
    path: Literal["hrm", "hrm+repair", "search", "none"]  # what produced `answer`
    model_answer: list[list[int]]  # the HRM's own first answer, right or wrong
    model_correct: bool  # whether that first answer passed the verifier
    confidence: list[list[float]]  # probability the HRM gave its own answer, per cell
    segments_used: int
    halted_at: int  # segment after which the Q-head would have stopped
    search_nodes: int = 0  # branching nodes the guided search needed (path "search")
    model_errors: list[str] = []  # why the verifier rejected the HRM's own answer (empty if right)
    notes: list[str] = []  # facts about the puzzle itself (no solution, several solutions)
    checkpoint: str

    def answer_string(self) -> str | None:
        return None if self.answer is None else "".join(str(v) for row in self.answer for v in row)


def _text_cells(text: str) -> int:
    return sum(1 for ch in text if not (ch.isspace() or ch in SEPARATOR_CHARS))


def sudoku_variant(puzzle: Any) -> Variant:
    """The sudoku variant of a single puzzle (text, rows, array), from its number of cells;
    PuzzleInputError for a size no sudoku has."""
    if isinstance(puzzle, str):
        cells = _text_cells(puzzle)
    else:
        try:
            cells = np.asarray(puzzle).size
        except ValueError:
            raise PuzzleInputError("the grid is not rectangular") from None
    if cells not in SUDOKU_BY_CELLS:
        raise PuzzleInputError(f"a sudoku has 16, 36 or 81 cells (4x4, 6x6, 9x9); this one has {cells}")
    return SUDOKU_BY_CELLS[cells]


def read_digits(run: Answers, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(answers [B,n,n], digit probabilities [B,n,n,n]) of a run on n x n sudoku grids."""
    digit_probs = run.probs[..., 2 : 2 + size].numpy().reshape(len(run.probs), size, size, size)  # tokens 2.. are digits 1..
    return digit_probs.argmax(-1) + 1, digit_probs


class SudokuPolicy:
    label = "puzzle"

    def is_batch(self, puzzles: Any) -> bool:
        if isinstance(puzzles, str):
            return False
        if isinstance(puzzles, np.ndarray):
            return puzzles.ndim == 3 or (puzzles.ndim == 2 and puzzles.shape[1] in SUDOKU_BY_CELLS and puzzles.shape[0] != puzzles.shape[1])
        if isinstance(puzzles, (list, tuple)):
            if not puzzles:
                raise PuzzleInputError("no puzzle given")
            first = puzzles[0]
            if isinstance(first, str):
                # Strings each too short to be a puzzle (fewer than 16 cells) are the rows of one grid.
                return not all(isinstance(p, str) and _text_cells(p) < min(SUDOKU_BY_CELLS) for p in puzzles)
            return isinstance(first, (list, tuple, np.ndarray)) and np.ndim(first) == 2
        raise PuzzleInputError(f"cannot read a puzzle from a {type(puzzles).__name__}")

    def single(self, puzzle: Any) -> Any:
        """Rows given as a list of strings become one text grid; a row of the wrong length is named."""
        if isinstance(puzzle, (list, tuple)) and puzzle and all(isinstance(p, str) for p in puzzle):
            rows = [row for row in puzzle if _text_cells(row)]  # separator lines ("---+---") hold no cells
            n = len(rows)
            if n not in BOX_SHAPE:
                raise PuzzleInputError(f"a sudoku has 4, 6 or 9 rows; {n} rows were given")
            for i, row in enumerate(rows):
                if _text_cells(row) != n:
                    raise PuzzleInputError(f"row {i + 1} has {_text_cells(row)} cells; each row of a {n}x{n} sudoku has {n}")
            return "\n".join(rows)
        return puzzle

    def variant_of(self, puzzle: Any) -> Variant:
        return sudoku_variant(puzzle)

    def prepare(self, task: SudokuTask, puzzle: Any) -> tuple[np.ndarray, sudoku_rules.PuzzleVerdict]:
        """The grid and its exact analysis (unique / several / no solution); contradictory givens are an error."""
        grid = task.parse(puzzle)
        verdict = sudoku_rules.analyse_puzzle(grid, task.box_rows, task.box_cols)
        if verdict.status is sudoku_rules.PuzzleStatus.CONTRADICTORY:
            raise ContradictoryPuzzleError("; ".join(verdict.reasons))
        return grid, verdict

    def answer(self, chunk: Chunk) -> list[SolveResult]:
        task, grids = chunk.task, chunk.grids
        run = chunk.run(grids, None)
        answers, digit_probs = read_digits(run, task.size)
        finite = np.isfinite(digit_probs).all(axis=(1, 2, 3))  # False: no guidance to take from the model
        best = digit_probs.max(-1)
        confidence = np.where(np.isfinite(best), best, 0.0)
        final: dict[int, tuple[np.ndarray, str, int]] = {}  # (answer, path, search nodes)
        rejected: dict[int, list[str]] = {}
        for i, (grid, answer) in enumerate(zip(grids, answers)):
            verdict = task.verify(grid, answer)
            if verdict.ok:
                final[i] = (answer, "hrm", 0)
            else:
                rejected[i] = verdict.reasons
        todo = [i for i in rejected if chunk.facts[i].status is not sudoku_rules.PuzzleStatus.NO_SOLUTION]
        if chunk.repair and todo:
            scores = [p if ok else None for p, ok in zip(digit_probs, finite)]
            final.update(_repair(chunk, todo, answers, confidence, scores))

        results = []
        for i, grid in enumerate(grids):
            status_of_puzzle = chunk.facts[i].status
            answer, path, nodes = final.get(i, (None, "none", 0))
            notes = [] if finite[i] else [NON_FINITE_NOTE]
            if status_of_puzzle is sudoku_rules.PuzzleStatus.NO_SOLUTION:
                status = "no_solution"
                notes.append("the puzzle has no solution")
            elif answer is None:
                status = "unsolved"
            elif status_of_puzzle is sudoku_rules.PuzzleStatus.MULTIPLE:
                status = "multiple_solutions"
                notes.append("the puzzle has more than one solution; the answer is one of them")
            else:
                status = "solved"
            results.append(SolveResult(
                task=chunk.variant.name, puzzle=grid.tolist(), status=status,
                answer=None if answer is None else np.asarray(answer).tolist(), verified=answer is not None, path=path,
                model_answer=answers[i].tolist(), model_correct=i not in rejected,
                confidence=confidence[i].round(4).tolist(), segments_used=int(run.used[i]),
                halted_at=int(run.halted_at[i]), search_nodes=nodes,
                model_errors=list(rejected.get(i, [])), notes=notes, checkpoint=chunk.checkpoint,
            ))
        return results


def _repair(chunk: Chunk, todo: list[int], answers: np.ndarray, confidence: np.ndarray,
            scores: list[np.ndarray | None]) -> dict[int, tuple[np.ndarray, str, int]]:
    """(answer, path, search nodes) of each puzzle in `todo` the repair solves: the HRM again with
    its own confident, mutually consistent cells fixed as givens, else the search in the order of
    `scores` (the first run's digit probabilities; None: no guidance)."""
    task, grids = chunk.task, chunk.grids
    partials = {i: sudoku_rules.confident_consistent_cells(grids[i], answers[i], confidence[i], task.box_rows,
                                                           task.box_cols, REPAIR_CONFIDENCE) for i in todo}
    rerun = [i for i in todo if (partials[i] != grids[i]).sum() >= REPAIR_MIN_NEW_CELLS]
    retry = {}
    if rerun:
        again, _ = read_digits(chunk.run(np.stack([partials[i] for i in rerun]), REPAIR_SEGMENTS), task.size)
        retry = dict(zip(rerun, again))
    found = {}
    for i in todo:
        if i in retry and task.verify(grids[i], retry[i]).ok:
            found[i] = (retry[i], "hrm+repair", 0)
            continue
        # Exhaustive search, value order from the model's (first-pass) probabilities.
        search = sudoku_rules.guided_search(grids[i], task.box_rows, task.box_cols, value_scores=scores[i])
        if search.solution is not None and task.verify(grids[i], np.asarray(search.solution)).ok:
            found[i] = (np.asarray(search.solution), "search", search.nodes)
    return found
