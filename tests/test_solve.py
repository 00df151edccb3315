"""The public inference API: typed results, verification, repair/search, bad input."""

import json

import numpy as np
import pytest
import torch

from reasoner import ContradictoryPuzzleError, PuzzleBatchError, PuzzleInputError, SolveResult, solve
from reasoner.checkpoint import CheckpointCard, save_checkpoint
from reasoner.cli import main as cli_main
from reasoner.config import cpu_tiny
from reasoner.inference import CHECKPOINT_DIR
from reasoner.model import HRM
from reasoner.tasks import SudokuTask
from verifiers import sudoku as rules

from .conftest import DATA_DIR, needs_data

TASK4 = SudokuTask(2, 2)
# A 4x4 puzzle with a unique solution (checked below) and its solution.
PUZZLE4 = "1..4.4....2..3.."
UNIQUE_9X9 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


@pytest.fixture(scope="module")
def untrained_checkpoint(tmp_path_factory):
    """An untrained 4x4 model: its own answers are wrong, so repair and search must do the work."""
    torch.manual_seed(0)
    cfg = cpu_tiny(TASK4.vocab_size, TASK4.seq_len)
    path = tmp_path_factory.mktemp("ckpt") / "untrained"
    return save_checkpoint(HRM(cfg), path, CheckpointCard(task=TASK4.spec(), model=cfg, seed=0))


def generated_4x4(count, seed=0):
    puzzles, solutions = TASK4.generate(count, (8, 10), np.random.default_rng(seed), progress=False)
    return [TASK4.to_string(p) for p in puzzles], solutions


def test_puzzle_fixture_is_unique():
    assert rules.analyse_puzzle(TASK4.parse(PUZZLE4), 2, 2).status is rules.PuzzleStatus.UNIQUE


def test_wrong_model_answers_are_never_presented_as_solutions(untrained_checkpoint):
    puzzles, solutions = generated_4x4(6)
    results = solve(puzzles, checkpoint=untrained_checkpoint, repair=False)
    assert all(isinstance(r, SolveResult) for r in results)
    for r in results:
        assert r.verified == r.model_correct
        if not r.model_correct:
            assert r.answer is None and r.status == "unsolved" and r.path == "none" and r.model_errors


def test_repair_and_search_always_end_verified_and_record_the_path(untrained_checkpoint):
    puzzles, solutions = generated_4x4(6, seed=1)
    results = solve(puzzles, checkpoint=untrained_checkpoint)
    for r, solution in zip(results, solutions):
        assert r.verified and r.status == "solved"
        assert np.array_equal(r.answer, solution)
        assert r.path in ("hrm", "hrm+repair", "search")
        if r.path == "search":
            assert r.search_nodes >= 0
    assert any(r.path != "hrm" for r in results)  # the untrained model cannot do it alone


def test_result_fields_describe_the_run(untrained_checkpoint):
    r = solve(PUZZLE4, checkpoint=untrained_checkpoint, segments=3, halting="fixed")
    assert r.task == "sudoku-4x4" and r.segments_used == 3
    assert 1 <= r.halted_at <= 3
    assert np.array(r.confidence).shape == (4, 4)
    assert all(0 <= c <= 1 for row in r.confidence for c in row)
    assert np.array(r.model_answer).shape == (4, 4)
    assert r.answer_string() is not None and len(r.answer_string()) == 16
    act = solve(PUZZLE4, checkpoint=untrained_checkpoint, segments=3, halting="act")  # the answer where ACT halts
    assert act.segments_used == act.halted_at


def test_accepts_strings_lists_and_arrays_single_and_batched(untrained_checkpoint):
    grid = TASK4.parse(PUZZLE4)
    from_text = solve(PUZZLE4, checkpoint=untrained_checkpoint)
    from_list = solve(grid.tolist(), checkpoint=untrained_checkpoint)
    from_array = solve(grid, checkpoint=untrained_checkpoint)
    assert from_text.answer == from_list.answer == from_array.answer
    batch = solve(np.stack([grid, grid]), checkpoint=untrained_checkpoint)
    assert isinstance(batch, list) and len(batch) == 2 and batch[0].answer == from_text.answer
    assert len(solve([PUZZLE4, grid.tolist()], checkpoint=untrained_checkpoint)) == 2
    rows = ["1..4", ".4..", "..2.", ".3.."]  # four row strings: one grid, not four puzzles
    assert solve(rows, checkpoint=untrained_checkpoint).answer == from_text.answer


