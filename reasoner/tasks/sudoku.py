"""Sudoku of any box shape: 4x4 (2x2 boxes), 6x6 (2x3 boxes), 9x9 (3x3 boxes).

Tokens as in the HRM reference: PAD 0, blank 1, digit d -> d + 1 (so 9x9 uses 2..10, vocab 11).
Every cell is supervised with the solution digit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from verifiers import sudoku as sudoku_rules

from .base import Examples, PuzzleInputError, Task, parse_source

BLANK_CHARS = ".0_*?"
SEPARATOR_CHARS = "|+-,;/\\"


class ContradictoryPuzzleError(PuzzleInputError):
    """The givens themselves break a rule (a digit twice in a row, column or box)."""


class SudokuTask(Task):
    name = "sudoku"

    def __init__(self, box_rows: int = 3, box_cols: int = 3):
        if box_rows < 1 or box_cols < 1 or box_rows * box_cols > 9:
            raise ValueError(f"unsupported box shape {box_rows}x{box_cols} (digits must fit in 1..9)")
        self.box_rows, self.box_cols = box_rows, box_cols
        self.size = box_rows * box_cols
        self.seq_len = self.size * self.size
        self.vocab_size = self.size + 2
        blanks = {4: "6-10", 6: "14-22", 9: "30-55"}.get(self.size, f"{self.seq_len // 2}")
        self.default_train_source = f"gen:count=5000,blanks={blanks}"
        self.default_val_source = f"gen:count=256,blanks={blanks}"

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "box_rows": self.box_rows, "box_cols": self.box_cols}

    def model_hints(self) -> dict[str, Any]:
        # With --model attention=relations a cell attends to its row, column and box peers.
        return {"grid_shape": (self.size, self.size), "grid_box": (self.box_rows, self.box_cols), "relation": "peers"}

    def __repr__(self) -> str:
        return f"SudokuTask({self.size}x{self.size}, boxes {self.box_rows}x{self.box_cols})"

    # -- grids and tokens ---------------------------------------------------------------------

    def parse(self, puzzle: Any) -> np.ndarray:
        """Text (digits with . 0 _ for blanks; spaces, newlines, | + - separators ignored), nested
        lists or an array -> an int grid with 0 for blanks. Raises PuzzleInputError."""
        n = self.size
        if isinstance(puzzle, str):
            cells = []
            for pos, ch in enumerate(puzzle):
                if ch.isspace() or ch in SEPARATOR_CHARS:
                    continue
                if ch in BLANK_CHARS:
                    cells.append(0)
                elif ch.isdigit() and 1 <= int(ch) <= n:
                    cells.append(int(ch))
                else:
                    raise PuzzleInputError(
                        f"character {ch!r} at position {pos + 1} is not a digit 1..{n} or a blank ({BLANK_CHARS})"
                    )
            if len(cells) != n * n:
                raise PuzzleInputError(f"a {n}x{n} sudoku has {n * n} cells; the text has {len(cells)}")
            grid = np.array(cells, dtype=np.int64).reshape(n, n)
        else:
            try:
                grid = np.asarray(puzzle)
            except ValueError as err:  # ragged nested lists
                raise PuzzleInputError(f"the grid is not rectangular: {err}") from None
            if grid.dtype == object or not (np.issubdtype(grid.dtype, np.integer) or np.issubdtype(grid.dtype, np.floating)):
                raise PuzzleInputError(f"grid cells must be integers, got {grid.dtype}")
            if grid.shape == (n * n,):
                grid = grid.reshape(n, n)
            if grid.shape != (n, n):
                raise PuzzleInputError(f"expected a {n}x{n} grid, got shape {grid.shape}")
            if np.issubdtype(grid.dtype, np.floating):
                if not np.all(np.isfinite(grid)) or not np.all(grid == np.round(grid)):
                    raise PuzzleInputError("grid cells must be whole numbers")
            grid = grid.astype(np.int64)
            bad = np.argwhere((grid < 0) | (grid > n))
            if len(bad):
                r, c = bad[0]
                raise PuzzleInputError(f"cell ({r},{c}) holds {grid[r, c]}; use 1..{n} for digits and 0 for blanks")
        return grid

    def encode(self, grid: np.ndarray) -> np.ndarray:
        return np.asarray(grid, dtype=np.int64).reshape(-1) + 1

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        values = np.asarray(tokens, dtype=np.int64).reshape(self.size, self.size) - 1
        return np.clip(values, 0, self.size)  # PAD decodes as blank

    def to_string(self, grid: np.ndarray) -> str:
        return sudoku_rules.grid_to_string(np.asarray(grid))

    def format_grid(self, grid: np.ndarray) -> str:
        """Multi-line picture with box separators, for terminals."""
        grid = np.asarray(grid)
        lines = []
        for r in range(self.size):
            if r and r % self.box_rows == 0:
                lines.append("-+-".join("-" * (2 * self.box_cols - 1) for _ in range(self.size // self.box_cols)))
            row = []
            for c in range(self.size):
                if c and c % self.box_cols == 0:
                    row.append("|")
                row.append(str(grid[r, c]) if grid[r, c] else ".")
            lines.append(" ".join(row))
        return "\n".join(lines)

    def examples_from_grids(self, puzzles: np.ndarray, solutions: np.ndarray) -> Examples:
        count = len(puzzles)
        return Examples(
            inputs=puzzles.reshape(count, -1).astype(np.int64) + 1,
            labels=solutions.reshape(count, -1).astype(np.int64) + 1,
            puzzle_ids=np.zeros(count, dtype=np.int64),
        )

    # -- augmentation -------------------------------------------------------------------------

    def random_cell_order(self, rng: np.random.Generator) -> np.ndarray:
        """A validity-preserving shuffle of the cells, as a flat index map new[i] = old[map[i]].

        Bands (groups of box_rows rows) may be permuted, and rows inside a band; likewise stacks
        and columns inside a stack; square boxes may also be transposed.
        """
        n, br, bc = self.size, self.box_rows, self.box_cols
        rows = np.concatenate([band * br + rng.permutation(br) for band in rng.permutation(n // br)])
        cols = np.concatenate([stack * bc + rng.permutation(bc) for stack in rng.permutation(n // bc)])
        index = rows[:, None] * n + cols[None, :]
        if br == bc and rng.random() < 0.5:
            index = index.T
        return index.reshape(-1)

    def augment(self, examples: Examples, rng: np.random.Generator) -> Examples:
        count = len(examples)
        cell_maps = np.stack([self.random_cell_order(rng) for _ in range(count)])
        # Token lookup per example: PAD and blank stay, digit tokens 2..n+1 are permuted.
        digit_maps = np.tile(np.arange(self.vocab_size), (count, 1))
        digit_maps[:, 2:] = 2 + rng.permuted(np.tile(np.arange(self.size), (count, 1)), axis=1)
        rows = np.arange(count)[:, None]
        inputs = digit_maps[rows, examples.inputs[rows, cell_maps]]
        labels = digit_maps[rows, examples.labels[rows, cell_maps]]
        return Examples(inputs, labels, examples.puzzle_ids.copy())

    # -- data ---------------------------------------------------------------------------------

    def generate(
        self, count: int, blanks: tuple[int, int], rng: np.random.Generator, unique: bool = True, progress: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """`count` random puzzles with a blank count drawn uniformly from `blanks` (inclusive).

        With `unique`, cells are removed one at a time in random order and put back whenever the
        puzzle would stop having a single solution; a grid that cannot reach the requested count
        is discarded and a new one drawn.
        """
        n, br, bc = self.size, self.box_rows, self.box_cols
        lo, hi = blanks
        if not 0 <= lo <= hi <= n * n:
            raise ValueError(f"blanks must satisfy 0 <= min <= max <= {n * n}, got {blanks}")
        puzzles = np.zeros((count, n, n), dtype=np.int64)
        solutions = np.zeros((count, n, n), dtype=np.int64)
        made = 0
        bar = tqdm(total=count, desc=f"generating {n}x{n} sudoku", disable=not progress, leave=False)
        while made < count:
            target = int(rng.integers(lo, hi + 1))
            solution = np.asarray(sudoku_rules.guided_search(np.zeros((n, n), dtype=np.int64), br, bc, rng=rng).solution)
            puzzle = solution.copy()
            removed = 0
            for cell in rng.permutation(n * n):
                if removed == target:
                    break
                r, c = divmod(int(cell), n)
                keep = puzzle[r, c]
                puzzle[r, c] = 0
                if unique and sudoku_rules.count_solutions(puzzle, br, bc, limit=2)[0] != 1:
                    puzzle[r, c] = keep
                else:
                    removed += 1
            if removed < target:
                continue  # this grid cannot carry that many blanks with a unique solution
            puzzles[made], solutions[made] = puzzle, solution
            made += 1
            bar.update()
        bar.close()
        return puzzles, solutions

    def load_file(self, path: str | Path, rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Puzzles from a text file, one per line (the 81-character format of ../shared/data/sudoku).

        Solutions come from `<stem>.solutions.txt` beside it when present; otherwise each puzzle is
        solved exactly (and must have a unique solution). `rows` selects lines [start, end).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no sudoku file at {path}")
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
        solution_path = path.with_name(path.name.removesuffix(".txt") + ".solutions.txt")
        sol_lines = None
        if solution_path.is_file():
            sol_lines = [ln.strip() for ln in solution_path.read_text().splitlines() if ln.strip()]
            if len(sol_lines) != len(lines):
                raise ValueError(f"{solution_path} has {len(sol_lines)} lines, {path} has {len(lines)}")
        if rows is not None:
            lines = lines[rows[0] : rows[1]]
            sol_lines = sol_lines[rows[0] : rows[1]] if sol_lines else None
        puzzles, solutions = [], []
        for i, line in enumerate(lines):
            try:
                puzzle = self.parse(line)
            except PuzzleInputError as err:
                raise PuzzleInputError(f"{path} line {i + 1}: {err}") from None
            if sol_lines is not None:
                solution = self.parse(sol_lines[i])
                if not solution.all():
                    continue  # no solution recorded: nothing to learn from
            else:
                count, found, _ = sudoku_rules.count_solutions(puzzle, self.box_rows, self.box_cols, limit=2)
                if count != 1:
                    continue
                solution = np.asarray(found[0])
            puzzles.append(puzzle)
            solutions.append(solution)
        if not puzzles:
            raise ValueError(f"{path} holds no usable puzzle with a unique solution")
        return np.stack(puzzles), np.stack(solutions)

    def load_examples(self, source: str, rng: np.random.Generator, progress: bool = True) -> Examples:
        """`source` is one of
            gen:count=2000,blanks=40          generated, exactly 40 blanks, unique solutions
            gen:count=2000,blanks=30-50       a blank count drawn per puzzle from 30..50
            gen:count=500,blanks=12,unique=0  solutions need not be unique (faster)
            file:PATH                         a puzzle file (see load_file)
            file:PATH[0:900]                  lines 0..899 of it
        """
        spec = parse_source(source, {"count", "blanks", "unique"}, {"count", "blanks"},
                            "need count=N,blanks=A[-B][,unique=0|1]")
        if spec.kind == "gen":
            lo, _, hi = spec.options["blanks"].partition("-")
            try:
                count, blanks = int(spec.options["count"]), (int(lo), int(hi or lo))
            except ValueError:
                raise ValueError(f"bad generator spec {source!r}: count and blanks must be whole numbers") from None
            unique = spec.options.get("unique", "1") != "0"
            puzzles, solutions = self.generate(count, blanks, rng, unique=unique, progress=progress)
        else:
            puzzles, solutions = self.load_file(spec.path, spec.rows)
        return self.examples_from_grids(puzzles, solutions)

    # -- verification -------------------------------------------------------------------------

    def verify(self, puzzle: np.ndarray, answer: np.ndarray):
        return sudoku_rules.check_solution(puzzle, answer, self.box_rows, self.box_cols)
