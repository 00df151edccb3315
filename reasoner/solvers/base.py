"""What `solve()`'s driver and a task's policy hand each other.

The driver (reasoner/inference.py) reads the input, groups the puzzles by variant, loads each
variant's model and runs it; a policy (one per task: sudoku.py, maze.py) knows the puzzles: how to
read and check one, what the model's output means, and what to do when the model is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np
from pydantic import BaseModel

from ..tasks import Task, Variant

if TYPE_CHECKING:
    import torch

NON_FINITE_NOTE = "the model's output was not finite (NaN or infinity: damaged weights?), so it gave no answer or guidance"


@dataclass
class Answers:
    """The model's answers to a stack of puzzles, each taken where its run stopped."""

    probs: torch.Tensor  # [B, seq, vocab] fp32, at the segment each puzzle's answer was taken
    used: np.ndarray  # [B] segments run
    halted_at: np.ndarray  # [B] first segment after which the Q-head would halt (else the last one run)
    gave_up: np.ndarray  # [B] stopped because the Q-head rated the answer hopeless ("verified")


# Runs the variant's model (its halting, device and precision fixed) on a stack of grids, for at most
# the given number of segments (None: solve()'s `segments`, which also bounds it).
Runner = Callable[[np.ndarray, int | None], Answers]


@dataclass
class Chunk:
    """Puzzles of one variant to answer at once."""

    variant: Variant
    task: Task  # the checkpoint's task
    checkpoint: str  # the weights' path, for the results
    grids: np.ndarray  # [B, n, n], as the policy's `prepare` read them
    facts: list[Any]  # per puzzle, what `prepare` found out about it
    run: Runner
    repair: bool  # False: the model's own answer only


class Policy(Protocol):
    """One task's part of solve()."""

    label: str  # what one puzzle is called in messages: "puzzle", "maze"

    def is_batch(self, puzzles: Any) -> bool:
        """Are `puzzles` several puzzles (else one)? PuzzleInputError when they are neither."""

    def single(self, puzzle: Any) -> Any:
        """One puzzle as given, in the form `variant_of` and `prepare` read."""

    def variant_of(self, puzzle: Any) -> Variant:
        """The variant a puzzle belongs to (its size); PuzzleInputError when none."""

    def prepare(self, task: Task, puzzle: Any) -> tuple[np.ndarray, Any]:
        """(grid, facts): the puzzle read and checked before any model runs; PuzzleInputError when unusable."""

    def answer(self, chunk: Chunk) -> list[BaseModel]:
        """One result per puzzle of the chunk, in order."""
