"""The plain backtracking baseline of eval/bench_inference.py counts solutions correctly."""

import sys
from pathlib import Path

import numpy as np

from reasoner.tasks import SudokuTask
from verifiers import sudoku as rules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import bench_inference

TASK = SudokuTask(3, 3)
UNIQUE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def test_backtracking_counts_like_the_exact_solver():
    unique = TASK.parse(UNIQUE)
    several = unique.copy()
    several[np.nonzero(several)[0][:12], np.nonzero(several)[1][:12]] = 0  # fewer givens: more solutions
    none = unique.copy()
    none[0, 2] = 1  # clashes with no given, but leaves no completion
    for grid in (unique, several, none):
        expected = rules.count_solutions(grid, 3, 3, limit=2)[0]
        assert bench_inference.backtrack_count(grid.tolist()) == expected
    assert [bench_inference.backtrack_count(g.tolist()) for g in (unique, several, none)] == [1, 2, 0]


def test_hard_puzzles_are_picked_by_their_givens(tmp_path):
    path = tmp_path / "p.txt"
    full = TASK.to_string(TASK.parse(UNIQUE))
    sparse = "." * 64 + full[64:]  # 17 or fewer givens kept from the end
    path.write_text("\n".join([full, sparse, full]) + "\n")
    picked = bench_inference.hard_puzzles(path, slice(0, 3), (0, 25), 5)
    assert picked == [sparse]
