"""Maze verification in HRM's Maze-Hard text format.

A maze is a square grid of characters:
    '#' wall, ' ' open, 'S' start, 'G' goal, 'o' path (answers only).
Mazes can be given as a flat row-major string (side inferred, or passed as ``side``),
as newline-separated rows, as a list of row strings, or as a numpy array of single
characters (2-D, or 1-D together with ``side``).

Public functions
----------------
validate_maze_question -- verdict on a question (one S, one G, allowed characters,
                          square, G reachable); never raises.
bfs_shortest_path      -- BFS shortest S->G path in HRM's labelling order.
label_maze             -- the canonical answer: the question with that path drawn as 'o'.
check_maze_answer      -- is the answer a valid shortest path, and is it the exact label?

Why the fixed neighbour order: shortest paths are very rarely unique, so "the" label is
defined by a procedure. BFS from S with a FIFO queue, visiting neighbours down, left,
right, up, where each cell's parent is the first cell that discovers it, reproduces
every label of HRM's Maze-Hard data byte for byte. A model can still be right without
matching that label, which is why answers are scored both ways.
"""

from __future__ import annotations

from collections import deque
from math import isqrt
from typing import Any, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .common import Cell, VerifierInputError, format_cell, format_cells

__all__ = [
    "MazeInputError",
    "MazeQuestionVerdict",
    "MazeVerdict",
    "ShortestPath",
    "bfs_shortest_path",
    "check_maze_answer",
    "label_maze",
    "validate_maze_question",
]

WALL, OPEN, START, GOAL, PATH = "#", " ", "S", "G", "o"
QUESTION_CHARS = frozenset((WALL, OPEN, START, GOAL))
ANSWER_CHARS = QUESTION_CHARS | {PATH}

# BFS neighbour order that reproduces HRM's labels: down, left, right, up.
_MOVES = ((1, 0), (0, -1), (0, 1), (-1, 0))

_NAMES = {WALL: "wall", OPEN: "open cell", START: "start S", GOAL: "goal G", PATH: "path 'o'"}


class MazeInputError(VerifierInputError):
    """The maze (usually the question) is malformed: two S, no G, stray characters, ..."""


# --------------------------------------------------------------------------------------
# Typed results
# --------------------------------------------------------------------------------------


class ShortestPath(BaseModel):
    """Result of :func:`bfs_shortest_path`."""

    model_config = ConfigDict(frozen=True)

    # Cells from S to G inclusive, or None when G cannot be reached.
    path: Optional[list[Cell]] = None
    # Number of cells on the path, S and G included (HRM's convention); None if unreachable.
    length: Optional[int] = None


