"""The rule-based solving path: every step is a rule that really applies, and it ends at the solution."""

import numpy as np
import pytest

from reasoner.tasks import SudokuTask
from verifiers import sudoku as rules
from verifiers.sudoku_steps import candidates, solving_path

P4 = [[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]]


def generated(seed: int) -> list[list[int]]:
    puzzles, _ = SudokuTask(3, 3).generate(1, (54, 56), np.random.default_rng(seed), progress=False)
    return puzzles[0].tolist()


def replay(puzzle, steps, box_rows, box_cols):
    """Check each step against the board it was taken on; return the final board."""
    grid = [row[:] for row in puzzle]
    removed: dict = {}
    n = len(grid)
    for step in steps:
        cands = candidates(grid, box_rows, box_cols)
        for cell, digits in removed.items():
            if cell in cands:
                cands[cell] -= digits
        if step.rule == "naked_single":
            assert cands[step.cell] == {step.digit}
        elif step.rule == "hidden_single":
            kind, i = step.unit
            unit = {"row": [(i, c) for c in range(n)], "column": [(r, i) for r in range(n)],
                    "box": [(r, c) for r in range(n) for c in range(n) if rules.box_index(r, c, box_rows, box_cols) == i]}[kind]
            assert [rc for rc in unit if step.digit in cands.get(rc, ())] == [step.cell]
        elif step.rule in ("pointing", "claiming"):
            assert step.eliminated and all(step.digit in cands[rc] for rc in step.eliminated)
            for rc in step.eliminated:
                removed.setdefault(rc, set()).add(step.digit)
            continue
        else:  # a guess: no rule applied, and the options are the cell's candidates
            assert step.rule == "guess" and set(step.options) == cands[step.cell] and len(step.options) >= 2
        grid[step.cell[0]][step.cell[1]] = step.digit
    return grid


@pytest.mark.parametrize("seed", [0, 2])
def test_every_step_is_a_rule_that_applies_and_the_path_ends_at_the_solution(seed):
    puzzle = generated(seed)
    solution = rules.analyse_puzzle(puzzle, 3, 3).solution
    steps = solving_path(puzzle, 3, 3)
    assert replay(puzzle, steps, 3, 3) == solution
    kinds = {s.rule for s in steps}
    assert {"naked_single", "hidden_single"} <= kinds
    assert kinds & {"pointing", "claiming"}  # these puzzles need locked candidates


def test_a_guess_is_marked_as_one_with_its_options():
    steps = solving_path(generated(0), 3, 3)
    guesses = [s for s in steps if s.rule == "guess"]
    assert len(guesses) == 1 and len(guesses[0].options) >= 2 and guesses[0].digit in guesses[0].options


def test_small_boards_and_no_solution():
    steps = solving_path(P4, 2, 2)
    assert replay(P4, steps, 2, 2) == rules.analyse_puzzle(P4, 2, 2).solution
    with pytest.raises(ValueError, match="no solution"):
        solving_path([[0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 2, 1], [0, 3, 0, 0]], 2, 2)
