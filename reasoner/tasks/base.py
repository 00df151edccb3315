"""The small interface every task (Sudoku, Maze, ARC) implements.

A task owns everything that depends on the puzzle type: vocabulary and sequence length, how a
grid becomes tokens and back, how user input is parsed and validated, which augmentations keep
an example valid, where examples come from, and which verifier judges an answer. The model,
training loop and inference API only ever see `Examples` (token arrays).
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IGNORE_LABEL = -100  # the label of a position no loss supervises (the losses skip it)


def default_data_dir() -> Path:
    """The external data folder (Sudoku-Extreme, Maze-Hard, ARC): $HRM_DATA_DIR, else ../shared/data
    beside the project."""
    return Path(os.environ.get("HRM_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))


class PuzzleInputError(ValueError):
    """The user's puzzle cannot be used as given (wrong size, characters, contradictions...)."""


@dataclass
class Examples:
    """A set of encoded puzzles. Row i of each array belongs to example i."""

    inputs: np.ndarray  # [N, seq_len] int64 token ids
    labels: np.ndarray  # [N, seq_len] int64 token ids (IGNORE_LABEL where unsupervised)
    puzzle_ids: np.ndarray  # [N] int64 row of the puzzle-embedding table

    def __post_init__(self) -> None:
        n = len(self.inputs)
        if self.inputs.shape != self.labels.shape or len(self.puzzle_ids) != n:
            raise ValueError(f"inconsistent example arrays {self.inputs.shape} {self.labels.shape} {self.puzzle_ids.shape}")

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, index: np.ndarray | slice) -> "Examples":
        return Examples(self.inputs[index], self.labels[index], self.puzzle_ids[index])

    @staticmethod
    def concat(parts: list["Examples"]) -> "Examples":
        return Examples(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("inputs", "labels", "puzzle_ids")))


@dataclass
class DataSource:
    """A parsed `load_examples` source string: `gen:KEY=VALUE,...` or `file:PATH[start:end]`."""

    kind: str  # "gen" | "file"
    options: dict[str, str] = field(default_factory=dict)  # gen
    path: str | None = None  # file
    rows: tuple[int, int] | None = None  # file: lines [start, end)


def parse_file_source(source: str) -> DataSource | None:
    """`file:PATH[start:end]` -> DataSource (rows None for the whole file); None for other sources."""
    match = re.fullmatch(r"file:(.*?)(?:\[(\d*):(\d*)\])?", source)
    if match is None:
        return None
    path, start, end = match.group(1), match.group(2), match.group(3)
    rows = None if start is None else (int(start or 0), int(end) if end else 10**12)
    return DataSource("file", path=path, rows=rows)


def split_sources(sources: str) -> list[str]:
    """`SOURCE+SOURCE+...` -> its parts (a mix such as generated puzzles plus rows of a file). Only a
    `+` that starts another gen:/file: source splits: ARC specs use `+` too."""
    return re.split(r"\+(?=(?:gen|file):)", sources)


def parse_source(source: str, allowed: set[str], required: set[str], usage: str) -> DataSource:
    """Parse a source string; errors name the allowed keys and show `usage`."""
    kind, _, rest = source.partition(":")
    if kind == "gen":
        items = [item for item in rest.split(",") if item]
        if any("=" not in item for item in items):
            raise ValueError(f"bad generator spec {source!r}: {usage}")
        options = dict(item.split("=", 1) for item in items)
        unknown = set(options) - allowed
        if unknown:
            raise ValueError(f"bad generator spec {source!r}: unknown key(s) {', '.join(sorted(unknown))}; "
                             f"allowed keys are {', '.join(sorted(allowed))} ({usage})")
        if not required <= set(options):
            raise ValueError(f"bad generator spec {source!r}: {usage}")
        return DataSource("gen", options=options)
    if kind == "file":
        return parse_file_source(source)
    raise ValueError(f"unknown data source {source!r}; use gen:... or file:PATH[start:end]")


class Task(ABC):
    name: str
    vocab_size: int
    seq_len: int
    num_puzzle_identifiers: int = 1
    # Data used when the user names none (`load_examples` source strings).
    default_train_source: str
    default_val_source: str
    # Model settings this task was measured to need at CPU scale: applied on top of the cpu-*
    # presets (--model overrides still win); the paper presets stay as published.
    cpu_model_hints: dict[str, Any] = {}
    # The input token of a cell the model fills in, when an answer token can be written there as a
    # given (committed decoding, reasoner/commit.py); None: the task's inputs cannot take answers.
    blank_token: int | None = None

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able parameters that rebuild this task with `make_task(**spec)`."""

    def model_hints(self) -> dict[str, Any]:
        """Model-config fields the task determines beyond vocabulary and length (grid geometry)."""
        return {}

    @abstractmethod
    def parse(self, puzzle: Any) -> np.ndarray:
        """User input (text, nested lists, array) -> validated grid; raises PuzzleInputError."""

    @abstractmethod
    def encode(self, grid: np.ndarray) -> np.ndarray:
        """Grid -> [seq_len] token ids."""

    @abstractmethod
    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """[seq_len] token ids -> grid."""

    @abstractmethod
    def augment(self, examples: Examples, rng: np.random.Generator) -> Examples:
        """A randomly transformed copy; every valid (puzzle, solution) pair must stay valid."""

    def view_maps(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` symmetries of the task, the identity first, for test-time views (reasoner/views.py):
        (cell maps [count, seq_len], token maps [count, vocab]); a puzzle's view is
        `token_map[tokens[cell_map]]`, and a right answer of a view is, mapped back, a right answer
        of the puzzle. ValueError for a task without them."""
        raise ValueError(f"{self.name} has no test-time views")

    @abstractmethod
    def load_examples(self, source: str, rng: np.random.Generator, **options: Any) -> Examples:
        """Examples from a named generator or a file; see the task's docs for `source`."""

    @abstractmethod
    def verify(self, puzzle: np.ndarray, answer: np.ndarray) -> Any:
        """The rule-based verdict on an answer (has `.ok` and `.reasons`)."""

    def accepts(self, puzzles: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """[B] bools: would `verify` accept each row of token answers [B, seq]? Run after every
        model segment to stop a puzzle early, so tasks with a batched rule check override it."""
        return np.array([self._accepts_one(p, t) for p, t in zip(puzzles, tokens)], dtype=bool)

    def _accepts_one(self, puzzle: np.ndarray, tokens: np.ndarray) -> bool:
        try:
            return bool(self.verify(puzzle, self.decode(tokens)).ok)
        except PuzzleInputError:  # a question without any right answer (a maze whose goal is unreachable)
            return False
