"""A solving path a person can follow: one rule at a time, and an honest guess where no rule applies.

`solving_path` fills a sudoku the way people do. At every step it applies the first rule that
works, in this order:

* naked single: a blank cell with one candidate left (every other digit is in its row, column or box);
* hidden single: a digit with one possible cell left in a row, column or box;
* locked candidates: in a box, a digit's candidates all lie in one row or column, so the digit
  leaves the rest of that line ("pointing"); or in a row or column they all lie in one box, so
  the digit leaves the rest of that box ("claiming"). Such a step removes candidates, places nothing;
* guess: no rule above applies. The cell with the fewest candidates gets the verified solution's
  digit, and the step says which options there were: search was needed here, not logic.

Every placement agrees with the solution (the rules are sound, and a guess takes the solution's
digit). Cells and units are 0-based here, like the rest of `verifiers`; whoever shows a step to a
person adds 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .sudoku import PuzzleStatus, analyse_puzzle, box_index

Rule = Literal["naked_single", "hidden_single", "pointing", "claiming", "guess"]
Cell = tuple[int, int]
Unit = tuple[Literal["row", "column", "box"], int]


@dataclass(frozen=True)
class Step:
    rule: Rule
    digit: int
    cell: Cell | None = None  # the cell filled (None for pointing / claiming)
    unit: Unit | None = None  # hidden single: where the cell is the digit's last place; locked: the box or line it is confined to
    line: Unit | None = None  # locked candidates: the row/column (pointing) or box (claiming) the digit leaves
    eliminated: tuple[Cell, ...] = ()  # locked candidates: the cells that lost the digit
    options: tuple[int, ...] = ()  # guess: the candidates the cell had


@dataclass
class _Board:
    n: int
    box_rows: int
    box_cols: int
    grid: list[list[int]]
    cands: dict[Cell, set[int]] = field(default_factory=dict)

    def units(self) -> list[tuple[Unit, list[Cell]]]:
        n = self.n
        out: list[tuple[Unit, list[Cell]]] = [(("row", r), [(r, c) for c in range(n)]) for r in range(n)]
        out += [(("column", c), [(r, c) for r in range(n)]) for c in range(n)]
        out += [(("box", b), [(r, c) for r in range(n) for c in range(n) if self.box(r, c) == b]) for b in range(n)]
        return out

    def box(self, r: int, c: int) -> int:
        return box_index(r, c, self.box_rows, self.box_cols)

    def peers(self, r: int, c: int) -> set[Cell]:
        n = self.n
        out = {(r, j) for j in range(n)} | {(i, c) for i in range(n)}
        out |= {(i, j) for i in range(n) for j in range(n) if self.box(i, j) == self.box(r, c)}
        return out - {(r, c)}

    def place(self, r: int, c: int, d: int) -> None:
        self.grid[r][c] = d
        del self.cands[(r, c)]
        for p in self.peers(r, c):
            self.cands.get(p, set()).discard(d)


def candidates(grid: Any, box_rows: int, box_cols: int) -> dict[Cell, set[int]]:
    """The digits each blank cell (0-based) may still hold: those not yet in its row, column or box."""
    board = _board(grid, box_rows, box_cols)
    return board.cands


def _board(grid: Any, box_rows: int, box_cols: int) -> _Board:
    n = box_rows * box_cols
    rows = [[int(v) for v in row] for row in grid]
    if len(rows) != n or any(len(row) != n for row in rows):
        raise ValueError(f"a {n}x{n} grid is needed")
    board = _Board(n, box_rows, box_cols, rows)
    for r in range(n):
        for c in range(n):
            if not rows[r][c]:
                seen = {rows[i][j] for i, j in board.peers(r, c)}
                board.cands[(r, c)] = set(range(1, n + 1)) - seen
    return board


def solving_path(puzzle: Any, box_rows: int, box_cols: int, solution: Any = None) -> list[Step]:
    """Steps that fill `puzzle` completely (see the module docstring). `solution` is the verified
    answer the guesses take their digits from; without one, the verifier's exact analysis finds it.
    Raises ValueError for a puzzle with no solution."""
    board = _board(puzzle, box_rows, box_cols)
    if solution is None:
        verdict = analyse_puzzle(board.grid, box_rows, box_cols)
        if verdict.solution is None or verdict.status is PuzzleStatus.NO_SOLUTION:
            raise ValueError("the puzzle has no solution, so there is no solving path")
        solution = verdict.solution
    units = board.units()
    steps: list[Step] = []
    while board.cands:
        step = _naked_single(board) or _hidden_single(board, units) or _locked(board, units)
        if step is None:
            r, c = min(board.cands, key=lambda rc: (len(board.cands[rc]), rc))
            step = Step("guess", int(solution[r][c]), cell=(r, c), options=tuple(sorted(board.cands[(r, c)])))
        if step.cell is not None:
            board.place(*step.cell, step.digit)
        for cell in step.eliminated:
            board.cands[cell].discard(step.digit)
        steps.append(step)
    return steps


def _naked_single(board: _Board) -> Step | None:
    for (r, c), options in sorted(board.cands.items()):
        if len(options) == 1:
            return Step("naked_single", next(iter(options)), cell=(r, c))
    return None


def _hidden_single(board: _Board, units) -> Step | None:
    for unit, cells in units:
        for d in range(1, board.n + 1):
            homes = [rc for rc in cells if d in board.cands.get(rc, ())]
            if len(homes) == 1:
                return Step("hidden_single", d, cell=homes[0], unit=unit)
    return None


def _locked(board: _Board, units) -> Step | None:
    """Pointing (box -> line) first, then claiming (line -> box); only steps that remove something."""
    boxes = [(u, cells) for u, cells in units if u[0] == "box"]
    lines = [(u, cells) for u, cells in units if u[0] != "box"]
    for (kind, index), cells in boxes + lines:
        for d in range(1, board.n + 1):
            homes = [rc for rc in cells if d in board.cands.get(rc, ())]
            if len(homes) < 2:
                continue
            if kind == "box":
                targets: list[Unit] = [("row", homes[0][0])] if len({r for r, _ in homes}) == 1 else []
                targets += [("column", homes[0][1])] if len({c for _, c in homes}) == 1 else []
            else:
                boxes_of = {board.box(r, c) for r, c in homes}
                targets = [("box", boxes_of.pop())] if len(boxes_of) == 1 else []
            for target in targets:
                other = next(cs for u, cs in units if u == target)
                gone = tuple(rc for rc in other if rc not in cells and d in board.cands.get(rc, ()))
                if gone:
                    rule: Rule = "pointing" if kind == "box" else "claiming"
                    return Step(rule, d, unit=(kind, index), line=target, eliminated=gone)
    return None