def test_multiple_and_no_solution_puzzles_are_reported_honestly(untrained_checkpoint):
    several = solve("." * 16, checkpoint=untrained_checkpoint)
    assert several.status == "multiple_solutions" and several.verified and "more than one solution" in several.notes[0]
    assert rules.check_solution(np.zeros((4, 4), int), several.answer, 2, 2).ok
    # No rule is broken by the givens, yet no completion exists: (0,0) can hold neither 1 nor 2
    # (row and column) and 3 and 4 are both elsewhere in its box.
    impossible = "..12" "34.." "2..." "1..."
    assert rules.analyse_puzzle(TASK4.parse(impossible), 2, 2).status is rules.PuzzleStatus.NO_SOLUTION
    none = solve(impossible, checkpoint=untrained_checkpoint)
    assert none.status == "no_solution" and none.answer is None and not none.verified


def test_already_solved_grid_is_accepted(untrained_checkpoint):
    r = solve("1234341221434321", checkpoint=untrained_checkpoint)
    assert r.status == "solved" and r.answer_string() == "1234341221434321"


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ("123", PuzzleInputError, "16, 36 or 81 cells"),
        ("1..4.4....2..3.x", PuzzleInputError, "character 'x'"),
        ("11..............", ContradictoryPuzzleError, "row"),
        ([], PuzzleInputError, "no puzzle"),
        (42, PuzzleInputError, "cannot read"),
    ],
)
def test_bad_input_raises_clear_typed_errors(untrained_checkpoint, bad, error, message):
    with pytest.raises(error, match=message):
        solve(bad, checkpoint=untrained_checkpoint)


def test_batch_errors_name_every_bad_puzzle_counting_from_1(untrained_checkpoint):
    with pytest.raises(PuzzleBatchError, match=r"2 of 3 puzzles cannot be used: puzzle 2: row 1 has 1 twice.*puzzle 3: ") as err:
        solve([PUZZLE4, "11..............", "1..4"], checkpoint=untrained_checkpoint)
    assert sorted(err.value.errors) == [1, 2] and isinstance(err.value.errors[1], ContradictoryPuzzleError)


def test_missing_checkpoint_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one with"):
        solve(PUZZLE4, checkpoint=tmp_path / "nothing.safetensors")


