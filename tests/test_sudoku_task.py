"""The Sudoku task plug-in: parsing, encoding, augmentation validity, generator, file loading."""

import numpy as np
import pytest

from reasoner.tasks import PuzzleInputError, SudokuTask, make_task
from verifiers import sudoku as rules

from .conftest import DATA_DIR, needs_data

SHAPES = [(2, 2), (2, 3), (3, 3)]


@pytest.mark.parametrize("box", SHAPES)
def test_generated_puzzles_are_unique_with_the_requested_blanks(box):
    task = SudokuTask(*box)
    n = task.size
    blanks = {4: (6, 9), 6: (14, 18), 9: (38, 42)}[n]
    puzzles, solutions = task.generate(5, blanks, np.random.default_rng(1), progress=False)
    for puzzle, solution in zip(puzzles, solutions):
        assert blanks[0] <= int((puzzle == 0).sum()) <= blanks[1]
        assert rules.check_solution(puzzle, solution, *box).ok
        count, found, _ = rules.count_solutions(puzzle, *box, limit=2)
        assert count == 1 and np.array_equal(np.asarray(found[0]), solution)


def test_generator_is_seeded():
    task = SudokuTask(2, 3)
    a = task.generate(3, (12, 12), np.random.default_rng(7), progress=False)
    b = task.generate(3, (12, 12), np.random.default_rng(7), progress=False)
    c = task.generate(3, (12, 12), np.random.default_rng(8), progress=False)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("box", SHAPES)
def test_augmentations_keep_puzzle_solution_pairs_valid(box):
    task = SudokuTask(*box)
    rng = np.random.default_rng(0)
    blanks = {4: (8, 8), 6: (16, 16), 9: (40, 40)}[task.size]
    examples = task.examples_from_grids(*task.generate(4, blanks, rng, progress=False))
    seen = set()
    for _ in range(25):
        augmented = task.augment(examples, rng)
        for inp, lab in zip(augmented.inputs, augmented.labels):
            puzzle, solution = task.decode(inp), task.decode(lab)
            assert rules.check_solution(puzzle, solution, *box).ok
            assert int((puzzle == 0).sum()) == blanks[0]
            seen.add(inp.tobytes())
    assert len(seen) > 90  # the transformations really vary (100 draws)


def test_transpose_is_used_only_for_square_boxes():
    rng = np.random.default_rng(0)
    # Transposing a 6x6 grid with 2x3 boxes would break the boxes: the test above would catch a
    # broken puzzle, this one checks that square boxes do get transposed sometimes.
    task = SudokuTask(3, 3)
    maps = [task.random_cell_order(rng).reshape(9, 9) for _ in range(50)]
    # In a transposed map, cells of one output row come from one input column.
    assert any(len({int(i) % 9 for i in m[0]}) == 1 for m in maps)


