"""Committed decoding: the model's surest answers become givens.

Every `every` segments, each running puzzle whose Q-head does not yet rate its answer right (halt
logit <= 0) writes its answers in its `cells` surest blank cells (highest answer probability) into
its own input, as if they had been given. The HRM reads its input again every segment, so a
committed cell need no longer be held in the latent state, and propagation starts from it. Only the
model's own outputs are used: no rule checker, no search, and nothing is taken back, so a wrong
commitment usually leaves its puzzle unsolved. Measured on hard sudoku in docs/results.md.

Only tasks whose input cells take the same tokens as the answer (sudoku: a blank cell gets a digit)
can commit: `Task.blank_token` is the input token of a cell the model fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads only when a model runs (reasoner/inference.py checks options first)
    import torch

# Segments between commitments: with one cell after every segment the shipped 9x9 model solved as
# many puzzles as with two every four in about 60% of the segments (chosen on Sudoku-Extreme rows
# 800-899; docs/results.md, sessions 15 and 16).
EVERY = 1


@dataclass(frozen=True)
class Commit:
    cells: int  # blank cells committed per puzzle each time
    blank: int  # the input token of a cell the model fills
    every: int = EVERY  # segments between commitments

    @classmethod
    def for_task(cls, task, cells: int, every: int = EVERY) -> "Commit | None":
        """The commitment rule for `task` (None for `cells` 0); ValueError for a task whose input cannot
        take answers, or counts that are not whole numbers of at least 1 (`cells` may be 0)."""
        if cells == 0:
            return None
        if task.blank_token is None:
            raise ValueError(f"commit needs a task whose blank cells the model fills (sudoku); {task.name} has none")
        if cells < 0 or every < 1:
            raise ValueError(f"commit needs cells >= 0 and every >= 1, got cells={cells}, every={every}")
        return cls(cells, task.blank_token, every)

    def due(self, segment: int) -> bool:
        """Is a commitment due after `segment` segments (counting from 1)?"""
        return segment % self.every == 0


def commit_surest(inputs: torch.Tensor, probs: torch.Tensor, q_halt: torch.Tensor, rule: Commit) -> torch.Tensor:
    """`inputs` [B, seq] with, in each row whose halt logit is <= 0, the `rule.cells` blank cells of
    highest answer probability (`probs` [B, seq, vocab]) set to their answer token. A cell whose
    likeliest token is PAD (0) or the blank token is never committed."""
    import torch

    surest, answer = probs.to(inputs.device).max(-1)
    open_ = (inputs == rule.blank) & (answer != rule.blank) & (answer != 0) & (q_halt.to(inputs.device) <= 0)[:, None]
    surest = surest.masked_fill(~open_, -1.0)
    top = surest.topk(min(rule.cells, inputs.shape[1]), dim=-1)
    rows = torch.arange(len(inputs), device=inputs.device)[:, None].expand_as(top.indices)
    take = top.values >= 0
    out = inputs.clone()
    out[rows[take], top.indices[take]] = answer[rows[take], top.indices[take]]
    return out
