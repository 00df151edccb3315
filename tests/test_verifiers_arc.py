"""Tests for verifiers.arc: ARC grid sanity and exact-match scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import DATA_DIR, needs_data


from verifiers import VerifierInputError, check_arc_answer, check_arc_grid



def test_valid_grids():
    for grid in ([[0]], [[1, 2, 3], [4, 5, 6]], [[9] * 30 for _ in range(30)], np.zeros((3, 7), np.int64)):
        verdict = check_arc_grid(grid)
        assert verdict.ok, verdict.reasons
        assert verdict.reasons == []
    assert check_arc_grid([[1, 2, 3], [4, 5, 6]]).shape == (2, 3)


@pytest.mark.parametrize(
    "grid,fragment",
    [
        ([[0] * 31], "31 columns"),
        ([[0]] * 31, "31 rows"),
        ([[1, 2], [3, 10]], "10 at (2,2)"),
        ([[1, -1]], "-1 at (1,2)"),
        ([[1, 2, 3], [4, 5]], "ragged"),
        ([], "empty"),
        ([[]], "row 1 is empty"),
        ([[1, 2.5]], "non-integer"),
        ([[1, True]], "non-integer"),
        ([[1, "2"]], "non-integer"),
        ("123", "list of rows"),
        ([1, 2, 3], "row 1 is not a list"),
        (np.zeros((2, 2), float), "integers"),
        (np.zeros(4, int), "2-D"),
    ],
)
def test_invalid_grids(grid, fragment):
    verdict = check_arc_grid(grid)
    assert not verdict.ok
    assert any(fragment in reason for reason in verdict.reasons), verdict.reasons
    answer = check_arc_answer(grid, [[0]])
    assert not answer.ok and not answer.valid_grid and answer.matches is False


def test_bad_cells_are_named():
    verdict = check_arc_grid([[1, 2], [3, 10]])
    assert verdict.bad_cells == [(1, 1)]


def test_exact_match():
    expected = [[1, 2], [3, 4]]
    verdict = check_arc_answer([[1, 2], [3, 4]], expected)
    assert verdict.ok and verdict.matches is True
    verdict = check_arc_answer(np.array(expected), expected)
    assert verdict.ok and verdict.matches is True


def test_mismatch():
    verdict = check_arc_answer([[1, 2], [3, 5]], [[1, 2], [3, 4]])
    assert not verdict.ok and verdict.valid_grid and verdict.matches is False
    assert verdict.bad_cells == [(1, 1)]
    assert "1 of 4 cells differ" in verdict.reasons[0]
    verdict = check_arc_answer([[1, 2, 3]], [[1, 2], [3, 4]])
    assert not verdict.ok and verdict.matches is False
    assert "shape 1x3 differs from expected 2x2" in verdict.reasons[0]
    # Same cells flattened differently is still a mismatch.
    verdict = check_arc_answer([[1], [2], [3], [4]], [[1, 2], [3, 4]])
    assert verdict.matches is False


def test_no_expected_answer():
    verdict = check_arc_answer([[1, 2], [3, 4]])
    assert verdict.ok and verdict.valid_grid and verdict.matches is None
    verdict = check_arc_answer([[1, 2], [3]])
    assert not verdict.ok and verdict.matches is None


def test_invalid_expected_raises():
    with pytest.raises(VerifierInputError, match="expected grid is invalid"):
        check_arc_answer([[1]], [[1, 2], [3]])


@needs_data
def test_real_arc_grids_pass():
    folder = DATA_DIR / "arc-agi-1"
    files = sorted(folder.rglob("*.json"))[:40]
    assert files, f"no task files under {folder}"
    for path in files:
        task = json.loads(path.read_text())
        for pair in task["train"] + task["test"]:
            assert check_arc_grid(pair["input"]).ok, path
            if "output" in pair:
                assert check_arc_answer(pair["output"], pair["output"]).matches is True
