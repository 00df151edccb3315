"""What the verifier and the solver established, as small typed records.

These records are the only thing the language layer may talk about: an explanation (template or
language model) is written from them, and a model's text with any claim they do not support is
thrown away (`claims.py`). Cells are 1-based here (row 1 is the top row), because these records are
shown to people; the verifiers' own reasons count from 1 too, and their `(r,c)` cells are written
`rRcC` (`as_people_write`) before they go into a record.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from reasoner.tasks import BOX_SHAPE
from verifiers import sudoku as sudoku_rules
from verifiers import sudoku_steps

from .extract import Grid

PATH_MEANING = {
    "hrm": "the HRM's own answer passed the verifier",
    "hrm+repair": "the HRM's first answer failed the verifier; rerun with its confident, consistent cells "
    "fixed as givens, it produced an answer that passed",
    "search": "the HRM's answers failed the verifier; an exhaustive search that tried digits in the order "
    "of the HRM's probabilities found the answer",
    "none": "no answer passed the verifier",
}


class CellFact(BaseModel):
    row: int  # 1-based
    col: int  # 1-based
    digit: int
    confidence_percent: int  # the HRM's probability for its own digit in this cell


class SolveFacts(BaseModel):
    """A SolveResult reduced to what may be said about it."""

    task: str
    status: Literal["solved", "multiple_solutions", "no_solution", "unsolved"]
    verified: bool
    path: Literal["hrm", "hrm+repair", "search", "none"]
    path_meaning: str
    model_correct: bool
    segments_used: int
    halted_at: int
    search_nodes: int
    givens: int
    blanks: int
    least_confident: list[CellFact]  # among the cells the user left blank, least sure first
    notes: list[str]


def solve_facts(result) -> SolveFacts:
    """Facts of a `reasoner.SolveResult` (typed loosely to keep torch out of this module's imports)."""
    puzzle = result.puzzle
    n = len(puzzle)
    blanks = [(r, c) for r in range(n) for c in range(n) if not puzzle[r][c]]
    # Only cells the user left blank are interesting, and only when the HRM's answer is the one
    # shown: with repair or search the shown digit may differ from the HRM's.
    shown = result.answer if result.answer is not None else result.model_answer
    ranked = sorted(blanks, key=lambda rc: result.confidence[rc[0]][rc[1]])[:3]
    least = [
        CellFact(row=r + 1, col=c + 1, digit=shown[r][c], confidence_percent=round(100 * result.confidence[r][c]))
        for r, c in ranked
    ] if result.answer is not None and result.path == "hrm" else []
    return SolveFacts(
        task=result.task, status=result.status, verified=result.verified, path=result.path,
        path_meaning=PATH_MEANING[result.path], model_correct=result.model_correct,
        segments_used=result.segments_used, halted_at=result.halted_at, search_nodes=result.search_nodes,
        givens=n * n - len(blanks), blanks=len(blanks), least_confident=least, notes=list(result.notes),
    )


# --------------------------------------------------------------------------------------------
# Hints: one verified cell and why the rules force it
# --------------------------------------------------------------------------------------------


class HintFacts(BaseModel):
    row: int  # 1-based
    col: int
    digit: int
    technique: Literal["naked_single", "hidden_single", "from_solution"]
    # naked single: the digits already in the cell's row, column and box
    row_digits: list[int] = []
    col_digits: list[int] = []
    box_digits: list[int] = []
    # hidden single: the unit in which the digit has only this cell left ("row 3", "box 2")
    unit: str | None = None
    # from_solution: the candidates the cell still has (no single-step reason exists)
    candidates: list[int] = []


def _candidates(grid: Grid, r: int, c: int) -> set[int]:
    n = len(grid)
    br, bc = BOX_SHAPE[n]
    used = set(grid[r]) | {grid[i][c] for i in range(n)}
    r0, c0 = r - r % br, c - c % bc
    used |= {grid[i][j] for i in range(r0, r0 + br) for j in range(c0, c0 + bc)}
    return set(range(1, n + 1)) - used


def find_hint(puzzle: Grid, solution: Grid) -> HintFacts | None:
    """One blank cell of `puzzle` whose digit is forced, checked against the verified `solution`.

    Tries, in order: a naked single (the only digit not yet in the cell's row, column and box),
    a hidden single (the only cell of a row, column or box where a missing digit still fits),
    and otherwise the blank cell with the fewest candidates, its digit taken from the verified
    solution (said so plainly). None when the puzzle has no blank cell.
    """
    n = len(puzzle)
    blanks = [(r, c) for r in range(n) for c in range(n) if not puzzle[r][c]]
    if not blanks:
        return None
    cands = {rc: _candidates(puzzle, *rc) for rc in blanks}
    br, bc = BOX_SHAPE[n]

    for (r, c), options in cands.items():
        if len(options) == 1 and next(iter(options)) == solution[r][c]:
            r0, c0 = r - r % br, c - c % bc
            return HintFacts(
                row=r + 1, col=c + 1, digit=solution[r][c], technique="naked_single",
                row_digits=sorted(v for v in puzzle[r] if v),
                col_digits=sorted(puzzle[i][c] for i in range(n) if puzzle[i][c]),
                box_digits=sorted(puzzle[i][j] for i in range(r0, r0 + br) for j in range(c0, c0 + bc) if puzzle[i][j]),
            )

    units: list[tuple[str, list[tuple[int, int]]]] = []
    units += [(f"row {r + 1}", [(r, c) for c in range(n)]) for r in range(n)]
    units += [(f"column {c + 1}", [(r, c) for r in range(n)]) for c in range(n)]
    units += [(f"box {b + 1}", [(r, c) for r in range(n) for c in range(n) if sudoku_rules.box_index(r, c, *BOX_SHAPE[n]) == b]) for b in range(n)]
    for name, cells in units:
        open_cells = [rc for rc in cells if rc in cands]
        for digit in range(1, n + 1):
            homes = [rc for rc in open_cells if digit in cands[rc]]
            if len(homes) == 1 and solution[homes[0][0]][homes[0][1]] == digit:
                r, c = homes[0]
                return HintFacts(row=r + 1, col=c + 1, digit=digit, technique="hidden_single", unit=name)

    r, c = min(blanks, key=lambda rc: (len(cands[rc]), rc))
    return HintFacts(row=r + 1, col=c + 1, digit=solution[r][c], technique="from_solution", candidates=sorted(cands[(r, c)]))


# --------------------------------------------------------------------------------------------
# Checking a user's answer
# --------------------------------------------------------------------------------------------


class CheckFacts(BaseModel):
    ok: bool  # the verifier accepted the answer as a complete, valid solution of the puzzle
    puzzle_known: bool  # False: no puzzle in this thread, so only the rules were checked
    changed_givens: list[tuple[int, int]]  # 1-based cells
    empty: list[tuple[int, int]]
    conflicts: list[tuple[int, int]]  # cells in a row/column/box that holds a digit twice
    wrong: list[tuple[int, int]]  # filled cells that differ from the puzzle's unique solution
    unique_solution_known: bool
    verifier_reasons: list[str]  # the verifier's own words, cells written rRcC like everything shown


_CELL = re.compile(r"\((\d+),(\d+)\)")


def as_people_write(reason: str) -> str:
    """A verifier reason ("row 1 has 1 twice at (1,1),(1,2)", counted from 1 like all of
    `verifiers`) with its cells in the chat's notation: "row 1 has 1 twice at r1c1,r1c2"."""
    return _CELL.sub(lambda m: f"r{m.group(1)}c{m.group(2)}", reason)


def check_answer(puzzle: Grid | None, answer: Grid) -> CheckFacts:
    """`verifiers.sudoku.check_solution` on the user's answer, its bad cells sorted by kind; when
    the puzzle has exactly one solution (the verifier's exact analysis), the filled cells that
    differ from it are named as wrong, which pinpoints the culprit of a clash."""
    n = len(answer)
    br, bc = BOX_SHAPE[n]
    known = puzzle is not None
    givens = puzzle if known else [[0] * n for _ in range(n)]
    verdict = sudoku_rules.check_solution(givens, answer, br, bc)
    bad = set(verdict.bad_cells)
    changed = [(r, c) for r, c in sorted(bad) if givens[r][c] and answer[r][c] != givens[r][c]]
    empty = [(r, c) for r, c in sorted(bad) if not answer[r][c] and (r, c) not in changed]
    conflicts = [rc for rc in sorted(bad) if rc not in changed and rc not in empty]
    wrong: list[tuple[int, int]] = []
    unique = False
    if known:
        analysis = sudoku_rules.analyse_puzzle(givens, br, bc)
        if analysis.status is sudoku_rules.PuzzleStatus.UNIQUE and analysis.solution is not None:
            unique = True
            sol = analysis.solution
            wrong = [(r, c) for r in range(n) for c in range(n)
                     if answer[r][c] and not givens[r][c] and answer[r][c] != sol[r][c]]
    one_based = lambda cells: [(r + 1, c + 1) for r, c in cells]
    return CheckFacts(
        ok=verdict.ok, puzzle_known=known, changed_givens=one_based(changed), empty=one_based(empty),
        conflicts=one_based(conflicts), wrong=one_based(wrong), unique_solution_known=unique,
        verifier_reasons=[as_people_write(r) for r in verdict.reasons],
    )


# --------------------------------------------------------------------------------------------
# Solving steps: how a person can get there, one rule at a time
# --------------------------------------------------------------------------------------------


class StepFact(BaseModel):
    number: int  # 1-based position in the solving path
    rule: Literal["naked_single", "hidden_single", "pointing", "claiming", "guess"]
    digit: int
    row: int | None = None  # the cell filled, 1-based (None for pointing / claiming)
    col: int | None = None
    unit: str | None = None  # hidden single: where it is the digit's last place; locked: where the digit is confined
    line: str | None = None  # locked candidates: the unit the digit leaves
    eliminated: list[tuple[int, int]] = []  # locked candidates: 1-based cells that lost the digit
    options: list[int] = []  # guess: the digits the cell allowed


class StepsFacts(BaseModel):
    """A run of steps of the rule-based solving path, for one reply."""

    total_steps: int
    guesses: int  # steps where no rule applied and a digit had to be tried
    first: int  # number of the first step shown
    steps: list[StepFact]


def solving_steps(puzzle: Grid, solution: Grid) -> list[StepFact]:
    """The rule-based solving path of `puzzle` (`verifiers.sudoku_steps`), 1-based for people.
    Guesses take their digit from the verified `solution`."""
    n = len(puzzle)
    path = sudoku_steps.solving_path(puzzle, *BOX_SHAPE[n], solution=solution)
    name = lambda unit: f"{unit[0]} {unit[1] + 1}" if unit else None
    return [
        StepFact(number=i + 1, rule=s.rule, digit=s.digit, row=s.cell[0] + 1 if s.cell else None,
                 col=s.cell[1] + 1 if s.cell else None, unit=name(s.unit), line=name(s.line),
                 eliminated=[(r + 1, c + 1) for r, c in s.eliminated], options=list(s.options))
        for i, s in enumerate(path)
    ]