def test_cli_prints_a_verified_grid_and_uses_exit_codes(untrained_checkpoint, capsys):
    assert cli_main([PUZZLE4, "--checkpoint", str(untrained_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "solved: verified by the rule checker" in out and "1 2 | 3 4" in out
    assert cli_main(["12", "--checkpoint", str(untrained_checkpoint)]) == 2
    assert "error:" in capsys.readouterr().err
    assert cli_main([PUZZLE4, "--no-repair", "--checkpoint", str(untrained_checkpoint)]) in (0, 1)


@pytest.mark.parametrize(
    "box, blanks, count, at_least",
    [((2, 2), (8, 10), 50, 45), ((2, 3), (18, 18), 40, 36), ((3, 3), (40, 40), 20, 16)],
)
def test_shipped_checkpoints_solve_held_out_puzzles_on_their_own(box, blanks, count, at_least):
    # Generated with a seed no training run uses; the bars sit below each card's validation score.
    task = SudokuTask(*box)
    puzzles = [task.to_string(p) for p in task.generate(count, blanks, np.random.default_rng(4242), progress=False)[0]]
    if task.size == 4:  # few distinct 4x4 puzzles exist: leave out any the model was trained on
        card = json.loads((CHECKPOINT_DIR / "sudoku-4x4.json").read_text())
        train = task.load_examples(card["data"]["train"], np.random.default_rng(card["seed"]), progress=False)
        seen = {task.to_string(task.decode(row)) for row in train.inputs}
        puzzles = [p for p in puzzles if p not in seen]
        count, at_least = len(puzzles), at_least - (count - len(puzzles))
    results = solve(puzzles)
    alone = sum(r.path == "hrm" for r in results)
    assert all(r.verified for r in results)
    assert alone >= at_least, f"the shipped {task!r} model solved only {alone}/{count} by itself"


@pytest.mark.slow
def test_compiled_solve_gives_the_answers_of_the_uncompiled_one():
    task = SudokuTask(3, 3)
    puzzles = [task.to_string(p) for p in task.generate(12, (50, 50), np.random.default_rng(4243), progress=False)[0]]
    plain = solve(puzzles, repair=False, segments=8, precision="fp32")
    compiled = solve(puzzles, repair=False, segments=8, precision="fp32", compile=True)
    assert [r.answer for r in compiled] == [r.answer for r in plain]
    assert [r.segments_used for r in compiled] == [r.segments_used for r in plain]
    assert any(r.answer is None for r in plain) and any(r.answer is not None for r in plain)  # the batch shrank


@pytest.fixture(scope="module")
def untrained_9x9_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    task = SudokuTask(3, 3)
    cfg = cpu_tiny(task.vocab_size, task.seq_len)
    return save_checkpoint(HRM(cfg), tmp_path_factory.mktemp("ckpt9") / "untrained", CheckpointCard(task=task.spec(), model=cfg))


@needs_data
def test_every_tdoku_puzzle_gets_the_right_verdict_through_solve(untrained_9x9_checkpoint):
    folder = DATA_DIR / "sudoku"
    puzzles = (folder / "tdoku_test_puzzles.txt").read_text().split()
    labels = (folder / "tdoku_test_puzzles.labels.txt").read_text().split()
    solutions = (folder / "tdoku_test_puzzles.solutions.txt").read_text().split()
    assert len(puzzles) == len(labels) == len(solutions) == 43
    for puzzle, label, solution in zip(puzzles, labels, solutions):
        try:
            r = solve(puzzle, checkpoint=untrained_9x9_checkpoint)
        except ContradictoryPuzzleError:
            assert label == "none", puzzle
            continue
        expected = {"unique": "solved", "multiple": "multiple_solutions", "none": "no_solution"}[label]
        assert r.status == expected, puzzle
        if label == "unique":
            assert r.answer_string() == solution
        if label == "multiple":
            assert r.verified and rules.check_solution(r.puzzle, r.answer, 3, 3).ok
        if label == "none":
            assert r.answer is None and not r.verified


def test_cli_names_the_bad_line_of_a_file(untrained_checkpoint, tmp_path, capsys):
    path = tmp_path / "puzzles.txt"
    path.write_text(f"{PUZZLE4}\n{PUZZLE4}\n11..............\n")
    assert cli_main(["--file", str(path), "--checkpoint", str(untrained_checkpoint)]) == 2
    assert "line 3:" in capsys.readouterr().err
    path.write_text(f"{PUZZLE4}\n" * 3)
    assert cli_main(["--file", str(path), "--checkpoint", str(untrained_checkpoint)]) == 0
    expected = rules.grid_to_string(rules.analyse_puzzle(TASK4.parse(PUZZLE4), 2, 2).solution)
    assert capsys.readouterr().out.split() == [expected] * 3


class ScriptedModel(torch.nn.Module):
    """Stands in for an HRM: row b's answer becomes the solution from segment `right_from[b]` on, and
    its Q-head halts from segment `halt_from[b]` on (or rates the answer `q_halt_wrong` before)."""

    def __init__(self, solutions, right_from, halt_from, q_halt_wrong=-1.0):
        super().__init__()
        self.cfg = cpu_tiny(TASK4.vocab_size, TASK4.seq_len)
        self.tokens = torch.from_numpy(np.stack([TASK4.encode(s) for s in solutions]))
        self.right_from, self.halt_from, self.q_halt_wrong = right_from, halt_from, q_halt_wrong
        self.seen = []  # batch size of every call

    def initial_carry(self, batch, device=None):
        from reasoner.model import Carry
        rows = torch.arange(batch, dtype=torch.float32)[:, None, None]  # the carry remembers the row ...
        return Carry(rows.expand(batch, 1, 1).clone(), torch.zeros(batch, 1, 1))  # ... and the segments run

    def forward(self, carry, inputs, puzzle_ids):
        from reasoner.model import Carry, SegmentOutput
        self.seen.append(len(inputs))
        rows, segment = carry.z_H[:, 0, 0].long(), carry.z_L[:, 0, 0] + 1
        right = segment >= torch.tensor(self.right_from)[rows]
        wrong = torch.where(self.tokens[rows] == 2, 3, 2)  # every cell off by one digit
        answer = torch.where(right[:, None], self.tokens[rows], wrong)
        logits = torch.nn.functional.one_hot(answer, TASK4.vocab_size).float() * 10
        halts = segment >= torch.tensor(self.halt_from)[rows]
        q_halt = torch.where(halts, 1.0, self.q_halt_wrong)
        return SegmentOutput(Carry(carry.z_H, carry.z_L + 1), logits, q_halt, torch.zeros(len(inputs)))


def run_scripted(halting, right_from, halt_from, q_halt_wrong=-1.0, segments=6, give_up=None):
    from reasoner import inference

    puzzles, solutions = generated_4x4(len(right_from), seed=3)
    model = ScriptedModel(solutions, right_from, halt_from, q_halt_wrong)
    grids = np.stack([TASK4.parse(p) for p in puzzles])
    answers, _, run = inference.run_model(model, TASK4, grids, segments, halting, "cpu", "fp32", give_up)
    right = [bool(np.array_equal(a, s)) for a, s in zip(answers, solutions)]
    return right, run, model.seen


def test_verified_halting_stops_each_puzzle_at_its_first_verified_answer():
    right, run, seen = run_scripted("verified", right_from=[2, 4, 99], halt_from=[5, 1, 99])
    assert right == [True, True, False]
    assert run.used.tolist() == [2, 4, 6]  # the unsolvable one runs every segment
    assert run.halted_at.tolist() == [2, 1, 6]  # where the Q-head would have halted (within the segments run)
    assert seen == [3, 3, 2, 2, 1, 1]  # a stopped puzzle leaves the batch
    assert not run.gave_up.any()


def test_act_and_fixed_halting_take_the_answer_where_they_stop():
    right, run, _ = run_scripted("act", right_from=[2, 4], halt_from=[1, 5])
    assert right == [False, True] and run.used.tolist() == [1, 5] and run.halted_at.tolist() == [1, 5]
    right, run, seen = run_scripted("fixed", right_from=[2, 4], halt_from=[1, 5])
    assert right == [True, True] and run.used.tolist() == [6, 6] and seen == [2] * 6


def test_verified_halting_gives_up_where_the_q_head_rates_the_answer_hopeless():
    from reasoner.checkpoint import GiveUp

    for from_segment in (1, 2, 3):
        right, run, _ = run_scripted("verified", right_from=[1, 99], halt_from=[99, 99], q_halt_wrong=-6.0,
                                     give_up=GiveUp(logit=-5.0, from_segment=from_segment))
        assert right == [True, False]  # a verified answer is taken even when the Q-head doubts it
        assert run.used.tolist() == [1, from_segment] and run.gave_up.tolist() == [False, True]
    # Above the threshold, or with no threshold (a card without one), it runs to the last segment.
    for give_up in (GiveUp(logit=-7.0), None):
        _, run, _ = run_scripted("verified", right_from=[1, 99], halt_from=[99, 99], q_halt_wrong=-6.0, give_up=give_up)
        assert run.used.tolist() == [1, 6] and not run.gave_up.any()


def test_solve_gives_up_as_the_checkpoint_card_says(untrained_checkpoint, tmp_path):
    import shutil
    from pathlib import Path

    from reasoner.inference import load_model

    # An untrained model's Q-head sits near its initial bias (-5): a card threshold above it gives up
    # at once; the card without one runs every segment.
    weights = Path(untrained_checkpoint)
    copy = tmp_path / "give-up.safetensors"
    shutil.copy(weights, copy)
    card = json.loads(weights.with_suffix(".json").read_text())
    card["give_up"] = {"logit": 0.0, "from_segment": 1, "measured": "test"}
    copy.with_suffix(".json").write_text(json.dumps(card))
    load_model.cache_clear()
    hard = "1...\n....\n....\n...."  # a 4x4 with many solutions: an untrained model does not verify it
    assert solve(hard, checkpoint=str(copy), segments=5, repair=False).segments_used == 1
    assert solve(hard, checkpoint=untrained_checkpoint, segments=5, repair=False).segments_used == 5
    # The threshold was measured for one plain copy: copies or commitments run on.
    assert solve(hard, checkpoint=str(copy), segments=5, repair=False, views=2).segments_used == 5
    assert solve(hard, checkpoint=str(copy), segments=5, repair=False, commit=1).segments_used == 5


def test_precision_switch(untrained_checkpoint):
    for precision in ("fp32", "bf16", "auto"):
        assert solve(PUZZLE4, checkpoint=untrained_checkpoint, precision=precision).verified
    with pytest.raises(ValueError, match="precision"):
        solve(PUZZLE4, checkpoint=untrained_checkpoint, precision="fp16")


def test_bad_input_is_reported_before_torch_loads():
    # Start-up: the command line checks every puzzle before importing torch (which takes seconds).
    import subprocess
    import sys

    code = ("import sys; from reasoner.cli import main; "
            "codes = [main(['12']), main(['53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8.x79'])]; "
            "print(codes, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[2, 2] False", out.stdout + out.stderr
    assert "16, 36 or 81 cells" in out.stderr and "'x'" in out.stderr


def test_a_small_batch_runs_on_one_thread_and_restores_the_setting(untrained_checkpoint, monkeypatch):
    from reasoner import inference

    seen = []
    real = inference.answer_probs

    def spy(model, *args, **kwargs):
        hook = model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
        try:
            return real(model, *args, **kwargs)
        finally:
            hook.remove()

    monkeypatch.setattr(inference, "answer_probs", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        solve(PUZZLE4, checkpoint=untrained_checkpoint, device="cpu")
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


class ViewSolver(torch.nn.Module):
    """Stands in for an HRM that solves only the rows `solved_rows` of a batch (from its first segment):
    the others get a wrong answer. Its answers are in the coordinates of the rows it is given. Its
    halt logit is -9 (Q(continue): `q_continue`, 0: keep going) except where `confidence` maps a row to
    (from which segment, logit)."""

    def __init__(self, solved_rows, confidence=None, q_continue=0.0):
        super().__init__()
        self.cfg = cpu_tiny(TASK4.vocab_size, TASK4.seq_len)
        self.solved_rows = set(solved_rows)
        self.confidence = confidence or {}
        self.q_continue = q_continue

    def initial_carry(self, batch, device=None):
        from reasoner.model import Carry
        rows = torch.arange(batch, dtype=torch.float32)[:, None, None]
        return Carry(rows.clone(), torch.zeros(batch, 1, 1))  # z_H: the row; z_L: segments run

    def forward(self, carry, inputs, puzzle_ids):
        from reasoner.model import Carry, SegmentOutput
        carry = Carry(carry.z_H, carry.z_L + 1)
        rows, segment = carry.z_H[:, 0, 0].long().tolist(), int(carry.z_L[0, 0, 0])
        q_halt = [self.confidence.get(row, (1, -9.0)) for row in rows]
        q_halt = torch.tensor([logit if segment >= start else -9.0 for start, logit in q_halt])
        answers = []
        for row, tokens in zip(rows, inputs.numpy()):
            grid = TASK4.decode(tokens)
            solution = np.asarray(rules.guided_search(grid, 2, 2).solution)
            answers.append(TASK4.encode(solution if row in self.solved_rows else np.where(grid > 0, grid, 1)))
        logits = torch.nn.functional.one_hot(torch.from_numpy(np.stack(answers)), TASK4.vocab_size).float() * 10
        return SegmentOutput(carry, logits, q_halt, torch.full((len(inputs),), self.q_continue))


def test_views_take_the_first_copy_whose_answer_verifies_mapped_back():
    from reasoner.inference import answer_probs

    puzzles, solutions = generated_4x4(3, seed=5)
    grids = np.stack([TASK4.parse(p) for p in puzzles])
    # Four copies per puzzle (rows 4b .. 4b+3); the model solves copy 2 of puzzle 0, copy 3 of puzzle 2.
    run = answer_probs(ViewSolver({2, 11}), TASK4, grids, 3, "verified", "cpu", "fp32", views=4)
    answers = run.probs.argmax(-1).numpy() - 1  # tokens 2.. are digits 1..
    assert np.array_equal(answers[0].reshape(4, 4), solutions[0]) and np.array_equal(answers[2].reshape(4, 4), solutions[2])
    assert not np.array_equal(answers[1].reshape(4, 4), solutions[1])  # no copy of it was solved
    assert run.used.tolist() == [1, 3, 1]  # a verified copy stops every copy of its puzzle
    # One view is the puzzle itself: the same model, without views, solves none of them but row 2's puzzle.
    run = answer_probs(ViewSolver({2}), TASK4, grids, 3, "verified", "cpu", "fp32")
    assert [np.array_equal(a.reshape(4, 4), s) for a, s in zip(run.probs.argmax(-1).numpy() - 1, solutions)] == [False, False, True]


def test_views_without_the_verifier_take_the_copy_the_halting_head_is_surest_of():
    from reasoner.inference import answer_probs

    puzzles, solutions = generated_4x4(3, seed=5)
    grids = np.stack([TASK4.parse(p) for p in puzzles])

    def right(run):
        return [np.array_equal(a.reshape(4, 4), s) for a, s in zip(run.probs.argmax(-1).numpy() - 1, solutions)]

    # Copies solved: 2 of puzzle 0, 3 of puzzle 2. The head is surest of copy 2 of puzzle 0 (and, less,
    # of its wrong copy 1), of the wrong copy 1 of puzzle 1 (from segment 2), and of the right copy of
    # puzzle 2 only from segment 3.
    confidence = {1: (1, 2.0), 2: (1, 3.0), 5: (2, 4.0), 11: (3, 1.0), 10: (1, -1.0)}
    model = ViewSolver({2, 11}, confidence, q_continue=-2.0)
    run = answer_probs(model, TASK4, grids, 3, "fixed", "cpu", "fp32", views=4)
    assert right(run) == [True, False, True] and run.used.tolist() == [3, 3, 3]
    # ACT: a puzzle stops once a settled copy (the same answer a segment before: from segment 2 here)
    # has a halt logit above SURE (2), answered by the surest copy; a copy halting as hopeless (logit
    # -1 > Q(continue) -2) stops nothing.
    run = answer_probs(model, TASK4, grids, 3, "act", "cpu", "fp32", views=4)
    assert right(run) == [True, False, True] and run.used.tolist() == [2, 2, 3]
    # Under SURE one positive logit does not stop a puzzle (a wrong copy of puzzle 0 has the highest
    # from segment 1): two copies giving the same answer do (its right copies 0 and 2, at segment 2).
    agreeing = ViewSolver({0, 2}, {0: (1, 1.0), 1: (1, 1.5), 2: (2, 0.5)}, q_continue=-2.0)
    run = answer_probs(agreeing, TASK4, grids, 3, "act", "cpu", "fp32", views=4)
    assert right(run)[0] and run.used.tolist() == [2, 3, 3]
    # With only 2 segments, puzzle 2's right copy is never the surest: the answer is wrong, not verified.
    run = answer_probs(model, TASK4, grids, 2, "fixed", "cpu", "fp32", views=4)
    assert right(run) == [True, False, False]
    # Through solve(): the shipped 4x4 model, HRM alone with model-picked copies.
    for halting in ("act", "fixed"):
        result = solve(PUZZLE4, views=4, halting=halting, repair=False)
        assert result.verified and result.path == "hrm" and result.model_correct


def test_views_map_back_the_answer_their_verdict_was_about_even_where_tokens_tie():
    from reasoner.views import undo_probs

    task = SudokuTask(3, 3)
    cells, tokens = task.view_maps(4, np.random.default_rng(1))
    probs = torch.full((4, task.seq_len, task.vocab_size), 0.01)
    probs[:, :, 2:4] = 0.49  # digits 1 and 2 tie everywhere: each view answers its token 2
    for v, back in enumerate(undo_probs(probs, cells, tokens, np.arange(4)).argmax(-1).numpy()):
        assert (tokens[v][back] == 2).all()  # token k of the puzzle is token t[k] of the view


def test_agreeing_copies_need_a_sure_logit_or_a_second_copy_with_the_same_answer():
    from reasoner.views import agreeing_copies

    # Puzzle 0: two copies agree. Puzzle 1: one sure copy (3 > 2), two that disagree. Puzzle 2: one
    # copy alone, not sure; and a same answer from another puzzle does not count.
    puzzle = np.array([0, 0, 1, 1, 1, 2])
    answers = np.array([[1, 2], [1, 2], [3, 4], [3, 5], [3, 6], [1, 2]])
    q_halt = np.array([0.5, 0.5, 3.0, 0.5, 0.5, 0.5])
    assert agreeing_copies(puzzle, answers, q_halt).tolist() == [True, True, True, False, False, False]
    assert agreeing_copies(puzzle, answers, q_halt, sure=0.4).all()


def test_pick_views_scores_the_verifier_and_the_halting_head():
    from reasoner.views import pick_views

    # [segments 2, puzzles 2, views 3]. Puzzle 0: copy 1 right from segment 1, the head surest of it at
    # segment 2 only. Puzzle 1: copy 2 right at segment 1 only, the head surest of copy 0 throughout.
    accepted = np.array([[[0, 1, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]], dtype=bool)
    q_halt = np.array([[[1.0, 0.0, -1.0], [2.0, 0.0, 1.0]], [[0.0, 3.0, -1.0], [2.0, 0.0, 1.0]]])
    scores = pick_views(accepted, q_halt)
    assert scores.verified.tolist() == [[True, True], [True, True]]  # a verified copy stays found
    assert scores.picked.tolist() == [[False, False], [True, False]]


def test_views_are_symmetries_and_map_back():
    from reasoner.tasks import VARIANTS
    from reasoner.views import apply_views, undo_probs

    for name, source, views in (("sudoku-9x9", "gen:count=2,blanks=40", 6), ("sudoku-6x6", "gen:count=2,blanks=20", 3),
                                ("maze-9x9", "gen:count=2", 8)):
        task = VARIANTS[name].make()
        rng = np.random.default_rng(1)
        examples = task.load_examples(source, rng, progress=False)
        cells, tokens = task.view_maps(views, rng)
        questions, labels = apply_views(examples.inputs, cells, tokens), apply_views(examples.labels, cells, tokens)
        assert np.array_equal(questions[::views], examples.inputs)  # the identity comes first
        assert len({q.tobytes() for q in questions}) == len(questions)  # the others differ
        assert all(task.verify(task.decode(q), task.decode(a)).ok for q, a in zip(questions, labels))
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(labels), task.vocab_size).float()
        back = undo_probs(one_hot, cells, tokens, np.tile(np.arange(views), 2)).argmax(-1).numpy()
        originals = np.repeat(examples.inputs, views, 0)
        assert all(task.verify(task.decode(q), task.decode(a)).ok for q, a in zip(originals, back))
    with pytest.raises(ValueError, match="8 views"):
        VARIANTS["maze-9x9"].make().view_maps(9, rng)


def test_views_and_give_up_options_are_checked():
    for bad in (0, 65, 2.5, True):
        with pytest.raises(ValueError, match="views"):
            solve(PUZZLE4, views=bad)
    with pytest.raises(ValueError, match="give_up"):
        solve(PUZZLE4, give_up="no")


def test_a_segment_run_in_parts_gives_what_one_call_gives():
    from reasoner.inference import forward_in_parts

    torch.manual_seed(0)
    model = HRM(cpu_tiny(TASK4.vocab_size, TASK4.seq_len)).eval()
    inputs = torch.randint(1, TASK4.vocab_size, (7, TASK4.seq_len))
    ids = torch.zeros(7, dtype=torch.long)
    carry = model.initial_carry(7)
    with torch.inference_mode():
        whole = model(carry, inputs, ids)
        for rows in (None, 3, 7, 100):  # parts of 3, 2 and 2 rows; one call
            parts = forward_in_parts(model, carry, inputs, ids, rows)
            for a, b in ((whole.carry.z_H, parts.carry.z_H), (whole.carry.z_L, parts.carry.z_L),
                         (whole.logits, parts.logits), (whole.q_halt, parts.q_halt), (whole.q_continue, parts.q_continue)):
                torch.testing.assert_close(a, b)
