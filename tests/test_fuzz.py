"""Property-based fuzzing of the two public entry points, solve() and ask().

Whatever the input, solve() returns results or raises one of its documented errors
(PuzzleInputError and its subclasses, ValueError for options, FileNotFoundError for a size
without a checkpoint), and ask() always answers. Every answer marked verified passes the
verifier. The examples are bounded and derandomised (the same inputs on every run), and use the
shipped checkpoints; ask() runs with the rule-based language layer (no model reachable).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestrator import Orchestrator, Settings
from reasoner import MazeSolveResult, PuzzleInputError, SolveResult, solve
from reasoner.tasks import MazeTask
from verifiers import maze as maze_rules
from verifiers import sudoku as rules

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
SOLUTIONS = {n: np.asarray(rules.guided_search(np.zeros((n, n), dtype=np.int64), *BOXES[n],
                                               rng=np.random.default_rng(n)).solution) for n in BOXES}
MAZE = MazeTask(9).generate(1, np.random.default_rng(0), progress=False)[0][0]  # one 9x9 question

# Characters a careless or hostile user might type: digits of several scripts, numeric signs that
# are not digits, blanks, separators, letters, whitespace, a lone surrogate.
ODD_CHARS = list("0123456789._*?|+-,;/\\ \n\t") + list("０１２３４５６７８９٠١٢٣٤") + list("²³①⑨Ⅳ½xX#SG") + ["\ud800", "\x00"]


@st.composite
def sudoku_layouts(draw):
    """(a real puzzle in a random layout, whether it has a solution for sure): some givens of a valid
    grid, maybe with one cell changed."""
    n = draw(st.sampled_from(sorted(BOXES)))
    keep = np.asarray(draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n))).reshape(n, n)
    grid = SOLUTIONS[n] * keep
    changed = draw(st.booleans())
    if changed:
        grid[draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))] = draw(st.integers(-2, 11))
    text = "".join(str(v) if 0 <= v <= 9 else "x" for v in grid.reshape(-1))
    layout = draw(st.sampled_from(["flat", "rows", "list", "array", "float", "separated"]))
    return ({
        "flat": text,
        "rows": [text[i : i + n] for i in range(0, n * n, n)],
        "list": grid.tolist(),
        "array": grid,
        "float": grid.astype(float),
        "separated": "\n".join(" | ".join(text[i : i + n]) for i in range(0, n * n, n)),
    }[layout], not changed)


def sudoku_inputs():
    return sudoku_layouts().map(lambda pair: pair[0])


ODD_INPUTS = st.one_of(
    st.text(alphabet=st.sampled_from(ODD_CHARS), max_size=100),
    st.lists(st.lists(st.one_of(st.integers(-10, 20), st.floats(allow_nan=True)), max_size=10), max_size=10),
    st.lists(st.text(alphabet=st.sampled_from(ODD_CHARS), max_size=12), max_size=10),
    st.lists(sudoku_inputs(), max_size=3),  # a batch, maybe with bad members
    st.sampled_from([None, 42, b"1..4", {"grid": 1}, [], [[]], np.zeros((0, 0)), np.zeros((2, 4, 4), dtype=int)]),
)
GOOD_OPTIONS = st.fixed_dictionaries({}, optional={
    "segments": st.one_of(st.none(), st.integers(1, 4)),
    "halting": st.sampled_from(["act", "fixed"]),
    "repair": st.booleans(),
    "batch_size": st.integers(1, 3),
})
ANY_OPTIONS = st.fixed_dictionaries({}, optional={
    "segments": st.one_of(st.none(), st.integers(-2, 4), st.booleans(), st.floats()),
    "halting": st.one_of(st.sampled_from(["act", "fixed", "bogus"]), st.none()),
    "repair": st.one_of(st.booleans(), st.sampled_from(["no", 0, None])),
    "batch_size": st.one_of(st.integers(-1, 3), st.floats()),
    "device": st.sampled_from([None, "cpu", "cuda", "tpu", "", 7]),
    "batch": st.sampled_from([None, True, False, "yes"]),
})


def check_sudoku(result: SolveResult) -> None:
    assert (result.answer is not None) == result.verified
    if result.verified:
        n = len(result.puzzle)
        assert rules.check_solution(result.puzzle, result.answer, *BOXES[n]).ok


def check_maze(result: MazeSolveResult) -> None:
    assert (result.answer is not None) == result.verified
    if result.verified:
        assert maze_rules.check_maze_answer(result.puzzle, result.answer).valid_shortest_path


def solve_or_refuse(puzzle, options, *refusals):
    """solve()'s results as a list, or None when it refused the input with a documented error."""
    try:
        out = solve(puzzle, **options)
    except (PuzzleInputError, ValueError, *refusals) as err:  # PuzzleInputError is a ValueError; all name the reason
        event(f"refused: {type(err).__name__}")
        return None
    event("answered")
    return out if isinstance(out, list) else [out]


