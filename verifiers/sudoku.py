"""Sudoku verification and an exact, propagating solver for any box shape.

A board is n x n with n = box_rows * box_cols (4x4 uses 2x2 boxes, 6x6 uses boxes of
2 rows x 3 columns, 9x9 uses 3x3 boxes). Values are 0 for a blank and 1..n for digits.
Grids may be numpy integer arrays or lists of lists of ints.

Public functions
----------------
check_solution   -- is an answer a complete, valid solution that keeps the puzzle's givens?
analyse_puzzle   -- contradictory / no solution / unique / multiple, with example solutions.
count_solutions  -- exact solution count up to a limit (used by analyse_puzzle).
guided_search    -- the same exhaustive search, but trying values in the order given by
                    per-cell scores (e.g. a neural model's probabilities), or in random order.
grid_to_string   -- 81-character text form ('.' for blank) for boards up to 9x9.
search_effort    -- how hard a puzzle is for the fixed exact solver (its dead ends).
confident_consistent_cells -- a puzzle plus an answer's most confident cells that break no rule.
minimal_puzzles  -- random minimal puzzles (no clue can go) with their solutions and ratings.

Solver design
-------------
Each row, column and box ("unit") keeps a bitmask of the digits already placed in it;
bit d-1 stands for digit d. A blank cell's candidates are then one AND/NOT of three masks.
Propagation repeats two classic rules until nothing changes:
  * naked single  -- a cell with exactly one candidate gets that digit;
  * hidden single -- a digit that fits in only one cell of a unit goes there.
When propagation stalls we branch on the cell with the fewest candidates (minimum
remaining values), which keeps the search tree small. Search states are plain Python
lists that are copied on branching, which is cheap at these sizes.

The search below is the readable reference. The exact work runs in its compiled twin,
:mod:`verifiers.sudoku_core`, which reaches the same propagation fixpoints and takes the
same branches in the same order (same counts, same solutions, same node counts; a property
test compares them) and counts hard puzzles about 60x faster (docs/results.md). Inside
``with python_solver():`` the reference runs instead. It also runs when values are
shuffled by a numpy Generator (``guided_search(rng=...)``: the draws must come from that
Generator, mid-search) and for boards above 62x62. ``check_solution``, which decides what
counts as solved, never searches: it is plain Python rules.

All results hold grids as lists of lists of Python ints so that they serialise to JSON
directly; wrap them with ``np.array`` when an array is wanted.
"""

from __future__ import annotations

import enum
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from . import sudoku_core
from .common import Cell, VerifierInputError, format_cell, format_cells, is_int_value

Grid = list[list[int]]

__all__ = [
    "PuzzleStatus",
    "PuzzleVerdict",
    "SearchResult",
    "SearchStatus",
    "SolutionVerdict",
    "analyse_puzzle",
    "box_index",
    "check_solution",
    "confident_consistent_cells",
    "count_solutions",
    "grid_to_string",
    "guided_search",
    "minimal_puzzles",
    "python_solver",
    "search_effort",
]

# How many individual "cell is empty" reasons to write before summarising the rest.
_MAX_EMPTY_REASONS = 10


# --------------------------------------------------------------------------------------
# Typed results
# --------------------------------------------------------------------------------------


