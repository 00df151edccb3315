"""Tests for verifiers.maze: BFS labels, answer checking and question validation."""

from __future__ import annotations


import numpy as np
import pytest

from .conftest import DATA_DIR, needs_data


from verifiers import (
    MazeInputError,
    VerifierInputError,
    bfs_shortest_path,
    check_maze_answer,
    label_maze,
    validate_maze_question,
)

MAZE_DIR = DATA_DIR / "maze-30x30-hard-1k"


def load_maze_set() -> tuple[list[str], list[str]]:
    # Lines start and end with spaces, so split on newlines only (never strip).
    questions = (MAZE_DIR / "train_question.txt").read_text().split("\n")
    answers = (MAZE_DIR / "train_answer.txt").read_text().split("\n")
    return [q for q in questions if q], [a for a in answers if a]


@pytest.fixture(scope="module")
def maze_set():
    return load_maze_set()


def grid(text: str) -> list[str]:
    """A handmade maze written as lines joined by '|', for readability."""
    return text.split("|")


def edit(flat: str, side: int, cell: tuple[int, int], ch: str) -> str:
    r, c = cell
    i = r * side + c
    return flat[:i] + ch + flat[i + 1 :]


def neighbours(cell, side):
    r, c = cell
    for dr, dc in ((1, 0), (0, -1), (0, 1), (-1, 0)):
        if 0 <= r + dr < side and 0 <= c + dc < side:
            yield (r + dr, c + dc)


# --------------------------------------------------------------------- real data


@needs_data
def test_bfs_rule_reproduces_all_labels(maze_set):
    questions, answers = maze_set
    assert len(questions) == len(answers) == 1000
    mismatches = [i for i, (q, a) in enumerate(zip(questions, answers)) if label_maze(q) != a]
    assert mismatches == []


@needs_data
def test_real_labels_are_accepted(maze_set):
    questions, answers = maze_set
    for q, a in list(zip(questions, answers))[:200]:
        verdict = check_maze_answer(q, a)
        assert verdict.ok and verdict.valid_path and verdict.valid_shortest_path, verdict.reasons
        assert verdict.matches_label
        assert verdict.path_length == verdict.shortest_length == a.count("o") + 2
        assert 100 <= verdict.shortest_length <= 200


