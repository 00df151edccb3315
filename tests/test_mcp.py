"""`python -m orchestrator mcp`: the MCP server over stdio, driven by the mcp SDK's own client
(a real subprocess, the shipped checkpoints)."""

import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from reasoner.tasks import SudokuTask
from verifiers import maze as maze_rules
from verifiers import sudoku as rules

ROOT = Path(__file__).resolve().parents[1]
PUZZLE4 = "1..4.4....2..3.."
SOLUTION4 = rules.analyse_puzzle(SudokuTask(2, 2).parse(PUZZLE4), 2, 2).solution
MAZE9 = "\n".join([" S# #  # ", "#   # #  ", "       # ", "#    #  #", " #       ", "# # #    ", "# # #  # ",
                   "# # #   #", " #  #   G"])


def call_all(calls: list[tuple[str, dict]]):
    """Start the server as a subprocess, list its tools, make the calls; (tool names, results)."""

    async def session():
        server = StdioServerParameters(command=sys.executable, args=["-m", "orchestrator", "mcp"], cwd=str(ROOT),
                                       env={"OMP_NUM_THREADS": "1"})
        async with Client(server, read_timeout_seconds=300) as client:
            tools = await client.list_tools()
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
            return [t.name for t in tools.tools], results

    return anyio.run(session)


@pytest.fixture(scope="module")
def session():
    wrong = [row[:] for row in SOLUTION4]
    wrong[0][1], wrong[0][2] = wrong[0][2], wrong[0][1]  # two swapped digits
    return call_all([
        ("solve_sudoku", {"puzzle": PUZZLE4}),
        ("hint", {"puzzle": PUZZLE4}),
        ("check_sudoku", {"puzzle": PUZZLE4, "answer": "".join(str(v) for row in wrong for v in row)}),
        ("check_sudoku", {"puzzle": PUZZLE4, "answer": "".join(str(v) for row in SOLUTION4 for v in row)}),
        ("solve_maze", {"maze": MAZE9}),
        ("solve_sudoku", {"puzzle": "1..4.4"}),
        ("solve_sudoku", {"puzzle": "11.4.4....2..3.."}),
        ("hint", {"puzzle": "......12..21.3.."}),  # no clash among the givens, yet no solution
    ])


def test_the_four_tools_are_listed(session):
    names, _ = session
    assert sorted(names) == ["check_sudoku", "hint", "solve_maze", "solve_sudoku"]


def test_solve_sudoku_returns_the_verified_answer(session):
    solved = session[1][0]
    assert not solved.is_error
    out = solved.structured_content
    assert out["verified"] and out["status"] == "solved" and out["answer"] == SOLUTION4
    assert rules.check_solution(SudokuTask(2, 2).parse(PUZZLE4), out["answer"], 2, 2).ok
    assert "1 2 | 3 4" in out["drawn"]


def test_hint_is_one_verified_blank_cell(session):
    out = session[1][1].structured_content
    h = out["facts"]
    assert SudokuTask(2, 2).parse(PUZZLE4)[h["row"] - 1][h["col"] - 1] == 0
    assert SOLUTION4[h["row"] - 1][h["col"] - 1] == h["digit"]
    assert out["explanation"].startswith(f"Hint: row {h['row']}, column {h['col']}")


def test_check_sudoku_names_the_wrong_cells(session):
    wrong, right = session[1][2].structured_content, session[1][3].structured_content
    assert not wrong["correct"] and sorted(map(tuple, wrong["facts"]["wrong"])) == [(1, 2), (1, 3)]
    assert right["correct"] and right["facts"]["ok"]


def test_solve_maze_returns_a_verified_shortest_path(session):
    out = session[1][4].structured_content
    assert out["verified"] and out["status"] == "solved"
    verdict = maze_rules.check_maze_answer(MAZE9.split("\n"), out["answer"])
    assert verdict.ok and verdict.path_length == out["path_length"]


def test_bad_input_is_a_tool_error_with_the_reason(session):
    short, clash, unsolvable = session[1][5], session[1][6], session[1][7]
    assert short.is_error and "16, 36 or 81" in short.content[0].text
    assert clash.is_error and "r1c1, r1c2" in clash.content[0].text
    assert unsolvable.is_error and "no verified solution" in unsolvable.content[0].text
