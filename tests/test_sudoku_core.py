"""The compiled exact core against the readable pure-Python search, and the minimal-puzzle maker.

Every search-based function of verifiers.sudoku runs once on the compiled core and once inside
python_solver() (the reference); their results (counts, solutions and their order, node
counts, verdicts) must be equal on thousands of puzzles: generated ones of every box shape,
with clashes and unsolvable ones among them, and rows of the external data when present.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifiers import sudoku as rules

from .conftest import DATA_DIR, needs_data

SHAPES = [(2, 2), (2, 3), (3, 2), (3, 3)]


def both(call: Callable[[], Any]) -> tuple[Any, Any]:
    """(compiled core's result, pure-Python reference's result)."""
    fast = call()
    with rules.python_solver():
        slow = call()
    return fast, slow


def assert_same(puzzle: np.ndarray, box: tuple[int, int], scores: np.ndarray, node_limit: int) -> None:
    # analyse_puzzle adds the verdict around count_solutions; search_effort the dead ends.
    fast, slow = both(lambda: (rules.analyse_puzzle(puzzle, *box), rules.search_effort(puzzle, *box)))
    assert fast == slow, rules.grid_to_string(puzzle)
    fast, slow = both(lambda: rules.guided_search(puzzle, *box, value_scores=scores, node_limit=node_limit))
    assert fast == slow


@st.composite
def puzzle_sets(draw: st.DrawFn) -> tuple[tuple[int, int], list[np.ndarray], np.ndarray, int]:
    """Four puzzles made from one random complete grid, each keeping a random share of its
    cells, some with a few cells overwritten by random digits (clashing or unsolvable
    puzzles); plus value scores and a node limit for guided_search. (Four per example keep
    hypothesis's own cost per puzzle small.)"""
    box = draw(st.sampled_from(SHAPES))
    n = box[0] * box[1]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    grid = np.array(rules.guided_search(np.zeros((n, n), dtype=np.int64), *box, value_scores=rng.random((n, n, n))).solution)
    found = []
    for keep in draw(st.lists(st.floats(0.2, 0.9), min_size=4, max_size=4)):
        puzzle = np.where(rng.random((n, n)) < keep, grid, 0)
        for _ in range(draw(st.integers(0, 2))):
            puzzle[rng.integers(n), rng.integers(n)] = rng.integers(1, n + 1)
        found.append(puzzle)
    return box, found, rng.random((n, n, n)), draw(st.integers(0, 50))


@settings(max_examples=500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(puzzle_sets())
def test_compiled_core_matches_python_on_generated_puzzles(case):
    box, found, scores, node_limit = case
    for puzzle in found:
        assert_same(puzzle, box, scores, node_limit)


def test_counts_beyond_two_and_node_limits_match():
    # The empty 4x4 board has 288 solutions: all of them, in the same order, both ways.
    fast, slow = both(lambda: rules.count_solutions(np.zeros((4, 4), dtype=np.int64), 2, 2, limit=1000))
    assert fast == slow and fast[0] == 288
    fast, slow = both(lambda: rules.count_solutions(np.zeros((6, 6), dtype=np.int64), 2, 3, limit=37))
    assert fast == slow and fast[0] == 37
    for limit in (0, 1, 7):
        fast, slow = both(lambda: rules.guided_search(np.zeros((9, 9), dtype=np.int64), 3, 3, node_limit=limit))
        assert fast == slow


def read_rows(name: str, count: int) -> list[np.ndarray]:
    lines = (DATA_DIR / "sudoku" / name).read_text().split()[:count]
    return [np.array([0 if ch == "." else int(ch) for ch in line]).reshape(9, 9) for line in lines]


@needs_data
@pytest.mark.parametrize("name,count", [
    ("tdoku_test_puzzles.txt", 43),  # unique, multiple and unsolvable ones
    ("sudoku_extreme_train_1k_subset.txt", 40),
    ("norvig_sudoku10k.txt", 300),
])
def test_compiled_core_matches_python_on_data_rows(name, count):
    rng = np.random.default_rng(0)
    for puzzle in read_rows(name, count):
        fast, slow = both(lambda: rules.count_solutions(puzzle, 3, 3, limit=2))
        assert fast == slow, rules.grid_to_string(puzzle)
        scores = rng.random((9, 9, 9))
        fast, slow = both(lambda: rules.guided_search(puzzle, 3, 3, value_scores=scores))
        assert fast == slow, rules.grid_to_string(puzzle)


@pytest.mark.parametrize("box", [(2, 2), (2, 3), (3, 3)])
def test_minimal_puzzles_are_unique_minimal_rated_and_seeded(box):
    n = box[0] * box[1]
    puzzles, solutions, ratings = rules.minimal_puzzles(6, *box, np.random.default_rng(3))
    assert puzzles.shape == solutions.shape == (6, n, n) and ratings.shape == (6,)
    for puzzle, solution, rating in zip(puzzles, solutions, ratings):
        assert rules.check_solution(puzzle, solution, *box).ok
        with rules.python_solver():  # uniqueness judged by the reference, not the core itself
            count, found, _ = rules.count_solutions(puzzle, *box, limit=2)
            assert rating == rules.search_effort(puzzle, *box)
        assert count == 1 and np.array_equal(found[0], solution)
        for r, c in np.argwhere(puzzle > 0):  # every clue is needed
            weaker = puzzle.copy()
            weaker[r, c] = 0
            assert rules.count_solutions(weaker, *box, limit=2)[0] == 2
    again = rules.minimal_puzzles(6, *box, np.random.default_rng(3))
    other = rules.minimal_puzzles(6, *box, np.random.default_rng(4))
    assert all(np.array_equal(a, b) for a, b in zip(again, (puzzles, solutions, ratings)))
    assert not np.array_equal(other[0], puzzles)


def test_search_effort_counts_dead_ends():
    # Propagation alone solves this one: no dead end. The tdoku-hard one needs many.
    easy = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
    hard = "........8..3...4...9..2..6.....79.......612...6.5.2.7...8...5...1.....2.4.5.....3"
    grid = lambda text: np.array([0 if ch == "." else int(ch) for ch in text]).reshape(9, 9)  # noqa: E731
    assert rules.search_effort(grid(easy), 3, 3) == 0
    assert rules.search_effort(grid(hard), 3, 3) > 100
    # Renaming the digits does not change it.
    rename = np.array([0, 3, 1, 4, 9, 2, 6, 5, 8, 7])
    assert rules.search_effort(rename[grid(hard)], 3, 3) == rules.search_effort(grid(hard), 3, 3)


def test_bench_exact_runs_and_reports(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
    import bench_exact

    bench_exact.main(["--generated", "--puzzles", "3", "--repeats", "1", "--givens", "20-28"])
    out = capsys.readouterr().out
    assert out.startswith("3 puzzles from generated minimal puzzles") and "| count |" in out and "| solve |" in out
    bench_exact.main(["--generator", "40", "--seed", "1"])
    out = capsys.readouterr().out
    assert out.startswith("40 minimal 9x9 puzzles (seed 1)")
    lines = out.splitlines()
    givens_rows = lines[lines.index("| givens | puzzles | share | median rating |") + 2:]
    givens_rows = givens_rows[: next(i for i, line in enumerate(givens_rows) if line.startswith("| rating"))]
    assert sum(int(line.split("|")[2]) for line in givens_rows) == 40
