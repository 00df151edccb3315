"""The Maze task plug-in: encoding, parsing, generator, augmentation, file loading, training."""

import json

import numpy as np
import pytest

from reasoner.tasks import VARIANTS, MazeTask, PuzzleInputError, make_task
from reasoner.tasks.maze import MazeCanvas, UnreachableGoalError, default_min_path
from reasoner.tasks.maze_long import long_min_path
from reasoner.train import main as train_main
from verifiers.maze import bfs_shortest_path, check_maze_answer, label_maze

from .conftest import DATA_DIR, needs_data

MAZE_DIR = DATA_DIR / "maze-30x30-hard-1k"

# A 5x5 maze with exactly one route from S to G (14 cells, S and G included).
ROWS = [
    "S   #",
    "### #",
    "    #",
    " ####",
    "   G ",
]
FLAT = "".join(ROWS)


def images(grid):
    """The 8 symmetries of a square grid, computed independently of the task's own code."""
    out = []
    for g in (grid, np.fliplr(grid)):
        for k in range(4):
            out.append(np.rot90(g, k))
    return out


# -- encoding and parsing ------------------------------------------------------------------------


def test_token_ids_and_round_trip():
    task = MazeTask(5)
    assert (task.vocab_size, task.seq_len) == (6, 25)
    grid = task.parse(FLAT)
    assert grid.dtype == np.dtype("<U1") and grid.shape == (5, 5)
    tokens = task.encode(grid)
    assert tokens.dtype == np.int64
    assert tokens[:5].tolist() == [3, 2, 2, 2, 1]  # S, space, space, space, #
    assert tokens[20:].tolist() == [2, 2, 2, 4, 2]  # G -> 4
    assert np.array_equal(task.decode(tokens), grid)
    answer = np.array([list(r) for r in label_maze(ROWS)])
    answer_tokens = task.encode(answer)
    assert answer_tokens[1] == 5 and np.array_equal(task.decode(answer_tokens), answer)  # 'o' -> 5
    assert task.decode(np.zeros(25, dtype=np.int64))[0, 0] == " "  # PAD reads as open
    assert task.to_string(grid) == FLAT
    assert task.format_grid(grid, frame=False) == "\n".join(ROWS)
    assert task.format_grid(grid).splitlines()[1] == "|S   #|"


@pytest.mark.parametrize(
    "form",
    [
        FLAT,
        "\n".join(ROWS),
        "\n".join(ROWS) + "\n",
        "\r\n".join(ROWS),
        ROWS,
        np.array([list(r) for r in ROWS]),
        MazeTask(5).format_grid(np.array([list(r) for r in ROWS])),
    ],
    ids=["flat", "lines", "trailing-newline", "crlf", "row-list", "char-array", "framed"],
)
def test_parse_accepts_common_layouts(form):
    grid = MazeTask(5).parse(form)
    assert grid.dtype == np.dtype("<U1") and ["".join(r) for r in grid.tolist()] == ROWS


@pytest.mark.parametrize(
    "bad, message",
    [
        (FLAT.replace("G", "S"), r"2 S cells .*no G"),
        (FLAT.replace("G", " "), "no G"),
        ("".join([ROWS[0], "##S #", *ROWS[2:]]), r"2 S cells \(need exactly one\) at \(1,1\),\(2,3\)"),
        (FLAT.replace("### #", "#####"), r"G at \(5,4\) cannot be reached from S at \(1,1\)"),
        (FLAT.replace("S   #", "S x #"), r"characters other than .*'x'.* at \(1,3\)"),
        (FLAT.replace(" ", "o", 1), "characters other than"),
        (FLAT[:-1], "24 characters, expected 5x5=25"),
        ([r[:4] for r in ROWS[:4]], "4x4, expected 5x5"),
        (ROWS[:4] + ["   G"], "not square: row 5 has 4 cells"),
        (42, "must be a string"),
        (np.zeros((5, 5)), "must hold characters"),
    ],
)
def test_parse_rejects_bad_mazes_with_the_verifiers_reasons(bad, message):
    with pytest.raises(PuzzleInputError, match=message) as info:
        MazeTask(5).parse(bad)
    assert str(info.value).startswith("invalid 5x5 maze: ")
    assert info.value.reasons