class MazeQuestionVerdict(BaseModel):
    """Result of :func:`validate_maze_question`."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    reasons: list[str] = Field(default_factory=list)
    bad_cells: list[Cell] = Field(default_factory=list)
    side: Optional[int] = None
    start: Optional[Cell] = None
    goal: Optional[Cell] = None
    # Cells on a shortest S->G path, S and G included; None when G is unreachable.
    shortest_length: Optional[int] = None


class MazeVerdict(BaseModel):
    """Result of :func:`check_maze_answer`."""

    model_config = ConfigDict(frozen=True)

    # Same as valid_shortest_path: the answer is correct.
    ok: bool
    # A simple S->G path through open cells is drawn and nothing else was changed.
    valid_path: bool
    # ... and it is as short as possible.
    valid_shortest_path: bool
    # The answer equals label_maze(question) exactly.
    matches_label: bool
    # Cells on the drawn path (S and G included) when valid_path, else None.
    path_length: Optional[int] = None
    shortest_length: int
    reasons: list[str] = Field(default_factory=list)
    bad_cells: list[Cell] = Field(default_factory=list)


# --------------------------------------------------------------------------------------
# Input conversion
# --------------------------------------------------------------------------------------


def _to_rows(maze: Any, side: Optional[int], what: str) -> list[str]:
    """Return the maze as a list of equal-length row strings forming a square.

    Raises MazeInputError when the input cannot be read as a square character grid.
    """
    if side is not None and (isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 1):
        raise MazeInputError(f"side must be a positive integer, got {side!r}")

    if isinstance(maze, np.ndarray):
        if maze.dtype.kind == "S":
            maze = np.char.decode(maze, "ascii")
        if maze.dtype.kind != "U":
            raise MazeInputError(f"{what} array must hold characters, got dtype {maze.dtype}")
        if maze.ndim == 1:
            maze = "".join(maze.tolist())  # handled as a flat string below
        elif maze.ndim == 2:
            cells = maze.tolist()
            if any(len(ch) != 1 for row in cells for ch in row):
                raise MazeInputError(f"{what} array must hold single characters")
            maze = ["".join(row) for row in cells]
        else:
            raise MazeInputError(f"{what} must be 1-D or 2-D, got shape {maze.shape}")

    if isinstance(maze, str):
        if "\n" in maze:
            rows = maze.split("\n")
            if rows and rows[-1] == "":
                rows.pop()  # tolerate one trailing newline
        else:
            if len(maze) == 0:
                raise MazeInputError(f"{what} is empty")
            n = side if side is not None else isqrt(len(maze))
            if n * n != len(maze):
                expected = f"{side}x{side}={side * side}" if side is not None else "a square number of"
                raise MazeInputError(
                    f"{what} has {len(maze)} characters, expected {expected} characters"
                )
            rows = [maze[r * n : (r + 1) * n] for r in range(n)]
    elif isinstance(maze, Sequence) and not isinstance(maze, bytes):
        rows = []
        for r, row in enumerate(maze):
            if isinstance(row, str):
                rows.append(row)
            elif isinstance(row, Sequence) and all(isinstance(ch, str) and len(ch) == 1 for ch in row):
                rows.append("".join(row))
            else:
                raise MazeInputError(f"{what} row {r + 1} is not a string of characters")
    else:
        raise MazeInputError(f"{what} must be a string, list of rows or character array, got {type(maze).__name__}")

    if not rows:
        raise MazeInputError(f"{what} is empty")
    n = len(rows)
    for r, row in enumerate(rows):
        if len(row) != n:
            raise MazeInputError(f"{what} is not square: row {r + 1} has {len(row)} cells but there are {n} rows")
    if side is not None and n != side:
        raise MazeInputError(f"{what} is {n}x{n}, expected {side}x{side}")
    return rows


def _same_form(rows: list[str], template: Any) -> Any:
    """Give ``rows`` back in the form the caller used for the question."""
    if isinstance(template, np.ndarray):
        grid = np.array([list(row) for row in rows], dtype="<U1")
        if template.dtype.kind == "S":
            grid = np.char.encode(grid, "ascii")
        return grid if template.ndim == 2 else grid.reshape(-1)
    if isinstance(template, str):
        if "\n" not in template:
            return "".join(rows)
        trailing = "\n" if template.endswith("\n") else ""
        return "\n".join(rows) + trailing
    return list(rows)


def _find(rows: list[str], ch: str) -> list[Cell]:
    return [(r, c) for r, row in enumerate(rows) for c, x in enumerate(row) if x == ch]


# --------------------------------------------------------------------------------------
# Shortest paths
# --------------------------------------------------------------------------------------


def _bfs(rows: list[str], start: Cell, goal: Cell) -> Optional[list[Cell]]:
    """BFS in HRM's order; every non-wall cell is passable. Path S..G or None."""
    n = len(rows)
    parent: dict[Cell, Optional[Cell]] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        r, c = cell
        for dr, dc in _MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < n and 0 <= nc < n and rows[nr][nc] != WALL and (nr, nc) not in parent:
                # The first cell to discover a neighbour becomes its parent; this choice
                # (with the move order) is what pins down the canonical label.
                parent[(nr, nc)] = cell
                queue.append((nr, nc))
    if goal not in parent:
        return None
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    path.reverse()
    return path


def _endpoints(rows: list[str], what: str) -> tuple[Cell, Cell]:
    starts, goals = _find(rows, START), _find(rows, GOAL)
    problems = []
    if len(starts) != 1:
        problems.append(_count_reason(START, starts))
    if len(goals) != 1:
        problems.append(_count_reason(GOAL, goals))
    if problems:
        raise MazeInputError(f"{what}: " + "; ".join(problems), starts + goals)
    return starts[0], goals[0]


def _count_reason(ch: str, cells: list[Cell]) -> str:
    if not cells:
        return f"no {ch} in the maze"
    return f"{len(cells)} {ch} cells (need exactly one) at {format_cells(cells)}"


