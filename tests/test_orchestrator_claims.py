"""Claims in a model's text, one kind at a time: true ones pass, false and uncheckable ones fail."""

import pytest

from orchestrator.claims import Knowledge, check_claims, failed, hint_knowledge, solve_knowledge, steps_knowledge
from orchestrator.facts import CellFact, SolveFacts, StepsFacts, find_hint, solving_steps
from orchestrator.language import template_hint, template_solve_explanation, template_steps
from verifiers import sudoku as rules

P4 = [[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]]
S4 = rules.analyse_puzzle(P4, 2, 2).solution  # [[1,2,3,4],[3,4,1,2],[4,1,2,3],[2,3,4,1]]
HINT = find_hint(P4, S4)  # r1c2 = 2, a naked single
HINT_K = hint_knowledge(P4, S4, HINT)


def kinds_ok(text, k=HINT_K):
    return [(c.kind, c.ok) for c in check_claims(text, k)]


def accepted(text, k=HINT_K):
    return not failed(check_claims(text, k))


def test_the_templates_own_claims_all_hold():
    assert HINT.row == 1 and HINT.col == 2 and HINT.technique == "naked_single"
    assert accepted(template_hint(HINT))
    facts = SolveFacts(task="sudoku-4x4", status="solved", verified=True, path="hrm", path_meaning="", model_correct=True,
                       segments_used=4, halted_at=4, search_nodes=0, givens=6, blanks=10, least_confident=[], notes=[])
    assert accepted(template_solve_explanation(facts), solve_knowledge(P4, S4, facts))
    unsure = facts.model_copy(update={"least_confident": [CellFact(row=1, col=2, digit=2, confidence_percent=87)]})
    assert accepted(template_solve_explanation(unsure), solve_knowledge(P4, S4, unsure))
    assert not accepted("The least sure cell was r1c2 (3, 87%).", solve_knowledge(P4, S4, unsure))
    steps = solving_steps(P4, S4)
    shown = StepsFacts(total_steps=len(steps), guesses=0, first=3, steps=steps[2:6])
    assert accepted(template_steps(shown), steps_knowledge(P4, S4, steps, shown))


@pytest.mark.parametrize("text, ok", [
    ("r1c2 is 2.", True),
    ("Row 1, column 2 holds 2.", True),
    ("2 goes in r1c2.", True),
    ("r1c1 is 1.", True),  # a given
    ("r1c2 is 3.", False),  # false
    ("Row 1, column 1 holds 4.", False),  # a given, misquoted
    ("r2c1 is 3.", False),  # true in the solution, but a hint does not reveal it
])
def test_cell_claims(text, ok):
    assert accepted(text) is ok


@pytest.mark.parametrize("text, ok", [
    ("Row 1 already has 1 and 4.", True),
    ("Column 2 has 3, 4.", True),
    ("3 is not in row 1.", True),
    ("Row 2 is missing 1, 2 and 3.", True),
    ("Row 1 has 3.", False),
    ("4 is not in column 2.", False),
    ("Row 1 is 1 2 3 4.", False),  # the whole row: not revealed by a hint
    ("Row 1 is 1 4 2 4.", False),  # and false anyway
])
def test_unit_claims(text, ok):
    assert accepted(text) is ok


@pytest.mark.parametrize("text, ok", [
    ("r1c2 must be 2: it is the only digit left.", True),
    ("r1c2 must be 2 because its row, column and box rule out 1, 3 and 4.", True),
    ("r1c2 must be 3.", False),
    ("That rules out 1, 2 and 3 for r1c2.", False),  # 2 is not in its row, column or box
    ("r1c2 must be 2: it is the only place for 2 in row 1.", False),  # wrong reason: r1c3 also allows 2
])
def test_forced_claims_and_their_reasons(text, ok):
    assert accepted(text) is ok


def test_count_path_and_status_claims():
    facts = SolveFacts(task="sudoku-4x4", status="solved", verified=True, path="search", path_meaning="",
                       model_correct=False, segments_used=8, halted_at=8, search_nodes=3, givens=6, blanks=10,
                       least_confident=[], notes=[])
    k = solve_knowledge(P4, S4, facts)
    assert accepted("It keeps all 6 givens, fills 10 blanks; the search took 3 branching steps.", k)
    assert accepted("This 4x4 puzzle has a unique solution.", k)
    assert not accepted("It keeps all 7 givens.", k)
    assert not accepted("The HRM found it on its own.", k)  # it was the search
    assert not accepted("It took 8 segments and 12 steps.", k)  # no steps count in these facts
    assert not accepted("This puzzle has more than one solution.", k)
    assert not accepted("I am 97% sure.", k)
    assert not accepted("A 9x9 puzzle.", k)