def test_unreachable_goal_has_its_own_error_type():
    with pytest.raises(UnreachableGoalError):
        MazeTask(5).parse(FLAT.replace("### #", "#####"))
    with pytest.raises(PuzzleInputError) as info:  # malformed is not "unreachable"
        MazeTask(5).parse(FLAT.replace("G", " "))
    assert not isinstance(info.value, UnreachableGoalError)


def test_task_registration_spec_and_hints():
    task = make_task("maze", size=9)
    assert isinstance(task, MazeTask) and task.spec() == {"name": "maze", "size": 9}
    assert task.model_hints() == {"grid_shape": (9, 9), "grid_box": None, "relation": "window"}
    assert make_task(**task.spec()).spec() == task.spec()
    for n in (9, 11, 15, 21, 30):
        assert VARIANTS[f"maze-{n}x{n}"].params == {"name": "maze", "size": n}
    with pytest.raises(ValueError, match=">= 3"):
        MazeTask(2)


def test_verify_scores_valid_shortest_paths_and_the_exact_label():
    task = MazeTask(5)
    question = task.parse(ROWS)
    label = np.array([list(r) for r in label_maze(ROWS)])
    verdict = task.verify(question, label)
    assert verdict.ok and verdict.matches_label and verdict.shortest_length == 14
    broken = label.copy()
    broken[0, 2] = " "
    verdict = task.verify(question, broken)
    assert not verdict.ok and any("dead-ends" in r for r in verdict.reasons)
    with pytest.raises(PuzzleInputError):
        task.verify(FLAT.replace("G", " "), label)


# -- generator -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, walls, min_path", [(9, (0.28, 0.45), None), (11, (0.3, 0.35), 15), (15, (0.28, 0.45), None)])
def test_generated_mazes_follow_the_rules(n, walls, min_path):
    task = MazeTask(n)
    questions, answers = task.generate(12, np.random.default_rng(3), walls, min_path, progress=False)
    assert questions.shape == answers.shape == (12, n, n) and questions.dtype == np.dtype("<U1")
    bound = min_path if min_path is not None else default_min_path(n)
    for q, a in zip(questions, answers):
        text = task.to_string(q)
        assert text.count("S") == 1 and text.count("G") == 1 and set(text) <= set("# SG")
        # the wall count is round(p * n * n) for p drawn from the range
        assert walls[0] - 0.5 / n**2 <= text.count("#") / n**2 <= walls[1] + 0.5 / n**2
        assert bfs_shortest_path(text).length >= bound
        assert task.to_string(a) == label_maze(text)
        assert np.array_equal(task.parse(text), q)


@pytest.mark.parametrize("n", [9, 15, 30])
def test_long_style_reaches_maze_hard_path_lengths_at_every_size(n):
    # Random walls never reach Maze-Hard's >= 110-cell paths at 30x30; the hill climb does, and
    # scales the bound (3.67 N cells) down for small mazes. The wall count is the draw's.
    task = MazeTask(n)
    questions, answers = task.generate(6, np.random.default_rng(5), progress=False, style="long")
    for q, a in zip(questions, answers):
        text = task.to_string(q)
        assert text.count("S") == 1 and text.count("G") == 1
        assert bfs_shortest_path(text).length >= round(110 / 30 * n)
        assert 0.32 - 0.5 / n**2 <= text.count("#") / n**2 <= 0.45 + 0.5 / n**2
        assert task.to_string(a) == label_maze(text)
    again, _ = task.generate(6, np.random.default_rng(5), progress=False, style="long")
    assert np.array_equal(questions, again)  # seeded, compiled part included
    with pytest.raises(ValueError, match="style"):
        task.generate(1, np.random.default_rng(0), progress=False, style="winding")


def test_default_min_path_scales_with_the_side():
    assert [default_min_path(n) for n in (9, 11, 15, 30)] == [16, 20, 27, 54]


def test_generator_is_seeded():
    task = MazeTask(9)
    a = task.generate(4, np.random.default_rng(7), progress=False)
    b = task.generate(4, np.random.default_rng(7), progress=False)
    c = task.generate(4, np.random.default_rng(8), progress=False)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert len({MazeTask(9).to_string(q) for q in a[0]}) == 4


