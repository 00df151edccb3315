"""Evaluation over a fixed number of segments, with accuracy at every segment count.

Like the reference, evaluation runs every puzzle for M segments (halting off, batches stay aligned)
and additionally reports where the Q-head would have halted and how accurate that answer was.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .act import run_segments
from .losses import IGNORE_LABEL
from .model import HRM
from .tasks import Examples


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Mixed-precision context, or nothing when `dtype` is None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


@dataclass
class Tally:
    """The counts behind the evaluation metrics. Tallies of disjoint sets of puzzles add up, so
    several processes can each evaluate a share of the puzzles and combine the counts."""

    segments: int
    puzzles: int
    exact_by_segment: np.ndarray  # [segments] puzzles exactly right after k+1 segments
    token_correct: int
    token_total: int
    act_correct: int  # puzzles exactly right where the Q-head would halt
    halt_hist: np.ndarray  # [segments] puzzles the Q-head would stop after k+1 segments

    @classmethod
    def empty(cls, segments: int) -> "Tally":
        return cls(segments, 0, np.zeros(segments), 0, 0, 0, np.zeros(segments, dtype=np.int64))

    def __add__(self, other: "Tally") -> "Tally":
        if other.segments != self.segments:
            raise ValueError(f"cannot add tallies over {self.segments} and {other.segments} segments")
        return Tally(self.segments, self.puzzles + other.puzzles, self.exact_by_segment + other.exact_by_segment,
                     self.token_correct + other.token_correct, self.token_total + other.token_total,
                     self.act_correct + other.act_correct, self.halt_hist + other.halt_hist)

    def metrics(self) -> dict:
        """JSON-able metrics:
        exact_accuracy / token_accuracy after the last segment, exact_accuracy_by_segment (index k is
        after k+1 segments), halt_histogram (count of puzzles the Q-head would stop after k+1
        segments), act_exact_accuracy (answer taken where the Q-head halts) and mean_halt_step.
        """
        n = self.puzzles
        return {
            "puzzles": n,
            "segments": self.segments,
            "exact_accuracy": self.exact_by_segment[-1] / n,
            "token_accuracy": self.token_correct / max(1, self.token_total),
            "exact_accuracy_by_segment": (self.exact_by_segment / n).round(4).tolist(),
            "act_exact_accuracy": self.act_correct / n,
            "mean_halt_step": float((self.halt_hist * np.arange(1, self.segments + 1)).sum() / n),
            "halt_histogram": self.halt_hist.tolist(),
        }


def evaluate(
    model: HRM,
    examples: Examples,
    segments: int | None = None,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> dict:
    """Metrics over `examples` after `segments` segments (default M_max); see `Tally.metrics`."""
    return tally(model, examples, segments, batch_size, device, autocast_dtype, progress).metrics()


@torch.no_grad()
def tally(
    model: HRM,
    examples: Examples,
    segments: int | None = None,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> Tally:
    """The counts of `evaluate` (which puzzles are right after each segment, where ACT would halt)."""
    model.eval()
    segments = segments or model.cfg.halt_max_steps
    device = torch.device(device)
    counts = Tally.empty(segments)
    counts.puzzles = len(examples)
    for start in tqdm(range(0, len(examples), batch_size), desc="evaluating", disable=not progress, leave=False):
        part = examples.take(slice(start, start + batch_size))
        inputs = torch.from_numpy(part.inputs).to(device)
        labels = torch.from_numpy(part.labels).to(device)
        ids = torch.from_numpy(part.puzzle_ids).to(device)
        with autocast(device, autocast_dtype):
            trace = run_segments(model, inputs, ids, segments)
        valid = labels != IGNORE_LABEL
        exact_each = []
        for k, probs in enumerate(trace.probs):
            correct = (probs.argmax(-1) == labels) | ~valid
            exact = correct.all(-1)
            counts.exact_by_segment[k] += exact.sum().item()
            exact_each.append(exact)
        counts.token_correct += ((trace.probs[-1].argmax(-1) == labels) & valid).sum().item()
        counts.token_total += valid.sum().item()
        halt_step = trace.halt_step  # 1-based
        counts.halt_hist += np.bincount(halt_step.cpu().numpy() - 1, minlength=segments)
        exact_each = torch.stack(exact_each)  # [segments, batch]
        counts.act_correct += exact_each.gather(0, (halt_step - 1).unsqueeze(0)).sum().item()
    return counts


@torch.no_grad()
def predict(model: HRM, inputs: np.ndarray, puzzle_ids: np.ndarray, segments: int, batch_size: int = 128,
            device: torch.device | str = "cpu", autocast_dtype: torch.dtype | None = None,
            progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Token answers after `segments` segments [N, seq] and their halting confidence sigmoid(q_halt) [N]
    (ARC ranks votes by it)."""
    model.eval()
    device = torch.device(device)
    tokens, confidence = [], []
    for start in tqdm(range(0, len(inputs), batch_size), desc="answering", disable=not progress,
                      leave=False):
        x = torch.from_numpy(inputs[start : start + batch_size]).to(device)
        ids = torch.from_numpy(puzzle_ids[start : start + batch_size]).to(device)
        with autocast(device, autocast_dtype):
            trace = run_segments(model, x, ids, segments)
        tokens.append(trace.probs[-1].argmax(-1).cpu().numpy())
        confidence.append(torch.sigmoid(trace.q_halt[-1].float()).cpu().numpy())
    if not tokens:
        return np.zeros((0, inputs.shape[1]), dtype=np.int64), np.zeros(0)
    return np.concatenate(tokens), np.concatenate(confidence)
