"""Tests for verifiers.sudoku: rule checks, puzzle analysis, exact and guided search."""

from __future__ import annotations


import numpy as np
import pytest

from .conftest import DATA_DIR, needs_data


from verifiers import (
    PuzzleStatus,
    SearchStatus,
    VerifierInputError,
    analyse_puzzle,
    check_solution,
    confident_consistent_cells,
    count_solutions,
    grid_to_string,
    guided_search,
)

SUDOKU_DIR = DATA_DIR / "sudoku"


# ------------------------------------------------------------------------------ helpers


def parse(text: str, n: int = 9) -> list[list[int]]:
    """Row-major digits with '.' or '0' for blanks."""
    assert len(text) == n * n
    return [[0 if ch in ".0" else int(ch) for ch in text[r * n : (r + 1) * n]] for r in range(n)]


def reference_valid(grid, box_rows: int, box_cols: int) -> bool:
    """Deliberately naive checker (sets of rows, columns, boxes), independent of the code
    under test, used to judge the grids the solver produces."""
    g = np.asarray(grid)
    n = box_rows * box_cols
    digits = set(range(1, n + 1))
    if g.shape != (n, n):
        return False
    rows_ok = all(set(g[r].tolist()) == digits for r in range(n))
    cols_ok = all(set(g[:, c].tolist()) == digits for c in range(n))
    boxes_ok = all(
        set(g[r0 : r0 + box_rows, c0 : c0 + box_cols].ravel().tolist()) == digits
        for r0 in range(0, n, box_rows)
        for c0 in range(0, n, box_cols)
    )
    return rows_ok and cols_ok and boxes_ok


