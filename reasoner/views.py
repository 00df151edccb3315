"""Test-time views: a puzzle run as several symmetric copies of itself (sudoku: rows, columns, bands
and digits shuffled; mazes: turned and mirrored). Each copy starts the recurrence from a different
place, and on hard puzzles the copies fail on different puzzles (docs/results.md). The answer is
either the first copy whose answer the verifier accepts, or, the HRM alone, the copy its Q-head is
surest of: the halt logit is trained to predict whether the answer is right.

A view of token ids `x` [seq] under maps (cell map `c` [seq], token map `t` [vocab]) is
`t[x[c]]`; `Task.view_maps` supplies the maps, the identity first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def apply_views(inputs: np.ndarray, cell_maps: np.ndarray, token_maps: np.ndarray) -> np.ndarray:
    """Token ids [B, seq] -> every puzzle's views [B * V, seq], puzzle-major (row b * V + v)."""
    cells = inputs[:, cell_maps]  # [B, V, seq]: each view's cells
    views = np.arange(len(token_maps))[None, :, None]
    return token_maps[views, cells].reshape(-1, inputs.shape[1])


def view_rows(task, grids: np.ndarray, views: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """Every puzzle's `views` copies as model input: (token rows [B * views, seq], the grid each row's
    answer is checked against, the maps, or None for one view: the puzzles themselves)."""
    tokens = np.stack([task.encode(g) for g in grids])
    if views == 1:
        return tokens, np.asarray(grids), None
    maps = task.view_maps(views, rng)
    tokens = apply_views(tokens, *maps)
    return tokens, np.stack([task.decode(t) for t in tokens]), maps


def undo_probs(probs: torch.Tensor, cell_maps: np.ndarray, token_maps: np.ndarray, view: np.ndarray) -> torch.Tensor:
    """Answer probabilities of views [N, seq, vocab] (row i of view `view[i]`) in the puzzle's own
    cells and tokens: out[i, c[j], k] = probs[i, j, t[k]]. Where a cell's likeliest tokens tie (bf16
    logits do), the view's choice (its first) is raised to the next float up, so the answer read
    from `out` is the view's answer, the one its verdict was about, mapped back."""
    top = probs.argmax(-1, keepdim=True)
    probs = probs.scatter(-1, top, torch.nextafter(probs.gather(-1, top), torch.tensor(2.0, dtype=probs.dtype)))
    cells = torch.from_numpy(cell_maps[view])  # [N, seq]
    tokens = torch.from_numpy(token_maps[view])  # [N, vocab]
    by_token = torch.gather(probs, 2, tokens[:, None, :].expand_as(probs))
    out = torch.empty_like(probs)
    out.scatter_(1, cells[..., None].expand_as(probs), by_token)
    return out


@dataclass
class ViewScores:
    """Per segment k (row k: after k + 1 segments) and puzzle b, for evaluation."""

    verified: np.ndarray  # [segments, B] bool: some copy's answer has verified by now
    picked: np.ndarray  # [segments, B] bool: the copy the Q-head is surest of now (highest halt logit) is right


def pick_views(accepted: np.ndarray, q_halt: np.ndarray) -> ViewScores:
    """Scores from every copy's verdicts and halt logits, both [segments, B, views]."""
    verified = np.maximum.accumulate(accepted.any(2), axis=0)
    picked = np.take_along_axis(accepted, q_halt.argmax(2)[..., None], axis=2)[..., 0]
    return ViewScores(verified, picked)


# A copy whose halt logit is above this answers alone; below it, two copies must agree. Chosen on
# Sudoku-Extreme rows 800-899 (docs/results.md, "Session 16"): one positive logit alone can come from
# a copy whose wrong committed cell fooled its Q-head.
SURE = 2.0


def agreeing_copies(puzzle: np.ndarray, answers: np.ndarray, q_halt: np.ndarray, sure: float = SURE) -> np.ndarray:
    """Which copies, each with a positive halt logit, may answer for their puzzle (`halting="act"`):
    one whose halt logit is above `sure`, or one whose answer another copy of the same puzzle gives
    too. `puzzle` [n] (whose copy each is), `answers` [n, seq] in the puzzle's own cells and tokens,
    `q_halt` [n]. [n] bool."""
    ok = q_halt > sure
    for b in np.unique(puzzle[~ok]):
        rows = np.flatnonzero(puzzle == b)
        _, which, counts = np.unique(answers[rows], axis=0, return_inverse=True, return_counts=True)
        ok[rows] |= counts[which.ravel()] > 1
    return ok


@torch.inference_mode()
def score_views(model, task, grids: np.ndarray, segments: int, views: int, rng: np.random.Generator,
                batch: int = 256, commit=None) -> ViewScores:
    """Run every puzzle as `views` copies for `segments` segments (halting off; under the caller's
    autocast) and score two ways of answering with them: the first copy the verifier accepts, and the
    copy the model itself picks, with no verifier (its Q-head's halt logit is trained to say whether
    the answer is right). `commit`: committed decoding (reasoner/commit.py) in every copy."""
    from .act import run_segments

    inputs, checked, _ = view_rows(task, grids, views, rng)
    accepted = np.zeros((segments, len(inputs)), dtype=bool)
    q_halt = np.zeros((segments, len(inputs)), dtype=np.float32)
    for start in range(0, len(inputs), batch):
        part = slice(start, start + batch)
        rows = torch.from_numpy(inputs[part])
        trace = run_segments(model, rows, torch.zeros(len(rows), dtype=torch.long), segments, commit=commit)
        for k, probs in enumerate(trace.probs):
            accepted[k, part] = task.accepts(checked[part], probs.argmax(-1).numpy())
        q_halt[:, part] = trace.q_halt.float().numpy()
    shape = (segments, len(grids), views)
    return pick_views(accepted.reshape(shape), q_halt.reshape(shape))
