"""Sudoku of any box shape: 4x4 (2x2 boxes), 6x6 (2x3 boxes), 9x9 (3x3 boxes).

Tokens as in the HRM reference: PAD 0, blank 1, digit d -> d + 1 (so 9x9 uses 2..10, vocab 11).
Every cell is supervised with the solution digit.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from verifiers import sudoku as sudoku_rules

from .base import Examples, PuzzleInputError, Task, parse_source

BLANK_CHARS = ".0_*?"
SEPARATOR_CHARS = "|+-,;/\\"


# generate_minimal gives up when this many minimal puzzles in a row missed the requested ranges.
_MAX_FRUITLESS_TRIES = 50_000


def _range(text: str) -> tuple[int, int]:
    """"A" or "A-B" of a generator spec -> (A, A) or (A, B)."""
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


class ContradictoryPuzzleError(PuzzleInputError):
    """The givens themselves break a rule (a digit twice in a row, column or box)."""


class SudokuTask(Task):
    name = "sudoku"
    blank_token = 1

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
                # Decimal digits of any script ('３', '٣') count as their value, 0 as a blank; other
                # numeric signs ('²', '①') are not digits.
                value = 0 if ch in BLANK_CHARS else unicodedata.decimal(ch, None)
                if value is not None and 0 <= value <= n:
                    cells.append(value)
                else:
                    kind = "a numeric sign, not a decimal digit; use" if ch.isnumeric() and value is None else "not"
                    raise PuzzleInputError(
                        f"character {ch!r} at position {pos + 1} is {kind} a digit 1..{n} or a blank ({BLANK_CHARS})"
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
                raise PuzzleInputError(f"cell ({r + 1},{c + 1}) holds {grid[r, c]}; use 1..{n} for digits and 0 for blanks")
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

    def random_maps(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` random symmetries: cell maps (random_cell_order) and token maps in which PAD and
        blank stay and the digit tokens 2..n+1 are permuted."""
        cell_maps = np.stack([self.random_cell_order(rng) for _ in range(count)]).reshape(count, self.seq_len)
        digit_maps = np.tile(np.arange(self.vocab_size), (count, 1))
        digit_maps[:, 2:] = 2 + rng.permuted(np.tile(np.arange(self.size), (count, 1)), axis=1)
        return cell_maps, digit_maps

    def view_maps(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        cell_maps, digit_maps = self.random_maps(count, rng)
        cell_maps[0], digit_maps[0] = np.arange(self.seq_len), np.arange(self.vocab_size)
        return cell_maps, digit_maps

    def augment(self, examples: Examples, rng: np.random.Generator) -> Examples:
        count = len(examples)
        cell_maps, digit_maps = self.random_maps(count, rng)
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

    def generate_minimal(
        self,
        count: int,
        givens: tuple[int, int],
        rng: np.random.Generator,
        rating: tuple[int, int] | None = None,
        progress: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`count` minimal puzzles (unique; no clue can be removed) with a number of givens in
        `givens` and, if given, a rating (`search_effort`: the exact solver's dead ends) in `rating`.

        Each comes from a random complete grid whose cells are blanked in random order, a clue
        being put back whenever the puzzle would stop being unique (verifiers.sudoku.minimal_puzzles);
        those outside the ranges are dropped. 9x9 puzzles made so have 21-28 givens (81% have
        23-25) and 97% are rated below 10 (docs/results.md, "Hard-puzzle generator").
        """
        n, cells = self.size, self.seq_len
        lo, hi = givens
        if count < 0:
            raise ValueError(f"count must be at least 0, got {count}")
        if not 0 <= lo <= hi <= cells:
            raise ValueError(f"givens must satisfy 0 <= min <= max <= {cells}, got {givens}")
        if rating is not None and not 0 <= rating[0] <= rating[1]:
            raise ValueError(f"rating must satisfy 0 <= min <= max, got {rating}")
        puzzles = np.zeros((count, n, n), dtype=np.int64)
        solutions = np.zeros((count, n, n), dtype=np.int64)
        made = tried = 0
        batch = min(max(count, 64), 2048)  # fixed by count alone, so a seed gives the same puzzles
        bar = tqdm(total=count, desc=f"generating minimal {n}x{n} sudoku", disable=not progress, leave=False)
        while made < count:
            if made == 0 and tried >= _MAX_FRUITLESS_TRIES:
                raise ValueError(f"none of {tried} minimal {n}x{n} puzzles had {lo}-{hi} givens"
                                 + (f" and a rating of {rating[0]}-{rating[1]}" if rating else "")
                                 + "; widen the ranges")
            batch_puzzles, batch_solutions, ratings = sudoku_rules.minimal_puzzles(batch, self.box_rows, self.box_cols, rng)
            tried += batch
            clues = (batch_puzzles > 0).sum(axis=(1, 2))
            keep = (lo <= clues) & (clues <= hi)
            if rating is not None:
                keep &= (rating[0] <= ratings) & (ratings <= rating[1])
            chosen = np.flatnonzero(keep)[: count - made]
            puzzles[made : made + len(chosen)] = batch_puzzles[chosen]
            solutions[made : made + len(chosen)] = batch_solutions[chosen]
            made += len(chosen)
            bar.update(len(chosen))
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
            gen:count=2000,givens=17-25       minimal puzzles with 17..25 givens (see generate_minimal)
            gen:count=2000,givens=17-30,rating=10-1000   ... rated 10..1000 (the exact solver's dead ends)
            file:PATH                         a puzzle file (see load_file)
            file:PATH[0:900]                  lines 0..899 of it
        """
        usage = "need count=N and blanks=A[-B][,unique=0|1] or givens=A[-B][,rating=A[-B]]"
        spec = parse_source(source, {"count", "blanks", "unique", "givens", "rating"}, {"count"}, usage)
        if spec.kind == "file":
            puzzles, solutions = self.load_file(spec.path, spec.rows)
            return self.examples_from_grids(puzzles, solutions)
        options = spec.options
        if ("blanks" in options) == ("givens" in options):
            raise ValueError(f"bad generator spec {source!r}: give either blanks or givens ({usage})")
        if "rating" in options and "givens" not in options:
            raise ValueError(f"bad generator spec {source!r}: rating goes with givens (minimal puzzles)")
        if "givens" in options and options.get("unique", "1") == "0":
            raise ValueError(f"bad generator spec {source!r}: minimal puzzles (givens=) are always unique")
        try:
            count = int(options["count"])
            ranges = {key: _range(options[key]) for key in ("blanks", "givens", "rating") if key in options}
        except ValueError:
            raise ValueError(f"bad generator spec {source!r}: count, blanks, givens and rating must be "
                             "whole numbers (A or A-B)") from None
        if "blanks" in ranges:
            unique = options.get("unique", "1") != "0"
            puzzles, solutions = self.generate(count, ranges["blanks"], rng, unique=unique, progress=progress)
        else:
            puzzles, solutions = self.generate_minimal(count, ranges["givens"], rng, ranges.get("rating"), progress=progress)
        return self.examples_from_grids(puzzles, solutions)

    # -- verification -------------------------------------------------------------------------

    def verify(self, puzzle: np.ndarray, answer: np.ndarray):
        return sudoku_rules.check_solution(puzzle, answer, self.box_rows, self.box_cols)

    def accepts(self, puzzles: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        answers = (np.asarray(tokens, dtype=np.int64) - 1).reshape(len(tokens), self.size, self.size)
        return sudoku_rules.solved_mask(np.asarray(puzzles), answers, self.box_rows, self.box_cols)
