"""The HRM's answer after every segment: the picture of the paper's figure (how the answer forms,
segment by segment), for the web page's stepper.

`solve()` keeps only the answer where the Q-head halts, so this runs the same checkpoint again
through the public pieces (`load_model`, `run_segments`, the task's encode/decode/verify) and
reads the answer after each segment. Every step says whether the verifier accepts it; the answer a
user is shown as right stays `solve()`'s verified one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from reasoner import MazeSolveResult, SolveResult
from reasoner.act import run_segments
from reasoner.inference import default_device, load_model_for
from reasoner.tasks.maze import MazeCanvas, MazeTask, UnreachableGoalError

# The stepper shows at most this many segments, or the checkpoint's own M_max where that is more
# (what solve() itself runs; a size-free maze model's grows with the maze): the paper's M_max is
# 16, and a request may not make the server run a model for as long as it likes.
MAX_SEGMENTS = 32


class SegmentStep(BaseModel):
    segment: int  # 1-based
    answer: list[list[int]] | list[str]  # the HRM's answer after this segment (maze: rows with 'o' for the path)
    verified: bool  # the verifier accepts this answer as it stands
    changed: list[tuple[int, int]]  # 1-based (row, column) cells that differ from the previous segment's answer
    wrong: list[tuple[int, int]]  # 1-based cells that differ from the verified answer (empty if none is known)
    q_halt: float  # the Q-head's halting logit after this segment
    halts: bool  # the Q-head would stop here


def _cells(a: list, b: list) -> list[tuple[int, int]]:
    return [(r + 1, c + 1) for r in range(len(a)) for c in range(len(a[r])) if a[r][c] != b[r][c]]


def segment_steps(result: SolveResult | MazeSolveResult, segments: int | None = None) -> list[SegmentStep]:
    """Run `result`'s checkpoint on its puzzle for `segments` segments (default: the model's M_max)
    and return the answer after each."""
    device = default_device()
    maze = isinstance(result, MazeSolveResult)
    # As solve() loaded it (and the same cached model, not a second copy): a size-free maze model
    # rebuilt for a larger maze's side, or a smaller maze in the middle of the model's own grid.
    model, model_task, _ = load_model_for(result.checkpoint, device, len(result.puzzle) if maze else None)
    count, most = segments or model.cfg.halt_max_steps, max(MAX_SEGMENTS, model.cfg.halt_max_steps)
    if not 1 <= count <= most:
        raise ValueError(f"segments must be between 1 and {most}, got {count}")
    task = MazeTask(len(result.puzzle)) if maze else model_task
    canvas = MazeCanvas(model_task.size, task.size) if maze else None
    try:
        grid = task.parse(result.puzzle)
    except UnreachableGoalError as err:  # still a question the model can be run on
        grid = err.grid
    inputs = model_task.encode(grid if canvas is None else canvas.place(grid[None])[0])
    trace = run_segments(model, torch.from_numpy(inputs[None]).to(device), torch.zeros(1, dtype=torch.long, device=device), count)
    reachable = not (maze and result.status == "no_solution")  # no answer can pass for an unreachable goal
    steps: list[SegmentStep] = []
    previous: Any = None
    for k, probs in enumerate(trace.probs):
        answer = _answer(task, probs[:1] if canvas is None else canvas.crop(probs[:1]), maze)
        verified = reachable and bool(task.verify(grid, _as_array(answer, maze)).ok)
        steps.append(SegmentStep(
            segment=k + 1, answer=answer, verified=verified,
            changed=[] if previous is None else _cells(answer, previous),
            wrong=[] if result.answer is None else _cells(answer, result.answer),
            q_halt=round(float(trace.q_halt[k, 0]), 3), halts=bool(trace.halt[k, 0]),
        ))
        previous = answer
    return steps


def _answer(task, probs: torch.Tensor, maze: bool) -> list:
    """The answer read from one segment's token probabilities [1, seq, vocab], as `solve()` reads it."""
    if maze:
        return ["".join(row) for row in task.decode(probs[0].argmax(-1).cpu().numpy()).tolist()]
    n = task.size
    digits = probs[0, :, 2 : 2 + n].argmax(-1).cpu().numpy() + 1  # tokens 2.. are the digits 1..n
    return digits.reshape(n, n).tolist()


def _as_array(answer: list, maze: bool) -> np.ndarray:
    return np.array([list(row) for row in answer]) if maze else np.asarray(answer)
