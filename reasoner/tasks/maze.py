"""Mazes in HRM's Maze-Hard format: find the shortest path from S to G on an NxN grid.

Tokens exactly as HRM's Maze-Hard: PAD 0, '#' (wall) 1, ' ' (open) 2, 'S' 3, 'G' 4, 'o' (path) 5;
vocab 6, row-major, seq_len N*N. The input is the question, the label is the answer: the question
with the canonical shortest path (`verifiers.maze.label_maze`) drawn as 'o'. Every cell is
supervised.

All rules (validity, reachability, shortest paths, the labelling tie-break) come from
`verifiers.maze`; this module only converts, generates and augments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from verifiers import maze as maze_rules

from .base import Examples, PuzzleInputError, Task, parse_source
from .maze_long import lengthen, long_min_path, long_path_target

WALL, OPEN, START, GOAL, PATH = maze_rules.WALL, maze_rules.OPEN, maze_rules.START, maze_rules.GOAL, maze_rules.PATH
PAD_ID, WALL_ID, OPEN_ID, START_ID, GOAL_ID, PATH_ID = range(6)
TOKEN_CHARS = {WALL: WALL_ID, OPEN: OPEN_ID, START: START_ID, GOAL: GOAL_ID, PATH: PATH_ID}

# char code -> token id (-1: not a maze character); token id -> char (PAD decodes as open).
_ENCODE = np.full(128, -1, dtype=np.int64)
for _ch, _id in TOKEN_CHARS.items():
    _ENCODE[ord(_ch)] = _id
_DECODE = np.array([OPEN, WALL, OPEN, START, GOAL, PATH], dtype="<U1")

DEFAULT_WALLS = (0.28, 0.45)  # Maze-Hard: 27.7%-45% walls
# Style "long" (maze_long.py): with this range the lengthened mazes' wall share has about Maze-Hard's
# mean (37%); shorter ones need fewer walls, and a low wall share rarely climbs to a long path.
LONG_WALLS = (0.32, 0.45)
# Default min_path = round(MIN_PATH_PER_SIDE * N), S and G included. Measured on random mazes with
# this generator (28-45% walls, S and G on random open cells), the share of mazes whose shortest
# path reaches k*N cells hardly depends on N: ~23% reach 1.0N, ~5% 1.7N, ~1.5% 2N, and 30x30
# never got near Maze-Hard's 110-147 cells (3.7N; best of 20,000 draws: 102 cells). So the bound
# scales linearly, not with the area. 1.8N accepts ~3% of draws: 16 / 20 / 27 / 54 cells for
# 9 / 11 / 15 / 30, measured 1.6 / 1.9 / 3.2 / 13 ms per maze on one (busy) core. The area rule
# round(110 * (N/30)**2) would give 10 / 15 / 28: a 9x9 bound barely above the median path.
MIN_PATH_PER_SIDE = 1.8
# generate() gives up after this many draws in a row without an acceptable maze.
GIVE_UP_AFTER = 200_000


class MazeQuestionError(PuzzleInputError):
    """The maze cannot be used as given; `reasons` are the verifier's, `cells` the culprits."""

    def __init__(self, message: str, reasons: list[str] | None = None, cells: list[tuple[int, int]] | None = None):
        super().__init__(message)
        self.reasons = list(reasons or [message])
        self.cells = list(cells or [])


class UnreachableGoalError(MazeQuestionError):
    """The maze is well formed but no path of open cells connects S to G; `grid` is the maze."""

    grid: np.ndarray | None = None


def default_min_path(size: int) -> int:
    """The generator's default lower bound on the shortest path (cells, S and G included)."""
    return max(2, round(MIN_PATH_PER_SIDE * size))


