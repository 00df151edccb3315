"""The ARC task plug-in and its evaluation: encoding, augmentations, leakage guard, voting, training."""

import itertools
import json

import numpy as np
import pytest

from reasoner import arc_eval
from reasoner.losses import IGNORE_LABEL
from reasoner.tasks import VARIANTS, ArcTask, PuzzleInputError, make_task
from reasoner.tasks.arc import (DIHEDRAL_INVERSE, EOS_ID, PAD_ID, crop, dihedral, draw, grid_bytes, inverse_colours,
                                transform, untransform)
from reasoner.train import main as train_main

from .conftest import DATA_DIR

# -- small hand-made task sets ------------------------------------------------------------------


def flip_task(seed):
    """Output = input mirrored left to right (3x3 grids)."""
    rng = np.random.default_rng(seed)
    pairs = [rng.integers(0, 4, (3, 3)) for _ in range(4)]
    return {"train": [{"input": g.tolist(), "output": g[:, ::-1].tolist()} for g in pairs[:3]],
            "test": [{"input": pairs[3].tolist(), "output": pairs[3][:, ::-1].tolist()}]}


def recolour_task(seed):
    """Output = input with colour 1 painted 2 (2x4 grids): not square, so symmetries change its shape."""
    rng = np.random.default_rng(seed)
    grids = [rng.integers(0, 3, (2, 4)) for _ in range(5)]
    pair = lambda g: {"input": g.tolist(), "output": np.where(g == 1, 2, g).tolist()}  # noqa: E731
    return {"train": [pair(g) for g in grids[:3]], "test": [pair(g) for g in grids[3:]]}


def write_tasks(root, folder, tasks):
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    for name, task in tasks.items():
        (path / f"{name}.json").write_text(json.dumps(task))


@pytest.fixture
def toy(tmp_path):
    """Two evaluation tasks and one training task under tmp_path/toy."""
    write_tasks(tmp_path, "toy/evaluation", {"flip01": flip_task(1), "recol02": recolour_task(2)})
    write_tasks(tmp_path, "toy/training", {"copy03": {"train": [{"input": [[1, 2]], "output": [[1, 2]]}],
                                                      "test": [{"input": [[3, 0]], "output": [[3, 0]]}]}})
    return tmp_path


def toy_source(root, **extra):
    options = {"eval": "toy/evaluation", "train": "toy/training", "aug": 5, "data": root, **extra}
    return "arc:" + ",".join(f"{k}={v}" for k, v in options.items())


# -- encoding ------------------------------------------------------------------------------------


def test_tokens_canvas_and_round_trip():
    task = ArcTask(canvas=5)
    assert (task.vocab_size, task.seq_len) == (12, 25)
    assert ArcTask().seq_len == 900 and ArcTask().model_hints()["grid_shape"] == (30, 30)
    grid = np.array([[0, 9, 3], [4, 5, 1]])
    board = task.encode(grid).reshape(5, 5)
    assert board[:2, :3].tolist() == [[2, 11, 5], [6, 7, 3]]  # colour c -> c + 2
    assert board[2, :3].tolist() == [EOS_ID] * 3 and board[:2, 3].tolist() == [EOS_ID] * 2  # below, right of it
    assert board[2, 3] == PAD_ID and (board[3:] == PAD_ID).all() and (board[:, 4] == PAD_ID).all()
    assert np.array_equal(task.decode(board.reshape(-1)), grid)
    # A grid that fills the canvas has no marker; one moved away from the top left is not read.
    full = np.arange(25).reshape(5, 5) % 10
    assert not (task.encode(full) == EOS_ID).any() and np.array_equal(task.decode(task.encode(full)), full)
    assert crop(draw(grid, 5, top=1, left=1), 5) is None
    # A hole in the rectangle (a marker or PAD inside it) is no grid: such answers are discarded.
    holed = board.copy()
    holed[1, 1] = EOS_ID
    assert crop(holed.reshape(-1), 5) is None
    with pytest.raises(PuzzleInputError, match="no rectangular grid"):
        task.decode(np.zeros(25, dtype=np.int64))


def test_parse_forms_and_errors():
    task = ArcTask(canvas=5)
    for form in ([[1, 2], [3, 4]], "[[1,2],[3,4]]", "12\n34", np.array([[1, 2], [3, 4]])):
        assert task.parse(form).tolist() == [[1, 2], [3, 4]]
    for bad, message in (([[1, 2], [3]], "ragged"), ([[1, 10]], "outside 0..9"), ("1a\n23", "JSON or lines"),
                         ([[0] * 6], "does not fit the 5x5 canvas")):
        with pytest.raises(PuzzleInputError, match=message):
            task.parse(bad)
    assert task.verify(None, [[1, 2]], [[1, 2]]).ok and not task.verify(None, [[1, 2]], [[2, 1]]).ok