def pattern_solution(box_rows: int, box_cols: int) -> np.ndarray:
    """A known-valid solution: the classic shifted-rows pattern."""
    n = box_rows * box_cols
    return np.array(
        [[(box_cols * (r % box_rows) + r // box_rows + c) % n + 1 for c in range(n)] for r in range(n)]
    )


def read_lines(name: str) -> list[str]:
    path = SUDOKU_DIR / name
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


SOLVED_9 = parse("652483917978162435314975628825736149791824563436519872269348751547291386183657294")
PUZZLE_9 = parse(".5..83.17...1..4..3.4..56.8....3...9.9.8245....6....7...9....5...729..861.36.72.4")
# A hard unique puzzle from tdoku's tests (about a thousand nodes without guidance).
HARD_9 = "........8..3...4...9..2..6.....79.......612...6.5.2.7...8...5...1.....2.4.5.....3"


# ------------------------------------------------------------------- data-driven checks


@needs_data
def test_tdoku_labels_and_solutions():
    puzzles = read_lines("tdoku_test_puzzles.txt")
    labels = read_lines("tdoku_test_puzzles.labels.txt")
    solutions = read_lines("tdoku_test_puzzles.solutions.txt")
    assert len(puzzles) == len(labels) == len(solutions) == 43
    for line, (puzzle, label, solution) in enumerate(zip(puzzles, labels, solutions)):
        verdict = analyse_puzzle(parse(puzzle), 3, 3)
        assert verdict.label == label, f"line {line}: {verdict.status} vs {label}"
        if label == "unique":
            assert grid_to_string(verdict.solution) == solution, f"line {line}"
        elif label == "multiple":
            a, b = verdict.example_solutions
            assert a != b
            for sol in (a, b):
                assert reference_valid(sol, 3, 3)
                assert check_solution(parse(puzzle), sol, 3, 3).ok
        else:
            assert verdict.status in (PuzzleStatus.CONTRADICTORY, PuzzleStatus.NO_SOLUTION)
            assert verdict.solution is None and not verdict.example_solutions


@needs_data
def test_extreme_subset_solutions():
    puzzles = read_lines("sudoku_extreme_train_1k_subset.txt")[:25]
    solutions = read_lines("sudoku_extreme_train_1k_subset.solutions.txt")[:25]
    for puzzle, solution in zip(puzzles, solutions):
        count, found, _ = count_solutions(parse(puzzle), 3, 3)
        assert count == 1
        assert grid_to_string(found[0]) == solution


# ---------------------------------------------------------------------- check_solution


@pytest.mark.parametrize("box_rows,box_cols", [(2, 2), (2, 3), (3, 2), (3, 3)])
def test_check_solution_accepts_valid_grids(box_rows, box_cols):
    solution = pattern_solution(box_rows, box_cols)
    assert reference_valid(solution, box_rows, box_cols)
    puzzle = solution.copy()
    puzzle[::2, 1::2] = 0  # blank some cells; the rest are givens that must be kept
    verdict = check_solution(puzzle, solution, box_rows, box_cols)
    assert verdict.ok, verdict.reasons
    assert verdict.reasons == [] and verdict.bad_cells == []
    # Lists of lists are accepted as well as arrays.
    assert check_solution(puzzle.tolist(), solution.tolist(), box_rows, box_cols).ok


def test_check_solution_accepts_real_9x9():
    assert check_solution(PUZZLE_9, SOLVED_9, 3, 3).ok


def test_check_solution_respects_box_shape():
    # Valid with 2-row x 3-column boxes; its transpose has 3x2 boxes instead.
    grid = pattern_solution(2, 3)
    assert check_solution(np.zeros((6, 6), int), grid, 2, 3).ok
    transposed = grid.T.copy()
    assert not reference_valid(transposed, 2, 3)
    verdict = check_solution(np.zeros((6, 6), int), transposed, 2, 3)
    assert not verdict.ok
    assert any(reason.startswith("box") for reason in verdict.reasons)


def test_check_solution_catches_swapped_pair():
    answer = [row[:] for row in SOLVED_9]
    # Cells (0,0) and (0,3) (0-based) are blanks in PUZZLE_9; swapping them keeps the row valid but
    # breaks two columns and two boxes.
    assert PUZZLE_9[0][0] == 0 and PUZZLE_9[0][3] == 0
    answer[0][0], answer[0][3] = answer[0][3], answer[0][0]
    verdict = check_solution(PUZZLE_9, answer, 3, 3)
    assert not verdict.ok
    assert (0, 0) in verdict.bad_cells and (0, 3) in verdict.bad_cells
    text = " | ".join(verdict.reasons)
    assert "column 1 has" in text and "column 4 has" in text  # counted from 1
    assert not any(reason.startswith("row 1 ") for reason in verdict.reasons)


def test_check_solution_catches_changed_given():
    # Direct case: the answer overwrites a given (which also breaks its row/column/box).
    answer = [row[:] for row in SOLVED_9]
    answer[0][1] = 9
    verdict = check_solution(PUZZLE_9, answer, 3, 3)
    assert not verdict.ok
    assert "given 5 at (1,2) was changed to 9" in verdict.reasons
    # Sneaky case: a perfectly valid grid that simply ignores one given.
    puzzle = [row[:] for row in PUZZLE_9]
    puzzle[0][1] = 6  # the real solution has 5 here; a "given" the answer does not keep
    verdict = check_solution(puzzle, SOLVED_9, 3, 3)
    assert not verdict.ok
    assert verdict.reasons == ["given 6 at (1,2) was changed to 5"]
    assert verdict.bad_cells == [(0, 1)]


def test_check_solution_catches_incomplete_grid():
    answer = [row[:] for row in SOLVED_9]
    answer[4][4] = 0
    verdict = check_solution(np.zeros((9, 9), int), answer, 3, 3)
    assert not verdict.ok
    assert verdict.reasons == ["cell (5,5) is empty"]
    assert verdict.bad_cells == [(4, 4)]
    # (4,0) is a blank of PUZZLE_9, (4,4) a given: the given is reported as erased.
    answer[4][0] = 0
    verdict = check_solution(PUZZLE_9, answer, 3, 3)
    assert verdict.reasons == ["given 2 at (5,5) was erased", "cell (5,1) is empty"]
    # A fully blank answer is summarised rather than listing 81 reasons.
    verdict = check_solution(np.zeros((9, 9), int), np.zeros((9, 9), int), 3, 3)
    assert not verdict.ok and len(verdict.bad_cells) == 81 and len(verdict.reasons) <= 12


def test_check_solution_names_duplicate_cells():
    answer = [row[:] for row in SOLVED_9]
    answer[3][7] = answer[3][1]  # 2 appears twice in row 3
    verdict = check_solution(np.zeros((9, 9), int), answer, 3, 3)
    assert not verdict.ok
    assert f"row 4 has {answer[3][1]} twice at (4,2),(4,8)" in verdict.reasons


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (np.zeros((8, 9), int), "shape 8x9"),
        ([[1] * 9] * 8, "8 rows"),
        ([[1] * 9] * 8 + [[1] * 8], "row 9 has 8 cells"),
        ([[1] * 9] * 8 + [[1] * 10], "row 9 has 10 cells"),
        ([], "empty"),
        (np.zeros((9, 9), float), "integers"),
        ([[1.5] * 9] * 9, "not an integer"),
        ([[10] * 9] * 9, "outside 0..9"),
        ([[-1] * 9] * 9, "outside 0..9"),
        ("123", "list of lists"),
    ],
)
def test_check_solution_bad_input_is_a_verdict(answer, fragment):
    verdict = check_solution(np.zeros((9, 9), int), answer, 3, 3)
    assert not verdict.ok
    assert any(fragment in reason for reason in verdict.reasons), verdict.reasons


def test_check_solution_bad_box_shape_is_a_verdict():
    verdict = check_solution(SOLVED_9, SOLVED_9, 2, 2)  # 9x9 grid but 4x4 boxes
    assert not verdict.ok and "expected 4" in verdict.reasons[0]
    verdict = check_solution(SOLVED_9, SOLVED_9, 0, 3)
    assert not verdict.ok and "box_rows" in verdict.reasons[0]


# ---------------------------------------------------------------------- analyse_puzzle


def test_analyse_already_solved():
    verdict = analyse_puzzle(SOLVED_9, 3, 3)
    assert verdict.status is PuzzleStatus.UNIQUE and verdict.label == "unique"
    assert verdict.already_solved and verdict.givens == 81
    assert verdict.solution == SOLVED_9


def test_analyse_unique_not_already_solved():
    verdict = analyse_puzzle(PUZZLE_9, 3, 3)
    assert verdict.status is PuzzleStatus.UNIQUE and not verdict.already_solved
    assert verdict.solution == SOLVED_9
    assert verdict.givens == sum(v != 0 for row in PUZZLE_9 for v in row)


def test_analyse_empty_4x4_is_multiple():
    verdict = analyse_puzzle(np.zeros((4, 4), int), 2, 2)
    assert verdict.status is PuzzleStatus.MULTIPLE and verdict.givens == 0
    a, b = verdict.example_solutions
    assert a != b
    assert reference_valid(a, 2, 2) and reference_valid(b, 2, 2)
    assert verdict.solution is None


def test_analyse_contradictory_names_cells():
    puzzle = np.zeros((9, 9), int)
    puzzle[2, 0] = 7
    puzzle[2, 5] = 7  # same row
    verdict = analyse_puzzle(puzzle, 3, 3)
    assert verdict.status is PuzzleStatus.CONTRADICTORY and verdict.label == "none"
    assert verdict.conflict_cells == [(2, 0), (2, 5)]
    assert "row 3 has 7 twice at (3,1),(3,6)" in verdict.reasons
    # Box clash on a 6x6 board with 2x3 boxes: (0,0) and (1,2) share box 0 only.
    puzzle = np.zeros((6, 6), int)
    puzzle[0, 0] = puzzle[1, 2] = 4
    verdict = analyse_puzzle(puzzle, 2, 3)
    assert verdict.status is PuzzleStatus.CONTRADICTORY
    assert verdict.reasons == ["box 1 (rows 1-2, columns 1-3) has 4 twice at (1,1),(2,3)"]


def test_analyse_no_solution_without_clashing_givens():
    # Row 0 needs a 9 at (0,8), but column 8 already has a 9: no clash among givens.
    puzzle = np.zeros((9, 9), int)
    puzzle[0, :8] = [1, 2, 3, 4, 5, 6, 7, 8]
    puzzle[5, 8] = 9
    verdict = analyse_puzzle(puzzle, 3, 3)
    assert verdict.status is PuzzleStatus.NO_SOLUTION and verdict.label == "none"


@pytest.mark.parametrize(
    "puzzle,box",
    [
        (np.zeros((4, 4), int), (3, 3)),  # wrong size for the box shape
        (np.zeros((9, 9, 1), int), (3, 3)),  # not 2-D
        (np.zeros((9, 9), float), (3, 3)),  # not integers
        ([[0] * 9] * 8 + [[0] * 7], (3, 3)),  # ragged
        ([], (3, 3)),  # empty
        ([[0] * 4, [0] * 4, [0] * 4, [0, 0, 0, 5]], (2, 2)),  # stray value
        (np.zeros((4, 4), int), (0, 4)),  # bad box shape
        (np.zeros((4, 4), int), (2.0, 2)),  # non-integer box shape
    ],
)
def test_analyse_bad_input_raises_clear_error(puzzle, box):
    with pytest.raises(VerifierInputError):
        analyse_puzzle(puzzle, *box)
    with pytest.raises(VerifierInputError):
        count_solutions(puzzle, *box)
    with pytest.raises(VerifierInputError):
        guided_search(puzzle, *box)


def test_stray_value_error_names_cell():
    puzzle = [[0] * 4 for _ in range(4)]
    puzzle[3][2] = 7
    with pytest.raises(VerifierInputError, match=r"7 at \(4,3\)") as info:
        analyse_puzzle(puzzle, 2, 2)
    assert info.value.cells == [(3, 2)]


# ---------------------------------------------------------------------- count_solutions


def test_count_solutions_is_exact_on_empty_4x4():
    # There are exactly 288 complete 4x4 Sudoku grids.
    count, solutions, nodes = count_solutions(np.zeros((4, 4), int), 2, 2, limit=1000)
    assert count == 288
    assert len({grid_to_string(s) for s in solutions}) == 288
    assert all(reference_valid(s, 2, 2) for s in solutions)
    assert nodes > 0


def test_count_solutions_limit_and_contradiction():
    count, solutions, _ = count_solutions(np.zeros((4, 4), int), 2, 2, limit=3)
    assert count == 3 and len(solutions) == 3
    clash = np.zeros((4, 4), int)
    clash[0, 0] = clash[3, 0] = 1
    assert count_solutions(clash, 2, 2) == (0, [], 0)
    with pytest.raises(VerifierInputError):
        count_solutions(np.zeros((4, 4), int), 2, 2, limit=0)


# ----------------------------------------------------------------------- guided_search


def test_guided_search_solves_hard_puzzles():
    puzzles = [HARD_9, "........3..1..9.6..5..8.4.....9...8...867.....1....2....6..7.2..3.8..5..4.......8"]
    for text in puzzles:
        result = guided_search(parse(text), 3, 3)
        assert result.status is SearchStatus.SOLVED
        assert reference_valid(result.solution, 3, 3)
        assert check_solution(parse(text), result.solution, 3, 3).ok
        # The puzzle is unique, so the first solution found is the solution.
        assert result.solution == analyse_puzzle(parse(text), 3, 3).solution


def test_guided_search_counts_nodes_like_count_solutions():
    puzzle = parse(HARD_9)
    _, _, nodes = count_solutions(puzzle, 3, 3, limit=1)
    assert guided_search(puzzle, 3, 3).nodes == nodes


def test_scores_steer_the_search():
    puzzle = parse(HARD_9)
    solution = np.array(analyse_puzzle(puzzle, 3, 3).solution)
    perfect = np.eye(9)[solution - 1]  # one-hot of the true digit
    adversarial = np.eye(9)[solution % 9]  # one-hot of a wrong digit (true digit + 1)
    good = guided_search(puzzle, 3, 3, value_scores=perfect)
    bad = guided_search(puzzle, 3, 3, value_scores=adversarial)
    plain = guided_search(puzzle, 3, 3)
    for result in (good, bad, plain):
        assert result.status is SearchStatus.SOLVED
        assert result.solution == solution.tolist()
    # With perfect scores every branch guess is right: one node per branching cell.
    assert good.nodes <= 20
    assert bad.nodes >= 10 * good.nodes
    assert plain.nodes >= 10 * good.nodes
    # Random scores still give the (unique) solution: the search is exhaustive.
    noisy = np.random.default_rng(0).random((9, 9, 9))
    assert guided_search(puzzle, 3, 3, value_scores=noisy).solution == solution.tolist()


def test_node_limit():
    puzzle = parse(HARD_9)
    solution = np.array(analyse_puzzle(puzzle, 3, 3).solution)
    adversarial = np.eye(9)[solution % 9]
    result = guided_search(puzzle, 3, 3, value_scores=adversarial, node_limit=5)
    assert result.status is SearchStatus.NODE_LIMIT
    assert result.solution is None and result.nodes == 5


@pytest.mark.parametrize("box_rows,box_cols", [(2, 2), (2, 3), (3, 3)])
def test_random_complete_grids(box_rows, box_cols):
    n = box_rows * box_cols
    grids = set()
    for seed in range(4):
        result = guided_search(np.zeros((n, n), int), box_rows, box_cols, rng=np.random.default_rng(seed))
        assert result.status is SearchStatus.SOLVED
        assert reference_valid(result.solution, box_rows, box_cols)
        grids.add(grid_to_string(result.solution))
    assert len(grids) == 4  # different seeds, different grids
    # The same seed reproduces the same grid.
    again = guided_search(np.zeros((n, n), int), box_rows, box_cols, rng=np.random.default_rng(0))
    first = guided_search(np.zeros((n, n), int), box_rows, box_cols, rng=np.random.default_rng(0))
    assert again.solution == first.solution


def test_guided_search_no_solution():
    # Unsolvable without clashing givens (from tdoku's "none" puzzles).
    text = ".23.....94.....1...9..3..4.2..91...4.....78..9...4...23...9...1.6..........5....."
    result = guided_search(parse(text), 3, 3)
    assert result.status is SearchStatus.NO_SOLUTION and result.solution is None
    assert result.nodes > 0
    # Clashing givens: no search needed.
    clash = np.zeros((9, 9), int)
    clash[0, 0] = clash[0, 8] = 3
    result = guided_search(clash, 3, 3)
    assert result.status is SearchStatus.NO_SOLUTION and result.nodes == 0


def test_guided_search_rejects_bad_scores():
    with pytest.raises(VerifierInputError, match="shape"):
        guided_search(PUZZLE_9, 3, 3, value_scores=np.zeros((9, 9, 8)))
    with pytest.raises(VerifierInputError, match="NaN"):
        guided_search(PUZZLE_9, 3, 3, value_scores=np.full((9, 9, 9), np.nan))


# ---------------------------------------------------------------------- grid_to_string


def test_grid_to_string():
    assert grid_to_string(PUZZLE_9) == ".5..83.17...1..4..3.4..56.8....3...9.9.8245....6....7...9....5...729..861.36.72.4"
    assert grid_to_string(np.array([[1, 0], [0, 2]])) == "1..2"
    with pytest.raises(ValueError):
        grid_to_string(np.zeros((16, 16), int))
    with pytest.raises(ValueError):
        grid_to_string([[1, 2, 3]])


@pytest.mark.parametrize("box_rows, box_cols", [(2, 2), (2, 3), (3, 3)])
def test_solved_mask_agrees_with_check_solution(box_rows, box_cols):
    from verifiers.sudoku import check_solution, guided_search, solved_mask

    n = box_rows * box_cols
    rng = np.random.default_rng(7)
    puzzles, answers = [], []
    for _ in range(40):
        solution = np.asarray(guided_search(np.zeros((n, n), dtype=int), box_rows, box_cols, rng=rng).solution)
        puzzle = np.where(rng.random((n, n)) < 0.5, solution, 0)
        answer = solution.copy()
        kind = rng.integers(4)
        if kind == 1:  # two cells of a row swapped: rows stay permutations, columns do not
            answer[0, [0, 1]] = answer[0, [1, 0]]
        elif kind == 2:  # a given changed
            r, c = np.argwhere(puzzle > 0)[0]
            answer[r, c] = answer[r, c] % n + 1
        elif kind == 3:  # a blank left
            answer[rng.integers(n), rng.integers(n)] = 0
        puzzles.append(puzzle)
        answers.append(answer)
    mask = solved_mask(np.stack(puzzles), np.stack(answers), box_rows, box_cols)
    expected = [check_solution(p, a, box_rows, box_cols).ok for p, a in zip(puzzles, answers)]
    assert mask.tolist() == expected and 0 < sum(expected) < len(expected)


def test_confident_consistent_cells_adds_confident_cells_that_break_no_rule():
    puzzle = np.array(parse("1..." "...." "...." "....", 4))
    answer = np.array(parse("1234" "3412" "2143" "4321", 4))
    answer[0, 1] = 1  # wrong: a second 1 in row 1
    confidence = np.full((4, 4), 0.5)
    confidence[0, 1], confidence[1, 0], confidence[1, 1], confidence[3, 3] = 0.99, 0.95, 0.92, 0.89
    partial = confident_consistent_cells(puzzle, answer, confidence, 2, 2, 0.9)
    expected = puzzle.copy()
    expected[1, 0], expected[1, 1] = 3, 4  # the clashing 1 is skipped; 0.89 is under the threshold
    assert partial.tolist() == expected.tolist() and puzzle[1, 0] == 0  # the puzzle itself is not changed
    confidence[1, 1] = 0.96  # now tried before (1, 0): both still fit
    assert confident_consistent_cells(puzzle, answer, confidence, 2, 2, 0.9).tolist() == expected.tolist()
    answer[1, 1] = 3  # the same digit as (1, 0): the more confident (1, 1) goes in, (1, 0) clashes with it
    assert confident_consistent_cells(puzzle, answer, confidence, 2, 2, 0.9)[1].tolist() == [0, 3, 0, 0]
    with pytest.raises(VerifierInputError):
        confident_consistent_cells(puzzle, answer[:3], confidence, 2, 2, 0.9)