def test_encoding_round_trip_and_token_ids():
    task = SudokuTask(3, 3)
    grid = task.parse("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
    tokens = task.encode(grid)
    assert tokens[:4].tolist() == [6, 4, 1, 1]  # digit d -> d + 1, blank -> 1
    assert np.array_equal(task.decode(tokens), grid)
    assert task.vocab_size == 11 and task.seq_len == 81


@pytest.mark.parametrize(
    "text",
    [
        "1234\n3412\n2143\n4321",
        "12|34\n34|12\n--+--\n21|43\n43|21",
        "1 2 3 4 3 4 1 2 2 1 4 3 4 3 2 1",
    ],
)
def test_parse_accepts_common_layouts(text):
    assert SudokuTask(2, 2).parse(text).tolist() == [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]


@pytest.mark.parametrize(
    "bad, message",
    [
        ("123", "16 cells"),
        ("12x4" + "." * 12, "character 'x'"),
        ("1235" + "." * 12, "character '5'"),
        ([[1, 2], [3, 4]], "4x4 grid"),
        ([[1, 2, 3, 4]] * 3 + [[1, 2, 3]], "not rectangular"),
        ([[0, 0, 0, 9]] * 4, "holds 9"),
        ([[0.5, 0, 0, 0]] * 4, "whole numbers"),
        ([["a", 0, 0, 0]] * 4, "integers"),
    ],
)
def test_parse_rejects_bad_input_with_a_clear_message(bad, message):
    with pytest.raises(PuzzleInputError, match=message):
        SudokuTask(2, 2).parse(bad)


def test_make_task_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown task"):
        make_task("chess")


@needs_data
def test_loads_the_sudoku_extreme_file_with_its_solutions():
    task = SudokuTask(3, 3)
    path = DATA_DIR / "sudoku" / "sudoku_extreme_train_1k_subset.txt"
    examples = task.load_examples(f"file:{path}[10:20]", np.random.default_rng(0))
    assert len(examples) == 10
    first_line = path.read_text().splitlines()[10].strip()
    assert task.to_string(task.decode(examples.inputs[0])) == first_line
    for inp, lab in zip(examples.inputs, examples.labels):
        assert rules.check_solution(task.decode(inp), task.decode(lab), 3, 3).ok


def test_loads_a_file_without_solutions_by_solving_it(tmp_path):
    path = tmp_path / "puzzles.txt"
    path.write_text("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79\n")
    examples = SudokuTask(3, 3).load_examples(f"file:{path}", np.random.default_rng(0))
    assert SudokuTask(3, 3).to_string(SudokuTask(3, 3).decode(examples.labels[0])).startswith("534678912")


@pytest.mark.parametrize(
    "source, message",
    [
        ("gen:count=5", "give either blanks or givens"),
        ("gen:count=5,blanks=8,givens=6", "give either blanks or givens"),
        ("gen:count=5,blanks=40,size=9", "unknown key\\(s\\) size; allowed keys are blanks, count, givens, rating, unique"),
        ("gen:count=five,blanks=40", "whole numbers"),
        ("gen:count=5,givens=4-x", "whole numbers"),
        ("gen:count=5,blanks=8,rating=1-9", "rating goes with givens"),
        ("gen:count=5,givens=5,unique=0", "always unique"),
        ("gen:count=5,givens=9-5", "givens must satisfy"),
        ("gen:count=1,givens=16", r"none of \d+ minimal 4x4 puzzles had 16-16 givens; widen"),
        ("gen:count", "need count=N"),
        ("http://example.org/puzzles", "unknown data source"),
    ],
)
def test_bad_data_sources_are_explained(source, message):
    with pytest.raises(ValueError, match=message):
        SudokuTask(2, 2).load_examples(source, np.random.default_rng(0), progress=False)


@pytest.mark.parametrize("box,givens", [((2, 2), (4, 6)), ((2, 3), (9, 12)), ((3, 3), (20, 25))])
def test_minimal_puzzles_from_the_gen_source(box, givens):
    task = SudokuTask(*box)
    spec = f"gen:count=6,givens={givens[0]}-{givens[1]}"
    examples = task.load_examples(spec, np.random.default_rng(5), progress=False)
    again = task.load_examples(spec, np.random.default_rng(5), progress=False)
    assert np.array_equal(examples.inputs, again.inputs)  # seeded
    assert len({inp.tobytes() for inp in examples.inputs}) == 6
    for inp, lab in zip(examples.inputs, examples.labels):
        puzzle, solution = task.decode(inp), task.decode(lab)
        assert givens[0] <= int((puzzle > 0).sum()) <= givens[1]
        assert rules.check_solution(puzzle, solution, *box).ok
        count, found, _ = rules.count_solutions(puzzle, *box, limit=2)
        assert count == 1 and np.array_equal(np.asarray(found[0]), solution)


def test_minimal_puzzles_can_be_chosen_by_rating():
    task = SudokuTask(3, 3)
    examples = task.load_examples("gen:count=5,givens=17-30,rating=5-1000", np.random.default_rng(0), progress=False)
    ratings = [rules.search_effort(task.decode(inp), 3, 3) for inp in examples.inputs]
    assert all(5 <= r <= 1000 for r in ratings)