def test_generator_fixed_wall_fraction_and_bad_parameters():
    task = MazeTask(9)
    questions, _ = task.generate(5, np.random.default_rng(0), (0.3, 0.3), 10, progress=False)
    assert all((q == "#").sum() == round(0.3 * 81) for q in questions)
    with pytest.raises(ValueError, match="min_path"):
        task.generate(1, np.random.default_rng(0), min_path=82, progress=False)
    with pytest.raises(ValueError, match="wall fraction"):
        task.generate(1, np.random.default_rng(0), (0.5, 0.4), progress=False)


# -- augmentation --------------------------------------------------------------------------------


def test_augmentation_uses_all_symmetries_and_relabels():
    task = MazeTask(9)
    examples = task.examples_from_grids(*task.generate(6, np.random.default_rng(0), progress=False))
    rng = np.random.default_rng(1)
    used = set()
    naive_label_differs = False
    for _ in range(12):
        augmented = task.augment(examples, rng)
        assert np.array_equal(augmented.puzzle_ids, examples.puzzle_ids)
        for i in range(len(examples)):
            original = task.decode(examples.inputs[i])
            question, answer = task.decode(augmented.inputs[i]), task.decode(augmented.labels[i])
            matches = [k for k, img in enumerate(images(original)) if np.array_equal(img, question)]
            assert matches, "the augmented question is not a rotation/reflection of the original"
            used.add(matches[0])
            verdict = check_maze_answer(task.to_string(question), task.to_string(answer))
            assert verdict.ok and verdict.matches_label
            # The same transform applied to the original label is still a shortest path, but
            # the BFS tie-break is not symmetric, so it is not always the canonical label.
            moved_label = images(task.decode(examples.labels[i]))[matches[0]]
            naive = check_maze_answer(task.to_string(question), task.to_string(moved_label))
            assert naive.ok
            naive_label_differs |= not naive.matches_label
    assert used == set(range(8))
    assert naive_label_differs


# -- files and source specs ----------------------------------------------------------------------


@needs_data
def test_loads_maze_hard_rows_with_identical_labels(tmp_path):
    task = MazeTask(30)
    questions = (MAZE_DIR / "train_question.txt").read_text().splitlines()
    answers = (MAZE_DIR / "train_answer.txt").read_text().splitlines()
    examples = task.load_examples(f"file:{MAZE_DIR / 'train_question.txt'}[0:20]", np.random.default_rng(0))
    assert len(examples) == 20 and examples.inputs.shape == (20, 900)
    for i in range(20):
        assert task.to_string(task.decode(examples.inputs[i])) == questions[i]
        assert task.to_string(task.decode(examples.labels[i])) == answers[i]
    # Without an answer file beside it the labels come from label_maze, and still agree.
    alone = tmp_path / "mazes.txt"
    alone.write_text("\n".join(questions[5:10]) + "\n")
    q, a = task.load_file(alone)
    assert [task.to_string(x) for x in a] == answers[5:10]
    assert [task.to_string(x) for x in q] == questions[5:10]
    assert len(task.load_examples(f"file:{MAZE_DIR / 'train_question.txt'}[995:]", np.random.default_rng(0))) == 5


def test_file_errors_name_the_line(tmp_path):
    task = MazeTask(5)
    path = tmp_path / "x_question.txt"
    path.write_text(FLAT + "\n" + FLAT.replace("G", " ") + "\n")
    with pytest.raises(PuzzleInputError, match=r"x_question.txt line 2: invalid 5x5 maze: no G"):
        task.load_file(path)
    _, a = task.load_file(path, rows=(0, 1))
    assert task.to_string(a[0]) == label_maze(FLAT)

    path.write_text(FLAT + "\n" + FLAT + "\n")
    (tmp_path / "x_answer.txt").write_text(label_maze(FLAT) + "\n")
    with pytest.raises(ValueError, match="has 1 lines"):
        task.load_file(path)
    (tmp_path / "x_answer.txt").write_text(label_maze(FLAT) + "\n" + FLAT + "\n")
    with pytest.raises(PuzzleInputError, match="line 2: the answer file's maze is not a shortest path"):
        task.load_file(path)
    with pytest.raises(FileNotFoundError):
        task.load_file(tmp_path / "missing.txt")

    unreachable = tmp_path / "unreachable.txt"
    unreachable.write_text(FLAT.replace("### #", "#####") + "\n")
    with pytest.raises(ValueError, match="no usable maze"):
        task.load_file(unreachable)