def bfs_shortest_path(maze: Any, side: Optional[int] = None) -> ShortestPath:
    """Shortest S->G path by BFS (moves down, left, right, up; first discoverer is parent).

    Works on questions and answers alike ('o' counts as open). Returns the path cells
    with S and G included, or path=None when G is unreachable. Raises MazeInputError
    unless the maze is square with exactly one S and one G.
    """
    rows = _to_rows(maze, side, "maze")
    bad = sorted({(r, c) for r, row in enumerate(rows) for c, x in enumerate(row) if x not in ANSWER_CHARS})
    if bad:
        raise MazeInputError(f"maze has characters other than '#', ' ', 'S', 'G', 'o' at {format_cells(bad)}", bad)
    start, goal = _endpoints(rows, "maze")
    path = _bfs(rows, start, goal)
    return ShortestPath(path=path, length=None if path is None else len(path))


# --------------------------------------------------------------------------------------
# Questions and labels
# --------------------------------------------------------------------------------------


def validate_maze_question(question: Any, side: Optional[int] = None) -> MazeQuestionVerdict:
    """Check a question: square, only '#', ' ', 'S', 'G', exactly one S and G, G reachable.

    Never raises; problems are returned as reasons.
    """
    try:
        rows = _to_rows(question, side, "question")
    except MazeInputError as exc:
        return MazeQuestionVerdict(ok=False, reasons=[str(exc)])

    reasons: list[str] = []
    bad: set[Cell] = set()
    stray = [(r, c) for r, row in enumerate(rows) for c, x in enumerate(row) if x not in QUESTION_CHARS]
    if stray:
        chars = sorted({rows[r][c] for r, c in stray})
        reasons.append(
            f"question has characters other than '#', ' ', 'S', 'G' ({', '.join(map(repr, chars))}) "
            f"at {format_cells(stray)}"
        )
        bad.update(stray)
    starts, goals = _find(rows, START), _find(rows, GOAL)
    for ch, cells in ((START, starts), (GOAL, goals)):
        if len(cells) != 1:
            reasons.append(_count_reason(ch, cells))
            bad.update(cells)

    start = starts[0] if len(starts) == 1 else None
    goal = goals[0] if len(goals) == 1 else None
    shortest = None
    if start is not None and goal is not None:
        path = _bfs(rows, start, goal)
        if path is None:
            reasons.append(f"G at {format_cell(goal)} cannot be reached from S at {format_cell(start)}")
        else:
            shortest = len(path)
    return MazeQuestionVerdict(
        ok=not reasons,
        reasons=reasons,
        bad_cells=sorted(bad),
        side=len(rows),
        start=start,
        goal=goal,
        shortest_length=shortest,
    )


def _parse_question(question: Any, side: Optional[int]) -> tuple[list[str], Cell, Cell, list[Cell]]:
    """Rows, S, G and the canonical BFS path of a valid question; MazeInputError otherwise."""
    verdict = validate_maze_question(question, side)
    if not verdict.ok:
        raise MazeInputError("invalid maze question: " + "; ".join(verdict.reasons), verdict.bad_cells)
    rows = _to_rows(question, side, "question")
    path = _bfs(rows, verdict.start, verdict.goal)
    assert path is not None  # reachability was just checked
    return rows, verdict.start, verdict.goal, path


def _draw_path(rows: list[str], path: list[Cell]) -> list[str]:
    grid = [list(row) for row in rows]
    for r, c in path[1:-1]:  # S and G keep their letters
        grid[r][c] = PATH
    return ["".join(row) for row in grid]


def label_maze(question: Any, side: Optional[int] = None) -> Any:
    """The canonical answer: the question with the BFS path's cells (S, G excluded) as 'o'.

    Returned in the same form as the question (flat string, rows, or array).
    Raises MazeInputError for an invalid question (see validate_maze_question).
    """
    rows, _, _, path = _parse_question(question, side)
    return _same_form(_draw_path(rows, path), question)


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------