def test_numbers_in_no_checkable_claim_fail():
    # The hint reported in the issue: no cell, and digit lists that match no claim.
    claims = check_claims("The number 5 is in the box 2,3,6,8,9, and is not in the row 5,3,4,8.", HINT_K)
    assert any(c.kind == "uncheckable" and not c.ok for c in claims)
    assert not accepted("Trust me, the answer starts with 1234.")


def test_a_check_reply_may_name_only_the_bad_cells():
    k = Knowledge(puzzle=S4, mentionable={(0, 1)}, revealable=set())
    assert accepted("Look again at r1c2.", k)
    assert not accepted("Look again at r3c3.", k)


def test_steps_claims_follow_the_path():
    steps = solving_steps(P4, S4)
    shown = StepsFacts(total_steps=len(steps), guesses=0, first=1, steps=steps[:3])
    k = steps_knowledge(P4, S4, steps, shown)
    assert accepted("Step 1: r1c2 = 2, the only digit left there.", k)
    assert not accepted("Step 1: r1c2 = 3.", k)
    assert not accepted("Step 2: r1c3 = 3, the only place for 3 in column 3.", k)  # found as a naked single
    assert not accepted("Step 9: r4c4 = 1.", k)  # a step that is not shown
    assert not accepted(f"There are {len(steps) + 1} steps.", k)


def test_verifier_reasons_are_shown_counted_from_1():
    from orchestrator.facts import check_answer, as_people_write

    assert as_people_write("box 1 (rows 1-2, columns 1-2) has 1 twice at (1,1),(1,2)") == \
        "box 1 (rows 1-2, columns 1-2) has 1 twice at r1c1,r1c2"
    wrong = [row[:] for row in S4]
    wrong[0][0] = 2  # the given 1 at r1c1
    assert any("given 1 at r1c1 was changed to 2" in r for r in check_answer(P4, wrong).verifier_reasons)


@pytest.mark.parametrize("seed", [0, 2])
def test_every_true_step_text_passes_and_a_changed_one_fails(seed):
    # Seeds 0 and 2 need hidden singles, locked candidates and (seed 0) a guess: every kind of step.
    import numpy as np

    from reasoner.tasks import SudokuTask

    puzzles, _ = SudokuTask(3, 3).generate(1, (54, 56), np.random.default_rng(seed), progress=False)
    puzzle = puzzles[0].tolist()
    solution = rules.analyse_puzzle(puzzle, 3, 3).solution
    steps = solving_steps(puzzle, solution)
    for i in range(0, len(steps), 5):
        shown = StepsFacts(total_steps=len(steps), guesses=sum(s.rule == "guess" for s in steps), first=i + 1,
                           steps=steps[i : i + 5])
        k = steps_knowledge(puzzle, solution, steps, shown)
        text = template_steps(shown)
        assert accepted(text, k), text
        for s in shown.steps:
            wrong = 1 + s.digit % 9  # another digit, named where this step names its own
            line = template_steps(StepsFacts(total_steps=shown.total_steps, guesses=shown.guesses, first=shown.first,
                                             steps=[s])).replace(f" {s.digit} ", f" {wrong} ").replace(f"= {s.digit} ", f"= {wrong} ")
            if line != template_steps(StepsFacts(total_steps=shown.total_steps, guesses=shown.guesses,
                                                 first=shown.first, steps=[s])):
                assert not accepted(line, k), line


@pytest.mark.parametrize("text", ["r9c9 rules out 3.", "r9c9 still allows 2 and 3.", "r5c1 is 2.", "2 goes in r7c7.",
                                  "a guess between r9c9=2 and r9c9=3.", "r0c0 is the only place for 2 in row 1."])
def test_cells_outside_the_grid_are_failed_claims_not_crashes(text):
    claims = check_claims(text, HINT_K)  # a 4x4 puzzle: no row or column past 4
    assert claims and failed(claims)