def dihedral(grid: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k (0..7) of the square on the last two axes: k % 4 quarter turns, after a
    transpose when k >= 4. k = 0 is the identity."""
    grid = np.asarray(grid)
    if k >= 4:
        grid = np.swapaxes(grid, -1, -2)
    return np.rot90(grid, k % 4, axes=(-2, -1))


class MazeTask(Task):
    name = "maze"
    vocab_size = 6
    default_train_source = "gen:count=5000"
    default_val_source = "gen:count=256"
    # With global attention every CPU-sized run stayed at 0% exact; a 3x3 neighbourhood made 9x9
    # mazes learnable, and the continue target only destabilised the halting head (docs/results.md).
    cpu_model_hints = {"attention": "relations", "act_continue_loss": False}

    def __init__(self, size: int = 30):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 3:
            raise ValueError(f"maze size must be an integer >= 3, got {size!r}")
        self.size = int(size)
        self.seq_len = self.size * self.size

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size}

    def model_hints(self) -> dict[str, Any]:
        # With attention "relations" a cell attends to its 3x3 window (attention_radius 1).
        return {"grid_shape": (self.size, self.size), "grid_box": None, "relation": "window"}

    def __repr__(self) -> str:
        return f"MazeTask({self.size}x{self.size})"

    # -- grids and tokens ---------------------------------------------------------------------

    def parse(self, puzzle: Any) -> np.ndarray:
        """A question as a flat N*N string, N lines of text (a frame drawn by `format_grid` is
        removed), a list of row strings or a 2-D character array -> an (N, N) '<U1' array.

        Raises MazeQuestionError (a PuzzleInputError) with the verifier's reasons unless the maze
        is square of side N, uses only '#', ' ', 'S', 'G', has exactly one S and one G and G can
        be reached; UnreachableGoalError when only the last fails.
        """
        n = self.size
        if isinstance(puzzle, str):
            puzzle = _unframe(puzzle.replace("\r\n", "\n").strip("\n"))
        try:
            verdict = maze_rules.validate_maze_question(puzzle, side=n)
        except (ValueError, TypeError) as err:  # documented never to raise; belt and braces
            raise MazeQuestionError(f"invalid {n}x{n} maze: {err}") from None
        if not verdict.ok:
            message = f"invalid {n}x{n} maze: " + "; ".join(verdict.reasons)
            unreachable = verdict.start is not None and verdict.goal is not None and len(verdict.reasons) == 1 \
                and verdict.shortest_length is None and "cannot be reached" in verdict.reasons[0]
            if unreachable:
                error = UnreachableGoalError(message, verdict.reasons, verdict.bad_cells)
                error.grid = _as_grid(puzzle, n)  # a valid question all the same: callers can answer "no path"
                raise error
            raise MazeQuestionError(message, verdict.reasons, verdict.bad_cells)
        return _as_grid(puzzle, n)

    def encode(self, grid: Any) -> np.ndarray:
        """(N, N) character grid (question or answer; a flat string also works) -> [N*N] ids."""
        if isinstance(grid, str):
            grid = list(grid.replace("\n", ""))
        arr = np.asarray(grid)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "ascii")
        if arr.dtype.kind != "U" or arr.size != self.seq_len:
            raise PuzzleInputError(f"expected {self.seq_len} maze characters, got an array {arr.dtype} of shape {arr.shape}")
        arr = arr.reshape(-1)
        if arr.dtype.itemsize != 4:  # longer strings: every cell must still be one character
            if any(len(ch) != 1 for ch in arr.tolist()):
                raise PuzzleInputError("maze cells must be single characters")
            arr = arr.astype("<U1")
        codes = arr.view(np.uint32).astype(np.int64)
        ids = np.where(codes < 128, _ENCODE[np.minimum(codes, 127)], -1)
        bad = np.flatnonzero(ids < 0)
        if len(bad):
            r, c = divmod(int(bad[0]), self.size)
            raise PuzzleInputError(f"cell ({r + 1},{c + 1}) holds {arr[bad[0]]!r}; maze cells are '#', ' ', 'S', 'G' or 'o'")
        return ids

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """[N*N] token ids -> (N, N) characters; PAD and ids outside the vocabulary read as open."""
        ids = np.asarray(tokens, dtype=np.int64).reshape(self.size, self.size)
        return _DECODE[np.where((ids >= 0) & (ids < self.vocab_size), ids, PAD_ID)]

    def to_string(self, grid: np.ndarray) -> str:
        """Flat row-major string: the Maze-Hard file format."""
        return "".join(np.asarray(grid).reshape(-1).tolist())

    def format_grid(self, grid: np.ndarray, frame: bool = True) -> str:
        """Multi-line picture for terminals. The frame keeps open cells at the edges visible;
        `parse` accepts the framed text as well as the bare rows (frame=False)."""
        grid = np.asarray(grid).reshape(self.size, self.size)
        rows = ["".join(row) for row in grid.tolist()]
        if not frame:
            return "\n".join(rows)
        border = "+" + "-" * self.size + "+"
        return "\n".join([border, *(f"|{row}|" for row in rows), border])

    def examples_from_grids(self, questions: np.ndarray, answers: np.ndarray) -> Examples:
        count = len(questions)
        return Examples(
            inputs=self._encode_strings([self.to_string(q) for q in questions]),
            labels=self._encode_strings([self.to_string(a) for a in answers]),
            puzzle_ids=np.zeros(count, dtype=np.int64),
        )

    def _encode_strings(self, mazes: list[str]) -> np.ndarray:
        """Flat maze strings (already valid) -> [count, N*N] ids."""
        if not mazes:
            return np.zeros((0, self.seq_len), dtype=np.int64)
        codes = np.frombuffer("".join(mazes).encode("ascii"), dtype=np.uint8)
        ids = _ENCODE[np.minimum(codes, 127)]
        if (ids < 0).any():
            raise PuzzleInputError("maze text holds characters other than '#', ' ', 'S', 'G', 'o'")
        return ids.reshape(len(mazes), self.seq_len)

    def _decode_strings(self, tokens: np.ndarray) -> list[str]:
        chars = _DECODE[np.clip(tokens, 0, self.vocab_size - 1)]
        return ["".join(row) for row in chars.reshape(len(tokens), -1).tolist()]

    # -- augmentation -------------------------------------------------------------------------

    def augment(self, examples: Examples, rng: np.random.Generator) -> Examples:
        """Each example under one of the 8 symmetries of the square, drawn uniformly.

        The question is transformed and then labelled afresh with `label_maze`. Transforming
        the label instead would still give a shortest path, but usually not THE label: the BFS
        tie-break (neighbours down, left, right, up; first discoverer is the parent) is not
        invariant under rotation or reflection, so among the many shortest paths the rule picks
        a different one in the transformed maze. Training on such labels would teach the model
        a target the labelling rule (and the exact-label metric) disagrees with. The identity
        keeps the given label, so a pool with non-canonical (but valid) labels keeps them.
        """
        n, count = self.size, len(examples)
        ks = rng.integers(0, 8, count)
        inputs = examples.inputs.copy()
        labels = examples.labels.copy()
        for i in np.flatnonzero(ks):
            question = np.ascontiguousarray(dihedral(examples.inputs[i].reshape(n, n), int(ks[i]))).reshape(-1)
            text = self._decode_strings(question[None])[0]
            inputs[i] = question
            labels[i] = self._encode_strings([maze_rules.label_maze(text, side=n)])[0]
        return Examples(inputs, labels, examples.puzzle_ids.copy())

    def view_maps(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The identity and `count - 1` of the other 7 symmetries of the square, in random order; a
        shortest path of a turned maze, turned back, is one of the maze (not always its label)."""
        if not 1 <= count <= 8:
            raise ValueError(f"a maze has 8 views (the symmetries of the square), not {count}")
        cells = np.arange(self.seq_len).reshape(self.size, self.size)
        order = [0, *(1 + rng.permutation(7))][:count]
        cell_maps = np.stack([dihedral(cells, int(k)).reshape(-1) for k in order])
        return cell_maps, np.tile(np.arange(self.vocab_size), (count, 1))

    # -- data ---------------------------------------------------------------------------------

    def generate(
        self,
        count: int,
        rng: np.random.Generator,
        wall_fraction: tuple[float, float] | None = None,
        min_path: int | None = None,
        progress: bool = True,
        style: str = "random",
    ) -> tuple[np.ndarray, np.ndarray]:
        """`count` random mazes as (questions, answers), each [count, N, N] '<U1'.

        A draw: wall fraction p uniform in `wall_fraction`, round(p * N * N) walls on random
        cells, S and G on two other random cells. Style "random" rejects draws until G is
        reachable and the shortest path has at least `min_path` cells, S and G included (default
        `default_min_path(N)`). Style "long" lengthens each draw's path by swapping walls with open
        cells (maze_long.py) to Maze-Hard's profile: at least `min_path` cells (default
        `long_min_path(N)`: 110 at 30x30, 33 at 9x9, at most 42% of the cells). Answers are
        `label_maze` of the questions. Only `rng` is used, so the same seed gives the same mazes.
        """
        n = self.size
        cells = n * n
        if style not in ("random", "long"):
            raise ValueError(f"maze style must be 'random' or 'long', got {style!r}")
        lo, hi = (float(x) for x in wall_fraction or (DEFAULT_WALLS if style == "random" else LONG_WALLS))
        if not 0.0 <= lo <= hi < 1.0:
            raise ValueError(f"wall fraction must satisfy 0 <= min <= max < 1, got {(lo, hi)}")
        if min_path is None:
            min_path = default_min_path(n) if style == "random" else long_min_path(n)
        if not 2 <= min_path <= cells:
            raise ValueError(f"min_path must be between 2 and {cells} cells for a {n}x{n} maze, got {min_path}")
        questions = np.empty((count, n, n), dtype="<U1")
        answers = np.empty((count, n, n), dtype="<U1")
        grid = np.empty(cells, dtype=np.uint8)
        made = failures = 0
        bar = tqdm(total=count, desc=f"generating {n}x{n} mazes", disable=not progress, leave=False)
        while made < count:
            walls = min(round(rng.uniform(lo, hi) * cells), cells - 2)
            order = rng.permutation(cells)
            grid.fill(ord(OPEN))
            grid[order[:walls]] = ord(WALL)
            grid[order[walls]] = ord(START)
            grid[order[walls + 1]] = ord(GOAL)
            if style == "long":
                target = long_path_target(n, rng, min_path)
                walls_now, _ = lengthen(grid == ord(WALL), order[walls], order[walls + 1], target, rng)
                grid[grid == ord(WALL)] = ord(OPEN)  # S and G are never swapped
                grid[walls_now] = ord(WALL)
            text = grid.tobytes().decode("ascii")
            length = maze_rules.bfs_shortest_path(text, side=n).length
            if length is None or length < min_path:
                failures += 1
                if failures >= (GIVE_UP_AFTER if style == "random" else GIVE_UP_AFTER // 200):
                    bar.close()
                    raise ValueError(
                        f"no {n}x{n} maze with a shortest path of at least {min_path} cells in {failures} draws in a "
                        f"row; lower min_path or change the wall fraction"
                    )
                continue
            failures = 0
            questions[made] = np.array(list(text), dtype="<U1").reshape(n, n)
            answers[made] = np.array(list(maze_rules.label_maze(text, side=n)), dtype="<U1").reshape(n, n)
            made += 1
            bar.update()
        bar.close()
        return questions, answers

    def load_file(self, path: str | Path, rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mazes from a text file, one N*N-character question per line (Maze-Hard's format).

        For `X_question.txt` the answers are read from `X_answer.txt` beside it when present
        (each must be a valid shortest path for its question); otherwise every maze is labelled
        with `label_maze`. `rows` selects lines [start, end). Mazes whose G cannot be reached
        are skipped; any other bad line raises PuzzleInputError naming the line.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no maze file at {path}")
        lines = _maze_lines(path)
        answer_lines = None
        if path.name.endswith("_question.txt"):
            answer_path = path.with_name(path.name.removesuffix("_question.txt") + "_answer.txt")
            if answer_path.is_file():
                answer_lines = _maze_lines(answer_path)
                if len(answer_lines) != len(lines):
                    raise ValueError(f"{answer_path} has {len(answer_lines)} lines, {path} has {len(lines)}")
        first = 0
        if rows is not None:
            first = max(0, rows[0])
            lines = lines[rows[0] : rows[1]]
            answer_lines = answer_lines[rows[0] : rows[1]] if answer_lines is not None else None
        questions, answers = [], []
        for i, line in enumerate(lines):
            where = f"{path} line {first + i + 1}"
            try:
                question = self.parse(line)
            except UnreachableGoalError:
                continue  # nothing to learn from
            except PuzzleInputError as err:
                raise PuzzleInputError(f"{where}: {err}") from None
            if answer_lines is not None:
                verdict = maze_rules.check_maze_answer(line, answer_lines[i], side=self.size)
                if not verdict.ok:
                    reasons = "; ".join(verdict.reasons)
                    raise PuzzleInputError(f"{where}: the answer file's maze is not a shortest path: {reasons}")
                answer = answer_lines[i]
            else:
                answer = maze_rules.label_maze(line, side=self.size)
            questions.append(question)
            answers.append(np.array(list(answer), dtype="<U1").reshape(self.size, self.size))
        if not questions:
            raise ValueError(f"{path} holds no usable maze in the selected lines")
        return np.stack(questions), np.stack(answers)

    def load_examples(self, source: str, rng: np.random.Generator, progress: bool = True) -> Examples:
        """`source` is one of
            gen:count=500                             generated, default walls and min_path
            gen:count=500,walls=0.28-0.45,min_path=20 wall fraction range (or one value), path bound
            gen:count=500,style=long                  paths lengthened to Maze-Hard's profile
                                                      (>= 3.67 N cells; min_path may change it)
            gen:count=500,style=long,side=9           9x9 mazes, each at a random place in this
                                                      task's grid, walls all around: one run
                                                      trains several sizes without forgetting
            file:PATH                                 a Maze-Hard style file (see load_file)
            file:PATH[0:900]                          lines 0..899 of it
        """
        usage = "need count=N[,walls=A[-B]][,min_path=K][,style=random|long][,side=S]"
        spec = parse_source(source, {"count", "walls", "min_path", "style", "side"}, {"count"}, usage)
        if spec.kind == "gen":
            opts = spec.options
            try:
                count = int(opts["count"])
                walls = None
                if "walls" in opts:
                    lo, _, hi = opts["walls"].partition("-")
                    walls = (float(lo), float(hi or lo))
                min_path = int(opts["min_path"]) if "min_path" in opts else None
                side = int(opts.get("side", self.size))
            except ValueError:
                raise ValueError(f"bad generator spec {source!r}: {usage} (numbers expected)") from None
            if count < 1:
                raise ValueError(f"bad generator spec {source!r}: count must be at least 1")
            if not 3 <= side <= self.size:
                raise ValueError(f"bad generator spec {source!r}: side must be between 3 and the task's {self.size}")
            maker = self if side == self.size else MazeTask(side)
            questions, answers = maker.generate(count, rng, walls, min_path, progress=progress,
                                                style=opts.get("style", "random"))
            if side < self.size:
                questions, answers = inside_walls(questions, answers, self.size, rng)
        else:
            questions, answers = self.load_file(spec.path, spec.rows)
        return self.examples_from_grids(questions, answers)

    # -- verification -------------------------------------------------------------------------

    def verify(self, puzzle: Any, answer: Any) -> maze_rules.MazeVerdict:
        """`check_maze_answer`: ok means a valid shortest path; `matches_label` says whether it
        is also exactly the canonical label. Raises MazeQuestionError for an invalid question."""
        try:
            return maze_rules.check_maze_answer(_flat(puzzle), _flat(answer), side=self.size)
        except maze_rules.MazeInputError as err:
            raise MazeQuestionError(str(err), cells=err.cells) from None


def inside_walls(questions: np.ndarray, answers: np.ndarray, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Smaller mazes [count, k, k], each put at a random place in a size x size grid of walls: the
    same maze, with the same shortest path (the labelling tie-break does not depend on where the maze
    sits), as a maze of the larger size."""
    at = rng.integers(0, size - questions.shape[1] + 1, (len(questions), 2))
    return in_walls(questions, size, at), in_walls(answers, size, at)


def in_walls(grids: np.ndarray, size: int, at: np.ndarray) -> np.ndarray:
    """Grids [count, k, k], grid i with its top-left cell at row, column `at[i]` of a size x size
    grid of walls."""
    k = grids.shape[1]
    big = np.full((len(grids), size, size), WALL, dtype="<U1")
    for i, (r, c) in enumerate(at):
        big[i, r : r + k, c : c + k] = grids[i]
    return big


@dataclass(frozen=True)
class MazeCanvas:
    """Where a side x side maze sits when a model runs it on a size x size grid (size >= side): in
    the middle, walls around it. size == side: the maze itself."""

    size: int
    side: int

    def place(self, grids: np.ndarray) -> np.ndarray:
        """Mazes [count, side, side] -> [count, size, size]."""
        if self.size == self.side:
            return grids
        return in_walls(grids, self.size, np.full((len(grids), 2), (self.size - self.side) // 2))

    def crop(self, values: Any) -> Any:
        """Per-cell values [count, size * size, ...] (array or tensor) -> the maze's [count, side * side, ...]."""
        if self.size == self.side:
            return values
        top, rest = (self.size - self.side) // 2, tuple(values.shape[2:])
        grid = values.reshape(len(values), self.size, self.size, *rest)[:, top : top + self.side, top : top + self.side]
        return grid.reshape(len(values), self.side * self.side, *rest)


def maze_side(maze: Any) -> int:
    """Side N of a square maze given as text (N lines, framed or not, or one N*N line), rows, or an
    array; PuzzleInputError when no square side fits."""
    if isinstance(maze, str):
        lines = _unframe(maze.replace("\r\n", "\n").strip("\n")).split("\n")
        if len(lines) > 1:
            return len(lines)
        side = round(len(lines[0]) ** 0.5)
        if side * side != len(lines[0]):
            raise PuzzleInputError(f"a maze on one line needs N*N characters; {len(lines[0])} is not a square")
        return side
    if isinstance(maze, (list, tuple)) and maze and isinstance(maze[0], str):
        return len(maze)
    arr = np.asarray(maze)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise PuzzleInputError(f"a maze is a square grid; got shape {arr.shape}")
    return arr.shape[0]


def _flat(maze: Any) -> Any:
    """Character arrays as flat strings (the verifier reads both; strings are cheaper)."""
    if isinstance(maze, np.ndarray) and maze.dtype.kind == "U" and maze.dtype.itemsize == 4:
        return "".join(maze.reshape(-1).tolist())
    return maze


def _unframe(text: str) -> str:
    """Remove a '+---+' / '|...|' frame as drawn by format_grid; other text is returned as is."""
    lines = text.split("\n")
    if (
        len(lines) >= 3
        and re.fullmatch(r"\+-+\+", lines[0])
        and lines[-1] == lines[0]
        and all(len(ln) >= 2 and ln[0] == "|" and ln[-1] == "|" for ln in lines[1:-1])
    ):
        return "\n".join(ln[1:-1] for ln in lines[1:-1])
    return text


def _as_grid(maze: Any, n: int) -> np.ndarray:
    """A maze the verifier accepted as square of side n -> (n, n) '<U1' array."""
    if isinstance(maze, np.ndarray):
        if maze.dtype.kind == "S":
            maze = np.char.decode(maze, "ascii")
        return np.asarray(maze, dtype="<U1").reshape(n, n).copy()
    if isinstance(maze, str):
        rows = maze.split("\n") if "\n" in maze else [maze[r * n : (r + 1) * n] for r in range(n)]
    else:
        rows = ["".join(row) for row in maze]
    return np.array([list(row) for row in rows[:n]], dtype="<U1")


def _maze_lines(path: Path) -> list[str]:
    """Non-empty lines without their line ends (spaces are maze cells and are kept)."""
    lines = (ln.rstrip("\r") for ln in path.read_text().split("\n"))
    return [ln for ln in lines if ln]