class SolutionVerdict(BaseModel):
    """Outcome of :func:`check_solution`."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    reasons: list[str] = Field(default_factory=list)
    # Every cell involved in some problem, sorted, without repeats.
    bad_cells: list[Cell] = Field(default_factory=list)


class PuzzleStatus(str, enum.Enum):
    CONTRADICTORY = "contradictory"  # the givens already clash inside a row/column/box
    NO_SOLUTION = "no_solution"  # givens look fine, but no completion exists
    UNIQUE = "unique"
    MULTIPLE = "multiple"


class PuzzleVerdict(BaseModel):
    """Outcome of :func:`analyse_puzzle`."""

    model_config = ConfigDict(frozen=True)

    status: PuzzleStatus
    givens: int
    already_solved: bool = False
    # The solution when status is UNIQUE, else None.
    solution: Optional[Grid] = None
    # One solution for UNIQUE, two different ones for MULTIPLE, none otherwise.
    example_solutions: list[Grid] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    # Cells of clashing givens (CONTRADICTORY only).
    conflict_cells: list[Cell] = Field(default_factory=list)
    # Branching nodes the exact search used (0 when the puzzle was contradictory).
    nodes: int = 0

    @property
    def label(self) -> str:
        """The three-way label used by the tdoku test files: unique / multiple / none."""
        if self.status is PuzzleStatus.UNIQUE:
            return "unique"
        if self.status is PuzzleStatus.MULTIPLE:
            return "multiple"
        return "none"


class SearchStatus(str, enum.Enum):
    SOLVED = "solved"
    NO_SOLUTION = "no_solution"
    NODE_LIMIT = "node_limit"  # gave up before finding a solution or exhausting the tree


class SearchResult(BaseModel):
    """Outcome of :func:`guided_search`."""

    model_config = ConfigDict(frozen=True)

    status: SearchStatus
    solution: Optional[Grid] = None
    # One node per value tried at a branching cell (propagation steps are free).
    nodes: int = 0


# --------------------------------------------------------------------------------------
# Board layout: everything that depends only on the box shape, computed once per shape
# --------------------------------------------------------------------------------------


def box_index(r: int, c: int, box_rows: int, box_cols: int) -> int:
    """Boxes numbered row-major. A band of box_rows rows holds n // box_cols = box_rows boxes."""
    return (r // box_rows) * box_rows + c // box_cols


class _Layout:
    """Index tables for an n x n board with boxes of box_rows x box_cols cells.

    Cells are numbered row-major, i = r * n + c. Units are numbered rows 0..n-1,
    columns n..2n-1 and boxes 2n..3n-1, so one flat list of masks covers all of them.
    """

    def __init__(self, box_rows: int, box_cols: int):
        n = box_rows * box_cols
        self.n = n
        self.box_rows = box_rows
        self.box_cols = box_cols
        self.ncells = n * n
        self.full = (1 << n) - 1
        self.cell_units: list[tuple[int, int, int]] = []
        self.unit_cells: list[list[int]] = [[] for _ in range(3 * n)]
        for r in range(n):
            for c in range(n):
                b = box_index(r, c, box_rows, box_cols)
                units = (r, n + c, 2 * n + b)
                self.cell_units.append(units)
                for u in units:
                    self.unit_cells[u].append(r * n + c)
        # The same tables as arrays, for the compiled core.
        self.cell_units_array = np.array(self.cell_units, dtype=np.int64)
        self.unit_cells_array = np.array(self.unit_cells, dtype=np.int64)
        # Each cell's peers (the other cells of its row, column and box), ascending.
        peers = [sorted({j for u in units for j in self.unit_cells[u]} - {i}) for i, units in enumerate(self.cell_units)]
        self.peers_array = np.array(peers, dtype=np.int64).reshape(self.ncells, len(peers[0]))
        self.bit_to_digit = {1 << (d - 1): d for d in range(1, n + 1)}
        # A lookup table mask -> ascending digits saves work in the search's inner loop;
        # beyond 12 digits the table would be too large, so we compute on the fly.
        self._digits_table: Optional[list[tuple[int, ...]]] = None
        if n <= 12:
            self._digits_table = [self._digits_slow(m) for m in range(self.full + 1)]

    def _digits_slow(self, mask: int) -> tuple[int, ...]:
        return tuple(d for d in range(1, self.n + 1) if mask >> (d - 1) & 1)

    def digits(self, mask: int) -> tuple[int, ...]:
        """Digits whose bits are set in ``mask``, ascending."""
        if self._digits_table is not None:
            return self._digits_table[mask]
        return self._digits_slow(mask)

    def unit_name(self, u: int) -> str:
        n = self.n
        if u < n:
            return f"row {u + 1}"
        if u < 2 * n:
            return f"column {u - n + 1}"
        b = u - 2 * n
        boxes_per_band = n // self.box_cols
        r0 = (b // boxes_per_band) * self.box_rows
        c0 = (b % boxes_per_band) * self.box_cols
        return (
            f"box {b + 1} (rows {r0 + 1}-{r0 + self.box_rows}, "
            f"columns {c0 + 1}-{c0 + self.box_cols})"
        )


@lru_cache(maxsize=None)
def _layout(box_rows: int, box_cols: int) -> _Layout:
    return _Layout(box_rows, box_cols)


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


def _board_size(box_rows: Any, box_cols: Any) -> int:
    """Check the box shape and return n = box_rows * box_cols."""
    for name, value in (("box_rows", box_rows), ("box_cols", box_cols)):
        if not is_int_value(value) or int(value) < 1:
            raise VerifierInputError(f"{name} must be a positive integer, got {value!r}")
    return int(box_rows) * int(box_cols)


def _to_grid(grid: Any, n: int, what: str) -> Grid:
    """Return ``grid`` as an n x n list of lists of Python ints in 0..n.

    Raises VerifierInputError naming the problem (and cells, where it has them), so no
    IndexError or TypeError can escape from deeper code on malformed input.
    """
    if isinstance(grid, np.ndarray):
        if grid.size == 0:
            raise VerifierInputError(f"{what} is empty")
        if grid.ndim != 2:
            raise VerifierInputError(f"{what} must be 2-D, got an array of shape {grid.shape}")
        if grid.shape != (n, n):
            raise VerifierInputError(
                f"{what} has shape {grid.shape[0]}x{grid.shape[1]}, expected {n}x{n}"
            )
        if grid.dtype.kind not in "iu":
            raise VerifierInputError(f"{what} must hold integers, got dtype {grid.dtype}")
        rows: Grid = grid.tolist()
        # The range check in numpy: it runs before every search, where it used to cost
        # more than a whole compiled search of an easy puzzle.
        bad = [] if 0 <= grid.min() and grid.max() <= n else [
            (int(r), int(c)) for r, c in np.argwhere((grid < 0) | (grid > n))
        ]
    else:
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence):
            raise VerifierInputError(
                f"{what} must be a 2-D integer array or a list of lists, "
                f"got {type(grid).__name__}"
            )
        if len(grid) == 0:
            raise VerifierInputError(f"{what} is empty")
        if len(grid) != n:
            raise VerifierInputError(f"{what} has {len(grid)} rows, expected {n}")
        rows = []
        for r, row in enumerate(grid):
            if isinstance(row, np.ndarray):
                row = row.tolist()
            if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
                raise VerifierInputError(f"{what} row {r + 1} is not a list of integers")
            if len(row) != n:
                raise VerifierInputError(f"{what} row {r + 1} has {len(row)} cells, expected {n}")
            out_row = []
            for c, value in enumerate(row):
                if not is_int_value(value):
                    raise VerifierInputError(
                        f"{what} cell {format_cell((r, c))} holds {value!r}, not an integer",
                        [(r, c)],
                    )
                out_row.append(int(value))
            rows.append(out_row)
        bad = [(r, c) for r in range(n) for c in range(n) if not 0 <= rows[r][c] <= n]

    if bad:
        shown = ", ".join(f"{rows[r][c]} at {format_cell((r, c))}" for r, c in bad[:8])
        raise VerifierInputError(f"{what} has values outside 0..{n}: {shown}", bad)
    return rows


def _scores_to_rows(value_scores: Any, n: int) -> list[list[float]]:
    """Validate (n, n, n) scores and flatten them to one list of n floats per cell."""
    try:
        scores = np.asarray(value_scores, dtype=float)
    except (TypeError, ValueError) as exc:
        raise VerifierInputError(f"value_scores is not numeric: {exc}") from None
    if scores.shape != (n, n, n):
        raise VerifierInputError(
            f"value_scores must have shape ({n}, {n}, {n}), got {scores.shape}"
        )
    if not np.all(np.isfinite(scores)):
        raise VerifierInputError("value_scores contains NaN or infinite values")
    return scores.reshape(n * n, n).tolist()


# --------------------------------------------------------------------------------------
# Rule checks
# --------------------------------------------------------------------------------------


def _duplicates(grid: Grid, lay: _Layout) -> list[tuple[str, int, list[Cell]]]:
    """Every (unit name, digit, cells) where a digit occurs more than once in a unit."""
    n = lay.n
    found = []
    for u, cells in enumerate(lay.unit_cells):
        where: dict[int, list[Cell]] = {}
        for i in cells:
            r, c = divmod(i, n)
            if grid[r][c]:
                where.setdefault(grid[r][c], []).append((r, c))
        for digit in sorted(where):
            if len(where[digit]) > 1:
                found.append((lay.unit_name(u), digit, where[digit]))
    return found


def _duplicate_reason(unit: str, digit: int, cells: list[Cell]) -> str:
    times = "twice" if len(cells) == 2 else f"{len(cells)} times"
    return f"{unit} has {digit} {times} at {format_cells(cells)}"


def check_solution(puzzle: Any, answer: Any, box_rows: int, box_cols: int) -> SolutionVerdict:
    """Is ``answer`` a complete valid solution of ``puzzle``?

    ok is True iff the answer has no blanks, every row, column and box holds each digit
    1..n exactly once, and every given (non-zero cell) of the puzzle is kept. Malformed
    input never raises: it yields ok=False with the reason.
    """
    try:
        n = _board_size(box_rows, box_cols)
    except VerifierInputError as exc:
        return SolutionVerdict(ok=False, reasons=[str(exc)])
    try:
        given = _to_grid(puzzle, n, "puzzle")
    except VerifierInputError as exc:
        return SolutionVerdict(ok=False, reasons=[str(exc)], bad_cells=sorted(set(exc.cells)))
    try:
        grid = _to_grid(answer, n, "answer")
    except VerifierInputError as exc:
        return SolutionVerdict(ok=False, reasons=[str(exc)], bad_cells=sorted(set(exc.cells)))

    reasons: list[str] = []
    bad: set[Cell] = set()

    # 1. Givens must survive unchanged.
    for r in range(n):
        for c in range(n):
            g, a = given[r][c], grid[r][c]
            if g and a != g:
                cell = format_cell((r, c))
                if a == 0:
                    reasons.append(f"given {g} at {cell} was erased")
                else:
                    reasons.append(f"given {g} at {cell} was changed to {a}")
                bad.add((r, c))

    # 2. No blanks (an erased given was already reported above).
    empty = [(r, c) for r in range(n) for c in range(n) if grid[r][c] == 0 and not given[r][c]]
    for cell in empty[:_MAX_EMPTY_REASONS]:
        reasons.append(f"cell {format_cell(cell)} is empty")
    if len(empty) > _MAX_EMPTY_REASONS:
        reasons.append(f"... and {len(empty) - _MAX_EMPTY_REASONS} more empty cells")
    bad.update(empty)

    # 3. No digit twice in a row, column or box. With no blanks and no duplicates every
    #    unit is automatically a permutation of 1..n (n cells, n distinct values in 1..n).
    for unit, digit, cells in _duplicates(grid, _layout(int(box_rows), int(box_cols))):
        reasons.append(_duplicate_reason(unit, digit, cells))
        bad.update(cells)

    return SolutionVerdict(ok=not reasons, reasons=reasons, bad_cells=sorted(bad))


# --------------------------------------------------------------------------------------
# Propagation and search
# --------------------------------------------------------------------------------------


def _initial_state(grid: Grid, lay: _Layout) -> Optional[tuple[list[int], list[int]]]:
    """Flat cell values and per-unit used-digit masks; None if two givens clash."""
    vals = [v for row in grid for v in row]
    used = [0] * (3 * lay.n)
    for i, d in enumerate(vals):
        if d:
            bit = 1 << (d - 1)
            a, b, c = lay.cell_units[i]
            if (used[a] | used[b] | used[c]) & bit:
                return None
            used[a] |= bit
            used[b] |= bit
            used[c] |= bit
    return vals, used


def _propagate(lay: _Layout, vals: list[int], used: list[int]) -> Optional[list[int]]:
    """Apply naked and hidden singles until stuck. Mutates ``vals`` and ``used``.

    Returns None on a contradiction, otherwise a list giving each still-blank cell's
    candidate mask (0 for filled cells; all zeros means the board is solved).
    """
    full = lay.full
    cell_units = lay.cell_units
    unit_cells = lay.unit_cells
    bit_to_digit = lay.bit_to_digit
    ncells = lay.ncells

    while True:
        # Pass 1: compute candidates, placing naked singles on the way. A placement makes
        # masks computed earlier in this pass stale, so after any placement we start over
        # before looking for hidden singles (which then see exact candidates).
        cand = [0] * ncells
        placed = False
        any_open = False
        for i in range(ncells):
            if vals[i]:
                continue
            a, b, c = cell_units[i]
            m = full & ~(used[a] | used[b] | used[c])
            if not m:
                return None  # a blank cell with no possible digit
            if m & (m - 1):
                cand[i] = m
                any_open = True
            else:
                vals[i] = bit_to_digit[m]
                used[a] |= m
                used[b] |= m
                used[c] |= m
                placed = True
        if placed:
            continue
        if not any_open:
            return cand  # solved

        # Pass 2: hidden singles. For each unit, "once" collects digits seen in at least
        # one blank cell and "twice" those seen in two or more; once & ~twice are digits
        # with exactly one home. Placements here only shrink other cells' true candidates,
        # so the masks we read stay supersets of the truth: a digit seen nowhere really has
        # no home, and a forced digit that clashes with a peer is a real contradiction.
        for u in range(len(unit_cells)):
            cells = unit_cells[u]
            once = twice = 0
            for i in cells:
                m = cand[i]
                twice |= once & m
                once |= m
            need = full & ~used[u]
            if need & ~once:
                return None  # some missing digit fits nowhere in this unit
            singles = need & once & ~twice
            while singles:
                bit = singles & -singles
                singles ^= bit
                for i in cells:
                    if cand[i] & bit:
                        break
                else:
                    # Its only home was filled moments ago by another single of this
                    # unit (two digits forced into one cell): a contradiction.
                    return None
                a, b, c = cell_units[i]
                if (used[a] | used[b] | used[c]) & bit:
                    return None
                vals[i] = bit_to_digit[bit]
                used[a] |= bit
                used[b] |= bit
                used[c] |= bit
                cand[i] = 0  # filled now; later units must not count it as blank
                placed = True
        if not placed:
            return cand


# Picks a branching cell from the candidate list; returns -1 when nothing is open.
_CellPicker = Callable[[list[int]], int]
# Orders the candidate digits of cell i (given its mask) for trying, best first.
_ValueOrder = Callable[[int, int], Sequence[int]]


def _pick_mrv(cand: list[int]) -> int:
    """The open cell with the fewest candidates (first such cell on ties)."""
    best_i, best_k = -1, 1 << 30
    for i, m in enumerate(cand):
        if m:
            k = m.bit_count()
            if k < best_k:
                best_i, best_k = i, k
                if k == 2:  # open cells always have >= 2 candidates after propagation
                    break
    return best_i


def _search(
    lay: _Layout,
    grid: Grid,
    *,
    max_solutions: int,
    node_limit: Optional[int],
    pick_cell: _CellPicker,
    order_values: _ValueOrder,
) -> tuple[list[Grid], int, bool, int]:
    """Exhaustive depth-first search with propagation at every node.

    Returns (solutions found, nodes used, whether the node limit stopped the search, dead
    ends). A node is one value tried at a branching cell; a dead end is a node whose
    propagation met a contradiction. The search stops after ``max_solutions`` solutions,
    so with max_solutions=2 it proves uniqueness.
    """
    n = lay.n
    solutions: list[Grid] = []
    start = _initial_state(grid, lay)
    if start is None:
        return solutions, 0, False, 0

    # The stack holds pending decisions (parent values, parent masks, cell, digit). The
    # parent lists are shared by sibling decisions and never mutated after being pushed;
    # each decision copies them when it is tried.
    stack: list[tuple[list[int], list[int], int, int]] = []

    def settle(vals: list[int], used: list[int]) -> bool:
        """Propagate and push the branching values; False on a contradiction."""
        cand = _propagate(lay, vals, used)
        if cand is None:
            return False
        i = pick_cell(cand)
        if i < 0:
            solutions.append([vals[r * n : (r + 1) * n] for r in range(n)])
            return True
        # Push in reverse so that the preferred value is popped (tried) first.
        for d in reversed(order_values(i, cand[i])):
            stack.append((vals, used, i, d))
        return True

    settle(*start)
    nodes = dead_ends = 0
    while stack and len(solutions) < max_solutions:
        if node_limit is not None and nodes >= node_limit:
            return solutions, nodes, True, dead_ends
        parent_vals, parent_used, i, d = stack.pop()
        nodes += 1
        vals = parent_vals.copy()
        used = parent_used.copy()
        bit = 1 << (d - 1)
        vals[i] = d
        a, b, c = lay.cell_units[i]
        used[a] |= bit
        used[b] |= bit
        used[c] |= bit
        if not settle(vals, used):
            dead_ends += 1
    return solutions, nodes, False, dead_ends


def _python_pickers(
    lay: _Layout, scores: Optional[list[list[float]]], rng: Optional[np.random.Generator]
) -> tuple[_CellPicker, _ValueOrder]:
    """The branching rules of guided_search: MRV and ascending values, unless scores
    (highest first, and the most confident among equally constrained cells) or rng
    (shuffled values) say otherwise."""

    def order_values(i: int, mask: int) -> Sequence[int]:
        digits: Sequence[int] = lay.digits(mask)
        if rng is not None:
            digits = [digits[k] for k in rng.permutation(len(digits))]
        if scores is not None:
            cell_scores = scores[i]
            # sorted() is stable: equal scores keep ascending (or shuffled) order.
            digits = sorted(digits, key=lambda d: -cell_scores[d - 1])
        return digits

    def pick_confident(cand: list[int]) -> int:
        # Minimum remaining values first; among equally constrained cells take the one
        # whose best candidate the scores are most sure about.
        assert scores is not None
        best_k = min((m.bit_count() for m in cand if m), default=0)
        if best_k == 0:
            return -1
        best_i, best_conf = -1, -float("inf")
        for i, m in enumerate(cand):
            if m and m.bit_count() == best_k:
                cell_scores = scores[i]
                conf = max(cell_scores[d - 1] for d in lay.digits(m))
                if conf > best_conf:
                    best_i, best_conf = i, conf
        return best_i

    return (_pick_mrv if scores is None else pick_confident), order_values


# Limits above this are as good as none (and would not fit the core's int64).
_INT64_CAP = 2**62

# Whether the exact search may use the compiled core (see python_solver).
_use_core = True


@contextmanager
def python_solver() -> Iterator[None]:
    """Within this block every search runs the readable pure-Python reference instead of
    the compiled core (for tests that compare the two, and benchmarks). Not thread-safe."""
    global _use_core
    before, _use_core = _use_core, False
    try:
        yield
    finally:
        _use_core = before


def _run_search(
    lay: _Layout,
    grid: Grid,
    max_solutions: int,
    node_limit: Optional[int] = None,
    scores: Optional[list[list[float]]] = None,
    rng: Optional[np.random.Generator] = None,
) -> tuple[list[Grid], int, bool, int]:
    """The exact search (see _search for what it returns): compiled when it can be."""
    n = lay.n
    if not _use_core or rng is not None or n > sudoku_core.MAX_N:
        pick_cell, order_values = _python_pickers(lay, scores, rng)
        return _search(lay, grid, max_solutions=max_solutions, node_limit=node_limit,
                       pick_cell=pick_cell, order_values=order_values)
    found, nodes, dead_ends, hit = sudoku_core.search(
        np.fromiter(chain.from_iterable(grid), dtype=np.int64, count=n * n),
        lay.cell_units_array,
        lay.unit_cells_array,
        lay.peers_array,
        n,
        min(max_solutions, _INT64_CAP),  # beyond int64 both mean "no limit"
        -1 if node_limit is None else min(node_limit, _INT64_CAP),
        np.zeros((0, n)) if scores is None else np.array(scores, dtype=np.float64),
    )
    solutions = [row.reshape(n, n).tolist() for row in found]
    return solutions, int(nodes), bool(hit), int(dead_ends)


def _count(lay: _Layout, grid: Grid, limit: int) -> tuple[int, list[Grid], int]:
    solutions, nodes, _, _ = _run_search(lay, grid, limit)
    return len(solutions), solutions, nodes


def count_solutions(
    puzzle: Any, box_rows: int, box_cols: int, limit: int = 2
) -> tuple[int, list[Grid], int]:
    """Count solutions exactly, stopping once ``limit`` have been found.

    Returns (count up to limit, the solutions found, branching nodes used). With the
    default limit=2 the count tells none / unique / multiple. Contradictory givens give
    (0, [], 0). Raises VerifierInputError on malformed input.
    """
    n = _board_size(box_rows, box_cols)
    if not is_int_value(limit) or int(limit) < 1:
        raise VerifierInputError(f"limit must be a positive integer, got {limit!r}")
    grid = _to_grid(puzzle, n, "puzzle")
    return _count(_layout(int(box_rows), int(box_cols)), grid, int(limit))


def analyse_puzzle(puzzle: Any, box_rows: int, box_cols: int) -> PuzzleVerdict:
    """Classify a puzzle as contradictory, no_solution, unique or multiple.

    Raises VerifierInputError on malformed input (wrong shape, values outside 0..n, bad
    box shape).
    """
    n = _board_size(box_rows, box_cols)
    grid = _to_grid(puzzle, n, "puzzle")
    lay = _layout(int(box_rows), int(box_cols))
    givens = sum(1 for row in grid for v in row if v)

    clashes = _duplicates(grid, lay)
    if clashes:
        cells = sorted({cell for _, _, where in clashes for cell in where})
        return PuzzleVerdict(
            status=PuzzleStatus.CONTRADICTORY,
            givens=givens,
            reasons=[_duplicate_reason(*clash) for clash in clashes],
            conflict_cells=cells,
        )

    count, solutions, nodes = _count(lay, grid, 2)
    if count == 0:
        return PuzzleVerdict(
            status=PuzzleStatus.NO_SOLUTION,
            givens=givens,
            reasons=["the givens do not clash, but no completion satisfies all rules"],
            nodes=nodes,
        )
    if count == 1:
        # A full grid without clashes is its own (unique) solution.
        solved = givens == n * n
        return PuzzleVerdict(
            status=PuzzleStatus.UNIQUE,
            givens=givens,
            already_solved=solved,
            solution=solutions[0],
            example_solutions=solutions,
            reasons=["the puzzle is already solved"] if solved else [],
            nodes=nodes,
        )
    return PuzzleVerdict(
        status=PuzzleStatus.MULTIPLE,
        givens=givens,
        example_solutions=solutions,
        reasons=["at least two different completions exist"],
        nodes=nodes,
    )


def guided_search(
    puzzle: Any,
    box_rows: int,
    box_cols: int,
    value_scores: Any = None,
    node_limit: Optional[int] = None,
    rng: Optional[np.random.Generator] = None,
) -> SearchResult:
    """Exhaustive propagating DFS whose value order comes from ``value_scores``.

    * value_scores: optional (n, n, n) floats; at a branching cell (r, c) values are tried
      in descending ``value_scores[r, c, v-1]``. The branching cell is the one with the
      fewest candidates, ties broken by the highest score among its candidates.
    * Without scores values are tried ascending, or in random order when ``rng`` (a numpy
      Generator) is given -- on an empty grid that yields a random complete grid. With
      both, rng only breaks ties between equal scores.
    * node_limit: stop with status NODE_LIMIT after that many nodes.

    Nodes are counted exactly as in :func:`count_solutions` (one per value tried at a
    branching cell), so node counts with and without scores are directly comparable.
    Returns the first solution found. Raises VerifierInputError on malformed input.
    The compiled core does the search, except with ``rng`` (see the module notes).
    """
    n = _board_size(box_rows, box_cols)
    grid = _to_grid(puzzle, n, "puzzle")
    lay = _layout(int(box_rows), int(box_cols))
    if node_limit is not None and (not is_int_value(node_limit) or int(node_limit) < 0):
        raise VerifierInputError(f"node_limit must be a non-negative integer, got {node_limit!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise VerifierInputError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    scores = None if value_scores is None else _scores_to_rows(value_scores, n)
    solutions, nodes, hit_limit, _ = _run_search(
        lay, grid, 1, None if node_limit is None else int(node_limit), scores, rng
    )
    if solutions:
        return SearchResult(status=SearchStatus.SOLVED, solution=solutions[0], nodes=nodes)
    if hit_limit:
        return SearchResult(status=SearchStatus.NODE_LIMIT, nodes=nodes)
    return SearchResult(status=SearchStatus.NO_SOLUTION, nodes=nodes)


def search_effort(puzzle: Any, box_rows: int, box_cols: int) -> int:
    """How hard a puzzle is for the fixed exact solver: the dead ends (values whose
    propagation ends in a contradiction) of count_solutions(limit=2), i.e. the backtracks
    it needs to solve the puzzle and prove it unique. 0 means propagation alone solves it.

    Like Sudoku-Extreme's rating (tdoku's backtracks), but of this solver (naked and hidden
    singles, MRV), so the numbers of the two are not interchangeable. Renaming the digits
    does not change it. Raises VerifierInputError on malformed input.
    """
    n = _board_size(box_rows, box_cols)
    grid = _to_grid(puzzle, n, "puzzle")
    return _run_search(_layout(int(box_rows), int(box_cols)), grid, 2)[3]


def minimal_puzzles(
    count: int, box_rows: int, box_cols: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` random minimal puzzles: unique, and removing any clue makes them ambiguous.

    Each is made from a random complete grid by blanking the cells in random order, putting
    a clue back whenever the puzzle would stop being unique. Returns (puzzles, solutions) as
    (count, n, n) int64 arrays and the ratings (:func:`search_effort`) as a (count,) array.
    All randomness comes from ``rng``, so a seeded Generator gives the same puzzles.
    """
    n = _board_size(box_rows, box_cols)
    if not is_int_value(count) or int(count) < 0:
        raise VerifierInputError(f"count must be a non-negative integer, got {count!r}")
    if not isinstance(rng, np.random.Generator):
        raise VerifierInputError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    if n > sudoku_core.MAX_N:
        raise VerifierInputError(f"minimal_puzzles supports boards up to {sudoku_core.MAX_N}x{sudoku_core.MAX_N}")
    lay = _layout(int(box_rows), int(box_cols))
    count, cells = int(count), n * n
    # Random value scores make the first solution of the empty board a random grid.
    scores = rng.random((count, cells, n))
    orders = rng.permuted(np.tile(np.arange(cells, dtype=np.int64), (count, 1)), axis=1)
    puzzles, solutions, ratings = sudoku_core.minimal_puzzles(
        scores, orders, lay.cell_units_array, lay.unit_cells_array, lay.peers_array, n
    )
    return puzzles.reshape(count, n, n), solutions.reshape(count, n, n), ratings


# --------------------------------------------------------------------------------------
# Partial answers
# --------------------------------------------------------------------------------------


def confident_consistent_cells(puzzle: Any, answer: Any, confidence: Any, box_rows: int, box_cols: int,
                               min_confidence: float) -> np.ndarray:
    """The puzzle plus the answer's cells whose confidence is at least ``min_confidence``, most
    confident first, each added only while it breaks no rule with the givens and the cells
    already added. ``answer`` and ``confidence`` are (n, n); returns an (n, n) array (0 blank).
    Raises VerifierInputError when the shapes do not fit the box shape."""
    n = _board_size(box_rows, box_cols)
    partial, answer, confidence = np.array(puzzle), np.asarray(answer), np.asarray(confidence)
    if not partial.shape == answer.shape == confidence.shape == (n, n):
        raise VerifierInputError(f"puzzle, answer and confidence must all be {n}x{n}, got {partial.shape}, "
                                 f"{answer.shape} and {confidence.shape}")
    rows = [set(partial[r][partial[r] > 0]) for r in range(n)]
    cols = [set(partial[:, c][partial[:, c] > 0]) for c in range(n)]
    boxes = [set() for _ in range(n)]
    for r, c in zip(*np.nonzero(partial)):
        boxes[box_index(r, c, box_rows, box_cols)].add(partial[r, c])
    for flat in np.argsort(-confidence, axis=None):
        r, c = divmod(int(flat), n)
        if partial[r, c] or confidence[r, c] < min_confidence:
            continue
        v, b = answer[r, c], box_index(r, c, box_rows, box_cols)
        if v in rows[r] or v in cols[c] or v in boxes[b]:
            continue
        partial[r, c] = v
        rows[r].add(v), cols[c].add(v), boxes[b].add(v)
    return partial


# --------------------------------------------------------------------------------------
# Text form
# --------------------------------------------------------------------------------------


def grid_to_string(grid: Any) -> str:
    """Row-major digits with '.' for blanks, e.g. 81 characters for a 9x9 board.

    Only boards up to 9x9 have one character per digit, so larger boards raise ValueError.
    """
    if isinstance(grid, np.ndarray):
        n = grid.shape[0] if grid.ndim >= 1 else 0
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        n = len(grid)
    else:
        raise VerifierInputError(f"grid must be a 2-D array or list of lists, got {type(grid).__name__}")
    if n > 9:
        raise ValueError(f"grid_to_string supports boards up to 9x9, got {n}x{n}")
    rows = _to_grid(grid, n, "grid")  # checks squareness and the 0..n range
    return "".join(str(v) if v else "." for row in rows for v in row)


# --------------------------------------------------------------------------------------
# Batched check
# --------------------------------------------------------------------------------------


def solved_mask(puzzles: np.ndarray, answers: np.ndarray, box_rows: int, box_cols: int) -> np.ndarray:
    """Which answers are complete valid solutions keeping their puzzle's givens: [B] bools.

    The same rule as :func:`check_solution` for a whole stack at once ([B, n, n] int arrays,
    0 for blank), without reasons: cheap enough to run after every model step. Every row,
    column and box, sorted, must read 1..n.
    """
    n = _board_size(box_rows, box_cols)
    puzzles, answers = np.asarray(puzzles), np.asarray(answers)
    if puzzles.shape != answers.shape or puzzles.shape[1:] != (n, n):
        raise VerifierInputError(f"puzzles and answers must both be [B, {n}, {n}], got {puzzles.shape} and {answers.shape}")
    count = len(answers)
    boxes = answers.reshape(count, n // box_rows, box_rows, n // box_cols, box_cols).transpose(0, 1, 3, 2, 4)
    units = np.concatenate((answers, answers.transpose(0, 2, 1), boxes.reshape(count, n, n)), axis=1)
    complete = (np.sort(units, axis=-1) == np.arange(1, n + 1)).all(axis=(1, 2))
    kept = ((puzzles == 0) | (puzzles == answers)).all(axis=(1, 2))
    return complete & kept