def test_registration():
    assert VARIANTS["arc"].params == {"name": "arc"} and make_task(**VARIANTS["arc-10x10"].params).seq_len == 100
    with pytest.raises(ValueError, match="canvas"):
        ArcTask(canvas=31)


# -- augmentations ------------------------------------------------------------------------------


def test_every_symmetry_and_colour_permutation_is_undone_exactly():
    grid = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]])  # every colour, no symmetry
    images = {grid_bytes(dihedral(grid, k)) for k in range(8)}
    assert len(images) == 8  # the 8 symmetries are distinct
    for k in range(8):
        assert np.array_equal(dihedral(dihedral(grid, k), DIHEDRAL_INVERSE[k]), grid)
    # All 9! permutations of colours 1..9 (0 fixed), at once: the inverse undoes each one.
    perms = np.array([(0, *p) for p in itertools.permutations(range(1, 10))])
    assert len(perms) == 362880
    inverse = inverse_colours(perms)
    assert (np.take_along_axis(inverse, perms, axis=1) == np.arange(10)).all()
    # transform/untransform themselves, under every symmetry with many permutations.
    rng = np.random.default_rng(0)
    for k in range(8):
        for colours in [perms[0], perms[-1], *perms[rng.integers(0, len(perms), 50)]]:
            image = transform(grid, k, colours)
            assert ((image == 0) == (dihedral(grid, k) == 0)).all()  # the background stays 0
            assert np.array_equal(untransform(image, k, colours), grid)


