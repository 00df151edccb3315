"""Committed decoding (reasoner/commit.py): the model's surest blank cells become givens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reasoner import solve
from reasoner.commit import Commit, commit_surest
from reasoner.config import cpu_tiny
from reasoner.tasks import MazeTask, SudokuTask

TASK4 = SudokuTask(2, 2)
PUZZLE4 = "1..4.4....2..3.."
SOLUTION4 = "1234341241232341"


def test_commit_writes_the_surest_blank_cells_of_unhalted_rows():
    rule = Commit(cells=2, blank=1)
    inputs = torch.tensor([[1, 1, 1, 3], [1, 1, 1, 3], [1, 1, 1, 1]])
    answer = torch.tensor([[2, 3, 4, 3], [2, 3, 4, 3], [1, 0, 5, 2]])  # row 2: blank and PAD are never written
    sure = torch.tensor([[0.5, 0.9, 0.7, 1.0], [0.5, 0.9, 0.7, 1.0], [0.99, 0.98, 0.4, 0.3]])
    probs = torch.nn.functional.one_hot(answer, 6).float() * sure[..., None]
    q_halt = torch.tensor([-1.0, 2.0, 0.0])  # row 1: the Q-head rates its answer right: left alone
    out = commit_surest(inputs, probs, q_halt, rule)
    # Row 0: cells 1 and 2 (cell 3 is a given, however sure); row 2: cells 2 and 3 (cells 0 and 1's
    # likeliest tokens are blank and PAD).
    assert out.tolist() == [[1, 3, 4, 3], [1, 1, 1, 3], [1, 1, 5, 2]]
    assert inputs.tolist()[0] == [1, 1, 1, 3]  # a new tensor: the caller's inputs are unchanged
    # More cells than there are blanks: every blank is written.
    assert commit_surest(inputs[:1], probs[:1], q_halt[:1], Commit(cells=9, blank=1)).tolist() == [[2, 3, 4, 3]]


def test_commit_rules_come_from_the_task():
    assert Commit.for_task(TASK4, 0) is None
    rule = Commit.for_task(TASK4, 3, every=2)
    assert (rule.cells, rule.blank, rule.every) == (3, TASK4.blank_token, 2)
    assert [rule.due(s) for s in range(1, 5)] == [False, True, False, True]
    with pytest.raises(ValueError, match="maze has none"):
        Commit.for_task(MazeTask(9), 2)
    for cells, every in ((-1, 4), (2, 0)):
        with pytest.raises(ValueError, match="cells >= 0 and every >= 1"):
            Commit.for_task(TASK4, cells, every)


class Recorder(torch.nn.Module):
    """Stands in for an HRM: answers every cell with its solution digit, surer the later the cell
    (so the surest blank is the last one), never halts, and records the inputs of every segment."""

    def __init__(self, solution: np.ndarray):
        super().__init__()
        self.cfg = cpu_tiny(TASK4.vocab_size, TASK4.seq_len)
        self.solution = torch.from_numpy(TASK4.encode(solution))
        self.seen: list[torch.Tensor] = []

    def initial_carry(self, batch, device=None):
        from reasoner.model import Carry
        return Carry(torch.zeros(batch, 1, 1), torch.zeros(batch, 1, 1))

    def forward(self, carry, inputs, puzzle_ids):
        from reasoner.model import SegmentOutput
        self.seen.append(inputs.clone())
        sure = torch.linspace(1, 2, TASK4.seq_len)[:, None]
        logits = torch.nn.functional.one_hot(self.solution, TASK4.vocab_size).float() * sure
        n = len(inputs)
        return SegmentOutput(carry, logits.expand(n, -1, -1), torch.full((n,), -1.0), torch.zeros(n))


def test_runs_commit_every_few_segments_in_evaluation_and_in_solve():
    from reasoner.act import run_segments
    from reasoner.inference import answer_probs

    grid = TASK4.parse(PUZZLE4)
    solution = TASK4.parse(SOLUTION4)
    blanks = np.flatnonzero(grid.reshape(-1) == 0)
    rule = Commit.for_task(TASK4, 2, every=2)
    for run in (lambda m: run_segments(m, torch.from_numpy(TASK4.encode(grid))[None], torch.zeros(1, dtype=torch.long),
                                       5, commit=rule),
                lambda m: answer_probs(m, TASK4, [grid], 5, "fixed", "cpu", "fp32", commit=rule)):
        model = Recorder(solution)
        run(model)
        given = [int((seen[0] != TASK4.blank_token).sum()) for seen in model.seen]
        assert given == [5, 5, 7, 7, 9]  # two more givens after segments 2 and 4
        last = model.seen[-1][0].numpy()
        committed = np.flatnonzero(last != TASK4.encode(grid))
        assert committed.tolist() == blanks[-4:].tolist()  # the surest: the last blanks
        assert np.array_equal(last[committed], TASK4.encode(solution)[committed])


def test_solve_commits_on_sudoku_and_refuses_it_elsewhere():
    result = solve(PUZZLE4, commit=2, repair=False, halting="fixed", segments=8)
    assert result.verified and result.path == "hrm" and result.model_correct
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="commit must be a whole number"):
            solve(PUZZLE4, commit=bad)
    maze = MazeTask(9).to_string(MazeTask(9).generate(1, np.random.default_rng(0), progress=False)[0][0])
    with pytest.raises(ValueError, match="maze has none"):
        solve(maze, task="maze", commit=1)