@FUZZ
@given(case=sudoku_layouts(), options=GOOD_OPTIONS)
def test_solve_answers_real_puzzles_in_any_layout_with_verified_answers_only(case, options):
    puzzle, solvable = case
    results = solve_or_refuse(puzzle, options)
    if solvable:  # givens of a complete grid: never refused, and with repair always verified
        assert results is not None
        assert results[0].verified or not options.get("repair", True)
    for result in results or []:
        assert isinstance(result, SolveResult)
        check_sudoku(result)


@FUZZ
@given(puzzle=ODD_INPUTS, options=ANY_OPTIONS)
def test_solve_refuses_odd_input_and_options_with_a_documented_error(puzzle, options):
    for result in solve_or_refuse(puzzle, options) or []:
        assert isinstance(result, SolveResult)
        check_sudoku(result)


MAZE_INPUTS = st.one_of(
    st.builds(lambda cells: "".join(cells), st.lists(st.sampled_from(list("# SGo\n")), max_size=90)),
    st.builds(lambda flips, ch: "".join(ch if i in flips else c for i, c in enumerate(MazeTask(9).to_string(MAZE))),
              st.sets(st.integers(0, 80), max_size=4), st.sampled_from(list("# SGx"))),
)


@FUZZ
@given(maze=MAZE_INPUTS, options=GOOD_OPTIONS)
def test_solve_mazes_answers_or_raises_a_documented_error(maze, options):
    for result in solve_or_refuse(maze, {"task": "maze", **options}, FileNotFoundError) or []:  # no checkpoint for a size
        assert isinstance(result, MazeSolveResult)
        check_maze(result)


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    o = Orchestrator(Settings(llm_url=None, trace_path=tmp_path_factory.mktemp("fuzz") / "traces.jsonl", seed=0))
    yield o
    o.close()


MESSAGES = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=200),  # any str, lone surrogates included
    st.builds(lambda words, puzzle: f"{words} {puzzle}", st.sampled_from(["solve", "check", "hint for", "explain", ""]),
              sudoku_inputs().map(str)),
    st.sampled_from(["give me a hint", "what is in row 10?", "generate a 6x6 sudoku", "now a harder one", "quit"]),
)


@FUZZ
@given(message=MESSAGES, thread=st.sampled_from(["a", "b", None]))
def test_ask_always_answers_and_only_verified_answers_leave(orch, message, thread):
    reply = orch.ask(message, thread)
    assert reply.text and reply.thread_id == (thread or "default")
    assert reply.model_dump_json()  # serialisable, whatever was typed
    event(f"intent {reply.intent}, verified {reply.verified}")
    if reply.answer is not None:
        assert reply.verified and reply.grid is not None
        n = len(reply.grid)
        if reply.task == "sudoku":
            assert rules.check_solution(reply.grid, reply.answer, *BOXES[n]).ok