@pytest.mark.parametrize(
    "source, message",
    [
        ("gen:count=5,blanks=40", r"unknown key\(s\) blanks; allowed keys are count, min_path, side, style, walls"),
        ("gen:count=5,side=2", "side must be between 3 and"),
        ("gen:count=5,side=99", "side must be between 3 and"),
        ("gen:count=5,side=nine", "numbers expected"),
        ("gen:walls=0.3", "need count=N"),
        ("gen:count=five", "numbers expected"),
        ("gen:count=5,min_path", "need count=N"),
        ("gen:count=0", "at least 1"),
        ("gen:count=5,walls=0.5-0.4", "wall fraction"),
        ("web:http://example.com", "unknown data source"),
    ],
)
def test_load_examples_rejects_bad_specs(source, message):
    with pytest.raises(ValueError, match=message):
        MazeTask(9).load_examples(source, np.random.default_rng(0), progress=False)


def test_load_examples_generator_spec():
    task = MazeTask(9)
    examples = task.load_examples("gen:count=6,walls=0.3-0.4,min_path=12", np.random.default_rng(0), progress=False)
    assert examples.inputs.shape == examples.labels.shape == (6, 81) and examples.puzzle_ids.tolist() == [0] * 6
    for inp, lab in zip(examples.inputs, examples.labels):
        question = task.to_string(task.decode(inp))
        assert 0.3 * 81 - 0.5 <= question.count("#") <= 0.4 * 81 + 0.5
        assert bfs_shortest_path(question).length >= 12
        assert task.to_string(task.decode(lab)) == label_maze(question)


# -- training ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_training_smoke_on_generated_9x9_mazes(tmp_path):
    out = tmp_path / "run"
    args = ["--task", "maze-9x9", "--preset", "cpu-tiny", "--steps", "20", "--batch-size", "8",
            "--train-data", "gen:count=40", "--val-data", "gen:count=10", "--out", str(out)]
    assert train_main(args) == 0
    assert (out / "best.safetensors").is_file()
    card = json.loads((out / "best.json").read_text())
    assert card["task"] == {"name": "maze", "size": 9}


def test_smaller_mazes_sit_inside_walls_with_their_own_shortest_path():
    # side=9 in a 15x15 task: each 9x9 maze somewhere in a grid of walls; the label is the canonical
    # shortest path of the whole grid, which is the small maze's (the tie-break ignores where it sits).
    task = MazeTask(15)
    examples = task.load_examples("gen:count=6,style=long,side=9", np.random.default_rng(5), progress=False)
    corners = set()
    for question, label in zip(examples.inputs, examples.labels):
        grid, answer = task.decode(question), task.decode(label)
        open_rows, open_cols = np.nonzero(grid != "#")
        assert open_rows.max() - open_rows.min() < 9 and open_cols.max() - open_cols.min() < 9
        corners.add((int(open_rows.min()), int(open_cols.min())))
        text = "".join(grid.ravel())
        assert check_maze_answer(text, "".join(answer.ravel()), side=15).matches_label
        assert bfs_shortest_path(text, side=15).length >= long_min_path(9)  # a long 9x9 path
    assert len(corners) > 1  # placed at random


def test_a_canvas_puts_a_maze_in_the_middle_of_walls_and_reads_it_back():
    task = MazeTask(5)
    questions, answers = task.generate(3, np.random.default_rng(1), progress=False)
    canvas = MazeCanvas(9, 5)
    big = canvas.place(questions)
    assert big.shape == (3, 9, 9)
    assert (big[:, 2:7, 2:7] == questions).all()
    walls = np.ones((9, 9), dtype=bool)
    walls[2:7, 2:7] = False
    assert (big[:, walls] == "#").all()
    # Per-cell values of the 9x9 grid -> the maze's 25 cells, in its own row-major order.
    values = np.arange(3 * 81 * 2).reshape(3, 81, 2)
    inner = canvas.crop(values)
    assert inner.shape == (3, 25, 2)
    assert (inner.reshape(3, 5, 5, 2) == values.reshape(3, 9, 9, 2)[:, 2:7, 2:7]).all()
    same = MazeCanvas(5, 5)
    assert same.place(questions) is questions and same.crop(values) is values