def test_versions_are_deduplicated_and_seeded(tmp_path):
    # A symmetric task using one colour besides 0: the symmetries change nothing, so its only
    # distinct versions are the 9 colours 1 can become.
    plus, cross = [[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    write_tasks(tmp_path, "sym/evaluation", {"plus": {"train": [{"input": plus, "output": plus}],
                                                      "test": [{"input": cross, "output": cross}]},
                                             "flip": flip_task(4)})
    task = ArcTask(canvas=5)
    task.load_examples(f"arc:eval=sym/evaluation,aug=50,data={tmp_path}", progress=False)
    plus_index = [p.task_id for p in task.puzzles].index("plus")
    plus_ids = task.versions_of(plus_index)
    assert len(plus_ids) == 9
    images = {grid_bytes(transform(np.array(plus), *task.version(i)[1:])) for i in plus_ids}
    assert len(images) == 9
    flip_ids = task.versions_of(1 - plus_index)
    assert len(flip_ids) == 51  # identity + 50 distinct versions
    assert task.version(flip_ids[0])[1] == 0 and task.version(flip_ids[0])[2].tolist() == list(range(10))
    assert task.num_puzzle_identifiers == 1 + 9 + 51
    again = ArcTask(canvas=5)
    again.load_examples(f"arc:eval=sym/evaluation,aug=50,data={tmp_path}", progress=False)
    assert again.fingerprint == task.fingerprint and np.array_equal(again.version_colours, task.version_colours)
    other = ArcTask(canvas=5)
    other.load_examples(f"arc:eval=sym/evaluation,aug=50,seed=7,data={tmp_path}", progress=False)
    assert not np.array_equal(other.version_colours, task.version_colours)


def test_translation_moves_input_and_label_together(toy):
    task = ArcTask(canvas=10)
    pool = task.load_examples(toy_source(toy), progress=False)
    moved = task.augment(pool, np.random.default_rng(0))
    assert np.array_equal(moved.puzzle_ids, pool.puzzle_ids)
    shifted = 0
    for i in range(len(pool)):
        board_in, board_out = moved.inputs[i].reshape(10, 10), moved.labels[i].reshape(10, 10)
        rows, cols = np.nonzero(board_in >= 2)
        top, left = rows.min(), cols.min()
        shifted += (top, left) != (0, 0)
        back_in = np.roll(board_in, (-top, -left), axis=(0, 1)).reshape(-1)
        back_out = np.roll(np.where(board_out == IGNORE_LABEL, PAD_ID, board_out), (-top, -left), axis=(0, 1)).reshape(-1)
        assert np.array_equal(crop(back_in, 10), crop(pool.inputs[i], 10))
        assert np.array_equal(crop(back_out, 10), crop(np.where(pool.labels[i] < 0, 0, pool.labels[i]), 10))
        out_rows, out_cols = np.nonzero(board_out >= 2)
        assert (out_rows.min(), out_cols.min()) == (top, left)  # same offset for input and label
    assert 0.4 * len(pool) < shifted < len(pool)


# -- splits, identifiers and leakage ---------------------------------------------------------------


def test_evaluation_test_outputs_are_never_training_data(toy):
    task = ArcTask(canvas=10)
    train = task.load_examples(toy_source(toy), progress=False)
    test, where = task.test_examples(progress=False)
    assert task.num_puzzle_identifiers == 1 + 3 * 6 and set(train.puzzle_ids) == set(range(1, 19))
    training_labels = {row.tobytes() for row in train.labels}
    evaluation = [i for i, p in enumerate(task.puzzles) if p.role == "eval"]
    assert {index for index, _ in where} == set(evaluation) and len(test) == 6 * (1 + 2)
    for row, (index, j) in enumerate(where):
        puzzle, k, colours = task.version(test.puzzle_ids[row])
        assert puzzle is task.puzzles[index]
        assert test.labels[row].tobytes() not in training_labels
        assert np.array_equal(crop(test.inputs[row], 10), transform(puzzle.tests[j][0], k, colours))
    # The training task's test pair is training data; an evaluation task's demonstrations are too.
    copy = next(i for i, p in enumerate(task.puzzles) if p.task_id == "copy03")
    assert (train.puzzle_ids == task.versions_of(copy)[0]).sum() == 2
    flip = next(i for i, p in enumerate(task.puzzles) if p.task_id == "flip01")
    assert (train.puzzle_ids == task.versions_of(flip)[0]).sum() == 3
    # The spec rebuilds the same table; other data behind it are refused.
    rebuilt = make_task(**task.spec())
    rebuilt.ensure_built(progress=False)
    assert rebuilt.num_puzzle_identifiers == task.num_puzzle_identifiers and rebuilt.fingerprint == task.fingerprint
    write_tasks(toy, "toy/evaluation", {"flip01": flip_task(99)})
    with pytest.raises(ValueError, match="differ from those this model was built on"):
        make_task(**task.spec()).ensure_built(progress=False)


def test_leakage_guard_compares_content_not_ids(toy):
    # A training task under another id that holds flip01's test pair: refused, named.
    leaked = flip_task(1)
    write_tasks(toy, "toy/training", {"other": {"train": leaked["test"], "test": leaked["train"][:1]}})
    with pytest.raises(ValueError, match=r"1 evaluation task\(s\).*toy/evaluation/flip01 \(in toy/training/other"):
        ArcTask(canvas=10).load_examples(toy_source(toy), progress=False)
    # leaks=drop removes exactly that pair; leaks=warn keeps it, loudly.
    dropped = ArcTask(canvas=10)
    train = dropped.load_examples(toy_source(toy, leaks="drop"), progress=False)
    assert dropped.dropped_leaks == ["toy/evaluation/flip01"]
    flip = [p for p in dropped.puzzles if p.task_id == "flip01"][0]
    test_label = dropped._label(flip.tests[0][1])
    assert test_label.tobytes() not in {row.tobytes() for row in train.labels}
    with pytest.warns(UserWarning, match="ARC LEAKAGE"):
        ArcTask(canvas=10).load_examples(toy_source(toy, leaks="warn"), progress=False)
    # The same id with a different test pair is no leak.
    (toy / "toy/training/other.json").unlink()
    write_tasks(toy, "toy/training", {"flip01": flip_task(5)})
    assert len(ArcTask(canvas=10).load_examples(toy_source(toy), progress=False)) > 0


@pytest.mark.skipif(not (DATA_DIR / "arc-agi-2" / "training").is_dir(), reason=f"ARC-2 training tasks not found under {DATA_DIR}")
def test_leakage_guard_refuses_arc2_training_for_arc1_evaluation():
    with pytest.raises(ValueError, match=r"376 evaluation task\(s\) have a test pair.*arc-agi-1/evaluation/00576224"):
        ArcTask().load_examples(f"arc:eval=arc-agi-1/evaluation,train=arc-agi-2/training,aug=0,data={DATA_DIR}",
                                progress=False)


def test_bad_sources_explain_themselves(toy):
    for source, message in (("arc:eval=toy/evaluation,colour=3", "unknown key"), ("arc:split=test", "names no task sets"),
                            ("arc:tasks=3", "eval= and/or train="), ("arc:eval=toy/evaluation,leaks=maybe", "leaks must"),
                            ("gen:count=3", "unknown ARC data source"), ("arc:eval=nowhere,data=/nonexistent", "no ARC task folder")):
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            ArcTask(canvas=10).load_examples(source, progress=False)
    task = ArcTask(canvas=10)
    task.load_examples(toy_source(toy), progress=False)
    with pytest.raises(ValueError, match="already holds the build"):
        task.load_examples(toy_source(toy, aug=6), progress=False)


# -- voting, ranking, scoring, submission -------------------------------------------------------------


def test_vote_undoes_augmentations_and_ranks_by_votes_then_confidence(toy):
    task = ArcTask(canvas=10)
    task.load_examples(toy_source(toy), progress=False)
    index = next(i for i, p in enumerate(task.puzzles) if p.task_id == "recol02")
    expected = task.puzzles[index].tests[0][1]
    wrong = np.zeros_like(expected)
    ids = task.versions_of(index)  # 6 versions
    # Versions 0-2 answer right (as each version shows it), 3-4 answer `wrong` more confidently,
    # version 5 answers no grid.
    answers = [draw(transform(g, *task.version(i)[1:]), 10) for i, g in zip(ids[:5], [expected] * 3 + [wrong] * 2)]
    answers.append(np.full(100, EOS_ID))
    tokens, confidence = np.stack(answers), np.array([0.2, 0.2, 0.2, 0.9, 0.9, 0.9])
    where = [(index, 0)] * 6
    votes = arc_eval.vote(task, where, ids, tokens, confidence)[(index, 0)]
    assert (votes.answers, votes.discarded) == (6, 1)
    assert [c.votes for c in votes.candidates] == [3, 2]
    assert np.array_equal(votes.candidates[0].grid, expected) and np.array_equal(votes.candidates[1].grid, wrong)
    assert votes.candidates[0].confidence == pytest.approx(0.2)
    # Equal votes: the more confident candidate ranks first.
    tie = arc_eval.vote(task, where[1:], ids[1:], tokens[1:], confidence[1:])[(index, 0)]
    assert [c.votes for c in tie.candidates] == [2, 2] and np.array_equal(tie.candidates[0].grid, wrong)

    # Scores: recol02 has two test outputs; only the first is answered (right at rank 2 in the tie).
    report = arc_eval.score(task, {(index, 0): tie})
    entry = report["tasks"]["recol02"]
    assert [t["correct_rank"] for t in entry["tests"]] == [2, None]
    assert (entry["pass@1"], entry["pass@2"], entry["strict_pass@2"]) == (0.0, 0.5, 0.0)
    assert report["summary"]["tasks"] == 2 and report["summary"]["pass@2"] == pytest.approx(0.25)  # flip01 scores 0

    sub = arc_eval.submission(task, {(index, 0): tie})
    assert set(sub) == {"flip01", "recol02"}  # evaluation tasks only, by id
    assert len(sub["recol02"]) == 2 and len(sub["flip01"]) == 1
    assert sub["recol02"][0] == {"attempt_1": wrong.tolist(), "attempt_2": expected.tolist()}
    assert sub["recol02"][1] == {"attempt_1": [[0]], "attempt_2": [[0]]}  # no answer: both attempts filled
    json.dumps(sub)


# -- end to end ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_train_resume_and_evaluate_end_to_end(toy):
    out = toy / "run"
    args = ["--task", "arc-10x10", "--preset", "cpu-tiny", "--train-data", toy_source(toy), "--val-data", "arc:split=test",
            "--steps", "8", "--batch-size", "8", "--eval-every", "8", "--eval-size", "8", "--precision", "fp32",
            "--out", str(out), "--no-progress"]
    assert train_main(args) == 0
    card = json.loads((out / "last.json").read_text())
    assert card["task"]["build"]["eval"] == ["toy/evaluation"]
    assert card["model"]["num_puzzle_identifiers"] == card["task"]["num_puzzle_identifiers"] == 19
    with np.load(out / "data.npz") as data:
        assert set(data["train_puzzle_ids"]) == set(range(1, 19))
        test_labels = {row.tobytes() for row in data["val_labels"]}
        assert not test_labels & {row.tobytes() for row in data["train_labels"]}
    # --resume rebuilds the same task from the saved spec.
    assert train_main(["--out", str(out), "--resume", "--steps", "12", "--no-progress"]) == 0
    assert json.loads((out / "last.json").read_text())["task"] == card["task"]

    submission, report_path = toy / "sub.json", toy / "report.json"
    assert arc_eval.main([str(out / "last.safetensors"), "--submission", str(submission), "--report", str(report_path),
                          "--segments", "2", "--no-progress"]) == 0
    report, sub = json.loads(report_path.read_text()), json.loads(submission.read_text())
    assert report["summary"]["answers"] == 6 * 3 and report["summary"]["segments"] == 2
    # pass@2 recomputed from the submission file and the task JSON alone.
    scores = []
    for name in ("flip01", "recol02"):
        tests = json.loads((toy / "toy/evaluation" / f"{name}.json").read_text())["test"]
        assert len(sub[name]) == len(tests)
        hits = [t["output"] in (a["attempt_1"], a["attempt_2"]) for t, a in zip(tests, sub[name])]
        scores.append(sum(hits) / len(hits))
    assert report["summary"]["pass@2"] == pytest.approx(sum(scores) / 2)