def check_maze_answer(question: Any, answer: Any, side: Optional[int] = None) -> MazeVerdict:
    """Judge an answer maze against its question.

    valid_path: the 'o' cells plus S and G form one simple 4-connected S->G path (S and
    G have one path neighbour each, every 'o' exactly two, all connected), no 'o' lies on
    a wall, S or G, and no other cell differs from the question. A path that touches
    itself sideways counts as branching: its drawing does not describe one route.
    valid_shortest_path (= ok): valid_path and its length equals the BFS shortest length.
    matches_label: the answer equals label_maze(question) exactly.

    Raises MazeInputError when the question itself is invalid; a malformed answer gives
    a verdict with ok=False instead.
    """
    q_rows, start, goal, best = _parse_question(question, side)
    n = len(q_rows)
    shortest = len(best)
    try:
        a_rows = _to_rows(answer, None, "answer")
    except MazeInputError as exc:
        return _unreadable(str(exc), shortest)
    if len(a_rows) != n:
        return _unreadable(f"answer is {len(a_rows)}x{len(a_rows)}, question is {n}x{n}", shortest)

    # Each check groups its problems by kind, so one reason lists all cells of that kind.
    changed, on_path = _changed_cells(q_rows, a_rows, start, goal)
    shape = _shape_problems(on_path, start, goal)
    loose = {} if shape else _loose_cells(on_path, start)  # only a well-shaped path can be checked for loops
    reasons: list[str] = []
    bad: set[Cell] = set()
    for groups in (changed, shape, loose):
        for text, cells in groups.items():
            reasons.append(f"{text} {format_cells(cells)}")
            bad.update(cells)

    valid_path = not reasons
    path_length = len(on_path) if valid_path else None
    valid_shortest = valid_path and path_length == shortest
    if valid_path and not valid_shortest:
        reasons.append(f"the path has {path_length} cells but the shortest has {shortest} (S and G included)")

    label = _draw_path(q_rows, best)
    return MazeVerdict(
        ok=valid_shortest,
        valid_path=valid_path,
        valid_shortest_path=valid_shortest,
        matches_label=a_rows == label,
        path_length=path_length,
        shortest_length=shortest,
        reasons=reasons,
        bad_cells=sorted(bad),
    )


def _unreadable(reason: str, shortest: int) -> MazeVerdict:
    """The verdict on an answer that is not a maze of the question's size."""
    return MazeVerdict(
        ok=False,
        valid_path=False,
        valid_shortest_path=False,
        matches_label=False,
        shortest_length=shortest,
        reasons=[reason],
    )


def _changed_cells(
    q_rows: list[str], a_rows: list[str], start: Cell, goal: Cell
) -> tuple[dict[str, list[Cell]], set[Cell]]:
    """Cell by cell: only open cells may turn into 'o'; everything else must be unchanged.

    Returns the problems by kind and the cells on the drawn path (S and G included).
    """
    groups: dict[str, list[Cell]] = {}
    on_path: set[Cell] = {start, goal}
    for r, (q_row, a_row) in enumerate(zip(q_rows, a_rows)):
        for c, (q, a) in enumerate(zip(q_row, a_row)):
            if a == PATH:
                on_path.add((r, c))
                if q == WALL:
                    groups.setdefault("path goes through the wall at", []).append((r, c))
                elif q in (START, GOAL):
                    groups.setdefault(f"the {_NAMES[q]} was overwritten by 'o' at", []).append((r, c))
            elif a not in ANSWER_CHARS:
                groups.setdefault(f"unexpected character {a!r} at", []).append((r, c))
            elif a != q:
                groups.setdefault(f"{_NAMES[q]} was changed to {_NAMES[a]} at", []).append((r, c))
    return groups, on_path


def _shape_problems(on_path: set[Cell], start: Cell, goal: Cell) -> dict[str, list[Cell]]:
    """Shape of the drawn path: in a simple path S and G have one neighbour on the path and
    every other path cell exactly two. (If S or G was overwritten or moved the question's S/G
    positions still anchor the path.)"""
    groups: dict[str, list[Cell]] = {}
    for cell in sorted(on_path):
        r, c = cell
        k = sum((r + dr, c + dc) in on_path for dr, dc in _MOVES)
        if cell in (start, goal):
            name = "S" if cell == start else "G"
            if k == 0:
                groups.setdefault(f"{name} has no path cell next to it at", []).append(cell)
            elif k > 1:
                groups.setdefault(f"the path branches at {name}", []).append(cell)
        elif k == 0:
            groups.setdefault("isolated 'o' cells off the path at", []).append(cell)
        elif k == 1:
            groups.setdefault("the path dead-ends (broken path or stray 'o') at", []).append(cell)
        elif k > 2:
            groups.setdefault("the path branches or touches itself at", []).append(cell)
    return groups


def _loose_cells(on_path: set[Cell], start: Cell) -> dict[str, list[Cell]]:
    """With a simple path's degrees, the part containing S is a simple path ending at G;
    anything not reached from S is a separate loop of 'o' cells."""
    seen = {start}
    stack = [start]
    while stack:
        r, c = stack.pop()
        for dr, dc in _MOVES:
            nxt = (r + dr, c + dc)
            if nxt in on_path and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    loose = sorted(on_path - seen)
    return {"'o' cells not connected to the S-G path at": loose} if loose else {}