@needs_data
def test_real_maze_mutations_are_rejected(maze_set):
    questions, answers = maze_set
    q, a = questions[0], answers[0]
    side = 30
    path = bfs_shortest_path(q).path
    inner = path[1:-1]

    # Broken path: one 'o' taken away.
    gap = inner[len(inner) // 2]
    verdict = check_maze_answer(q, edit(a, side, gap, " "))
    assert not verdict.ok and not verdict.valid_path and not verdict.matches_label
    assert "dead-ends" in " ".join(verdict.reasons)

    # A wall changed to open (the path itself is untouched).
    wall = next((r, c) for r in range(side) for c in range(side) if q[r * side + c] == "#")
    verdict = check_maze_answer(q, edit(a, side, wall, " "))
    assert not verdict.ok and wall in verdict.bad_cells
    assert f"wall was changed to open cell at ({wall[0] + 1},{wall[1] + 1})" in verdict.reasons

    # An extra 'o' on an open cell away from the path.
    on_path = set(path)
    stray = next(
        (r, c)
        for r in range(side)
        for c in range(side)
        if q[r * side + c] == " "
        and (r, c) not in on_path
        and not any(nb in on_path for nb in neighbours((r, c), side))
    )
    verdict = check_maze_answer(q, edit(a, side, stray, "o"))
    assert not verdict.ok and stray in verdict.bad_cells
    assert "isolated 'o'" in " ".join(verdict.reasons)

    # An 'o' drawn on a wall next to the path.
    wall_next = next(nb for cell in inner for nb in neighbours(cell, side) if q[nb[0] * side + nb[1]] == "#")
    verdict = check_maze_answer(q, edit(a, side, wall_next, "o"))
    assert not verdict.ok and wall_next in verdict.bad_cells
    assert any("through the wall" in reason for reason in verdict.reasons)

    # The question itself is not an answer.
    verdict = check_maze_answer(q, q)
    assert not verdict.ok and not verdict.valid_path


# --------------------------------------------------------------- handmade mazes


def test_path_through_wall_is_rejected():
    question = grid("S#G| # |   ")
    # Straight through the wall: a well-formed 3-cell path, but illegal.
    verdict = check_maze_answer(question, grid("SoG| # |   "))
    assert not verdict.ok and not verdict.valid_path
    assert verdict.reasons[0] == "path goes through the wall at (1,2)"
    assert verdict.bad_cells == [(0, 1)]
    # The legal way round.
    assert label_maze(question) == grid("S#G|o#o|ooo")
    verdict = check_maze_answer(question, grid("S#G|o#o|ooo"))
    assert verdict.ok and verdict.matches_label and verdict.path_length == 7


def test_longer_path_is_valid_but_not_shortest():
    question = grid("S G|   |   ")
    assert bfs_shortest_path(question).length == 3
    verdict = check_maze_answer(question, grid("S G|ooo|   "))
    assert verdict.valid_path and not verdict.valid_shortest_path and not verdict.ok
    assert verdict.path_length == 5 and verdict.shortest_length == 3
    assert "5 cells but the shortest has 3" in verdict.reasons[-1]


def test_equally_short_alternative_path():
    question = grid("S   |    |    |   G")
    label = label_maze(question)
    # BFS (down, left, right, up; first discoverer is parent) goes down first and then
    # along the bottom row: traced back from G the parents are (3,2),(3,1),(3,0),(2,0),...
    assert label == grid("S   |o   |o   |oooG")
    alternative = grid("Sooo|   o|   o|   G")
    verdict = check_maze_answer(question, alternative)
    assert verdict.valid_shortest_path and verdict.ok
    assert not verdict.matches_label
    assert verdict.path_length == verdict.shortest_length == 7
    assert check_maze_answer(question, label).matches_label


def test_branches_and_loops_are_rejected():
    question = grid("S   |    |    |   G")
    # A branch off the label path.
    verdict = check_maze_answer(question, grid("S   |oo  |o   |oooG"))
    assert not verdict.valid_path and (1, 0) in verdict.bad_cells
    # A closed loop of 'o' cells separate from the path: a 2x2 block where every cell has
    # exactly two path neighbours, so only the connectivity check can catch it.
    question = ["S#      "] + [" #      "] * 6 + ["G#      "]
    label = label_maze(question)
    loop = list(label)
    loop[2] = label[2][:3] + "oo" + label[2][5:]
    loop[3] = label[3][:3] + "oo" + label[3][5:]
    verdict = check_maze_answer(question, loop)
    assert not verdict.valid_path
    assert "not connected" in " ".join(verdict.reasons)


def test_overwriting_start_or_changing_size_is_rejected():
    question = grid("S G|   |   ")
    verdict = check_maze_answer(question, grid("ooG|   |   "))
    assert not verdict.ok and (0, 0) in verdict.bad_cells
    verdict = check_maze_answer(question, grid("SoG |    |    |    "))
    assert not verdict.ok and "4x4" in verdict.reasons[0]
    verdict = check_maze_answer(question, "SxG      ")
    assert not verdict.ok and "unexpected character 'x'" in verdict.reasons[0]
    verdict = check_maze_answer(question, ["SoG", "  "])
    assert not verdict.ok


def test_input_forms_agree():
    rows = grid("S#G| # |   ")
    flat = "".join(rows)
    expected = "".join(grid("S#G|o#o|ooo"))
    assert label_maze(flat) == expected
    assert label_maze(flat, side=3) == expected
    assert label_maze("\n".join(rows)) == "\n".join(grid("S#G|o#o|ooo"))
    array = np.array([list(r) for r in rows])
    labelled = label_maze(array)
    assert isinstance(labelled, np.ndarray) and labelled.shape == (3, 3)
    assert "".join(labelled.ravel()) == expected
    assert check_maze_answer(array, labelled).matches_label
    assert bfs_shortest_path(flat).path == [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2)]


# ----------------------------------------------------------- question validation


@pytest.mark.parametrize(
    "question,fragment",
    [
        (grid("S S|   |  G"), "2 S cells"),
        (grid("S  |   |   "), "no G"),
        (grid("   |   |  G"), "no S"),
        (grid("S  |###|  G"), "cannot be reached"),
        (grid("S x|   |  G"), "characters other than"),
        (grid("So |   |  G"), "characters other than"),
        (grid("S  |   |  G|   "), "not square"),
        ("S  G    ", "square number"),
        ("", "empty"),
        (12345, "must be a string"),
    ],
)
def test_bad_questions(question, fragment):
    verdict = validate_maze_question(question)
    assert not verdict.ok
    assert any(fragment in reason for reason in verdict.reasons), verdict.reasons
    with pytest.raises(MazeInputError, match=fragment):
        label_maze(question)
    with pytest.raises(MazeInputError):
        check_maze_answer(question, question)


def test_bad_question_errors_are_value_errors_naming_cells():
    with pytest.raises(ValueError) as info:
        label_maze(grid("S S|   |  G"))
    assert isinstance(info.value, VerifierInputError)
    assert info.value.cells == [(0, 0), (0, 2)]


def test_good_question_verdict():
    verdict = validate_maze_question(grid("S#G| # |   "))
    assert verdict.ok and verdict.reasons == []
    assert (verdict.side, verdict.start, verdict.goal, verdict.shortest_length) == (3, (0, 0), (0, 2), 7)


def test_unreachable_goal_in_bfs():
    result = bfs_shortest_path(grid("S  |###|  G"))
    assert result.path is None and result.length is None
    with pytest.raises(MazeInputError):
        bfs_shortest_path(grid("S  |   |   "))
